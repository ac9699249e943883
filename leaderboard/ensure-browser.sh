#!/usr/bin/env bash
# Make sure the site's browser tests can run: a headless Chromium (Debian's) and, in the venv, Playwright for Python
# (which drives that Chromium; no browser download) and axe-core (bundled by axe-playwright-python).
#
#  * Both there                        -> exit 0 at once.
#  * Root on Debian/Ubuntu (apt-get)   -> apt-get install chromium; pip install the two packages into the venv.
#  * Anything else                     -> print what the user must do, exit 1 (the browser tests then skip).
#
# Environment:
#   HARNESS_PYTHON    the venv's python (default .venv/bin/python)
#   HARNESS_CHROMIUM  the browser (default /usr/bin/chromium)
set -uo pipefail

PY="${HARNESS_PYTHON:-.venv/bin/python}"
CHROMIUM="${HARNESS_CHROMIUM:-/usr/bin/chromium}"
PLAYWRIGHT="playwright==1.65.2"
AXE="axe-playwright-python==0.1.8"

say() { echo "ensure-browser: $*" >&2; }

give_up() {
    say "cannot set up the browser tests: $1"
    cat >&2 <<EOF2
ensure-browser: what to do, one of:
  * on Debian/Ubuntu as root: \`apt-get install chromium\`, then \`$PY -m pip install '$PLAYWRIGHT' '$AXE'\`;
  * elsewhere: install Chromium or Chrome and set HARNESS_CHROMIUM to its path, then install the two packages.
Without them the browser tests of the site are skipped with this reason.
EOF2
    exit 1
}

have_packages() { "$PY" -c "import playwright, axe_playwright_python" >/dev/null 2>&1; }

[ -x "$PY" ] || give_up "no Python at $PY (run \`make\` first, or set HARNESS_PYTHON)"

if [ ! -x "$CHROMIUM" ]; then
    [ "$(id -u)" = 0 ] || give_up "$CHROMIUM is missing and installing it needs root (you are uid $(id -u))"
    command -v apt-get >/dev/null 2>&1 || give_up "$CHROMIUM is missing and this is not a Debian-like system"
    say "installing chromium from the distribution (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    log="$(mktemp /tmp/ensure-browser-apt.XXXXXX.log)"
    apt-get update >"$log" 2>&1 || { tail -n 20 "$log" >&2; give_up "apt-get update failed, log: $log"; }
    apt-get install -y --no-install-recommends chromium fonts-dejavu-core >>"$log" 2>&1 \
        || { tail -n 20 "$log" >&2; give_up "apt-get install chromium failed, log: $log"; }
    [ -x "$CHROMIUM" ] || give_up "chromium was installed but $CHROMIUM is not there (set HARNESS_CHROMIUM)"
fi

if ! have_packages; then
    say "installing $PLAYWRIGHT and $AXE into $(dirname "$PY")/.. (no browser download: the tests use $CHROMIUM)"
    "$PY" -m pip install --quiet "$PLAYWRIGHT" "$AXE" || give_up "pip install of $PLAYWRIGHT $AXE failed"
    have_packages || give_up "the packages were installed but do not import"
fi

say "headless browser ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1), $("$PY" -m pip show playwright 2>/dev/null | sed -n 's/^Version: /playwright /p')"
exit 0
