#!/usr/bin/env bash
# The host TinyML check's costs, side by side with the goal (≤ 3 s per sketch on 2 cores):
# the host TFLM library build (once; reported from its build-info, or built now), then per
# sketch of data/fixtures/host/mutants: build, run and scoring as `autopilot host check`
# reports them. Never asserted anywhere; figures depend on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=target/release/autopilot
lib=$($bin host setup 2>/dev/null)
info="$(dirname "$(dirname "$lib")")/build-info.json"
printf 'library: %s\n' "$lib"
printf 'library build (once): %s ms wall, %s translation units\n' \
    "$(sed -n 's/.*"build_ms": \([0-9]*\).*/\1/p' "$info")" \
    "$(sed -n 's/.*"translation_units": \([0-9]*\).*/\1/p' "$info")"
printf '%-20s %-24s %10s %10s %10s %8s\n' sketch verdict build_ms run_ms total_ms goal_ms
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dir in data/fixtures/host/mutants/*/; do
    name=$(basename "$dir")
    start=$(date +%s%N)
    json=$($bin host check "$dir" --app examples/fruit_to_emoji/app.toml --build-dir "$tmp/$name" --format json 2>/dev/null || true)
    end=$(date +%s%N)
    verdict=$(printf '%s' "$json" | sed -n 's/.*"verdict": "\([a-z_]*\)".*/\1/p' | head -1)
    build=$(printf '%s' "$json" | sed -n 's/.*"build_ms": \([0-9]*\).*/\1/p' | head -1)
    run=$(printf '%s' "$json" | sed -n 's/.*"run_ms": \([0-9]*\).*/\1/p' | head -1)
    printf '%-20s %-24s %10s %10s %10s %8s\n' "$name" "${verdict:-?}" "${build:--}" "${run:--}" \
        "$(( (end - start) / 1000000 ))" 3000
done
echo "total_ms includes the process start, app and profile loading and the verdict (scoring)."
