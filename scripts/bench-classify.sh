#!/usr/bin/env bash
# Benchmarks `autopilot classify` (release build) side by side, in the same run, with:
#   - the published Python pipeline (jsonize_logs.py + classify_errors.py from the corpus's
#     published-scripts/, MIT; run as published, one process each per log, in a throwaway
#     pandas environment made by scripts/cached-venv.sh under ~/.cache/autopilot/); skipped
#     with a "skipped: ..." line when pandas cannot be installed;
#   - `cat` and single-threaded `grep -c ERROR` of the same bytes (the floor of reading them).
#
# Inputs: the published corpus (7 logs, 6.5 MB; median of RUNS runs, PY_RUNS for Python) and a
# SIZE_MB corpus made by copying the logs into a temporary folder (one run each; deleted on
# exit). Then peak RSS for every mode and output format on that big input, with a reader that
# keeps up and one that stalls for STALL seconds before it reads (a pipe nobody reads):
# VmHWM of the process polled from /proc/PID/status while it runs, and its maxrss at exit.
# Figures are printed, never asserted. Load averages are printed before and after.
# Usage: scripts/bench-classify.sh [corpus-dir]  (RUNS=11, PY_RUNS=3, SIZE_MB=1024,
# STALL=3, JOBS=<cpus> in the environment; BIN=<autopilot binary> measures that build instead
# of building this checkout's).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/find-corpus.sh "${1:-}"
corpus=$(cd "$corpus" && pwd)
logs="$corpus/raw_logs"
published="$corpus/published-scripts"
runs=${RUNS:-11}
py_runs=${PY_RUNS:-3}
size_mb=${SIZE_MB:-1024}
stall=${STALL:-3}
jobs=${JOBS:-$(nproc)}
if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time (GNU time) is needed for peak RSS; apt-get install time" >&2
    exit 2
fi
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(loadavg)

if [ -n "${BIN:-}" ]; then
    bin=$(realpath "$BIN")
else
    echo "building the release binary..." >&2
    cargo build --release --quiet --bin autopilot
    bin=$PWD/target/release/autopilot
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/autopilot-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
big="$work/big"
mkdir "$big"

python=""
python_skip=""
if [ ! -f "$published/jsonize_logs.py" ] || [ ! -f "$published/classify_errors.py" ]; then
    python_skip="the published scripts are not in $published"
elif venv=$(bash scripts/cached-venv.sh published-pipeline pandas "pandas==2.2.3" 2>"$work/venv.log"); then
    python="$venv/bin/python"
else
    python_skip="pandas could not be installed ($(tail -n1 "$work/venv.log"))"
fi

bytes_of() { du -sbL "$1" | cut -f1; }

# timed <command>...: runs the command under `/usr/bin/time -v` with its stdout into a pipe
# that `wc -c` drains (not /dev/null, which GNU grep notices and stops at the first match);
# prints "wall_s cpu_s rss_kb" of the command (wall from the shell's microsecond clock).
timed() {
    local log start end
    log=$(mktemp "$work/time-XXXXXX")
    start=$EPOCHREALTIME
    /usr/bin/time -v -o "$log" "$@" | wc -c >/dev/null
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" -F': ' '
        /User time/ { u = $2 } /System time/ { y = $2 } /Maximum resident set size/ { r = $2 }
        END { printf "%.4f %.3f %d\n", e - s, u + y, r }' "$log"
    rm -f "$log"
}

# median <runs> <command>...: "median_wall mean_cpu max_rss_kb" of <runs> runs of `timed`.
median() {
    local n=$1 walls=() cpu_sum=0 rss_max=0 wall cpu rss
    shift
    for _ in $(seq "$n"); do
        read -r wall cpu rss < <(timed "$@")
        walls+=("$wall")
        cpu_sum=$(awk -v a="$cpu_sum" -v b="$cpu" 'BEGIN { print a + b }')
        if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
    done
    awk -v w="$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$((n / 2 + 1))p")" \
        -v c="$cpu_sum" -v n="$n" -v r="$rss_max" 'BEGIN { printf "%s %.4f %d\n", w, c / n, r }'
}

