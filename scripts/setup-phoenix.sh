#!/usr/bin/env bash
# Makes the Arize Phoenix collector used by the OTLP export tests: PyPI `arize-phoenix` (an
# OTLP/HTTP collector with a trace UI and a REST API; ~860 MB installed) in a virtual
# environment under ~/.cache/autopilot/phoenix-<key>, keyed by the pinned version. Does nothing
# when it exists. Prints the environment's `phoenix` executable on stdout.
set -euo pipefail
cd "$(dirname "$0")"
venv=$(bash cached-venv.sh phoenix phoenix.server "arize-phoenix==20.26.1")
echo "$venv/bin/phoenix"
