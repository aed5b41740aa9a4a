#!/usr/bin/env bash
# Benchmarks the batch runner side by side with an anchor: the same benchmark run by the
# binary of another revision (BENCH_ANCHOR, default `main`, built from `git archive` in a
# temporary folder with this checkout's target folder; or ANCHOR_BIN=<path> to use a binary).
#  1. BENCH_SESSIONS (default 10000) sessions with an instant fake LLM (scripted answers in
#     process) and cached compiles (every compile a compile-cache hit after one warm-up
#     session; simulation off): wall and CPU per session, ours vs the anchor vs the 1 ms limit.
#  2. Peak RSS at 500 / 2,000 / 20,000 sessions (same setup): flat when memory follows the
#     concurrency, not the plan.
#  3. 32 sessions against scripts/fake-openai-server.py answering after BENCH_LATENCY seconds
#     (default 0.25; 2 calls per session) at concurrency 1, 4, 16 against the ideal
#     ceil(32 / c) x 2 x latency, then c = 16 three times in a row (the anchor runs after each row).
#  4. A compile-cache hit: `autopilot compile` of an identical request, each a new process
#     (median of 5; goal <= 3 ms).
# BENCH_ONLY="3 4" runs only the named sections. Figures only: nothing here asserts a time. The machine's load averages are printed with each
# section (a shared machine moves absolute times; compare the columns of one run).
# Needs the AVR toolchain (bash scripts/install-os-deps.sh) and /usr/bin/time (package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
{ [ -x /usr/bin/time ] && command -v bc >/dev/null; } || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq time bc >/dev/null; }
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

. scripts/anchor-lib.sh
anchor_binary "$work"
cargo build --release -q --bin autopilot
bin=$PWD/target/release/autopilot
echo "ours: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes'); anchor: $anchor_name; $(nproc) cores"

app=$PWD/examples/color_uno/app.toml
answers=$PWD/examples/color_uno/demo-answers.toml
printf '[simulation]\nenabled = false\n' > "$work/policies.toml"
load() { echo "   load averages: $(cut -d' ' -f1-3 /proc/loadavg)"; }

experiment() { # name runs model concurrency [answers]
    {
        printf 'name = "%s"\napp = "%s"\nmodels = ["%s"]\nruns = %s\npolicies = "%s"\n' "$1" "$app" "$3" "$2" "$work/policies.toml"
        [ -n "${5:-}" ] && printf 'answers = "%s"\n' "$5"
        printf '[concurrency]\ntotal = %s\n' "$4"
    } > "$work/$1.toml"
    echo "$work/$1.toml"
}
# measure command...: "wall_s cpu_s peak_rss_kb" of one run.
measure() {
    local log=$work/time.log
    /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" >/dev/null 2>"$work/stderr.log" || { echo "failed: $*" >&2; tail -5 "$work/stderr.log" >&2; exit 1; }
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$log"
}
# Finished runs' folders are moved into $work/done, deleted only on exit: deleting tens of
# thousands of sessions' files between sections made the next section pay for it (on ext4
# without a journal, creating a file skips every inode freed in the last seconds to minutes;
# section 3's c = 16 rows lost 2-9 points of efficiency right after section 2's deletions).
mkdir -p "$work/done"
set_aside() { mv "$@" "$work/done/"; }
# batch binary name runs concurrency [keep]: measured instant-LLM batch with its own warm cache;
# its folders are set aside after it unless `keep` (see section 1).
instant_batch() {
    local b=$1 name=$2 runs=$3 c=$4
    local cache=$work/cache-$name
    "$b" batch "$(experiment "warm-$name" 1 replay:demo 1 "$answers")" --out "$work/warm-$name" --cache-dir "$cache" -q >/dev/null
    measure "$b" batch "$(experiment "$name" "$runs" replay:demo "$c" "$answers")" --out "$work/$name" --cache-dir "$cache" -q
    [ -n "${5:-}" ] || set_aside "$work/$name" "$work/warm-$name"
}

only=${BENCH_ONLY:-1 2 3 4}
section() { [[ " $only " == *" $1 "* ]]; }

sessions=${BENCH_SESSIONS:-10000}
if section 1; then
echo
echo "== 1. $sessions sessions, instant fake LLM, cached compiles, concurrency 8 (release builds)"
load
printf '%-10s %10s %10s %18s %18s %14s\n' "" "wall (s)" "CPU (s)" "wall/session (ms)" "CPU/session (ms)" "peak RSS (MB)"
# The first side's folders stay until both have run: deleting ~15 files per session just before
# the other side's run made that side pay (on ext4 without a journal, creating a file skips
# every inode freed in the last seconds to minutes).
for side in ours anchor; do
    b=$bin; [ "$side" = anchor ] && b=$anchor
    read -r wall cpu rss < <(instant_batch "$b" "big-$side" "$sessions" 8 keep)
    printf '%-10s %10.1f %10.1f %18.2f %18.2f %14.1f\n' "$side" "$wall" "$cpu" \
        "$(echo "$wall * 1000 / $sessions" | bc -l)" "$(echo "$cpu * 1000 / $sessions" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
    eval "${side}_wall=$wall"
