#!/usr/bin/env bash
# Upload throughput of `tlup upload` (1 GiB, the multipart protocol, 5 parallel chunk PUTs)
# beside the physical limit on this machine: one `curl -T` of the same file to the sandbox's
# sink endpoint, which reads and discards the body like a discard-storage chunk PUT.
#
#   bash src-tauri/scripts/bench-throughput.sh          # RUNS=2 keeps the best of two
#
# A measurement, not a gate: a slow result does not fail, but a failed transfer does. Safe
# to run again: the 1 GiB file under target/bench/ is reused when it has the right size.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

runs=${RUNS:-1}
size=$((1024 * 1024 * 1024))
bench="$root/target/bench"
data="$bench/random-1GiB.bin"
mkdir -p "$bench"

. src-tauri/scripts/bench-common.sh
bench_build
bench_data
start_sandbox throughput
base="$origin/v1.3"

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

# Keep the run with the shortest wall time.
tlup_best=""
tlup_best_reported=""
for i in $(seq "$runs"); do
  echo "==> tlup upload, run $i of $runs"
  start=$(now)
  status=0
  target/release/tlup --json --base-url "$base" --api-key k upload "$data" \
    >"$bench/throughput-upload.jsonl" 2>"$bench/throughput-upload.err" || status=$?
  end=$(now)
  result=$(grep '"event":"result"' "$bench/throughput-upload.jsonl" || true)
  if [ "$status" -ne 0 ] || [ -z "$result" ]; then
    echo "error: the tlup upload failed (exit $status):" >&2
    tail -n 5 "$bench/throughput-upload.err" >&2
    exit 1
  fi
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  reported=$(echo "$result" | sed -n 's/.*"elapsed_seconds":\([0-9.e+-]*\).*/\1/p')
  echo "    wall ${wall}s, engine-reported ${reported}s"
  if [ -z "$tlup_best" ] || awk -v a="$wall" -v b="$tlup_best" 'BEGIN { exit !(a < b) }'; then
    tlup_best=$wall
    tlup_best_reported=$reported
  fi
done

curl_best=""
curl_best_speed=""
for i in $(seq "$runs"); do
  echo "==> curl -T to the sink, run $i of $runs"
  start=$(now)
  status=0
  out=$(curl -sS -o /dev/null -w '%{http_code} %{speed_upload} %{time_total}' \
    -T "$data" -H 'x-api-key: k' "$base/sandbox/sink") || status=$?
  end=$(now)
  code=$(echo "$out" | awk '{ print $1 }')
  if [ "$status" -ne 0 ] || [ "$code" != "200" ]; then
    echo "error: curl to $base/sandbox/sink failed (exit $status, HTTP ${code:-none});" \
      "the sandbox needs the PUT /v1.3/sandbox/sink endpoint" >&2
    exit 1
  fi
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  speed=$(echo "$out" | awk '{ print $2 }')
  echo "    wall ${wall}s, curl speed_upload $(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }') MB/s"
  if [ -z "$curl_best" ] || awk -v a="$wall" -v b="$curl_best" 'BEGIN { exit !(a < b) }'; then
    curl_best=$wall
    curl_best_speed=$speed
  fi
done

tlup_mbps=$(mbps "$size" "$tlup_best")
tlup_reported_mbps=$(mbps "$size" "$tlup_best_reported")
curl_mbps=$(mbps "$size" "$curl_best")
curl_reported_mbps=$(awk -v s="$curl_best_speed" 'BEGIN { printf "%.1f", s / 1e6 }')
ratio=$(awk -v t="$tlup_mbps" -v c="$curl_mbps" 'BEGIN { printf "%.2f", t / c }')

echo
echo "upload of 1 GiB to a local discard sandbox (MB = 10^6 bytes; best of $runs):"
printf '  %-34s %8s MB/s  (%ss wall; %s MB/s by its own clock)\n' \
  "tlup upload (5 workers, 5 MiB chunks)" "$tlup_mbps" "$tlup_best" "$tlup_reported_mbps"
printf '  %-34s %8s MB/s  (%ss wall; %s MB/s by curl)\n' \
  "curl -T (one PUT, the link limit)" "$curl_mbps" "$curl_best" "$curl_reported_mbps"
echo "  tlup / curl = $ratio"
echo
echo "reproduce:"
echo "  target/release/tl-sandbox --listen 127.0.0.1:0 --api-key k --storage discard"
echo "  time target/release/tlup --json --base-url http://127.0.0.1:PORT/v1.3 --api-key k upload $data"
echo "  curl -o /dev/null -w '%{speed_upload} %{time_total}\\n' -T $data -H 'x-api-key: k' http://127.0.0.1:PORT/v1.3/sandbox/sink"
