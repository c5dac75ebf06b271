#!/usr/bin/env bash
# The same files through the same sandbox on several emulated links, uploaded by `tlup upload`
# (its defaults) and, side by side, by the official SDKs with theirs: the Python SDK
# `twelvelabs` (multipart_upload.upload_file) and the JS SDK `twelvelabs-js`
# (multipartUpload.uploadFile), driven by src-tauri/scripts/bench-sdk/. The links are
# tl-sandbox flags: --bandwidth (a cap per connection), --latency-ms (added to every request)
# and --link-rate (a capacity all connections share, the denominator of "fraction of link"):
#
#   long-haul    --bandwidth 1500000 --latency-ms 50 --link-rate 12500000 (100 Mbit/s)   512 MiB
#   office       --bandwidth 3000000 --latency-ms 40 --link-rate 25000000 (200 Mbit/s)   512 MiB
#   home uplink  --latency-ms 30 --link-rate 2500000 (20 Mbit/s, no cap per connection)   64 MiB
#   loopback     no limits; one `curl -T` PUT to the sandbox's sink is the reference   1 GiB
#   batch        16 files of 8 MiB on the long-haul link: one `tlup upload` of all of them;
#                each SDK uploads them one after another in one process
#
#   bash src-tauri/scripts/bench-links.sh            # about 10 minutes
#   QUICK=1 bash src-tauri/scripts/bench-links.sh    # small files, under 3 minutes (CI)
#
# Knobs: LONG_HAUL_SIZE, OFFICE_SIZE, HOME_UPLINK_SIZE, LOOPBACK_SIZE, BATCH_FILE_SIZE (bytes,
# or with a K/M/G suffix in powers of 1024), BATCH_FILES (16), PROFILES (a space-separated
# subset of "long-haul office home loopback batch"), CLIENT_TIMEOUT (seconds a client may
# run before it is stopped and counted as failed: 900, or 120 with QUICK=1).
#
# Per client and link: MB/s (all bytes / wall time of the client process, MB = 10^6 bytes),
# its fraction of the link, peak RSS (GNU time), peak temporary disk use (every ~100 ms, the
# bytes of the files under the client's TMPDIR, a fresh directory, and under the data
# directory apart from the data files; tlup keeps its journal, fresh per run, in that TMPDIR),
# for tlup, the parallelism of its progress events (the last while uploading, and the most),
# and, for every client, the most connections to the sandbox seen sending at once (ss).
# Writes target/bench/links/report.md and, from tlup's progress events on the long-haul
# link, target/bench/links/trace-long-haul.tsv (logs: target/bench/links/logs/).
#
# A measurement, not a gate: it fails only when a transfer fails, never on a ratio. The
# first run installs the SDKs under target/bench/sdk/ (a virtualenv from PyPI, npm ci from
# bench-sdk/package-lock.json); later runs reuse them, and the data files under
# target/bench/links/data/ when their size is right.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export LC_NUMERIC=C

bytes() { numfmt --from=iec "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%g", b / 1048576 }'; }
if [ "${QUICK:-0}" = 1 ]; then
  long_haul_size=$(bytes "${LONG_HAUL_SIZE:-24M}")
  office_size=$(bytes "${OFFICE_SIZE:-24M}")
  home_size=$(bytes "${HOME_UPLINK_SIZE:-6M}")
  loopback_size=$(bytes "${LOOPBACK_SIZE:-256M}")
  batch_files=${BATCH_FILES:-8}
  batch_file_size=$(bytes "${BATCH_FILE_SIZE:-2M}")
else
  long_haul_size=$(bytes "${LONG_HAUL_SIZE:-512M}")
  office_size=$(bytes "${OFFICE_SIZE:-512M}")
  home_size=$(bytes "${HOME_UPLINK_SIZE:-64M}")
  loopback_size=$(bytes "${LOOPBACK_SIZE:-1G}")
  batch_files=${BATCH_FILES:-16}
  batch_file_size=$(bytes "${BATCH_FILE_SIZE:-8M}")
