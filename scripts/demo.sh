#!/usr/bin/env bash
# The main job, on a fresh Debian/Ubuntu machine with Rust: installs the AVR toolchain if
# missing, builds autopilot and runs one whole session on the example `color_uno` (Arduino Uno):
# spec, sketch, real compile, repair, real compile, run in simavr.
#
# The LLM: the model you name (AUTOPILOT_MODEL=provider:model, e.g. ollama:qwen2.5-coder:14b),
# else openai:gpt-4o-mini when OPENAI_API_KEY is set, else the example's HAND-WRITTEN DEMO
# ANSWERS through the replay backend (labelled as such in the output and in the trace).
# Extra arguments go to `autopilot run` (e.g. --variant staged, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> checking and installing OS packages (scripts/install-os-deps.sh)" >&2
bash scripts/install-os-deps.sh
# Not -q: the first build takes minutes, and cargo's progress shows it is working.
echo "==> building autopilot in release (several minutes the first time)" >&2
cargo build --release --locked
echo "==> running one session: autopilot run examples/color_uno/app.toml $*" >&2
args=(run examples/color_uno/app.toml)
if [ -n "${AUTOPILOT_MODEL:-}" ]; then
    args+=(--model "$AUTOPILOT_MODEL")
fi
exec target/release/autopilot "${args[@]}" "$@"
