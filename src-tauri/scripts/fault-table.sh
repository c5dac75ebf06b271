#!/usr/bin/env bash
# Every fault knob of tl-sandbox against `tlup upload`: for each knob, one `tlup upload
# --json` of a generated file (its sha256 known) against a fresh tl-sandbox started with
# that knob, then a Markdown table: fault -> how many times it fired (the sandbox's
# `faults_fired`) -> outcome (completed with the asset's sha256 equal to the file's, or the
# error) -> bytes sent again -> tlup's retries, URL refreshes, outages, damaged chunks and
# raced copies -> wall time.
#
#   bash src-tauri/scripts/fault-table.sh            # 2-minute outages, about 10 minutes
#   QUICK=1 bash src-tauri/scripts/fault-table.sh    # 10-second outages, small files (CI)
#
# The knobs, one row each: fail_puts (500, then 503), drop_puts_after, stall_puts,
# omit_etag, fail_api 503 (without, then with Retry-After), corrupt_puts, early_answer with
# URLs that expire on the way (--url-ttl 3 --latency-ms 2000, 5 MiB chunks, tlup --workers 2), complete_delay,
# and outages of each kind (refuse, blackhole, reset). An outage is started through
# `POST /v1.3/sandbox/outage` once tlup's --json progress shows OUTAGE_AFTER_CHUNKS chunks
# completed, so it always begins mid-upload; those rows run on a paced link (--bandwidth per
# connection, tlup --workers fixed) so the upload outlasts the start of the outage.
#
# Knobs: OUTAGE_SECS (120, or 10 with QUICK=1), FILE_SIZE (the file of most rows: 64M, or
# 16M with QUICK=1), OUTAGE_FILE_SIZE (the file of the outage rows: 64M, or 16M), ROWS (a
# space-separated subset of the row names, e.g. "refuse reset"), UPLOAD_TIMEOUT (seconds
# before a tlup run is stopped and counted as failed: OUTAGE_SECS + 300).
#
# A table, not a gate on timing: it exits non-zero only when an upload fails (or is stopped
# by UPLOAD_TIMEOUT) or an asset's sha256 differs from its file's. Writes
# target/bench/faults/report.md with the command that reproduces each row (logs:
# target/bench/faults/logs/). Builds what it needs first (cargo build -p tlup -p tl-sandbox).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export LC_NUMERIC=C
# read_listen_line; this script's own start_sandbox and stop_sandbox (below) replace the
# benchmarks' (release build, discard storage).
# shellcheck source=src-tauri/scripts/bench-common.sh
. src-tauri/scripts/bench-common.sh

bytes() { numfmt --from=iec "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%g", b / 1048576 }'; }
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
  outage_secs=${OUTAGE_SECS:-10}
  file_size=$(bytes "${FILE_SIZE:-16M}")
  outage_file_size=$(bytes "${OUTAGE_FILE_SIZE:-16M}")
else
  outage_secs=${OUTAGE_SECS:-120}
  file_size=$(bytes "${FILE_SIZE:-64M}")
  outage_file_size=$(bytes "${OUTAGE_FILE_SIZE:-64M}")
fi
upload_timeout=${UPLOAD_TIMEOUT:-$((${outage_secs%.*} + 300))}
all_rows="fail_puts_500 fail_puts_503 drop_puts_after stall_puts omit_etag fail_api_503"
all_rows+=" fail_api_503_retry_after corrupt_puts early_answer complete_delay refuse blackhole reset"
read -r -a rows_wanted <<<"${ROWS:-$all_rows}"

# The chunk size of every row but early_answer, and the pacing of the outage rows: 1 MB/s
# per connection with 4 chunk PUTs in flight, about a second per 1 MiB chunk.
chunk=1048576
pace_bandwidth=1000000
pace_workers=4
outage_after_chunks=2
# The short waits for the network: the longest pause between probes, and the stall timeout
# of the blackhole row (a blackhole answers nothing, so only a stall shows it).
probe_interval=2
blackhole_stall=3
stall_secs=10
stall_timeout=3

bench="$root/target/bench/faults"
logs="$bench/logs"
data_dir="$bench/data"
mkdir -p "$bench" "$logs" "$data_dir"
target_dir=${CARGO_TARGET_DIR:-target}
sandbox_bin="$target_dir/debug/tl-sandbox"
tlup_bin="$target_dir/debug/tlup"

