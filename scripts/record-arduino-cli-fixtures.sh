#!/usr/bin/env bash
# Records real arduino-cli outputs into data/fixtures/arduino-cli/, replacing the hand-written
# ones, for a contributor with arduino-cli >= 1.0, network access and the mbed_nano core:
#
#   arduino-cli core install arduino:mbed_nano
#   bash scripts/record-arduino-cli-fixtures.sh            # or ARDUINO_CLI=/path/to/arduino-cli
#
# Everything runs in a throw-away sketchbook (ARDUINO_DIRECTORIES_USER), so your own libraries
# are neither seen nor changed; the pinned libraries of targets/nano33ble_sense.toml that the
# recordings need are installed there. Recorded: `version`, `core list`, `lib list`; `compile
# --format json` of a good sketch, of one with compile errors, of a missing header, of a sketch
# folder without its main file and of a board whose platform is not installed; `lib search`
# (an exact hit, a substring-only hit, nothing); `lib install` (new, already installed, unknown).
# Paths are put back to the placeholders the tests substitute (see the fixtures' README).
# Not recorded (kept hand-written): compile-hang, compile-flood, lib-search-offline,
# lib-search-unlisted, version-0.35. Review `git diff data/fixtures/arduino-cli` before
# committing: versions and sizes change, and the tests state the facts they rely on.
set -euo pipefail

cli="${ARDUINO_CLI:-arduino-cli}"
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/data/fixtures/arduino-cli"
fqbn="arduino:mbed_nano:nano33ble"

