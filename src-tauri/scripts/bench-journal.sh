#!/usr/bin/env bash
# What the upload journal costs: `tlup upload` of a 1 GiB file in 1 MiB chunks (1,024
# chunks, so 1,024 chunk rows and their reported flags written to the journal, every row on
# disk before its chunk leaves its worker slot; CHUNK_SIZE=262144 gives 4,096) with a
# journal and without one, against one tl-sandbox with discard storage on loopback
# (BANDWIDTH=BYTES_PER_S caps each connection, as a real link does). Each round runs every variant once, one after the other,
# in an order that rotates; RUNS rounds.
#
#   bash src-tauri/scripts/bench-journal.sh
#   RUNS=5 WORKERS=8 bash src-tauri/scripts/bench-journal.sh
#
# Knobs: RUNS (3), WORKERS (tlup --workers, 5), CHUNK_SIZE (the sandbox's --chunk-size,
# 1048576), BANDWIDTH (the sandbox's --bandwidth per connection, none), MIN_RATIO (0.90), TMPFS=0 to skip the journal-on-tmpfs variant.
#
# A gate: exits 1 when, with the journal on disk, the median over the rounds of journalled
# MB/s / unjournalled MB/s is below MIN_RATIO, and when any upload fails or the journal lacks
# a chunk row or a reported flag. The unjournalled runs set TLUP_BENCH_NO_JOURNAL=1, a
# switch tlup keeps for this script only. Safe to run again: the 1 GiB file under
# target/bench/ is reused when it has the right size.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

runs=${RUNS:-3}
workers=${WORKERS:-5}
chunk_size=${CHUNK_SIZE:-1048576}
bandwidth=${BANDWIDTH:-0}
min_ratio=${MIN_RATIO:-0.90}
tmpfs=${TMPFS:-1}
size=$((1024 * 1024 * 1024))
bench="$root/target/bench"
data="$bench/random-1GiB.bin"
mkdir -p "$bench"

# shellcheck source=src-tauri/scripts/bench-common.sh
. src-tauri/scripts/bench-common.sh
bench_build
bench_data

# Journals of the disk variant live on the file system of target/; those of the tmpfs
# variant in /dev/shm when that is a tmpfs.
disk_dir=$(mktemp -d "$bench/journal-disk.XXXXXX")
shm_dir=""
if [ "$tmpfs" = 1 ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null || true)" = tmpfs ]; then
  shm_dir=$(mktemp -d /dev/shm/tl-bench-journal.XXXXXX)
fi

# Removes the journals when the script exits (start_sandbox's trap calls it).
bench_cleanup() {
  rm -rf "$disk_dir"
  if [ -n "$shm_dir" ]; then rm -rf "$shm_dir"; fi
}
start_sandbox journal --chunk-size "$chunk_size" --bandwidth "$bandwidth"
base="$origin/v1.3"

now() { date +%s.%N; }

# The median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Counts the chunk rows of the journal at $1 and how many are reported, as "ROWS REPORTED".
journal_rows() {
  if command -v sqlite3 >/dev/null; then
    sqlite3 "$1" "SELECT count(*) || ' ' || coalesce(sum(reported), 0) FROM chunks"
  elif command -v python3 >/dev/null; then
    python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT count(*), coalesce(sum(reported), 0) FROM chunks").fetchone()
print(r[0], r[1])' "$1"
  fi
}

chunks=""
declare -A speeds=()

