#!/usr/bin/env bash
# Compile times for `uno` with Debian's arduino-builder, side by side:
#   cold       empty build cache, new build path, compile cache off
#   warm       the same build path again, sketch edited, compile cache off (the compiler runs)
#   cache hit  an identical request answered from the compile cache (the compiler does not run)
# Each is measured RUNS times (default 5) as wall time of `autopilot compile` (process start,
# version probe and compile) and as the compile's own `duration_ms`; medians with min–max.
# Cold and warm compiles run in the bubblewrap sandbox (the default) and with --no-sandbox,
# side by side; then simavr's time to the firmware's first serial line, in the sandbox and not.
# Needs the AVR toolchain, simavr and bubblewrap (scripts/install-os-deps.sh). Builds the
# release binary first (AUTOPILOT_BIN=<path> uses that binary instead).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
bin="${AUTOPILOT_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet --bin autopilot
    bin="$PWD/target/release/autopilot"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/Bench"
cp data/fixtures/sketches/Good/Good.ino "$work/Bench/Bench.ino"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# compile <label> <cache dir> <build dir> [extra args…]: appends "wall duration" to $work/<label>.
compile() {
    local label="$1" cache="$2" build="$3"
    shift 3
    local start end json
    start="$(now_ms)"
    json="$("$bin" -q compile "$work/Bench" --target uno --format json --cache-dir "$cache" --build-dir "$build" "$@")"
    end="$(now_ms)"
    grep -q '"status": "succeeded"' <<<"$json" || { echo "compile failed: $json" >&2; exit 1; }
    if [ "$label" = hit ]; then
        grep -q '"cache_hit": true' <<<"$json" || { echo "expected a cache hit" >&2; exit 1; }
    fi
    local duration
    duration="$(sed -n 's/^  "duration_ms": \([0-9]*\),*$/\1/p' <<<"$json")"
    echo "$((end - start)) $duration" >> "$work/$label"
}

for i in $(seq "$runs"); do
    cache="$work/cache-$i"
    build="$work/build-$i"
    compile cold "$cache" "$build" --no-cache
    echo "// edit $i" >> "$work/Bench/Bench.ino"
    compile warm "$cache" "$build" --no-cache
    compile store "$cache" "$build"        # a miss that stores the outcome
done
for i in $(seq "$runs"); do
    compile hit "$work/cache-$runs" "$work/build-$runs"
done
for i in $(seq "$runs"); do
    compile cold-open "$work/open-cache-$i" "$work/open-build-$i" --no-cache --no-sandbox
    echo "// edit $i" >> "$work/Bench/Bench.ino"
    compile warm-open "$work/open-cache-$i" "$work/open-build-$i" --no-cache --no-sandbox
done

# stats <label> <column>: "median [min–max]"
stats() {
    sort -n <(cut -d' ' -f"$2" "$work/$1") | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%6.0f [%s-%s]", m, v[1], v[NR] }'
}

echo "uno (arduino:avr:uno), $(arduino-builder -version | head -n1), $runs runs each; milliseconds, median [min-max]"
printf '%-48s %-22s %s\n' "case" "wall (autopilot)" "compile (duration_ms)"
printf '%-48s %-22s %s\n' "cold: empty caches, new build path" "$(stats cold 1)" "$(stats cold 2)"
printf '%-48s %-22s %s\n' "warm: reused build path, edited sketch" "$(stats warm 1)" "$(stats warm 2)"
printf '%-48s %-22s %s\n' "cache hit: identical request" "$(stats hit 1)" "$(stats hit 2)"
printf '%-48s %-22s %s\n' "cold, --no-sandbox" "$(stats cold-open 1)" "$(stats cold-open 2)"
printf '%-48s %-22s %s\n' "warm, --no-sandbox" "$(stats warm-open 1)" "$(stats warm-open 2)"

# simavr: wall time from start to the firmware's first serial line, RUNS times each. The
# sandboxed command mirrors autopilot_toolchain::sandbox::Sandbox::arguments (its test pins
# those arguments): system folders and the firmware read-only, limits through prlimit.
elf="$work/build-$runs/Bench.ino.elf"
first_line() {
    local label="$1"
    shift
    local start end
    start="$(now_ms)"
    # simavr never exits by itself: it ends on SIGPIPE once grep has its line.
    { "$@" -m atmega328p -f 16000000 "$elf" 2>&1 || true; } | grep -q -m1 tick
    end="$(now_ms)"
    echo "$((end - start)) 0" >> "$work/$label"
}
sandboxed=(bwrap --die-with-parent --new-session --unshare-all --cap-drop ALL)
for path in /usr /bin /sbin /lib /lib32 /lib64 /libx32 /etc/ld.so.cache /etc/alternatives; do
    sandboxed+=(--ro-bind-try "$path" "$path")
done
sandboxed+=(--proc /proc --dev /dev --tmpfs /tmp --ro-bind-try "$elf" "$elf" --chdir /tmp --
    /usr/bin/prlimit --as=1073741824 --cpu=600 --nproc=256 --fsize=268435456 -- /usr/bin/simavr)
for i in $(seq "$runs"); do
    first_line sim-open /usr/bin/simavr
    first_line sim-sandbox "${sandboxed[@]}"
done
printf '%-48s %-22s\n' "simavr to first serial line, unsandboxed" "$(stats sim-open 1)"
printf '%-48s %-22s\n' "simavr to first serial line, in the sandbox" "$(stats sim-sandbox 1)"
