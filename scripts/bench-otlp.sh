#!/usr/bin/env bash
# Measures the cost of live OTLP export (issue 19), printing figures side by side: the same
# BENCH_SESSIONS-session batch (default 200) with an instant fake LLM (scripted answers through
# the replay backend) and an instant compiler (compile-cache hits after one warm-up session;
# simulation off), run three ways: no export; live export to a real collector (Arize Phoenix,
# scripts/setup-phoenix.sh); live export to a collector that is down (nothing listens).
# BIN=path/to/autopilot measures another build (default: a release build made here).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq time >/dev/null; }
if [ -z "${BIN:-}" ]; then
    cargo build --release -q
    BIN=$PWD/target/release/autopilot
fi
source scripts/phoenix-lib.sh
work=$(mktemp -d)
cleanup() { phoenix_stop; rm -rf "$work"; }
trap cleanup EXIT
app=$PWD/examples/color_uno/app.toml
answers=$PWD/examples/color_uno/demo-answers.toml
sessions=${BENCH_SESSIONS:-200}
printf '[simulation]\nenabled = false\n' > "$work/policies.toml"
experiment() { # name runs
    printf 'name = "%s"\napp = "%s"\nmodels = ["replay:demo"]\nruns = %s\npolicies = "%s"\nanswers = "%s"\n[concurrency]\ntotal = 8\n' \
        "$1" "$app" "$2" "$work/policies.toml" "$answers" > "$work/$1.toml"
    echo "$work/$1.toml"
}

phoenix_start "$work/phoenix"

"$BIN" batch "$(experiment warm 1)" --out "$work/warm" --cache-dir "$work/cache" -q >/dev/null
run() { # label out [extra args]
    local label=$1 out=$2
    shift 2
    /usr/bin/time -f '%e %U %S' -o "$work/$out.time" \
        "$BIN" batch "$(experiment "$out" "$sessions")" --out "$work/$out" --cache-dir "$work/cache" "$@" >/dev/null 2>"$work/$out.err"
    local wall cpu
    read -r wall user sys < "$work/$out.time"
    cpu=$(echo "$user + $sys" | bc -l)
    printf '%-36s %9.2f %9.2f   %s\n' "$label" "$wall" "$cpu" "$(grep -h '^otlp: exported' "$work/$out.err" | sed 's/ to http[^;]*;/;/' || echo '-')"
    echo "$wall" > "$work/$out.wall"
    echo "$cpu" > "$work/$out.cpu"
}
echo "== $sessions sessions, concurrency 8, instant fake LLM and compiler ($(nproc) cores)"
printf '%-36s %9s %9s   %s\n' "" "wall (s)" "CPU (s)" "export report"
for round in 1 2 3; do
    run "no export (round $round)" "none$round"
    run "live export to Phoenix (round $round)" "live$round" --otlp-endpoint "$PHOENIX_URL"
    run "collector down (round $round)" "down$round" --otlp-endpoint "http://127.0.0.1:$(free_port)"
done
median() { sort -n | sed -n 2p; }
for what in wall cpu; do
    none=$(cat "$work"/none?."$what" | median)
    live=$(cat "$work"/live?."$what" | median)
    down=$(cat "$work"/down?."$what" | median)
    printf '\nmedian %s of 3: no export %.2f s, live export %.2f s (%+.1f%%), collector down %.2f s (%+.1f%%)' "$what" \
        "$none" "$live" "$(echo "($live - $none) * 100 / $none" | bc -l)" "$down" "$(echo "($down - $none) * 100 / $none" | bc -l)"
done
echo
echo "(CPU: user + system of autopilot and its children; the collector's own CPU is not counted)"
