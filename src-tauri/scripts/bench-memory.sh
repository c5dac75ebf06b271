#!/usr/bin/env bash
# Peak memory (RSS) of `tlup upload` of a 4 GiB file at the highest parallelism (64 chunks
# in flight) against a local sandbox that discards the bytes. The engine streams chunks
# from the file, so memory must stay flat whatever the file size and the parallelism: the
# limit is 64 MiB (override with LIMIT_MIB).
#
#   bash src-tauri/scripts/bench-memory.sh        # SIZE_MIB=4096 WORKERS=64 by default
#
# The file is sparse (made with `truncate`, it reads as zeros and takes no disk), so the
# run measures the uploader, not the disk. Fails if the upload fails or the peak reaches
# the limit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

limit_mib=${LIMIT_MIB:-64}
size_mib=${SIZE_MIB:-4096}
size=$((size_mib * 1024 * 1024))
workers=${WORKERS:-64}
bench="$root/target/bench"
data="$bench/sparse-${size_mib}MiB.bin"
mkdir -p "$bench"

. src-tauri/scripts/bench-common.sh
bench_build
if [ ! -x /usr/bin/time ]; then
  echo "==> installing GNU time"
  DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null
fi

if [ ! -f "$data" ] || [ "$(stat -c %s "$data")" != "$size" ]; then
  rm -f "$data"
  truncate -s "$size" "$data"
fi
start_sandbox memory

cmd=(target/release/tlup --json --base-url "$origin/v1.3" --api-key k upload --workers "$workers" "$data")
echo "==> /usr/bin/time -v ${cmd[*]}"
status=0
/usr/bin/time -v -o "$bench/memory-time.txt" "${cmd[@]}" >"$bench/memory-upload.jsonl" \
  2>"$bench/memory-upload.err" || status=$?

result=$(grep '"event":"result"' "$bench/memory-upload.jsonl" || true)
if [ "$status" -ne 0 ] || [ -z "$result" ]; then
  echo "error: the upload failed (exit $status):" >&2
  tail -n 5 "$bench/memory-upload.err" >&2
  exit 1
fi

rss_kib=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$bench/memory-time.txt")
wall=$(awk -F': ' '/Elapsed \(wall clock\) time/ { print $2 }' "$bench/memory-time.txt")
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
chunks=$(echo "$result" | sed -n 's/.*"total_chunks":\([0-9]*\).*/\1/p')

echo
echo "peak RSS of tlup upload ($size_mib MiB sparse file, --workers $workers, $chunks chunks): $rss_mib MiB (limit $limit_mib MiB), wall time $wall"
echo
echo "reproduce:"
echo "  target/release/tl-sandbox --listen 127.0.0.1:0 --api-key k --storage discard"
echo "  truncate -s $size $data"
echo "  /usr/bin/time -v target/release/tlup --json --base-url http://127.0.0.1:PORT/v1.3 --api-key k upload --workers $workers $data"
echo "  (read 'Maximum resident set size')"

if awk -v m="$rss_mib" -v l="$limit_mib" 'BEGIN { exit !(m >= l) }'; then
  echo "error: peak RSS $rss_mib MiB is at or above the $limit_mib MiB limit" >&2
  exit 1
fi
