#!/usr/bin/env bash
# Makes a Python virtual environment under ~/.cache/autopilot/<name>-<key>, keyed by its pinned
# requirements, unless it exists and imports <module>. Prints the environment's folder on stdout.
# Usage: cached-venv.sh <name> <module> <requirement>...
set -euo pipefail
name=$1 module=$2
shift 2
requirements="$*"
key=$(printf '%s' "$requirements" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/autopilot/$name-$key"
if ! python3 -m venv --help >/dev/null 2>&1; then
    # Debian's python3 ships venv separately.
    echo "$name: installing python3-venv" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >&2
fi
if [ ! -x "$cache/bin/python" ] || ! "$cache/bin/python" -c "import $module" 2>/dev/null; then
    echo "$name: creating $cache with $requirements (PyPI)" >&2
    rm -rf "$cache.partial"
    python3 -m venv "$cache.partial"
    # shellcheck disable=SC2086
    "$cache.partial/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
    rm -rf "$cache"
    mv "$cache.partial" "$cache"
    # Console scripts name the venv's python by its path: point them at the final folder.
    # (`bin/python` itself is a link and keeps working.)
    grep -rlI --null "$cache.partial" "$cache/bin" | xargs -0 -r sed -i "s|$cache.partial|$cache|g"
fi
echo "$cache"