work=$(mktemp -d "$bench/work.XXXXXX")
sandbox_pid=""
tlup_pid=""
cleanup() {
  if [ -n "$tlup_pid" ]; then
    kill "$tlup_pid" 2>/dev/null || true
    wait "$tlup_pid" 2>/dev/null || true
  fi
  stop_sandbox
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_sandbox() {
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
    sandbox_pid=""
  fi
}

echo "==> building (cargo build -p tlup -p tl-sandbox)"
cargo build -p tlup -p tl-sandbox

# The data files: random bytes, written once per size and reused while the size is right.
data_file() {
  local size=$1 path="$data_dir/random-$1.bin"
  if [ ! -f "$path" ] || [ "$(stat -c %s "$path")" != "$size" ]; then
    echo "==> writing $size random bytes to $path" >&2
    head -c "$size" /dev/urandom >"$path.part"
    mv "$path.part" "$path"
  fi
  echo "$path"
}

# Field $1 of the one-line JSON object $2: a number, or a string (unescaped quotes and
# backslashes only). Empty when absent. Keys are matched whole, wherever they are nested.
num() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" <<<"$2" | head -n 1; }
str() {
  sed -n "s/.*\"$1\":\"\(\([^\"\\\\]\|\\\\.\)*\)\".*/\1/p" <<<"$2" | head -n 1 |
    sed 's/\\"/"/g; s/\\\\/\\/g'
}

now() { echo "$EPOCHREALTIME"; }
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Starts `tl-sandbox --listen 127.0.0.1:0 --api-key k` with memory storage (the assets need
# their sha256) and the flags "$@"; sets $origin from its listening line.
start_sandbox() {
  local name=$1
  shift
  "$sandbox_bin" --listen 127.0.0.1:0 --api-key k "$@" \
    >"$logs/$name-sandbox.out" 2>"$logs/$name-sandbox.err" &
  sandbox_pid=$!
  read_listen_line "$logs/$name-sandbox.out" "$logs/$name-sandbox.err"
}

# An admin call to the sandbox: curl METHOD PATH [JSON BODY]; prints the answer.
admin() {
  local method=$1 path=$2
  local -a body=()
  [ -n "${3:-}" ] && body=(-H 'content-type: application/json' -d "$3")
  curl -sS --max-time 5 -X "$method" -H 'x-api-key: k' "${body[@]}" "$origin/v1.3/sandbox/$path"
}

# The sandbox's stats. A refuse outage keeps new connections out of the admin endpoints
# too, so this asks again for up to the outage's length.
stats() {
  local answer="" _
  for _ in $(seq "$((${outage_secs%.*} + 15))"); do
    if answer=$(admin GET stats 2>/dev/null) && [ -n "$answer" ]; then
      echo "$answer"
      return 0
    fi
    sleep 1
  done
  echo "{}"
}

# The sha256 the sandbox computed over asset $1's assembled bytes, once it has one.
asset_sha256() {
  local answer sha _
  for _ in $(seq 100); do
    answer=$(curl -sS --max-time 5 -H 'x-api-key: k' "$origin/v1.3/assets/$1" 2>/dev/null || true)
    sha=$(str sha256 "$answer")
    if [ -n "$sha" ]; then
      echo "$sha"
      return 0
    fi
    sleep 0.2
  done
}

# Field $1 of the result event $2, or "-".
pick() {
  local v
  v=$(num "$1" "$2")
  echo "${v:--}"
}

# Markdown-safe: pipes escaped, newlines flattened.
cell() { tr '\n' ' ' <<<"$1" | sed 's/|/\\|/g; s/ *$//'; }

failures=0
table=()
reproduce=()

# Runs one row. $1: its name; $2: the faults_fired counters that belong to it
# (comma-separated); $3: the data file; $4: the outage kind, or "" for a knob row; $5:
# a note; then the tl-sandbox flags, "--", and tlup upload's flags.
run_row() {
  local name=$1 counters=$2 data=$3 outage=$4 note=$5
  shift 5
  local -a sandbox_flags=() tlup_flags=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
    sandbox_flags+=("$1")
    shift
  done
  [ "$#" -gt 0 ] && shift
  tlup_flags=("$@")
  local size sha log="$logs/$name" journal="$work/$name.sqlite3"
  size=$(stat -c %s "$data")
  sha=$(sha256sum "$data" | cut -d' ' -f1)
  rm -f "$journal"*

  echo "==> $name: tl-sandbox ${sandbox_flags[*]}; tlup upload ${tlup_flags[*]} ($(mib "$size") MiB)"
  start_sandbox "$name" "${sandbox_flags[@]}"
  local base="$origin/v1.3"
  local -a cmd=("$tlup_bin" --json --base-url "$base" --api-key k --journal "$journal" upload
    "${tlup_flags[@]}" "$data")
  local t0 t1 status=0 outage_at="" in_flight="" completed_at_outage="" answer
  t0=$(now)
  env -u TWELVELABS_BASE_URL -u TWELVELABS_API_KEY -u TWELVE_LABS_API_KEY -u TLUP_JOURNAL \
    timeout -k 10 "$upload_timeout" "${cmd[@]}" >"$log.jsonl" 2>"$log.err" &
  tlup_pid=$!
  if [ -n "$outage" ]; then
    # Mid-upload: once tlup's progress shows the first chunks completed. The last progress
    # event before the outage tells how many chunks were in flight.
    local line done_chunks
    while kill -0 "$tlup_pid" 2>/dev/null; do
      line=$(grep '"event":"progress"' "$log.jsonl" | tail -n 1 || true)
      done_chunks=$(num completed_chunks "$line")
      if [ -n "$done_chunks" ] && [ "$done_chunks" -ge "$outage_after_chunks" ]; then
        in_flight=$(num chunks_in_flight "$line")
        completed_at_outage=$done_chunks
        answer=$(admin POST outage "{\"kind\":\"$outage\",\"seconds\":$outage_secs}" || true)
        outage_at=$(now)
        case $answer in
          *'"active":true'*) ;;
          *) echo "warning: the sandbox did not start the outage: $answer" >&2 ;;
        esac
        break
      fi
      sleep 0.05
    done
  fi
  wait "$tlup_pid" || status=$?
  tlup_pid=""
  t1=$(now)

  local st result error outcome ok=1
  st=$(stats)
  result=$(grep '"event":"result"' "$log.jsonl" | tail -n 1 || true)
  error=$(grep '"event":"error"' "$log.jsonl" | tail -n 1 || true)
  if [ "$status" -eq 0 ] && [ -n "$result" ]; then
    local got
    got=$(asset_sha256 "$(str asset_id "$result")")
    if [ "$got" = "$sha" ]; then
      outcome="completed, sha256 matches"
    else
      outcome="completed, SHA256 MISMATCH (asset ${got:-none}, file $sha)"
      ok=0
    fi
  else
    ok=0
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
      outcome="FAILED: still running after ${upload_timeout}s, stopped"
    elif [ -n "$error" ]; then
      outcome="FAILED (exit $status): $(str message "$error")"
    else
      outcome="FAILED (exit $status): $(tail -n 1 "$log.err")"
    fi
  fi
  stop_sandbox

  # How many times the row's knob fired, then any other counter that moved.
  local fired="" c v other=""
  local -a mine
  IFS=, read -r -a mine <<<"$counters"
  for c in "${mine[@]}"; do
    v=$(num "$c" "$st")
    fired+="${fired:+, }$c ${v:-?}"
  done
  for c in fail_puts drop_puts_after stall_puts omit_etag fail_api corrupt_puts early_answer \
    complete_delay outage_connections outage_requests; do
    [[ ",$counters," == *",$c,"* ]] && continue
    v=$(num "$c" "$st")
    [ -n "$v" ] && [ "$v" != 0 ] && other+="${other:+, }$c $v"
  done
  [ -n "$other" ] && fired+=" (also $other)"

  local received resent="?"
  received=$(num bytes_received "$st")
  if [ -n "$received" ]; then
    resent=$(awk -v r="$received" -v s="$size" 'BEGIN {
      d = r - s; printf "%d (%.2f MiB)", d, d / 1048576 }')
  fi
  local retries urls outages again damaged raced
  retries=$(pick retries "$result")
  urls=$(pick urls_refreshed "$result")
  outages=$(pick outages "$result")
  again=$(pick chunks_resent_after_outage "$result")
  damaged=$(pick damaged_chunks "$result")
  raced=$(pick copies_raced "$result")
  [ "$outages" != - ] && outages="$outages ($again chunks re-sent)"
  local wall
  wall=$(secs_between "$t0" "$t1")
  if [ -n "$outage" ]; then
    if [ -n "$outage_at" ]; then
      note="began $(secs_between "$t0" "$outage_at") s in, $completed_at_outage chunks completed, ${in_flight:-?} in flight; $note"
    else
      note="tlup ended before the outage could begin; $note"
    fi
  fi
  local label="$name"
  [ -n "$outage" ] && label="outage $outage ${outage_secs}s"

  printf '    %s; fired: %s; re-sent %s bytes; retries %s, URLs refreshed %s, outages %s, damaged %s, raced %s; %s s\n' \
    "$outcome" "$fired" "$resent" "$retries" "$urls" "$outages" "$damaged" "$raced" "$wall"
  table+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$(cell "$label")" \
    "$(cell "$fired")" "$(cell "$outcome")" "$resent" "$retries" "$urls" "$outages" "$damaged" \
    "$raced" "$wall" "$(cell "$note")")")
  local repro="$label: $sandbox_bin --listen 127.0.0.1:0 --api-key k ${sandbox_flags[*]}"
  repro+=$'\n'"  $tlup_bin --json --base-url http://127.0.0.1:PORT/v1.3 --api-key k --journal JOURNAL upload"
  repro+="${tlup_flags[*]:+ ${tlup_flags[*]}} ${data#"$root"/}"
  if [ -n "$outage" ]; then
    repro+=$'\n'"  # once tlup's progress shows $outage_after_chunks chunks completed:"
    repro+=$'\n'"  curl -X POST -H 'x-api-key: k' -d '{\"kind\":\"$outage\",\"seconds\":$outage_secs}' http://127.0.0.1:PORT/v1.3/sandbox/outage"
  fi
  reproduce+=("$repro")
  if [ "$ok" = 0 ]; then
    failures=$((failures + 1))
    echo "    the last lines of tlup's stderr ($log.err):" >&2
    tail -n 5 "$log.err" | sed 's/^/      /' >&2
  fi
}

