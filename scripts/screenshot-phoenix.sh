#!/usr/bin/env bash
# Makes the screenshots of docs/: a demo session and an imported legacy session as Arize Phoenix
# shows them after `autopilot export`, taken with headless Chromium (Debian `chromium`, installed
# here when missing; tests do not need it). Needs ../shared/corpus for the legacy log.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || {
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
source scripts/phoenix-lib.sh
# BIN=path/to/autopilot uses another build (default: the debug build, made here).
if [ -z "${BIN:-}" ]; then
    cargo build -q
    BIN=$PWD/target/debug/autopilot
fi
bin=$BIN
source scripts/find-corpus.sh
work=$(mktemp -d)
cleanup() { phoenix_stop; rm -rf "$work"; }
trap cleanup EXIT
phoenix_start "$work/phoenix"

demo=$("$bin" export --endpoint "$PHOENIX_URL" crates/autopilot-otel/tests/fixtures/demo-color_uno.jsonl | cut -f2)
legacy=$("$bin" export --endpoint "$PHOENIX_URL" "$corpus/raw_logs/sg_gpt4o_7677.log" | grep 'sg_gpt4o_7677-5584-19dd' | cut -f2)
shot() { # trace-id file
    # Phoenix's /redirects/traces/<id> opens the trace view; the virtual time lets it load.
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,1000 \
        --virtual-time-budget=20000 --screenshot="$PWD/$2" "$PHOENIX_URL/redirects/traces/$1" >/dev/null 2>&1
    echo "$2"
}
shot "$demo" docs/phoenix-demo-session.png
shot "$legacy" docs/phoenix-legacy-session.png
