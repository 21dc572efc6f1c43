#!/usr/bin/env bash
# Best-effort install of the Debian tools some checks use:
#   gcc-multilib (the virtual Pico interpreter's 32-bit build: required), graphviz (dot, for
#   the WireViz diagrams), sigrok-cli (logic-analyser captures), chromium.
# Called by `make test` / `make system-deps`. Never fails the build: tests that need a
# missing tool skip with a message. Fast when everything is present (dpkg-query only).
set -u
PKGS="${FOCUSRIG_SYSTEM_PKGS:-gcc-multilib nodejs npm graphviz sigrok-cli chromium}"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
missing="${missing# }"
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: not a Debian system; install by hand if you need them: $missing"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: not root; to get the full test run: sudo apt-get install -y $missing"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "system-deps: installing $missing"
if ! apt-get update -qq >/dev/null 2>&1; then
    echo "system-deps: apt-get update failed (offline?)"
fi
failed=""
for p in $missing; do
    if ! apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1; then
        failed="$failed $p"
    fi
done
if [ -n "$failed" ]; then
    echo "system-deps: could not install:$failed (the tests that need them will skip)"
fi
exit 0