# The published pipeline as its README runs it, one log after the other, in a scratch folder
# (the scripts write their JSON and CSV into the working directory); a script for `bash -c`.
# Arguments: python, the scripts' folder, the scratch folder, the logs.
# shellcheck disable=SC2016
python_pipeline='python=$1 scripts=$2 scratch=$3
shift 3
rm -rf "$scratch" && mkdir "$scratch" && cd "$scratch" || exit 1
for log in "$@"; do
    name=$(basename "$log" .log)
    "$python" "$scripts/jsonize_logs.py" "$log" >/dev/null || exit 1
    "$python" "$scripts/classify_errors.py" "parsed_errors_$name.json" >/dev/null || exit 1
done'

# Their parsing and rules alone, in one process with pandas imported beforehand: seconds.
python_in_process() {
    "$python" - "$published" "$logs" <<'PY'
import glob, os, sys, time
sys.path.insert(0, sys.argv[1])
import classify_errors, jsonize_logs
start = time.perf_counter()
for log in sorted(glob.glob(os.path.join(sys.argv[2], "*.log"))):
    entries = jsonize_logs.parse_log_errors(log)
    kept = [e for e in entries if e.get("timestamp", "").lower() != "unknown"]
    [classify_errors.classify_error(e["message"]) for e in kept]
print(f"{time.perf_counter() - start:.4f}")
PY
}


# rss_run <reader> <taxonomy> <format> <path>: ours into a pipe whose reader keeps up
# ("normal") or sleeps STALL seconds first ("stalled"); prints "vmhwm_kb maxrss_kb".
rss_run() {
    local reader=$1 fifo="$work/fifo" timelog="$work/rss-time" pid child hwm=0 value
    shift
    rm -f "$fifo"
    mkfifo "$fifo"
    if [ "$reader" = stalled ]; then
        (sleep "$stall"; cat >/dev/null) <"$fifo" &
    else
        cat >/dev/null <"$fifo" &
    fi
    /usr/bin/time -f %M -o "$timelog" "$bin" classify -j "$jobs" --taxonomy "$1" --format "$2" "$3" >"$fifo" &
    pid=$!
    child=""
    while kill -0 "$pid" 2>/dev/null; do
        if [ -z "$child" ]; then child=$(pgrep -P "$pid" || true); fi
        if [ -n "$child" ]; then
            value=$(awk '/^VmHWM:/ { print $2 }' "/proc/$child/status" 2>/dev/null || true)
            if [ -n "$value" ] && [ "$value" -gt "$hwm" ]; then hwm=$value; fi
        fi
        sleep 0.02
    done
    wait "$pid"
    wait
    echo "$hwm $(tail -n1 "$timelog")"
}

