#!/usr/bin/env bash
# Times the pure steps of a sketch attempt (app, prompts, spec validation, extraction, prechecks)
# and sets them beside what they save: one real compile of the color_uno demo sketch with
# Debian's arduino-builder (cold and warm cache). Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -q -p autopilot-steps --bench pure_steps

if ! command -v arduino-builder >/dev/null; then
    echo "arduino-builder not installed: no compile figure (scripts/install-os-deps.sh installs it)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/demo" "$work/build" "$work/cache" "$work/libs"
python3 - "$work/demo/demo.ino" <<'PY'
import re, sys, tomllib
doc = tomllib.load(open("examples/color_uno/demo-answers.toml", "rb"))
text = next(a["text"] for a in doc["answer"] if a["stage"] == "sketch" and a["attempt"] == 2)
open(sys.argv[1], "w").write(re.search(r"```cpp\n(.*?)\n```", text, re.S).group(1) + "\n")
PY
cp examples/color_uno/color_model.h "$work/demo/"
compile() {
    local start end
    start=$(date +%s.%N)
    LC_ALL=C arduino-builder -compile -hardware /usr/share/arduino/hardware \
        -hardware /usr/share/arduino-builder -tools /usr/bin -libraries "$work/libs" \
        -fqbn arduino:avr:uno -build-path "$work/build" -build-cache "$work/cache" \
        -prefs compiler.cpp.extra_flags=-DDECIMAL_DIG=__DECIMAL_DIG__ "$work/demo/demo.ino" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$start $end" | awk '{printf "%.0f", ($2 - $1) * 1e6}'
}
cold=$(compile)
warm=$(compile)
printf '%-44s %9s µs\n' "compile color_uno demo, cold cache" "$cold"
printf '%-44s %9s µs\n' "compile color_uno demo, warm cache" "$warm"
