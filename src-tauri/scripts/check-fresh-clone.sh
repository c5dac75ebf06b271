#!/usr/bin/env bash
# Proves that the README's run command brings the app's page up on a fresh clone:
#   bash src-tauri/scripts/check-fresh-clone.sh
# It clones this checkout's HEAD into a temporary directory (uncommitted changes are not in
# the clone: what is committed must work on its own), runs the README's command there,
#   bash src-tauri/scripts/run-app.sh
# under Xvfb with TL_UPLOADER_EXIT_WHEN_READY=1, and passes when the app printed
# "tl-uploader: ui ready" (its page has shown the first view) and exited with code 0.
#
# The clone builds into this checkout's warm target/ (its build directory, see below), so
# only the workspace's own crates are compiled, not the dependencies.
# TL_FRESH_CLONE_TIMEOUT (seconds, default 900) limits the whole run command, and
# TL_FRESH_CLONE_PAGE_TIMEOUT (default 120) the time from the app's start to its page.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
# Where this checkout's builds keep their intermediate artifacts (deps/, build/).
warm=${CARGO_BUILD_BUILD_DIR:-${CARGO_TARGET_DIR:-$repo/target}}
limit=${TL_FRESH_CLONE_TIMEOUT:-900}
page_limit=${TL_FRESH_CLONE_PAGE_TIMEOUT:-120}
ready_line="tl-uploader: ui ready"

fail() {
  echo "check-fresh-clone: FAILED: $*" >&2
  exit 1
}