corpus_bytes=$(bytes_of "$logs")
echo "copying the logs into $big until it holds $size_mb MiB..." >&2
target=$((size_mb * 1024 * 1024))
copy=0
while [ "$(bytes_of "$big")" -lt "$target" ]; do
    copy=$((copy + 1))
    for log in "$logs"/*.log; do
        cp "$log" "$big/$(basename "$log" .log)-$copy.log"
    done
done
big_bytes=$(bytes_of "$big")
big_files=("$big"/*.log)
corpus_files=("$logs"/*.log)

row() { # label wall cpu rss_kb bytes base_wall
    awk -v l="$1" -v w="$2" -v c="$3" -v r="$4" -v b="$5" -v x="$6" 'BEGIN {
        rss = (r == "-") ? sprintf("%8s   ", "-") : sprintf("%8.1f MB", r / 1024)
        printf "%-46s %8.3f s %8s %s %9.0f MB/s %9.2f\n", l, w, (c == "-") ? "-" : sprintf("%.3f s", c), rss, b / 1e6 / w, w / x
    }'
}
header() {
    printf '\n%s\n%-46s %10s %8s %11s %14s %9s\n' "$1" "what" "wall" "cpu" "peak RSS" "throughput" "$2"
}

echo
echo "autopilot classify, -j $jobs, $(nproc) CPU(s); load average before: $load_before"

ours=("$bin" classify -j "$jobs")
grep_count=(env LC_ALL=C grep -c ERROR)

# 1. The corpus: ours, theirs, cat, grep.
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }')
read -r legacy_w legacy_c legacy_r < <(median "$runs" "${ours[@]}" --taxonomy legacy --format table "$logs")
read -r default_w default_c default_r < <(median "$runs" "${ours[@]}" --taxonomy default --format table "$logs")
read -r cat_w cat_c cat_r < <(median "$runs" cat "${corpus_files[@]}")
read -r grep_w grep_c grep_r < <(median "$runs" "${grep_count[@]}" "${corpus_files[@]}")
if [ -n "$python" ]; then
    read -r py_w py_c py_r < <(median "$py_runs" bash -c "$python_pipeline" - \
        "$python" "$published" "$work/python" "${corpus_files[@]}")
    py_inner=$(python_in_process)
fi
header "corpus, $corpus_mb in 7 logs (median of $runs runs; Python: $py_runs)" "÷ ours legacy"
row "ours, --taxonomy legacy" "$legacy_w" "$legacy_c" "$legacy_r" "$corpus_bytes" "$legacy_w"
row "ours, --taxonomy default" "$default_w" "$default_c" "$default_r" "$corpus_bytes" "$legacy_w"
if [ -n "$python" ]; then
    # CPU: of the 14 processes (GNU time counts waited-for children); peak RSS: the largest.
    row "theirs, the published pipeline (14 processes)" "$py_w" "$py_c" "$py_r" "$corpus_bytes" "$legacy_w"
    row "  theirs, parsing and rules in one process" "$py_inner" - - "$corpus_bytes" "$legacy_w"
else
    echo "theirs: skipped: $python_skip"
fi
row "cat" "$cat_w" "$cat_c" "$cat_r" "$corpus_bytes" "$legacy_w"
row "grep -c ERROR (one thread)" "$grep_w" "$grep_c" "$grep_r" "$corpus_bytes" "$legacy_w"
if [ -n "$python" ]; then
    awk -v p="$py_w" -v l="$legacy_w" -v d="$default_w" 'BEGIN {
        printf "theirs / ours: %.0fx (legacy), %.0fx (default)\n", p / l, p / d }'
fi

# 2. The big input: ours in each mode against cat and grep of the same bytes.
big_gb=$(awk -v b="$big_bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }')
read -r bcat_w bcat_c bcat_r < <(timed cat "${big_files[@]}")
read -r bgrep_w bgrep_c bgrep_r < <(timed "${grep_count[@]}" "${big_files[@]}")
header "$big_gb in ${#big_files[@]} logs ($copy copies of the corpus), one run each" "÷ cat"
for run in "legacy table" "default table" "default csv" "default jsonl" "default json"; do
    read -r taxonomy format <<<"$run"
    read -r wall cpu rss < <(timed "${ours[@]}" --taxonomy "$taxonomy" --format "$format" "$big")
    row "ours, --taxonomy $taxonomy --format $format" "$wall" "$cpu" "$rss" "$big_bytes" "$bcat_w"
done
row "cat" "$bcat_w" "$bcat_c" "$bcat_r" "$big_bytes" "$bcat_w"
row "grep -c ERROR (one thread)" "$bgrep_w" "$bgrep_c" "$bgrep_r" "$big_bytes" "$bcat_w"

# 3. Peak RSS per mode and format, with a reader that keeps up and one that stalls.
printf '\npeak RSS on the %s input, MB: VmHWM polled / maxrss at exit (reader stalled %s s)\n' "$big_gb" "$stall"
printf '%-10s %-8s %18s %18s\n' "mode" "format" "normal reader" "stalled reader"
for taxonomy in legacy default; do
    for format in table csv jsonl json; do
        read -r n_hwm n_max < <(rss_run normal "$taxonomy" "$format" "$big")
        read -r s_hwm s_max < <(rss_run stalled "$taxonomy" "$format" "$big")
        awk -v t="$taxonomy" -v f="$format" -v a="$n_hwm" -v b="$n_max" -v c="$s_hwm" -v d="$s_max" 'BEGIN {
            printf "%-10s %-8s %8.1f / %6.1f %9.1f / %6.1f\n", t, f, a / 1024, b / 1024, c / 1024, d / 1024 }'
    done
done
echo
echo "load average after: $(loadavg)"
echo "wall: one process (ours: start-up and taxonomy load included), stdout into a pipe; cpu: user + sys"
echo "(mean for the corpus); ÷: this row's wall divided by the base row's; theirs = the published"
echo "jsonize_logs.py + classify_errors.py, 2 processes per log, as their README runs them."