command -v "$cli" >/dev/null || { echo "error: $cli not found (https://arduino.github.io/arduino-cli/latest/installation/)" >&2; exit 3; }
version="$("$cli" version --format json | sed -n 's/.*"VersionString": *"\([^"]*\)".*/\1/p')"
case "$version" in
    0.*) echo "error: arduino-cli $version is older than 1.0.0" >&2; exit 3 ;;
esac
"$cli" core list --format json | grep -q '"arduino:mbed_nano"' || {
    echo "error: the arduino:mbed_nano core is missing: arduino-cli core install arduino:mbed_nano" >&2
    exit 3
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ARDUINO_DIRECTORIES_USER="$work/sketchbook"
mkdir -p "$ARDUINO_DIRECTORIES_USER/libraries"
data_dir="$("$cli" config get directories.data 2>/dev/null || echo "$HOME/.arduino15")"
sketch="$work/sketches/Colors"
build="$work/build/Colors"

# Real paths back to the placeholders the tests replace.
placeholders() {
    sed -e "s#$sketch#/home/user/sketches/Colors#g" \
        -e "s#$build#/tmp/arduino-build/Colors#g" \
        -e "s#$ARDUINO_DIRECTORIES_USER#/home/user/Arduino#g" \
        -e "s#$data_dir#/home/user/.arduino15#g"
}

# record <case> <cmd-file-name> <arduino-cli args...>: stdout, stderr and the exit code.
record() {
    local case_dir="$fixtures/$1" name="$2" code=0
    shift 2
    mkdir -p "$case_dir"
    "$cli" "$@" >"$work/out" 2>"$work/err" || code=$?
    placeholders <"$work/out" >"$case_dir/$name.stdout"
    placeholders <"$work/err" >"$case_dir/$name.stderr"
    [ -s "$case_dir/$name.stdout" ] || rm -f "$case_dir/$name.stdout"
    [ -s "$case_dir/$name.stderr" ] || rm -f "$case_dir/$name.stderr"
    if [ "$code" -ne 0 ]; then echo "$code" >"$case_dir/$name.exit"; else rm -f "$case_dir/$name.exit"; fi
    echo "recorded $1/$name (exit $code)" >&2
}

write_sketch() {
    rm -rf "$sketch"
    mkdir -p "$sketch"
    cat >"$sketch/Colors.ino"
}

"$cli" lib install Arduino_APDS9960@1.0.4 Chirale_TensorFLowLite@2.0.0 >&2

record common version version --format json
record common core-list core list --format json
record common lib-list lib list --format json

# A good sketch: the colour sensor and a TFLM interpreter over the fruit model.
write_sketch <<'EOF'
#include <Arduino_APDS9960.h>
#include <Chirale_TensorFlowLite.h>
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "model.h"

constexpr int kArenaSize = 8 * 1024;
alignas(16) uint8_t arena[kArenaSize];
tflite::MicroInterpreter* interpreter = nullptr;

void setup() {
  Serial.begin(9600);
  APDS.begin();
  static tflite::MicroMutableOpResolver<2> resolver;
  resolver.AddFullyConnected();
  resolver.AddSoftmax();
  static tflite::MicroInterpreter local(tflite::GetModel(g_model_data), resolver, arena, kArenaSize);
  interpreter = &local;
  interpreter->AllocateTensors();
}

void loop() {
  int r, g, b;
  if (!APDS.colorAvailable()) return;
  APDS.readColor(r, g, b);
  float sum = r + g + b + 0.001f;
  TfLiteTensor* input = interpreter->input(0);
  input->data.f[0] = r / sum;
  input->data.f[1] = g / sum;
  input->data.f[2] = b / sum;
  interpreter->Invoke();
  Serial.println(interpreter->output(0)->data.f[0]);
}
EOF
cp "$root/examples/fruit_to_emoji/model.h" "$sketch/model.h"
record compile-success compile compile --format json --fqbn "$fqbn" --build-path "$build" --warnings all "$sketch"

# Compile errors: a declaration clashing with the model header, an undeclared name.
write_sketch <<'EOF'
#include <Chirale_TensorFlowLite.h>
#include "tensorflow/lite/schema/schema_generated.h"
#include "model.h"

const tflite::Model* model;

void setup() {
  Serial.begin(9600);
}

void loop() {
  model = tflite::GetModel(g_model);
}
EOF
printf 'const unsigned char model[] = {0x1c, 0x00, 0x00, 0x00};\n' >"$sketch/model.h"
record compile-diagnostics compile compile --format json --fqbn "$fqbn" --build-path "$build" --warnings all "$sketch"

# A header no installed library provides (Arduino_LSM9DS1 is not installed in this sketchbook).
write_sketch <<'EOF'
#include <Arduino.h>
#include <Arduino_LSM9DS1.h>
void setup() {}
void loop() {}
EOF
record compile-missing-header compile compile --format json --fqbn "$fqbn" --build-path "$build" --warnings all "$sketch"

# A sketch folder without its main file: the error comes before the build, on stderr.
rm -f "$sketch/Colors.ino"
printf 'void helper() {}\n' >"$sketch/helper.cpp"
record compile-sketch-unreadable compile compile --format json --fqbn "$fqbn" --build-path "$build" --warnings all "$sketch"

# A platform that is not installed: an empty data folder has none.
write_sketch <<'EOF'
void setup() {}
void loop() {}
EOF
ARDUINO_DIRECTORIES_DATA="$work/empty-data" \
    record compile-platform-missing compile compile --format json --fqbn "$fqbn" --build-path "$build" "$sketch"

record lib-search-sparkfun lib-search lib search provides:SparkFun_APDS9960.h --omit-releases-details --format json
record lib-search-substring lib-search lib search provides:APDS9960.h --omit-releases-details --format json
record lib-search-empty lib-search lib search provides:Arduino_LIS33GH.h --omit-releases-details --format json

record lib-install-ok lib-install lib install --no-overwrite Arduino_LSM9DS1@1.1.1
mkdir -p "$fixtures/lib-install-ok/lib-install.effect"
"$cli" lib list --format json | placeholders >"$fixtures/lib-install-ok/lib-install.effect/lib-list.stdout"
record lib-install-already lib-install lib install --no-overwrite Arduino_LSM9DS1@1.1.1
record lib-install-not-found lib-install lib install --no-overwrite None

echo "done: review git diff data/fixtures/arduino-cli before committing" >&2