small=$(data_file "$file_size")
paced=$(data_file "$outage_file_size")
paced_flags=(--chunk-size "$chunk" --bandwidth "$pace_bandwidth")
paced_tlup=(--workers "$pace_workers" --probe-interval "$probe_interval")

for row in "${rows_wanted[@]}"; do
  case $row in
    fail_puts_500)
      run_row "$row" fail_puts "$small" "" "answered after the body was read" \
        --chunk-size "$chunk" --fail-puts 2:500 -- --probe-interval "$probe_interval"
      ;;
    fail_puts_503)
      run_row "$row" fail_puts "$small" "" "answered after the body was read" \
        --chunk-size "$chunk" --fail-puts 2:503 -- --probe-interval "$probe_interval"
      ;;
    drop_puts_after)
      run_row "$row" drop_puts_after "$small" "" "connection dropped after 256 KiB of the body" \
        --chunk-size "$chunk" --drop-puts-after 2:262144 -- --probe-interval "$probe_interval"
      ;;
    stall_puts)
      run_row "$row" stall_puts "$small" "" \
        "held ${stall_secs}s before the body is read; tlup --stall-timeout $stall_timeout" \
        --chunk-size "$chunk" --stall-puts "2:$stall_secs" -- \
        --probe-interval "$probe_interval" --stall-timeout "$stall_timeout"
      ;;
    omit_etag)
      run_row "$row" omit_etag "$small" "" "200 without an ETag" \
        --chunk-size "$chunk" --omit-etag 2 -- --probe-interval "$probe_interval"
      ;;
    fail_api_503)
      run_row "$row" fail_api "$small" "" "the first 2 API calls (create, ...); no Retry-After" \
        --chunk-size "$chunk" --fail-api 2:503 -- --probe-interval "$probe_interval"
      ;;
    fail_api_503_retry_after)
      run_row "$row" fail_api "$small" "" "the first 2 API calls, Retry-After: 2" \
        --chunk-size "$chunk" --fail-api 2:503:2 -- --probe-interval "$probe_interval"
      ;;
    corrupt_puts)
      run_row "$row" corrupt_puts "$small" "" "stored with a flipped byte, ETag of the damage" \
        --chunk-size "$chunk" --corrupt-puts 2 -- --probe-interval "$probe_interval"
      ;;
    early_answer)
      run_row "$row" early_answer "$small" "" \
        "5 MiB chunks; URLs live 3-4 s, every PUT arrives 2 s late, tlup --workers 2: the URLs of the chunks that wait for a slot expire on the way and are refused before the body is read, connection closed" \
        --chunk-size 5242880 --early-answer --url-ttl 3 --latency-ms 2000 -- \
        --workers 2 --probe-interval "$probe_interval"
      ;;
    complete_delay)
      run_row "$row" complete_delay "$small" "" "the session stays active 5 s after the last report" \
        --chunk-size "$chunk" --complete-delay 5 -- --probe-interval "$probe_interval"
      ;;
    refuse | reset)
      run_row "$row" outage_connections,outage_requests "$paced" "$row" \
        "paced 1 MB/s per connection, tlup --workers $pace_workers --probe-interval $probe_interval" \
        "${paced_flags[@]}" -- "${paced_tlup[@]}"
      ;;
    blackhole)
      run_row "$row" outage_connections,outage_requests "$paced" "$row" \
        "paced 1 MB/s per connection, tlup --workers $pace_workers --probe-interval $probe_interval --stall-timeout $blackhole_stall" \
        "${paced_flags[@]}" -- "${paced_tlup[@]}" --stall-timeout "$blackhole_stall"
      ;;
    *)
      echo "error: unknown row '$row' (one of: $all_rows)" >&2
      exit 2
      ;;
  esac