fi
read -r -a profiles <<<"${PROFILES:-long-haul office home loopback batch}"
client_timeout=${CLIENT_TIMEOUT:-$([ "${QUICK:-0}" = 1 ] && echo 120 || echo 900)}

bench="$root/target/bench/links"
logs="$bench/logs"
data_dir=target/bench/links/data
sdk="$root/target/bench/sdk"
venv="$sdk/venv"
js_dir="$sdk/js"
drivers=src-tauri/scripts/bench-sdk
mkdir -p "$bench" "$logs" "$data_dir"

# shellcheck source=src-tauri/scripts/bench-common.sh
. src-tauri/scripts/bench-common.sh

# Per-run temporary directories live here; the sandbox's exit trap removes them, and any
# chunk directory a failed SDK run left beside the data files.
work=$(mktemp -d "$bench/work.XXXXXX")
watcher=""
bench_cleanup() {
  if [ -n "$watcher" ]; then
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
  fi
  rm -rf "$work" "$data_dir"/*_chunks
}
sandbox_pid=""
trap stop_sandbox EXIT INT TERM

bench_build
help=$(target/release/tl-sandbox --help)
case $help in
  *--link-rate*) ;;
  *)
    echo "error: target/release/tl-sandbox has no --link-rate flag (a link capacity shared by" >&2
    echo "       all connections), which every limited profile here needs; build a tl-sandbox" >&2
    echo "       that has it (cargo build --release -p tl-sandbox) and run again" >&2
    exit 1
    ;;
esac

# Installs the Debian package $1, reading the package lists first if apt does not know it.
apt_install() {
  echo "==> installing $1 (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$1" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "$1" >/dev/null; }
}
if [ ! -x /usr/bin/time ]; then apt_install time; fi
if ! command -v ss >/dev/null; then apt_install iproute2 || true; fi

# The Python SDK, from bench-sdk/requirements.txt, in a virtualenv; reinstalled only when
# the requirements change.
if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating the virtualenv $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 leaves ensurepip, which venv needs, to python3-venv.
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
fi
if ! cmp -s "$drivers/requirements.txt" "$venv/bench-requirements.txt"; then
  echo "==> installing the Python SDK ($drivers/requirements.txt) into $venv"
  env -u PIP_REQUIRE_VIRTUALENV "$venv/bin/python" -m pip install --disable-pip-version-check \
    --quiet -r "$drivers/requirements.txt"
  cp "$drivers/requirements.txt" "$venv/bench-requirements.txt"
fi
py_version=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("twelvelabs"))')

# The JS SDK, from bench-sdk/package-lock.json, with npm ci; again only when the lock changes.
if ! command -v node >/dev/null || [ "$(node -p 'typeof fetch')" != function ]; then
  echo "error: the JS SDK needs node 18 or later (its uploadFile calls the global fetch)" >&2
  exit 1
fi
if ! cmp -s "$drivers/package-lock.json" "$js_dir/package-lock.json" ||
  [ ! -f "$js_dir/node_modules/twelvelabs-js/package.json" ]; then
  echo "==> installing the JS SDK ($drivers/package-lock.json) into $js_dir"
  mkdir -p "$js_dir"
  cp "$drivers/package.json" "$drivers/package-lock.json" "$js_dir/"
  npm ci --prefix "$js_dir" --no-audit --no-fund --loglevel=error
fi
js_version=$(node -p "require('$js_dir/node_modules/twelvelabs-js/package.json').version")

# One data file per size, and the batch's files.
data_file() {
  data="$data_dir/random-$1.bin"
  size=$1
  bench_data
}

now() { echo "$EPOCHREALTIME"; }
# Prefixes every line of stdin with the time it arrived.
stamp() {
  local line
  while IFS= read -r line; do printf '%s\t%s\n' "$EPOCHREALTIME" "$line"; done
}

# The bytes of the files under $1 (a client's TMPDIR) and under the data directory, the
# data files left out.
disk_bytes() {
  {
    find "$1" -type f -printf '%s\n' 2>/dev/null || true
    find "$data_dir" -mindepth 2 -type f -printf '%s\n' 2>/dev/null || true
    find "$data_dir" -maxdepth 1 -type f ! -name '*.bin' -printf '%s\n' 2>/dev/null || true
  } | awk '{ s += $1 } END { printf "%d\n", s }'
}

# The connections to the sandbox (port $1) with bytes waiting in their send queue: the
# requests whose bodies are moving.
sending() {
  ss -Htn state established "( dport = :$1 )" 2>/dev/null | awk '$2 > 0 { n++ } END { print n + 0 }'
}

# Samples, about every 100 ms until killed, disk_bytes $1 and the sending connections to
# port $2, keeping the peaks in the files $3 and $4.
watch_client() {
  local peak=0 most=0 bytes conns
  echo 0 >"$3"
  echo 0 >"$4"
  while :; do
    bytes=$(disk_bytes "$1")
    if [ "$bytes" -gt "$peak" ]; then
      peak=$bytes
      echo "$peak" >"$3"
    fi
    if [ "$has_ss" = 1 ]; then
      conns=$(sending "$2")
      if [ "$conns" -gt "$most" ]; then
        most=$conns
        echo "$most" >"$4"
      fi
    fi
    sleep 0.1
  done
}

# Parses tlup's stamped JSON lines ($1) of a process started at $2 that uploads $3 bytes:
# prints "SETTLED MAX TSTARTED T90 TRESULT": the parallelism of the last event while
# uploading and the most (n/a without the field); the seconds from the start at which every
# chunk of every file had started (completed_chunks + chunks_in_flight = total_chunks; n/a
# without chunks_in_flight), at which 90 % of the bytes were acknowledged, and at which the
# last result line came. When $4 is set, writes the trace there: seconds, parallelism,
# goodput over the last second (MB/s, from the bytes_sent deltas), tlup's own rate (MB/s,
# its bytes_per_second, which counts the bytes a new connection's socket buffers swallow at
# once only when their chunk is acknowledged) and bytes acknowledged, summed over the files.
tlup_trace() {
  awk -F'\t' -v t0="$2" -v all="$3" -v trace="${4:-}" '
    function num(s, key,   k) {
      k = "\"" key "\":"
      if (match(s, k "-?[0-9][0-9.eE+-]*")) return substr(s, RSTART + length(k), RLENGTH - length(k))
      return ""
    }
    function str(s, key,   k) {
      k = "\"" key "\":\""
      if (match(s, k "[^\"]*")) return substr(s, RSTART + length(k), RLENGTH - length(k))
      return ""
    }
    BEGIN {
      settled = "n/a"; most = "n/a"; t90 = "n/a"; tres = "n/a"; n = 0; flight = 1
      if (trace != "") print "seconds\tparallelism\tgoodput_MBps\ttlup_rate_MBps\tbytes_acknowledged" > trace
    }
    $2 ~ /"event":"result"/ { tres = sprintf("%.2f", $1 - t0) }
    $2 ~ /"event":"progress"/ {
      t = $1 - t0
      f = str($2, "file")
      files[f] = 1
      s = num($2, "bytes_sent"); a = num($2, "bytes_acknowledged")
      sent += s - last_sent[f]; last_sent[f] = s
      ack += a - last_ack[f]; last_ack[f] = a
      r = num($2, "bytes_per_second"); rates[f] = r + 0
      own = 0; for (g in rates) own += rates[g]
      p = num($2, "parallelism")
      if (p != "") {
        if (str($2, "status") == "uploading") settled = p
        if (most == "n/a" || p + 0 > most + 0) most = p
      } else p = "n/a"
      n++; tt[n] = t; ss[n] = sent
      # The goodput since the last event at least one second older (or since the first).
      j = n
      while (j > 1 && tt[j] > t - 1) j--
      rate = (t > tt[j]) ? (sent - ss[j]) / (t - tt[j]) / 1e6 : 0
      if (t90 == "n/a" && ack >= 0.9 * all) t90 = sprintf("%.2f", t)
      inf = num($2, "chunks_in_flight")
      if (inf == "") flight = 0
      else if (!(f in started) && num($2, "completed_chunks") + inf >= num($2, "total_chunks") && num($2, "total_chunks") > 0) started[f] = t
      if (trace != "") printf "%.3f\t%s\t%.2f\t%.2f\t%d\n", t, p, rate, own / 1e6, ack > trace
    }
    END {
      tstarted = "n/a"
      if (flight && n > 0) {
        for (f in files) {
          if (!(f in started)) { tstarted = "n/a"; break }
          if (tstarted == "n/a" || started[f] > tstarted + 0) tstarted = sprintf("%.2f", started[f])
        }
      }
      print settled, most, tstarted, t90, tres
    }
  ' "$1"
}

# One row per second of a trace: the last event of each second.
compact_trace() {
  awk -F'\t' 'NR == 1 { next } { s = int($1); row[s] = $0; if (s > last) last = s }
    END {
      printf "    %6s  %11s  %12s  %14s  %12s\n", "second", "parallelism", "goodput MB/s", "tlup rate MB/s", "acked MiB"
      for (i = 0; i <= last; i++) if (i in row) {
        split(row[i], f, "\t")
        printf "    %6d  %11s  %12.1f  %14.1f  %12.1f\n", i, f[2], f[3], f[4], f[5] / 1048576
      }
    }' "$1"
}

has_ss=0
if command -v ss >/dev/null; then has_ss=1; fi
declare -A mbps=() fraction=() rss=() disk=() par=() conns=() own=() commands=()
rows=()
tails=()
reproduce=()

# Runs client $2 (tlup, python, js or curl) on profile $1 with the files $3...; records its
# metrics and the row of the table. Exits the script when the transfer fails.
run_client() {
  local profile=$1 client=$2
  shift 2
  local -a files=("$@")
  local key="$profile/$client" log="$logs/$profile-$client"
  local tmp
  tmp=$(mktemp -d "$work/$profile-$client.XXXXXX")
  local total=0 f
  for f in "${files[@]}"; do total=$((total + $(stat -c %s "$f"))); done
  local -a cmd env=(env -u TWELVELABS_BASE_URL -u TWELVELABS_API_KEY -u TWELVE_LABS_API_KEY
    -u TLUP_JOURNAL "TMPDIR=$tmp")
  local name shown
  case $client in
    tlup)
      name="tlup"
      cmd=(target/release/tlup --json --base-url "$base" --api-key k --journal "$tmp/journal.sqlite3" upload "${files[@]}")
      ;;
    python)
      name="twelvelabs $py_version (Python)"
      cmd=("${venv#"$root"/}/bin/python" "$drivers/upload.py" "$base" "${files[@]}")
      ;;
    js)
      name="twelvelabs-js $js_version"
      env+=("NODE_PATH=${js_dir#"$root"/}/node_modules")
      cmd=(node "$drivers/upload.cjs" "$base" "${files[@]}")
      ;;
    curl)
      name="curl -T (one PUT)"
      cmd=(curl -sS -o /dev/null -w '%{http_code}\n' -T "${files[0]}" -H 'x-api-key: k' "$base/sandbox/sink")
      ;;
  esac
  # The command as printed for reproducing it: the sandbox's port as a placeholder, a fresh
  # directory for the journal, the batch's files as a brace expansion.
  shown=$(printf '%q ' "${cmd[@]}")
  shown=${shown//"$origin"/http://127.0.0.1:PORT}
  shown=${shown//"$tmp"/\$(mktemp -d)}
  if [ "${#files[@]}" -gt 1 ]; then
    local listed first last
    listed=$(printf '%q ' "${files[@]}")
    first=${files[0]##*-}
    last=${files[-1]##*-}
    shown=${shown/"$listed"/"${files[0]%-*}-{${first%.bin}..${last%.bin}}.bin "}
  fi
  case $client in
    python) shown="env -u TWELVELABS_BASE_URL $shown" ;;
    js) shown="NODE_PATH=${js_dir#"$root"/}/node_modules $shown" ;;
  esac
  commands[$key]=${shown% }

  echo "==> $profile: $name, ${#files[@]} file(s), $total bytes"
  sync
  watch_client "$tmp" "${origin##*:}" "$log.peak" "$log.conns" &
  watcher=$!
  local t0 t1 status=0
  t0=$(now)
  set +e
  /usr/bin/time -v -o "$log.time" timeout -k 10 "$client_timeout" "${env[@]}" "${cmd[@]}" \
    2>"$log.err" | stamp >"$log.out"
  status=${PIPESTATUS[0]}
  set -e
  t1=$(now)
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  watcher=""
  local left
  left=$(disk_bytes "$tmp")
  # The journal stays in tlup's TMPDIR by design; anything else left behind is noted.
  [ "$client" = tlup ] && left=0

  local ok=1 why=""
  if [ "$status" -ne 0 ]; then
    ok=0
    why="exit $status"
    [ "$status" = 124 ] && why="still running after ${client_timeout}s, stopped"
  else
    case $client in
      tlup)
        local results
        results=$(grep -c '"event":"result"' "$log.out" || true)
        if [ "$results" != "${#files[@]}" ]; then
          ok=0
          why="$results result lines for ${#files[@]} files"
        fi
        ;;
      python | js)
        if ! grep -q '"total_bytes"' "$log.out"; then
          ok=0
          why="no result line"
        fi
        ;;
      curl)
        if [ "$(cut -f2 "$log.out")" != 200 ]; then
          ok=0
          why="HTTP $(cut -f2 "$log.out")"
        fi
        ;;
    esac
  fi
  if [ "$ok" = 0 ]; then
    echo "error: $name failed on the $profile profile ($why); the last lines of its stderr ($log.err):" >&2
    if [ -s "$log.err" ]; then tail -n 15 "$log.err" >&2; else echo "  (none)" >&2; fi
    echo "its last lines on stdout ($log.out):" >&2
    tail -n 3 "$log.out" | cut -f2- >&2
    echo "the sandbox's stderr ($bench/logs/$profile-sandbox.err):" >&2
    tail -n 5 "$bench/logs/$profile-sandbox.err" >&2
    exit 1
  fi

  local wall rss_kib peak
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  mbps[$key]=$(awk -v b="$total" -v s="$wall" 'BEGIN { printf "%.1f", b / s / 1e6 }')
  rss_kib=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$log.time")
  rss[$key]=$(awk -v k="$rss_kib" 'BEGIN { printf "%.0f", k / 1024 }')
  peak=$(cat "$log.peak")
  disk[$key]=$(awk -v b="$peak" 'BEGIN { printf "%.1f", b / 1048576 }')
  par[$key]="-"
  conns[$key]="n/a"
  [ "$has_ss" = 1 ] && conns[$key]=$(cat "$log.conns")
  local note=""
  case $client in
    tlup)
      local trace="" settled most tstarted t90 tres
      [ "$profile" = long-haul ] && trace="$bench/trace-long-haul.tsv"
      read -r settled most tstarted t90 tres < <(tlup_trace "$log.out" "$t0" "$total" "$trace")
      if [ "$settled" = n/a ] && [ "$most" = n/a ]; then
        par[$key]="n/a"
      else
        par[$key]="$settled (max $most)"
      fi
      local engine
      engine=$(sed -n 's/.*"event":"result".*"transfer_seconds":\([0-9.e+-]*\).*/\1/p' "$log.out" |
        awk '{ s += $1 } END { printf "%.2f", s }')
      note="its transfer_seconds ${engine}s"
      [ "${#files[@]}" -gt 1 ] && note="its files' transfer_seconds add up to ${engine}s"
      if [ "$t90" != n/a ] && [ "$tres" != n/a ]; then
        local tail_s mean_s started_s="n/a"
        tail_s=$(awk -v a="$t90" -v b="$tres" 'BEGIN { printf "%.2fs", b - a }')
        mean_s=$(awk -v b="$total" -v m="${mbps[$key]}" 'BEGIN { printf "%.2fs", 0.1 * b / (m * 1e6) }')
        [ "$tstarted" != n/a ] && started_s=$(awk -v a="$tstarted" -v b="$tres" 'BEGIN { printf "%.2fs", b - a }')
        tails+=("$(printf '| %s | %ss | %ss | %s | %s | %s |' "$profile" "$t90" "$tres" "$tail_s" "$mean_s" "$started_s")")
      fi
      ;;
    python | js)
      own[$key]=$(sed -n 's/.*"total_seconds": *\([0-9.]*\).*/\1/p' "$log.out" | tail -n 1)
      note="its own clock around the uploads ${own[$key]}s"
      ;;
    curl) note="one PUT" ;;
  esac
  [ "$left" -gt 0 ] && note+="; LEFT $(awk -v b="$left" 'BEGIN { printf "%.1f", b / 1048576 }') MiB behind"
  printf '    %s MB/s, wall %ss (%s), peak RSS %s MiB, peak temp disk %s MiB, parallelism %s, at most %s sending connections\n' \
    "${mbps[$key]}" "$wall" "$note" "${rss[$key]}" "${disk[$key]}" "${par[$key]}" "${conns[$key]}"
  rm -rf "$tmp"
}