for tool in git xvfb-run timeout cargo python3; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing; run bash src-tauri/scripts/setup.sh first"
done
head=$(git -C "$repo" rev-parse --short HEAD) || fail "$repo is not a git checkout"
mkdir -p "$warm"
warm=$(cd "$warm" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tl-fresh-clone.XXXXXX")
# The run command while it runs, and its process group (timeout makes one): a signal to
# this script is passed on to the run, and whatever is left of the group at the end (the
# web view's helpers outlive the app by a few seconds, writing their caches into $tmp) is
# stopped before $tmp is removed. They are not children of this script, so their exit is
# awaited by asking, for at most 10 s.
run=""
group=""
# shellcheck disable=SC2317 # called by the traps
end_group() {
  local tries=50
  kill -TERM -- "-$group" 2>/dev/null || return 0
  while kill -0 -- "-$group" 2>/dev/null && [ "$tries" -gt 0 ]; do
    sleep 0.2
    tries=$((tries - 1))
  done
  kill -KILL -- "-$group" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called by the traps
cleanup() {
  if [ -n "$group" ]; then end_group; fi
  rm -rf "$tmp" || echo "check-fresh-clone: warning: $tmp could not be removed" >&2
}
# shellcheck disable=SC2317 # called by the traps
stop() {
  if [ -n "$run" ]; then
    kill -TERM "$run" 2>/dev/null || true
    wait "$run" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
clone="$tmp/clone"

echo "check-fresh-clone: cloning $repo at $head into $clone"
git clone --quiet --no-hardlinks "$repo" "$clone"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "check-fresh-clone: note: the uncommitted changes of $repo are not in the clone"
fi

# Sharing a target directory between two checkouts of one workspace is not safe as such:
# cargo names the workspace's own artifacts by their path inside the workspace, so the
# clone's build would overwrite this checkout's, and this checkout's next build could take
# them (built from HEAD, without its uncommitted changes) as up to date. So the clone gets:
# - a profile of its own for the workspace's crates (a cargo config in the directory
#   above it, which cargo reads; the clone itself stays as cloned): other artifact names,
#   while the dependencies keep theirs and are reused;
# - the warm directory as its build directory only: its binaries go to its own target/.
# codegen-units is set because the workspace's dev profile does not set it (any value
# then differs); incremental caches would only take disk space in a throwaway tree.
members=$(cd "$clone" && cargo metadata --no-deps --format-version 1 --offline |
  python3 -c 'import json, sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))') ||
  fail "cannot read the workspace's packages from the clone's Cargo.toml"
mkdir -p "$tmp/.cargo"
for name in $members; do
  printf '[profile.dev.package.%s]\ncodegen-units = 16\nincremental = false\n' "$name"
done >"$tmp/.cargo/config.toml"

# The app runs in a session of its own: the XDG directories (the web view's storage and
# caches) are in the temporary directory, and so is its D-Bus session bus, on which nothing
# can be started: no keychain answers (the app goes on without one at once), the caller's
# own session and keyring are never touched, and the single-instance lock is private.
# Without dbus-run-session the bus address names a socket that does not exist: no bus at
# all, and none is autolaunched.
mkdir -p "$tmp/xdg/runtime" "$tmp/data"
chmod 700 "$tmp/xdg/runtime"
session=(env DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/xdg/runtime/no-bus")
if command -v dbus-run-session >/dev/null; then
  cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$tmp/xdg/runtime</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
  session=(dbus-run-session --config-file="$tmp/bus.conf" --)
fi

log="$tmp/run.log"
: >"$log"
echo "check-fresh-clone: running 'bash src-tauri/scripts/run-app.sh' in the clone (limit ${limit}s, ${page_limit}s for the page once the app runs; warm build directory $warm)"
started=$SECONDS
(
  cd "$clone"
  exec env -u DBUS_SESSION_BUS_ADDRESS -u WAYLAND_DISPLAY \
    -u TWELVELABS_API_KEY -u TWELVELABS_BASE_URL -u TL_UPLOADER_SANDBOX_ARGS \
    XDG_RUNTIME_DIR="$tmp/xdg/runtime" XDG_DATA_HOME="$tmp/xdg/data" \
    XDG_CONFIG_HOME="$tmp/xdg/config" XDG_CACHE_HOME="$tmp/xdg/cache" \
    XDG_STATE_HOME="$tmp/xdg/state" NO_AT_BRIDGE=1 \
    TL_UPLOADER_EXIT_WHEN_READY=1 TL_UPLOADER_DATA_DIR="$tmp/data" \
    CARGO_BUILD_BUILD_DIR="$warm" CARGO_TARGET_DIR="$tmp/target" \
    timeout --kill-after=15 "$limit" \
    "${session[@]}" xvfb-run -a -s '-screen 0 1280x800x24' \
    bash src-tauri/scripts/run-app.sh
) </dev/null >"$log" 2>&1 &
run=$!
group=$run

# The output, line by line as it comes (tail ends when the run does). Once cargo starts the
# app ("Running `...`"), its page has page_limit seconds to say it is ready, and a file of
# the page that the app does not have (Tauri logs "asset not found: ...") ends the run at
# once: a window that never brings its page up fails soon after the build.
deadline=""
page_late=0
missing=""
while :; do
  wait_for=()
  if [ -n "$deadline" ]; then
    left=$((deadline - SECONDS))
    if [ "$left" -le 0 ]; then
      page_late=1
      break
    fi
    wait_for=(-t "$left")
  fi
  got=0
  IFS= read -r "${wait_for[@]}" line || got=$?
  if [ "$got" -gt 128 ]; then
    page_late=1
    break
  fi
  [ "$got" -eq 0 ] || break
  case "$line" in
    "$ready_line") deadline="" ;;
    *"asset not found: "*)
      missing=${line##*asset not found: }
      break
      ;;
    *"Running \`"*) [ -n "$deadline" ] || deadline=$((SECONDS + page_limit)) ;;
  esac
done < <(tail -n +1 -f --pid="$run" "$log")
if [ "$page_late" -eq 1 ] || [ -n "$missing" ]; then
  kill -TERM "$run" 2>/dev/null || true
fi
status=0
wait "$run" || status=$?
run=""
elapsed=$((SECONDS - started))

if [ "$status" -eq 0 ] && grep -qxF "$ready_line" "$log"; then
  compiled=$(grep -c '^ *Compiling ' "$log" || true)
  finished=$(grep -m1 '^ *Finished ' "$log" | sed 's/^ *//' || true)
  echo "check-fresh-clone: cargo compiled $compiled crates (${finished:-no build line})"
  echo "check-fresh-clone: passed in ${elapsed}s: the run command built the app at $head and its page came up"
  exit 0
fi

echo "check-fresh-clone: the last lines of the run command's output:" >&2
tail -n 40 "$log" | sed 's/^/  | /' >&2
if [ -n "$missing" ]; then
  why="the app has no '$missing' to show (the UI was not built into ui/dist before cargo embedded it)"
elif [ "$page_late" -eq 1 ]; then
  why="the app started, but its page did not say it was ready within ${page_limit}s"
elif grep -qxF "$ready_line" "$log"; then
  why="the page came up, but the run command exited with code $status"
else
  case "$status" in
    0) why="it exited 0 without printing '$ready_line'" ;;
    124 | 137) why="it was stopped after ${limit}s" ;;
    *) why="it exited with code $status after ${elapsed}s" ;;
  esac
fi
fail "the run command did not bring the page up on a fresh clone of $head: $why"
