#!/usr/bin/env bash
# The native YAML reader (policies/engine/_fastyaml.c) needs a C compiler and libyaml's
# headers; install Debian's packages when they are missing (we run as root on our machines and
# in CI), as ensure-chromium.sh does for the browser. Never fails: without them the install goes
# on and netviz reads YAML with its pure-Python reader (`make install` says so).
set -uo pipefail
if [ -f /usr/include/yaml.h ] && command -v cc >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
        echo "notice: no libyaml-dev or C compiler, and no root to install them" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "notice: no libyaml-dev or C compiler, and no apt-get to install them" >&2
    exit 0
fi
echo "libyaml-dev or a C compiler missing: installing Debian's packages" >&2
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libyaml-dev gcc libc6-dev >/dev/null 2>&1 ||
    echo "notice: could not install libyaml-dev and gcc" >&2
exit 0
