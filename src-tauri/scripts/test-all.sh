#!/usr/bin/env bash
# Runs every check and test of TL Uploader, installing what it needs first.
#   bash src-tauri/scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

step "setting up the machine"
bash src-tauri/scripts/setup.sh

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "dependency direction: the engine and the sandbox never depend on tauri"
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

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests (cargo test --workspace)"
cargo test --workspace

step "benchmark: peak memory of tlup upload"
bash src-tauri/scripts/bench-memory.sh
