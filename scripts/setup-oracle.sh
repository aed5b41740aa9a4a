#!/usr/bin/env bash
# Makes the Python environment of the TFLM oracle used by the host check's tests: PyPI
# `tflite-micro` (the current TFLM interpreter, compiled) in a virtual environment under
# ~/.cache/autopilot/oracle-<key>, keyed by the pinned requirements. Does nothing when it exists.
# Prints the environment's python on stdout.
set -euo pipefail
requirements="tflite-micro==0.dev20261023182759 numpy==2.4.6"
key=$(printf '%s' "$requirements" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/autopilot/oracle-$key"
if ! python3 -m venv --help >/dev/null 2>&1; then
    # Debian's python3 ships venv separately.
    echo "oracle: installing python3-venv" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >&2
fi
if [ ! -x "$cache/bin/python" ] || ! "$cache/bin/python" -c "import tflite_micro" 2>/dev/null; then
    echo "oracle: creating $cache with $requirements (PyPI, a few MB)" >&2
    rm -rf "$cache.partial"
    python3 -m venv "$cache.partial"
    # shellcheck disable=SC2086
    "$cache.partial/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
    rm -rf "$cache"
    mv "$cache.partial" "$cache"
    # A venv's scripts name its folder; the move keeps `bin/python` (a link) working.
fi
echo "$cache/bin/python"
