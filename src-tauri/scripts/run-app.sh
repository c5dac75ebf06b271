#!/usr/bin/env bash
# Builds and starts the TL Uploader desktop app, installing what it needs first.
#   bash src-tauri/scripts/run-app.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash src-tauri/scripts/setup.sh
exec cargo run -p tl-uploader
