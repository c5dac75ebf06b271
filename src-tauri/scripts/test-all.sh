#!/usr/bin/env bash
# Runs every check and test of TL Uploader, installing what it needs first.
#   bash src-tauri/scripts/test-all.sh
# The last step builds the release packages, installs the .deb with apt and tests the
# installed app (bundle-smoke.sh, about 5 minutes); TL_SKIP_BUNDLES=1 leaves it out for a
# quicker local loop. .ci/run always runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Each step's wall time, printed together at the end (and on a failure, up to that step).
timings=()
step_name=""
step_started=$SECONDS
script_started=$SECONDS
end_step() {
  if [ -n "$step_name" ]; then
    timings+=("$(printf '%5ds  %s' $((SECONDS - step_started)) "$step_name")")
  fi
}
print_timings() {
  end_step
  step_name=""
  printf '\n==> time per step (total %ds)\n' $((SECONDS - script_started))
  printf '%s\n' "${timings[@]}"
}
trap print_timings EXIT
step() {
  end_step
  step_name="$*"
  step_started=$SECONDS
  printf '\n==> %s\n' "$*"
}

# Free space where target/ lives, in GiB. A linker that runs out of disk dies of SIGBUS
# with no word about space, so the shortfall is named before anything is built.
free_gib() { df -P -k . | awk 'NR == 2 { printf "%d", $4 / 1048576 }'; }
# A fresh clone's target/ reaches about 6 GiB by the end of this script; 8 leaves a margin.
need_gib=8

step "disk: $(free_gib) GiB free here; a fresh clone's target/ needs about ${need_gib} GiB"
if [ "$(free_gib)" -lt "$need_gib" ]; then
  echo "warning: less than ${need_gib} GiB free; the build may fail with a linker 'Bus error'." >&2
  echo "         free some space (old target/ directories, docker images) and run again." >&2
fi

step "setting up the machine"
bash src-tauri/scripts/setup.sh

step "UI: install, type-check, build, unit tests"
npm ci --prefix ui --no-audit --no-fund
npm --prefix ui run check
npm --prefix ui run build
npm --prefix ui test

step "GitHub workflows (actionlint + shellcheck, and the release matrix)"
bash src-tauri/scripts/check-workflows.sh

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "dependency direction: only the shell depends on tauri; the engine never on the sandbox; one reqwest"
for crate in tl-upload tl-sandbox tlup; do
  if cargo tree -p "$crate" -e normal --prefix none | grep -E '^tauri' >/dev/null; then
    echo "error: $crate depends on tauri" >&2
    exit 1
  fi
done
if cargo tree -p tl-upload -e normal --prefix none | grep -E '^tl-sandbox' >/dev/null; then
  echo "error: the engine depends on the sandbox outside its tests" >&2
  exit 1
fi
# One HTTP stack: Tauri's reqwest (on mobile targets) and the engine's are the same one.
reqwests=$(cargo tree -i reqwest --target all -e normal,dev,build --prefix none 2>/dev/null |
  grep -E '^reqwest v' | sort -u)
if [ "$(printf '%s\n' "$reqwests" | grep -c .)" -ne 1 ]; then
  echo "error: the build holds more than one reqwest (or none): $reqwests" >&2
  exit 1
fi

step "lints and the test build in one (clippy-driver compiles the workspace's crates)"
# `cargo clippy` would check every crate once more without code generation; compiling the
# workspace's crates with clippy's driver instead lints them (-D warnings) in the very build
# the tests run from. Every later cargo command here keeps the wrapper, so nothing builds twice.
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo test --workspace --exclude tl-uploader-e2e --no-run

step "tests (cargo test), the official Python SDK against the sandbox included"
cargo test --workspace --exclude tl-uploader-e2e

step "the IPC types in ui/src/bindings match the Rust types"
if ! git diff --exit-code --stat -- ui/src/bindings ||
  [ -n "$(git status --porcelain -- ui/src/bindings)" ]; then
  echo "error: ui/src/bindings differs from what the Rust types generate; commit the regenerated files" >&2
  exit 1
fi

step "the API key in the real OS keychain (Secret Service on a private D-Bus session)"
# With the same packages as the test build, so its features match and nothing rebuilds.
sh src-tauri/shell/tests/keyring-session.sh \
  cargo test --workspace --exclude tl-uploader-e2e --test keychain

step "the README's run command on a fresh clone of HEAD brings the page up"
bash src-tauri/scripts/check-fresh-clone.sh

step "end to end: the real app window under Xvfb through tauri-driver"
# tlup was built by the test build; the app is built as the run command builds it, so its
# dependencies are those the fresh-clone check just compiled.
cargo build -p tl-uploader
xvfb-run -a cargo test -p tl-uploader-e2e -- --nocapture

step "benchmark: peak memory of tlup upload"
bash src-tauri/scripts/bench-memory.sh

step "benchmark: tlup beside the official SDKs on emulated links (QUICK=1)"
QUICK=1 bash src-tauri/scripts/bench-links.sh

step "fault table: every sandbox fault knob against tlup (QUICK=1)"
QUICK=1 bash src-tauri/scripts/fault-table.sh

if [ "${TL_SKIP_BUNDLES:-0}" = "1" ]; then
  step "bundles: SKIPPED (TL_SKIP_BUNDLES=1); the suite is not complete"
else
  step "bundles: build the deb and rpm, install the deb, test the installed app, remove it"
  bash src-tauri/scripts/bundle-smoke.sh
fi

step "disk: target/ is $(du -sh target | cut -f1); $(free_gib) GiB left free"