done

report() {
  echo "## Every tl-sandbox fault knob against tlup upload$([ "$quick" = 1 ] && echo " (QUICK)")"
  echo
  echo "One \`tlup upload --json\` per row (debug build), against a fresh tl-sandbox (memory storage,"
  echo "$(mib "$chunk") MiB chunks unless said) started with the row's knob; files of $(mib "$file_size") MiB, and"
  echo "$(mib "$outage_file_size") MiB for the outages."
  echo
  echo "- fired: the sandbox's \`faults_fired\` counters for the knob, then any other that moved."
  echo "- outcome: tlup's exit and result, and whether the sha256 the sandbox computed over the"
  echo "  assembled asset equals the file's (sha256sum)."
  echo "- re-sent: the sandbox's \`bytes_received\` minus the file size: chunk-body bytes the storage"
  echo "  read more than once (failed, dropped, damaged or cut-off attempts). Bodies refused early"
  echo "  and left unread (early_answer), and bytes tlup wrote that an outage swallowed before the"
  echo "  sandbox read them, are not counted."
  echo "- retries, URLs refreshed, outages (with chunks_resent_after_outage), damaged, raced"
  echo "  (copies_raced: slow last chunks sent again beside the original): from tlup's result event"
  echo "  (\`-\` when there was none). API calls retried (fail_api) are not chunk retries."
  echo "- wall: tlup's process, start to exit, in seconds."
  echo "- outages of ${outage_secs}s begin through \`POST /v1.3/sandbox/outage\` once tlup's --json progress"
  echo "  shows $outage_after_chunks chunks completed; their rows run on a paced link (--bandwidth $pace_bandwidth per"
  echo "  connection, tlup --workers $pace_workers) so that the upload is still under way. Every row uses tlup"
  echo "  --probe-interval $probe_interval so the return of the network is seen within ${probe_interval}s; the blackhole row"
  echo "  uses --stall-timeout $blackhole_stall, since a blackhole answers nothing and only a stall reveals it (tlup's"
  echo "  probe then waits at most that long too, so a blackhole shorter than about twice the stall"
  echo "  timeout is taken for a chunk's stall, not an outage)."
  echo
  echo "| fault | fired | outcome | re-sent bytes | retries | URLs refreshed | outages | damaged | raced | wall s | notes |"
  echo "|---|---|---|---:|---:|---:|---|---:|---:|---:|---|"
  printf '%s\n' "${table[@]}"
  echo
  echo "Reproduce (PORT: from the sandbox's 'tl-sandbox listening on' line; JOURNAL: a fresh file):"
  echo
  echo '```'
  printf '%s\n' "${reproduce[@]}"
  echo '```'
}

echo
report | tee "$bench/report.md"
echo
echo "report: $bench/report.md"
if [ "$failures" -gt 0 ]; then
  echo "error: $failures of ${#rows_wanted[@]} uploads failed or did not match their file" >&2
  exit 1
fi
