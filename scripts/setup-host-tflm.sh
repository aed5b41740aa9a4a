#!/usr/bin/env bash
# Builds the host TFLM library for the host TinyML check: fetches crates.io `tfmicro` 0.1.0
# with cargo (outside the repository), checks its checksum, extracts it and compiles a static
# library with the host g++ (-m32 when g++-multilib is installed). Cached under
# ~/.cache/autopilot/host-tflm/<key> (key: crate checksum, compiler version, flags); a second run
# finds it and returns at once. Prints the library's path.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building autopilot (to run \`autopilot host setup\`)" >&2
cargo build --quiet --locked --bin autopilot
exec ./target/debug/autopilot host setup "$@"
