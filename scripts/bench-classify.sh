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

source scripts/find-corpus.sh "${1:-}"
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

# measure <taxonomy> <format> <path>: one process under `/usr/bin/time -v`; prints
# "wall_s cpu_s rss_kb" (wall from the shell's microsecond clock).
measure() {
    local log start end
    log=$(mktemp)
    start=$EPOCHREALTIME
    /usr/bin/time -v -o "$log" "$bin" classify -j "$jobs" --taxonomy "$1" --format "$2" "$3" >/dev/null
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" -F': ' '
        /User time/ { u = $2 } /System time/ { y = $2 } /Maximum resident set size/ { r = $2 }
        END { printf "%.4f %.3f %d\n", e - s, u + y, r }' "$log"
    rm -f "$log"
}

# median_of <taxonomy> <path> <runs>: prints "median_wall mean_cpu max_rss_kb" of <runs> runs.
median_of() {
    local walls=() cpu_sum=0 rss_max=0 wall cpu rss
    for _ in $(seq "$3"); do
        read -r wall cpu rss < <(measure "$1" table "$2")
        walls+=("$wall")
        cpu_sum=$(awk -v a="$cpu_sum" -v b="$cpu" 'BEGIN { print a + b }')
        if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( $3 / 2 + 1 ))p")
    awk -v w="$median" -v c="$cpu_sum" -v n="$3" -v r="$rss_max" 'BEGIN { printf "%s %.4f %d\n", w, c / n, r }'
}

row() { # label wall cpu rss_kb bytes [compare]: compare = print the speed-up over 2.50 s
    awk -v l="$1" -v w="$2" -v c="$3" -v r="$4" -v b="$5" -v x="${6:-}" 'BEGIN {
        speedup = (x != "") ? sprintf("%7.0fx", 2.50 / w) : sprintf("%8s", "-")
        printf "%-44s %8.3f s %8.3f s %8.1f MB %9.0f MB/s %s\n", l, w, c, r / 1024, b / 1e6 / w, speedup
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
echo "autopilot classify, -j $jobs, $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %10s %10s %11s %14s %8s\n' "input, mode" "wall" "cpu" "peak RSS" "throughput" "vs 2.5 s"
printf '%-44s %8.3f s %10s %11s %9.1f MB/s %7s\n' "published Python pipeline, 7 logs (median)" 2.50 "-" "-" "$(awk -v b="$corpus_bytes" 'BEGIN { print b / 1e6 / 2.50 }')" "1x"
printf '%-44s %8.3f s %10s %11s %9.0f MB/s %7s\n' "  of which parsing and rules" 0.033 "-" "-" "$(awk -v b="$corpus_bytes" 'BEGIN { print b / 1e6 / 0.033 }')" "-"
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }')
for taxonomy in legacy default; do
    read -r wall cpu rss < <(median_of "$taxonomy" "$logs" "$runs")
    row "corpus $corpus_mb, $taxonomy, median of $runs" "$wall" "$cpu" "$rss" "$corpus_bytes" compare
done
big_gb=$(awk -v b="$big_bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }')
for run in "legacy table" "default table" "default jsonl"; do
    read -r taxonomy format <<<"$run"
    read -r wall cpu rss < <(measure "$taxonomy" "$format" "$big")
    row "$big_gb ($copy copies), $taxonomy, --format $format" "$wall" "$cpu" "$rss" "$big_bytes"
done
echo
echo "wall: one process, start-up and taxonomy load included; cpu: user + sys (mean for the corpus);"
echo "vs 2.5 s: the Python pipeline's median wall time divided by ours (the comparison is for the 7 logs)."
