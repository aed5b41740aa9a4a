#!/usr/bin/env bash
# Runs the whole test suite: installs the OS toolchain the tests use if missing, then
# `cargo test`. Tests that need the AVR toolchain, the host TFLM library, its tflite-micro oracle, Arize Phoenix or ../shared/corpus fail under CI=true when
# they are missing, and skip with a message elsewhere.
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
cargo test --workspace --locked "$@"