for profile in "${profiles[@]}"; do
  link=""
  case $profile in
    long-haul)
      flags=(--bandwidth 1500000 --latency-ms 50 --link-rate 12500000)
      link=12500000
      data_file "$long_haul_size"
      files=("$data")
      ;;
    office)
      flags=(--bandwidth 3000000 --latency-ms 40 --link-rate 25000000)
      link=25000000
      data_file "$office_size"
      files=("$data")
      ;;
    home)
      flags=(--latency-ms 30 --link-rate 2500000)
      link=2500000
      data_file "$home_size"
      files=("$data")
      ;;
    loopback)
      flags=()
      data_file "$loopback_size"
      files=("$data")
      ;;
    batch)
      flags=(--bandwidth 1500000 --latency-ms 50 --link-rate 12500000)
      link=12500000
      files=()
      size=$batch_file_size
      for i in $(seq -w 1 "$batch_files"); do
        data="$data_dir/batch-$batch_file_size-$i.bin"
        bench_data
        files+=("$data")
      done
      ;;
    *)
      echo "error: unknown profile '$profile' (long-haul, office, home, loopback, batch)" >&2
      exit 1
      ;;
  esac
  rm -rf "$data_dir"/*_chunks
  # The files come from the page cache for every client alike.
  cat "${files[@]}" >/dev/null
  start_sandbox "logs/$profile" "${flags[@]}"
  base="$origin/v1.3"
  reproduce+=("$profile: target/release/tl-sandbox --listen 127.0.0.1:0 --api-key k --storage discard${flags[*]:+ ${flags[*]}}")
  clients=(tlup python js)
  [ "$profile" = loopback ] && clients=(curl tlup python js)
  for client in "${clients[@]}"; do
    run_client "$profile" "$client" "${files[@]}"
    reproduce+=("  ${commands[$profile/$client]}")
  done
  kill "$sandbox_pid" 2>/dev/null || true
  wait "$sandbox_pid" 2>/dev/null || true
  sandbox_pid=""

  # The table's rows; the fraction is of the link rate, or of curl's MB/s on loopback.
  for client in "${clients[@]}"; do
    key="$profile/$client"
    if [ -n "$link" ]; then
      fraction[$key]=$(awk -v m="${mbps[$key]}" -v l="$link" 'BEGIN { printf "%.2f", m * 1e6 / l }')
    else
      fraction[$key]=$(awk -v m="${mbps[$key]}" -v c="${mbps[$profile/curl]}" 'BEGIN { printf "%.2f", m / c }')
    fi
    case $client in
      tlup) name=tlup ;;
      python) name="twelvelabs $py_version (Python)" ;;
      js) name="twelvelabs-js $js_version" ;;
      curl) name="curl -T (one PUT)" ;;
    esac
    if [ "$profile" = batch ]; then
      what="batch, ${#files[@]} × $(mib "$batch_file_size") MiB"
    else
      what="$profile, $(mib "$(stat -c %s "${files[0]}")") MiB"
    fi
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$what" "$name" "${mbps[$key]}" \
      "${fraction[$key]}" "${rss[$key]}" "${disk[$key]}" "${par[$key]}" "${conns[$key]}")")
  done
done

# tlup over the faster SDK, and over curl on loopback.
ratios=()
for profile in "${profiles[@]}"; do
  t=${mbps[$profile/tlup]}
  p=${mbps[$profile/python]}
  j=${mbps[$profile/js]}
  if awk -v p="$p" -v j="$j" 'BEGIN { exit !(p >= j) }'; then
    best=$p
    best_name="twelvelabs (Python)"
  else
    best=$j
    best_name="twelvelabs-js"
  fi
  ratios+=("$(printf '| %s | tlup ÷ %s | %s |' "$profile" "$best_name" \
    "$(awk -v a="$t" -v b="$best" 'BEGIN { printf "%.2f", a / b }')")")
  if [ "$profile" = loopback ]; then
    ratios+=("$(printf '| %s | tlup ÷ curl | %s |' "$profile" \
      "$(awk -v a="$t" -v b="${mbps[loopback/curl]}" 'BEGIN { printf "%.2f", a / b }')")")
  fi
done

report() {
  echo "## Uploads through tl-sandbox on emulated links$([ "${QUICK:-0}" = 1 ] && echo " (QUICK)")"
  echo
  echo "MB/s = all bytes / wall time of the client process (MB = 10^6 bytes). Fraction: of the"
  echo "profile's --link-rate, or of curl's MB/s on loopback. Peak temp disk: the files under the"
  echo "client's TMPDIR and beside the data files, sampled every ~100 ms (tlup's journal included)."
  echo "Parallelism: tlup's progress events, the last value while uploading (and the most)."
  echo "Sending conns: the most connections to the sandbox seen at once with bytes in their send"
  echo "queue (ss, every ~100 ms), i.e. chunk PUTs actually moving; every client alike."
  echo
  echo "| profile | client | MB/s | fraction of link | peak RSS MiB | peak temp disk MiB | parallelism | sending conns |"
  echo "|---|---|---:|---:|---:|---:|---|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "| profile | ratio | value |"
  echo "|---|---|---:|"
  printf '%s\n' "${ratios[@]}"
  if [ "${#tails[@]}" -gt 0 ]; then
    echo
    echo "tlup's tail: when 90 % of the bytes were acknowledged and when the last result came (from"
    echo "the start of the process), the time between, what the last 10 % take at the mean rate,"
    echo "and the time from the first progress event with every chunk started to the result."
    echo
    echo "| profile | 90 % acknowledged | result | 90 % → result | 10 % at the mean rate | all started → result |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${tails[@]}"
  fi
  echo
  echo "Reproduce (each client ran alone against the profile's sandbox, under /usr/bin/time -v, with"
  echo "TWELVELABS_BASE_URL, TWELVELABS_API_KEY, TWELVE_LABS_API_KEY and TLUP_JOURNAL unset and TMPDIR"
  echo "a fresh empty directory; PORT is the one on the sandbox's 'listening on' line):"
  echo
  echo '```'
  printf '%s\n' "${reproduce[@]}"
  echo '```'
}

echo
report | tee "$bench/report.md"
if [ -f "$bench/trace-long-haul.tsv" ] && [[ " ${profiles[*]} " == *" long-haul "* ]]; then
  echo
  echo "tlup on the long-haul link, one row per second (all events: $bench/trace-long-haul.tsv);"
  echo "goodput is from bytes_sent, the bytes tlup has written to its sockets, which the kernel's"
  echo "send buffers let run ahead of what the sandbox has read; tlup_rate is tlup's own smoothed"
  echo "rate, which leaves those buffered bytes out until their chunk is acknowledged:"
  compact_trace "$bench/trace-long-haul.tsv"
fi
echo
echo "report: $bench/report.md"