# One upload; $1 is the variant (disk, tmpfs or none), $2 the run number (0: a warm-up,
# not counted). Appends its MB/s to speeds[$1].
upload() {
  local variant=$1 run=$2 journal="" out="$bench/journal-upload.jsonl" err="$bench/journal-upload.err"
  local -a flags=() env=(env -u TLUP_JOURNAL)
  case $variant in
    disk) journal="$disk_dir/run-$run.sqlite3" ;;
    tmpfs) journal="$shm_dir/run-$run.sqlite3" ;;
    none) env+=(TLUP_BENCH_NO_JOURNAL=1) ;;
  esac
  if [ -n "$journal" ]; then flags=(--journal "$journal"); fi
  local start end status=0
  start=$(now)
  "${env[@]}" target/release/tlup --json --base-url "$base" --api-key k "${flags[@]}" \
    upload "$data" --workers "$workers" >"$out" 2>"$err" || status=$?
  end=$(now)
  local result
  result=$(grep '"event":"result"' "$out" || true)
  if [ "$status" -ne 0 ] || [ -z "$result" ]; then
    echo "error: the $variant upload failed (exit $status):" >&2
    tail -n 5 "$err" >&2
    exit 1
  fi
  local total
  total=$(echo "$result" | sed -n 's/.*"total_chunks":\([0-9]*\).*/\1/p')
  if [ -z "$chunks" ]; then chunks=$total; fi
  local wall mbps
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  mbps=$(awk -v b="$size" -v s="$wall" 'BEGIN { printf "%.1f", b / s / 1e6 }')
  local note=""
  if [ -n "$journal" ]; then
    local rows
    rows=$(journal_rows "$journal" || true)
    if [ -n "$rows" ]; then
      if [ "$rows" != "$total $total" ]; then
        echo "error: the journal of the $variant run has '$rows' chunk rows and reported flags, not $total of each" >&2
        exit 1
      fi
      note="  (journal: $total chunk rows, all reported)"
    fi
    rm -f "$journal" "$journal-wal" "$journal-shm"
    rm -rf "${journal%.sqlite3}.locks"
  fi
  if [ "$run" = 0 ]; then
    printf '    warm-up (%s, not counted): %.1f MB/s\n' "$variant" "$mbps"
    return
  fi
  printf '    %-6s run %d: %7.1f MB/s  %6.3fs%s\n' "$variant" "$run" "$mbps" "$wall" "$note"
  speeds[$variant]+="$mbps "
}

variants=(disk none)
if [ -n "$shm_dir" ]; then variants=(disk tmpfs none); fi
echo "==> uploading $data ($size bytes, --workers $workers), ${variants[*]}, $runs runs each"
# The first upload to a fresh sandbox is slower whatever the variant.
upload none 0
for run in $(seq "$runs"); do
  # Rotate the order so that neither variant always goes first.
  n=${#variants[@]}
  for k in $(seq 0 $((n - 1))); do
    upload "${variants[$(((k + run - 1) % n))]}" "$run"
  done
done

none_median=$(echo "${speeds[none]}" | tr ' ' '\n' | grep . | median)
echo
echo "tlup upload of 1 GiB in $chunks chunks of $chunk_size bytes to a local discard sandbox"
echo "(MB = 10^6 bytes, wall clock of the whole tlup run, median of $runs; a round's runs"
echo "follow each other, so the ratio of a round is little moved by other load on the machine):"
printf '  %-30s %7s MB/s  (runs: %s)\n' "no journal" "$none_median" "${speeds[none]% }"
gate=""
for variant in "${variants[@]}"; do
  [ "$variant" = none ] && continue
  where=$disk_dir
  [ "$variant" = tmpfs ] && where=$shm_dir
  m=$(echo "${speeds[$variant]}" | tr ' ' '\n' | grep . | median)
  # The ratio of each round (this variant's run over the unjournalled run of the same round).
  rounds=$(paste -d ' ' <(echo "${speeds[$variant]}" | tr ' ' '\n' | grep .) \
    <(echo "${speeds[none]}" | tr ' ' '\n' | grep .) | awk '{ printf "%.3f\n", $1 / $2 }')
  ratio=$(echo "$rounds" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  of_medians=$(awk -v a="$m" -v b="$none_median" 'BEGIN { printf "%.3f", a / b }')
  printf '  %-30s %7s MB/s  (runs: %s)\n' \
    "journal on $variant ($(stat -f -c %T "$where"))" "$m" "${speeds[$variant]% }"
  printf '  %-30s %7s  (rounds: %s; ratio of the medians %s)\n' \
    "  journalled / unjournalled" "$ratio" "$(echo "$rounds" | paste -sd ' ')" "$of_medians"
  if [ "$variant" = disk ]; then gate=$ratio; fi
done
echo
echo "reproduce:"
echo "  target/release/tl-sandbox --listen 127.0.0.1:0 --api-key k --storage discard --chunk-size $chunk_size --bandwidth $bandwidth"
echo "  time target/release/tlup --journal /tmp/j.sqlite3 --base-url http://127.0.0.1:PORT/v1.3 --api-key k upload $data --workers $workers"
echo "  time TLUP_BENCH_NO_JOURNAL=1 target/release/tlup --base-url http://127.0.0.1:PORT/v1.3 --api-key k upload $data --workers $workers"
if awk -v r="$gate" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then
  echo
  echo "FAIL: with the journal on disk tlup ran at $gate of its speed without one (needs >= $min_ratio)" >&2
  exit 1
fi
echo
echo "ok: journalled / unjournalled = $gate (>= $min_ratio)"
