# Shared by the benchmark scripts (sourced, not run): the release build, the 1 GiB data
# file, and a tl-sandbox with discard storage on a free loopback port.
# Expects: $bench (a directory), $data (the data file), $size (its size in bytes).

bench_build() {
  echo "==> building (cargo build --release -p tlup -p tl-sandbox)"
  cargo build --release -p tlup -p tl-sandbox
}

bench_data() {
  if [ ! -f "$data" ] || [ "$(stat -c %s "$data")" != "$size" ]; then
    echo "==> writing $size random bytes to $data"
    head -c "$size" /dev/urandom >"$data.part"
    mv "$data.part" "$data"
  fi
}

# Starts `tl-sandbox --storage discard` and sets $origin to its URL; the sandbox stops
# when the script exits, after which the script's own `bench_cleanup`, if it defines one,
# runs. $1 names its log files; the other arguments are more tl-sandbox flags.
stop_sandbox() {
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi
}

start_sandbox() {
  local name=$1
  shift
  sandbox_pid=""
  trap stop_sandbox EXIT INT TERM
  echo "==> starting tl-sandbox (discard storage${*:+, $*})"
  target/release/tl-sandbox --listen 127.0.0.1:0 --api-key k --storage discard "$@" \
    >"$bench/$name-sandbox.out" 2>"$bench/$name-sandbox.err" &
  sandbox_pid=$!
  read_listen_line "$bench/$name-sandbox.out" "$bench/$name-sandbox.err"
  echo "    listening on $origin"
}

# Sets $origin from the listening line the sandbox started as $sandbox_pid prints to the
# file $1 (polled for up to 10 s); if it exits or stays silent, shows its stderr ($2) and
# exits.
read_listen_line() {
  local out=$1 err=$2
  origin=""
  for _ in $(seq 200); do
    origin=$(sed -n 's/^tl-sandbox listening on //p' "$out")
    [ -n "$origin" ] && break
    kill -0 "$sandbox_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$origin" ]; then
    echo "error: tl-sandbox did not start:" >&2
    cat "$err" >&2
    exit 1
  fi
}
