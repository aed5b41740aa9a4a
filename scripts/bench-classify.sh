#!/usr/bin/env bash
# Benchmarks `autopilot classify` (release build), side by side with the published Python
# pipeline (jsonize_logs.py + classify_errors.py: median 2.50 s for the 7 logs, of which about
# 33 ms is parsing and rules; the rest is 14 interpreter start-ups and `import pandas`).
#
#   1. the published corpus (7 logs, 6.5 MB), one process per run, median of RUNS runs;
#   2. a 1 GiB corpus made by copying the logs into a temporary folder, one run each.
#
# For each: wall time, CPU time (user+sys), peak RSS (/usr/bin/time -v) and MB/s, for the
# legacy mode and the default taxonomy. Figures are printed, never asserted. The 1 GiB folder
# is deleted on exit. Usage: scripts/bench-classify.sh [corpus-dir]  (RUNS=11, SIZE_MB=1024,
# JOBS=<cpus> in the environment).
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${1:-}
if [ -z "$corpus" ]; then
    for candidate in ../shared/corpus/autopilot-failures ../../shared/corpus/autopilot-failures; do
        if [ -d "$candidate/raw_logs" ]; then corpus=$candidate; break; fi
    done
fi
if [ -z "$corpus" ] || [ ! -d "$corpus/raw_logs" ]; then
    echo "error: the published corpus (autopilot-failures/raw_logs) was not found; pass its folder" >&2
    exit 2
fi
logs="$corpus/raw_logs"
runs=${RUNS:-11}
size_mb=${SIZE_MB:-1024}
jobs=${JOBS:-$(nproc)}
if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time (GNU time) is needed for peak RSS; apt-get install time" >&2
    exit 2
fi

echo "building the release binary..." >&2
cargo build --release --quiet --bin autopilot
bin=target/release/autopilot

big=$(mktemp -d "${TMPDIR:-/tmp}/autopilot-bench-XXXXXX")
trap 'rm -rf "$big"' EXIT

bytes_of() { du -sbL "$1" | cut -f1; }

# run_once <taxonomy> <path>: prints "wall cpu rss_kb" of one run.
run_once() {
    local stats
    stats=$( { /usr/bin/time -f '%e %U %S %M' "$bin" classify -j "$jobs" --taxonomy "$1" "$2" >/dev/null; } 2>&1 | tail -1)
    read -r wall user sys rss <<<"$stats"
    awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN { printf "%.3f %.3f %d\n", w, u + s, r }'
}

# median_of <taxonomy> <path> <runs>: prints "median_wall median_cpu max_rss_kb".
median_of() {
    local walls=() cpus=() rss_max=0 wall cpu rss
    for _ in $(seq "$3"); do
        read -r wall cpu rss < <(run_once "$1" "$2")
        walls+=("$wall"); cpus+=("$cpu")
        if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
    done
    local mid=$(( $3 / 2 ))
    local w c
    w=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$((mid + 1))p")
    c=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$((mid + 1))p")
    echo "$w $c $rss_max"
}

row() { # label wall cpu rss_kb bytes
    awk -v l="$1" -v w="$2" -v c="$3" -v r="$4" -v b="$5" 'BEGIN {
        mbs = (w > 0) ? b / 1e6 / w : 0
        printf "%-38s %9.3f s %9.3f s %9.1f MB %10.0f MB/s %9.0fx\n", l, w, c, r / 1024, mbs, (w > 0) ? 2.50 / w : 0
    }'
}

corpus_bytes=$(bytes_of "$logs")
echo "copying the logs into $big until it holds $size_mb MiB..." >&2
target=$(( size_mb * 1024 * 1024 ))
copy=0
while [ "$(bytes_of "$big")" -lt "$target" ]; do
    copy=$((copy + 1))
    for log in "$logs"/*.log; do
        cp "$log" "$big/$(basename "$log" .log)-$copy.log"
    done
done
big_bytes=$(bytes_of "$big")

echo
echo "autopilot classify, $jobs thread(s), $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-38s %11s %11s %12s %15s %10s\n' "input / mode" "wall" "cpu" "peak RSS" "throughput" "vs 2.50 s"
printf '%-38s %9.3f s %11s %12s %15s %10s\n' "published Python pipeline, 7 logs" 2.50 "-" "-" "$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.1f MB/s", b / 1e6 / 2.50 }')" "1x"
printf '%-38s %9.3f s %11s %12s %15s %10s\n' "  of which parsing + rules" 0.033 "-" "-" "$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.0f MB/s", b / 1e6 / 0.033 }')" "-"
for taxonomy in legacy default; do
    read -r wall cpu rss < <(median_of "$taxonomy" "$logs" "$runs")
    row "corpus ($(awk -v b="$corpus_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }')), $taxonomy, median of $runs" "$wall" "$cpu" "$rss" "$corpus_bytes"
done
for taxonomy in legacy default; do
    read -r wall cpu rss < <(run_once "$taxonomy" "$big")
    row "$(awk -v b="$big_bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }') ($copy copies), $taxonomy" "$wall" "$cpu" "$rss" "$big_bytes"
done
echo
echo "wall = elapsed time of one process (start-up, taxonomy load, reading, output); cpu = user + sys;"
echo "'vs 2.50 s' = the Python pipeline's median wall time over ours (meaningful for the 7-log corpus)."
