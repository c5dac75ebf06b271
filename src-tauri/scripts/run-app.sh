#!/usr/bin/env bash
# Builds and starts the TL Uploader desktop app, installing what it needs first.
#   bash src-tauri/scripts/run-app.sh [ARG...]
# Every run builds the web UI into ui/dist (the window's page, embedded in the binary) before
# cargo builds the app; arguments and the environment are passed on to the app.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash src-tauri/scripts/setup.sh

# The UI's packages: installed when missing or older than the lock file, so a warm tree
# skips npm ci. npm ci leaves ui/node_modules newer than the lock file it installed from.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
  echo "run-app: installing the UI's packages (npm ci)" >&2
  npm ci --prefix ui --no-audit --no-fund
  touch ui/node_modules
fi
echo "run-app: building the UI into ui/dist" >&2
npm --prefix ui run build

exec cargo run -p tl-uploader -- "$@"
