#!/bin/sh
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring, so the
# keychain tests reach a real Secret Service on a headless machine:
#
#   src-tauri/shell/tests/keyring-session.sh cargo test -p tl-uploader --test keychain
#
# HOME and the XDG directories point into a temporary directory for the command, so the
# keyring it creates never touches the user's own; cargo and rustup keep their homes.
# Needs dbus-run-session (package dbus) and gnome-keyring-daemon (package gnome-keyring).
set -eu

if [ "${TL_KEYRING_SESSION_INNER:-}" = 1 ]; then
    # Inside the session: start the daemon with an unlocked login keyring, then the command.
    printf '%s' "${TL_KEYRING_PASSWORD:-tl-uploader-test}" |
        gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$@"
fi

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool is missing; install the packages dbus and gnome-keyring" >&2
        exit 1
    fi
done

export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tl-keyring.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/run"
chmod 700 "$tmp/run"

status=0
env HOME="$tmp/home" \
    XDG_DATA_HOME="$tmp/data" \
    XDG_CONFIG_HOME="$tmp/config" \
    XDG_CACHE_HOME="$tmp/cache" \
    XDG_RUNTIME_DIR="$tmp/run" \
    TL_KEYRING_SESSION_INNER=1 \
    dbus-run-session -- sh "$0" "$@" || status=$?
exit "$status"