done
printf '%-10s %10s %10s %18.2f\n' "limit" "" "" 1
echo "   ours / anchor (wall): $(echo "scale=2; $ours_wall / $anchor_wall" | bc -l)"
echo "   (each session: 3 LLM calls, 2 compiles from the compile cache, 1 repair prompt with a header scan)"
load
set_aside "$work"/big-* "$work"/warm-big-*
fi

if section 2; then
echo
echo "== 2. peak RSS by planned sessions (same setup)"
load
printf '%-10s %14s %14s %14s\n' "sessions" "ours (MB)" "anchor (MB)" "ours wall (s)"
for n in 500 2000 20000; do
    read -r wall _ rss < <(instant_batch "$bin" "rss-ours-$n" "$n" 8)
    read -r _ _ arss < <(instant_batch "$anchor" "rss-anchor-$n" "$n" 8)
    printf '%-10s %14.1f %14.1f %14.1f\n' "$n" "$(echo "$rss / 1024" | bc -l)" "$(echo "$arss / 1024" | bc -l)" "$wall"
done
load
fi

latency=${BENCH_LATENCY:-0.25}
if section 3; then
# The earlier sections' files written out first, so their writeback does not run during the rows.
sync
echo
echo "== 3. 32 sessions, fake OpenAI server with ${latency} s latency, 2 calls per session"
python3 scripts/fake-openai-server.py "$answers" "$latency" "$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
load
printf '%-16s %10s %10s %12s %12s %8s\n' "concurrency" "wall (s)" "ideal (s)" "efficiency" "anchor eff." "load 1m"
# Each binary's runs share one compile cache, warmed first: the rows measure the sessions,
# not a real compile in the first session of each run.
# Each run writes to a folder of its own, kept until the end: deleting ~500 files just before
# the next run made that run pay for it (on ext4 without a journal, creating a file skips every
# inode freed in the last seconds to minutes: ~15% more CPU for the run after a deletion).
lat_run() { # binary c label cache
    local exp
    exp=$(experiment "lat-$3" 32 openai:fake "$2")
    read -r wall _ < <(OPENAI_API_KEY=bench measure "$1" batch "$exp" --out "$work/lat-$3" --cache-dir "$4" --base-url "http://127.0.0.1:$port/v1" -q)
    echo "$wall"
}
for side in ours anchor; do
    b=$bin; [ "$side" = anchor ] && b=$anchor
    "$b" batch "$(experiment "warm-lat-$side" 1 replay:demo 1 "$answers")" --out "$work/warm-lat-$side" --cache-dir "$work/cache-lat-$side" -q >/dev/null
done
row=0
for c in 1 4 16 16 16 16; do
    row=$((row + 1))
    ideal=$(python3 -c "import math; print(math.ceil(32/$c)*2*$latency)")
    wall=$(lat_run "$bin" "$c" "ours-$row" "$work/cache-lat-ours")
    # The anchor right after, every row: the load moves both alike.
    awall=$(lat_run "$anchor" "$c" "anchor-$row" "$work/cache-lat-anchor")
    anchor_eff=$(printf '%11.0f%%' "$(echo "$ideal * 100 / $awall" | bc -l)")
    printf '%-16s %10.2f %10.2f %11.0f%% %12s %8s\n' "$c" "$wall" "$ideal" "$(echo "$ideal * 100 / $wall" | bc -l)" "$anchor_eff" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo "   (the c = 16 rows after the first are three consecutive runs, each side's alternating; each run is a new process)"
load
kill "$server_pid" 2>/dev/null
server_pid=""
fi

if section 4; then
echo
echo "== 4. compile-cache hit: \`autopilot compile\` of an identical request, a new process each time"
mkdir -p "$work/Bench"
cp data/fixtures/sketches/Good/Good.ino "$work/Bench/Bench.ino"
load
# One run in ms, and the median of a file of them.
once() { local start end; start=$(date +%s%N); "$@" >/dev/null; end=$(date +%s%N); echo "scale=1; ($end - $start) / 1000000" | bc; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
hit_args() { echo "-q compile $work/Bench --target uno --format json --cache-dir $work/hit-cache-$1 --build-dir $work/hit-build-$1"; }
for side in ours anchor; do
    b=$bin; [ "$side" = anchor ] && b=$anchor
    # shellcheck disable=SC2046
    "$b" $(hit_args "$side") | grep -q '"cache_hit": false'   # stores the outcome
done
# Interleaved, 21 rounds: the machine's load moves both sides alike.
for _ in $(seq 21); do
    for side in ours anchor; do
        b=$bin; [ "$side" = anchor ] && b=$anchor
        # shellcheck disable=SC2046
        once "$b" $(hit_args "$side") >> "$work/hit-$side"
        # The floor every command pays: exec, loading the binary, `--version`.
        once "$b" --version >> "$work/start-$side"
    done
done
printf '%-10s %16s %22s %20s\n' "" "hit (ms)" "process start (ms)" "hit - start (ms)"
for side in ours anchor; do
    h=$(median "$work/hit-$side")
    f=$(median "$work/start-$side")
    printf '%-10s %16s %22s %20s\n' "$side" "$h" "$f" "$(echo "$h - $f" | bc)"
done
printf '%-10s %16s\n' "goal" "3"
load
fi
