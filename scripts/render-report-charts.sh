#!/usr/bin/env bash
# Regenerates the published figures from the published corpus: runs `autopilot report` on its
# raw logs with the legacy taxonomy (the paper's classifier) and the default taxonomy, and
# converts the SVG charts to PNG in docs/charts/ with rsvg-convert (Debian package
# librsvg2-bin, installed with apt-get when missing). The reports themselves are written to a
# temporary folder and deleted on exit.
#
# Usage: scripts/render-report-charts.sh [corpus-dir]   (default: ../shared/corpus/autopilot-failures
# or the same one level further up, for git worktrees)
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/find-corpus.sh "${1:-}"

if ! command -v rsvg-convert >/dev/null; then
    echo "installing librsvg2-bin (rsvg-convert)" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends librsvg2-bin >&2
fi

echo "building autopilot..." >&2
cargo build --quiet --bin autopilot
bin=target/debug/autopilot

work=$(mktemp -d "${TMPDIR:-/tmp}/autopilot-charts-XXXXXX")
trap 'rm -rf "$work"' EXIT

for taxonomy in legacy default; do
    "$bin" -q report --taxonomy "$taxonomy" \
        --title "Published corpus: 214 sessions of the original autopilot ($taxonomy taxonomy)" \
        --out "$work/$taxonomy" "$corpus/raw_logs" >/dev/null
done

out=docs/charts
mkdir -p "$out"
# png <report> <chart> <png name>
png() {
    rsvg-convert --background-color=white -o "$out/$3.png" "$work/$1/$2.svg"
    echo "$out/$3.png $(du -k "$out/$3.png" | cut -f1) KiB"
}
# Sessions, outcomes and costs do not depend on the taxonomy: taken from the legacy run.
png legacy success_by_model success_by_model
png legacy attempts_to_success attempts_to_success
png legacy time_per_outcome time_per_outcome
png legacy llm_calls_per_outcome llm_calls_per_outcome
png legacy failure_pareto failure_pareto_legacy
png default failure_pareto failure_pareto_default
if [ -f "$work/legacy/tokens_per_outcome.svg" ]; then
    png legacy tokens_per_outcome tokens_per_outcome
fi
