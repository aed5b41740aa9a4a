#!/usr/bin/env bash
# The main job, on a fresh Debian/Ubuntu machine with Rust: installs the AVR toolchain if
# missing, builds autopilot and runs one whole session on the example `color_uno` (Arduino Uno):
# spec, sketch, real compile, repair, real compile, run in simavr.
#
# The LLM: the model you name (AUTOPILOT_MODEL=provider:model, e.g. ollama:qwen2.5-coder:14b),
# else openai:gpt-4o-mini when OPENAI_API_KEY is set, else the example's HAND-WRITTEN DEMO
# ANSWERS through the replay backend (labelled as such in the output and in the trace).
# `bash scripts/demo.sh fruit_to_emoji` runs the TinyML example instead (Nano 33 BLE Sense): with
# no arduino-cli here, the host build and run (native g++, the Chirale 2.0.0 API profile, the
# APDS9960 stand-in fed with the dataset) replace the compile; the host TFLM library is built
# first if missing (~30 s of CPU, cached).
# Extra arguments go to `autopilot run` (e.g. --variant staged, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> checking and installing OS packages (scripts/install-os-deps.sh)" >&2
bash scripts/install-os-deps.sh
example=color_uno
if [ "${1:-}" != "" ] && [ -f "examples/$1/app.toml" ]; then
    example=$1
    shift
fi
# Not -q: the first build takes minutes, and cargo's progress shows it is working.
echo "==> building autopilot in release (several minutes the first time)" >&2
cargo build --release --locked
if [ "$example" != color_uno ]; then
    echo "==> building the host TFLM library once (autopilot host setup; about a minute the first time)" >&2
    target/release/autopilot host setup >&2
fi
echo "==> running one session: autopilot run examples/$example/app.toml $*" >&2
args=(run "examples/$example/app.toml")
if [ -n "${AUTOPILOT_MODEL:-}" ]; then
    args+=(--model "$AUTOPILOT_MODEL")
fi
exec target/release/autopilot "${args[@]}" "$@"
