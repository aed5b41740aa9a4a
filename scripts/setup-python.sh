#!/usr/bin/env bash
# Makes the project's Python environment: the exact pins of python/requirements.txt (numpy,
# pandas, tensorflow-cpu, ai-edge-litert and their dependencies) in a virtual environment under
# ~/.cache/autopilot/python-<key>, keyed by those pins (scripts/cached-venv.sh). Does nothing
# but check it when it exists. Writes the pointer file ~/.cache/autopilot/python-env (the venv's
# folder) that autopilot (`PythonEnv::discover`, `doctor`) reads; AUTOPILOT_PYTHON_ENV overrides
# it there. Says what it does and how long it took on stderr; prints the venv's folder on stdout.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
requirements=../python/requirements.txt
# The pins are for CPython 3.11 (the wheels of tensorflow-cpu, grpcio, … are per version).
version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
    echo "setup-python: python3 is $version; python/requirements.txt is pinned for CPython 3.11" >&2
    exit 1
fi
pins=$(grep -v '^[[:space:]]*\(#\|$\)' "$requirements" | tr '\n' ' ')
echo "setup-python: environment for $(grep -c '==' "$requirements") pinned packages of python/requirements.txt" >&2
# shellcheck disable=SC2086
venv=$(bash cached-venv.sh python "numpy, pandas, ai_edge_litert, tensorflow" $pins)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/autopilot"
printf '%s\n' "$venv" >"$cache/python-env.partial"
mv "$cache/python-env.partial" "$cache/python-env"
echo "setup-python: $venv ($(du -sh "$venv" | cut -f1)) ready in $(($(date +%s) - start)) s; pointer $cache/python-env" >&2
echo "$venv"
