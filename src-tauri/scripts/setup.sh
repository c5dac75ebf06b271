#!/usr/bin/env bash
# Installs what building and testing TL Uploader needs on Debian 12 (or Ubuntu 22.04+).
# Idempotent: it installs only what is missing, so a warm machine spends a second here.
set -euo pipefail

packages=(
  # Tauri 2 on Linux (WebKitGTK 4.1).
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev libssl-dev
  build-essential pkg-config file curl
  # Tests: the official Python SDK runs in a virtualenv; benchmarks read peak RSS.
  python3 python3-venv time
  # The app under test: a virtual display, WebDriver for WebKitGTK, a real drag source,
  # screenshots, and a Secret Service keychain on a private D-Bus session.
  xvfb xauth x11-utils webkit2gtk-driver dbus dbus-x11 xdotool imagemagick
  python3-gi gir1.2-gtk-3.0 gnome-keyring libsecret-tools
  # Packaging: the .rpm's metadata is read back with rpm, the .desktop file is validated,
  # and the workflows' shell steps are linted by shellcheck.
  rpm desktop-file-utils shellcheck
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The UI is TypeScript built with npm; use the machine's Node.js when it has one.
if ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi

for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is missing; install Rust from rustup.rs" >&2; exit 1; }
done
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

# The WebDriver bridge the end-to-end tests drive the app window through (Tauri 2's).
if ! command -v tauri-driver >/dev/null; then
  echo "setup: installing tauri-driver" >&2
  cargo install tauri-driver --version '^2' --locked
fi
