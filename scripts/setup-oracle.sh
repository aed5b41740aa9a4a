#!/usr/bin/env bash
# Makes the Python environment of the TFLM oracle used by the host check's tests: PyPI
# `tflite-micro` (the current TFLM interpreter, compiled) in a virtual environment under
# ~/.cache/autopilot/oracle-<key>, keyed by the pinned requirements. Does nothing when it exists.
# Prints the environment's python on stdout.
set -euo pipefail
cd "$(dirname "$0")"
venv=$(bash cached-venv.sh oracle tflite_micro "tflite-micro==0.dev20261023182759" "numpy==2.4.6")
echo "$venv/bin/python"
