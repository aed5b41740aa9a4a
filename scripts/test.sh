#!/usr/bin/env bash
# Runs the whole test suite: installs the OS toolchain the tests use if missing, then
# `cargo test`. Tests that need the AVR toolchain or ../shared/corpus fail under CI=true when
# they are missing, and skip with a message elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-os-deps.sh
cargo test --workspace --locked "$@"
