#!/usr/bin/env bash
# Builds TL Uploader's Linux packages (.deb and .rpm) with the Tauri CLI, checks their
# metadata, installs the .deb with apt, runs the installed-app test against the installed
# binary under Xvfb, and removes the package again (also when a step fails).
#   bash src-tauri/scripts/bundle-smoke.sh
# Needs root or sudo (apt). test-all.sh runs it after setup.sh and `npm ci --prefix ui`.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say() { printf 'bundle-smoke: %s\n' "$*"; }
fail() { say "error: $*" >&2; exit 1; }

[ -x ui/node_modules/.bin/tauri ] || npm ci --prefix ui --no-audit --no-fund
conf() { python3 -c "import json; print(json.load(open('tauri.conf.json'))['$1'])"; }
version="$(conf version)"
product="$(conf productName)" # the bundles' file names
package=tl-uploader           # the package and binary name (mainBinaryName)
arch="$(dpkg --print-architecture)"

say "building the release binary and the deb and rpm bundles (tauri build)"
start=$(date +%s)
ui/node_modules/.bin/tauri build --bundles deb,rpm
say "tauri build took $(( $(date +%s) - start )) s"

bundle=target/release/bundle
deb="$bundle/deb/${product}_${version}_${arch}.deb"
rpm_file="$bundle/rpm/${product}-${version}-1.$(uname -m).rpm"
for f in "$deb" "$rpm_file"; do
  [ -f "$f" ] || fail "no $f; bundles made: $(find "$bundle" -maxdepth 2 -type f -printf "%p ")"
done

say "sizes (bytes)"
stat -c '  %s  %n' target/release/"$package" "$deb" "$rpm_file"
say "dpkg -I $deb"
dpkg -I "$deb"
say "rpm -qip $rpm_file"
rpm -qip "$rpm_file" 2>/dev/null

# The metadata a user sees in a package manager, and what the desktop needs.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$package" ] || fail "Package is $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version is $(field Version)"
[ "$(field Section)" = "video" ] || fail "Section is $(field Section)"
case "$(field Maintainer)" in "TL Uploader developers"*) ;; *) fail "Maintainer is $(field Maintainer)" ;; esac
case "$(field Depends)" in *libwebkit2gtk-4.1-0*) ;; *) fail "Depends lacks WebKitGTK: $(field Depends)" ;; esac
# Each listing is read whole before it is searched: `producer | grep -q` under pipefail fails
# when grep stops reading early and the producer dies of SIGPIPE.
description="$(dpkg-deb -f "$deb" Description)"
grep -q 'multipart upload protocol' <<<"$description" || fail "no long description"
[ "$(rpm -qp --qf '%{LICENSE}' "$rpm_file" 2>/dev/null)" = "MIT OR Apache-2.0" ] || fail "the rpm has no license"

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
desktop="$unpacked/usr/share/applications/$product.desktop"
[ -x "$unpacked/usr/bin/$package" ] || fail "the .deb has no /usr/bin/$package"
[ -f "$desktop" ] || fail "the .deb has no desktop entry"
for size in 32x32 128x128 256x256@2; do
  [ -f "$unpacked/usr/share/icons/hicolor/$size/apps/$package.png" ] || fail "no $size icon"
done
[ -f "$unpacked/usr/share/doc/$package/copyright" ] || fail "the .deb has no copyright file"
rpm_files="$(rpm -qlp "$rpm_file" 2>/dev/null)"
grep -qx "/usr/share/licenses/$package/LICENSE-APACHE" <<<"$rpm_files" ||
  fail "the .rpm does not ship the licence texts"
say "desktop entry"
sed 's/^/  /' "$desktop"
desktop-file-validate "$desktop" || fail "the desktop entry is not valid"
grep -q '^Exec=tl-uploader %F$' "$desktop" || fail "the desktop entry does not pass files (Exec=… %F)"
grep -q '^MimeType=.*video/mp4;' "$desktop" || fail "the desktop entry declares no video types"

say "installing $deb with apt"
if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" == *'install ok installed'* ]]; then
  as_root apt-get remove -y -qq "$package" >/dev/null
fi
trap 'rm -rf "$unpacked"; as_root apt-get remove -y -qq "$package" >/dev/null 2>&1 || true' EXIT
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$(realpath "$deb")" >/dev/null
installed="$(command -v "$package" || true)"
[ "$installed" = "/usr/bin/$package" ] || fail "$package is not on PATH after installing (found '$installed')"
dpkg -L "$package" | sed 's/^/  /'

say "the installed app under Xvfb: window, Open With hand-over, upload, window state, log"
TL_UPLOADER_BIN="/usr/bin/$package" cargo test -p tl-uploader-e2e --test installed -- --nocapture

say "removing $package"
as_root apt-get remove -y -qq "$package" >/dev/null
[ ! -e "/usr/bin/$package" ] || fail "/usr/bin/$package is still there after removal"
trap 'rm -rf "$unpacked"' EXIT
say "ok"
