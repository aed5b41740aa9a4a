#!/usr/bin/env bash
# Benchmarks the batch runner (issue 7), printing figures side by side:
#  1. BENCH_SESSIONS (default 10000) sessions with an instant fake LLM (scripted answers in
#     process) and an instant compiler (every compile a compile-cache hit after one warm-up
#     session; simulation off): wall time, overhead per session, peak RSS.
#  2. 32 sessions against a fake OpenAI server answering after BENCH_LATENCY seconds (default
#     0.25; 2 calls per session) at concurrency 1, 2, 4, 8, 16, against the ideal
#     ceil(32 / c) x 2 x latency.
# Needs the AVR toolchain (bash scripts/install-os-deps.sh) and /usr/bin/time (package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
{ [ -x /usr/bin/time ] && command -v bc >/dev/null; } || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq time bc >/dev/null; }
cargo build --release -q
bin=$PWD/target/release/autopilot
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
app=$PWD/examples/color_uno/app.toml
answers=$PWD/examples/color_uno/demo-answers.toml
printf '[simulation]\nenabled = false\n' > "$work/policies.toml"

experiment() { # name runs model concurrency [answers]
    {
        printf 'name = "%s"\napp = "%s"\nmodels = ["%s"]\nruns = %s\npolicies = "%s"\n' "$1" "$app" "$3" "$2" "$work/policies.toml"
        [ -n "${5:-}" ] && printf 'answers = "%s"\n' "$5"
        printf '[concurrency]\ntotal = %s\n' "$4"
    } > "$work/$1.toml"
    echo "$work/$1.toml"
}
measure() { # label command...
    local log=$work/time.log
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { echo "failed: $*"; tail -5 "$log"; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$log")
    echo "$wall $rss"
}

sessions=${BENCH_SESSIONS:-10000}
echo "== 1. $sessions sessions, instant fake LLM and compiler (release build, $(nproc) cores)"
warm=$(experiment warm 1 replay:demo 1 "$answers")
"$bin" batch "$warm" --out "$work/warm" --cache-dir "$work/cache" -q >/dev/null
big=$(experiment big "$sessions" replay:demo 8 "$answers")
read -r wall rss < <(measure "$bin" batch "$big" --out "$work/big" --cache-dir "$work/cache" -q)
finished=$(grep -l '"type":"session_finished"' "$work"/big/sessions/*.jsonl | wc -l)
printf '%-34s %12s %16s %14s\n' "" "wall (s)" "per session (ms)" "peak RSS (MB)"
printf '%-34s %12.1f %16.2f %14.1f\n' "$finished sessions, concurrency 8" "$wall" "$(echo "$wall * 1000 / $sessions" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
echo "   (each session: 3 LLM calls, 2 compiles from the compile cache, 1 repair prompt with a header scan, 10 artifact files)"

latency=${BENCH_LATENCY:-0.25}
echo
echo "== 2. 32 sessions, fake OpenAI server with ${latency} s latency, 2 calls per session"
python3 scripts/fake-openai-server.py "$answers" "$latency" "$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
printf '%-12s %10s %10s %12s\n' "concurrency" "wall (s)" "ideal (s)" "efficiency"
for c in 1 2 4 8 16; do
    exp=$(experiment "lat$c" 32 openai:fake "$c")
    read -r wall _ < <(OPENAI_API_KEY=bench measure "$bin" batch "$exp" --out "$work/lat$c" --cache-dir "$work/cache" --base-url "http://127.0.0.1:$port/v1" -q)
    ideal=$(python3 -c "import math; print(math.ceil(32/$c)*2*$latency)")
    printf '%-12s %10.2f %10.2f %11.0f%%\n' "$c" "$wall" "$ideal" "$(echo "$ideal * 100 / $wall" | bc -l)"
done
