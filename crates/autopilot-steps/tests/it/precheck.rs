//! Static prechecks, each on its own, and the model-symbol clash from the published logs.

use autopilot_steps::{
    App, CHECK_FORBIDDEN_API, CHECK_INCBIN, CHECK_INCLUDE_PATH, CHECK_INFERENCE_CALL,
    CHECK_MODEL_INCLUDE, CHECK_MODEL_SYMBOL_CLASH, CHECK_PLACEHOLDERS, CHECK_SETUP_LOOP,
    CHECK_SIMAVR_SECTION, ForbiddenApi, ModelInfo, PrecheckInput, run_prechecks,
};
use autopilot_trace::Stage;

use crate::support::{AppDir, corpus_logs, dense_app, fruit_tflite, fruit_toml};

/// An app whose `model.h` defines the model as `const unsigned char model[]`, like the
/// original system's header.
fn original_style_app() -> App {
    let dir = AppDir::new();
    let header = autopilot_steps::tflite_to_header(&fruit_tflite(), "g_model_data", "m.tflite")
        .unwrap()
        .replace("g_model_data_len", "model_len")
        .replace("g_model_data", "model");
    dir.write("model.h", header);
    dir.load(&fruit_toml("header = \"model.h\"")).unwrap()
}

fn tflite_model() -> ModelInfo {
    original_style_app().model.unwrap()
}

fn dense_model() -> ModelInfo {
    let (dir, toml) = dense_app();
    dir.load(&toml).unwrap().model.unwrap()
}

const TFLM_SKETCH: &str = r#"#include <TensorFlowLite.h>
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "model.h"

const tflite::Model* tfl_model = nullptr;
tflite::MicroInterpreter* interpreter = nullptr;

void setup() {
  Serial.begin(9600);
  tfl_model = tflite::GetModel(model);
  Serial.println("Loading...");
}

void loop() {
  interpreter->Invoke();
}
"#;

/// The verdict of one check.
fn verdict(
    code: &str,
    model: Option<&ModelInfo>,
    forbidden: &[ForbiddenApi],
    check: &str,
) -> (bool, String) {
    let report = run_prechecks(code, &PrecheckInput { model, forbidden });
    let v = report.verdicts.iter().find(|v| v.check == check).unwrap();
    (v.passed, v.message.clone())
}

#[test]
fn a_good_sketch_passes_every_check() {
    let model = tflite_model();
    let report = run_prechecks(
        TFLM_SKETCH,
        &PrecheckInput {
            model: Some(&model),
            forbidden: &[],
        },
    );
    assert!(report.passed(), "{:#?}", report.verdicts);
    assert_eq!(report.verdicts.len(), 9);
    let events = report.events(4);
    assert!(
        events
            .iter()
            .all(|e| e.stage == Stage::Check && e.attempt == 4 && e.passed)
    );
}

#[test]
fn the_model_symbol_clash_of_the_logs_is_caught() {
    let model = tflite_model();
    let clashing = TFLM_SKETCH.replace(
        "const tflite::Model* tfl_model = nullptr;",
        "const tflite::Model* model = tflite::GetModel(model);",
    );
    let (passed, message) = verdict(&clashing, Some(&model), &[], CHECK_MODEL_SYMBOL_CLASH);
    assert!(!passed);
    assert!(message.starts_with("line 5: `const tflite::Model* model` declares `model`, which model.h already declares as array (`alignas(16) const unsigned char model[]`)"), "{message}");
    assert!(message.contains("tflite::GetModel(model)"), "{message}");
    // Other shapes of the same mistake are caught; uses of the header's symbols are not
    // declarations.
    for (line, clashes) in [
        ("const tflite::Model *model;", true),
        ("static const tflite::Model * const model = nullptr;", true),
        ("unsigned int model_len = 3;", true),
        ("float model[3];", true),
        ("const tflite::Model* m = tflite::GetModel(model);", false),
        ("const unsigned int size = model_len;", false),
        ("// const tflite::Model* model = nullptr;", false),
        ("extern const unsigned char model[];", false),
    ] {
        let code = TFLM_SKETCH.replace("const tflite::Model* tfl_model = nullptr;", line);
        let (passed, _) = verdict(&code, Some(&model), &[], CHECK_MODEL_SYMBOL_CLASH);
        assert_eq!(passed, !clashes, "{line}");
    }
}

#[test]
fn every_model_clash_line_in_the_published_logs_is_caught() {
    let Some(logs) = corpus_logs() else { return };
    let model = tflite_model();
    let mut lines = Vec::new();
    for entry in fs_err::read_dir(logs).unwrap() {
        let text = fs_err::read_to_string(entry.unwrap().path()).unwrap();
        let mut rows = text.lines();
        while let Some(row) = rows.next() {
            if row.contains("error: conflicting declaration 'const tflite::Model* model'")
                && let Some(source) = rows.next()
            {
                lines.push(source.trim().to_owned());
            }
        }
    }
    assert!(lines.len() > 400, "found only {} clash lines", lines.len());
    for line in &lines {
        let code = format!(
            "#include \"model.h\"\n{line}\nvoid setup() {{}}\nvoid loop() {{ interpreter.Invoke(); }}\n"
        );
        let (passed, message) = verdict(&code, Some(&model), &[], CHECK_MODEL_SYMBOL_CLASH);
        assert!(!passed, "not caught: {line}");
        assert!(message.starts_with("line 2:"), "{message}");
    }
}

#[test]
fn setup_and_loop_must_be_defined() {
    let (passed, message) = verdict("void setup() {}\n", None, &[], CHECK_SETUP_LOOP);
    assert!(!passed);
    assert!(message.contains("`void loop()`"));
    let (passed, message) = verdict("int main() { return 0; }\n", None, &[], CHECK_SETUP_LOOP);
    assert!(!passed && message.contains("neither"));
    assert!(
        verdict(
            "void setup(void) {}\nvoid loop() {}\n",
            None,
            &[],
            CHECK_SETUP_LOOP
        )
        .0
    );
}

#[test]
fn the_model_header_must_be_included() {
    let model = tflite_model();
    let without = TFLM_SKETCH.replace("#include \"model.h\"\n", "");
    let (passed, message) = verdict(&without, Some(&model), &[], CHECK_MODEL_INCLUDE);
    assert!(!passed);
    assert!(message.contains("#include \"model.h\""));
    let dot = TFLM_SKETCH.replace("#include \"model.h\"", "#include \"./model.h\"");
    assert!(verdict(&dot, Some(&model), &[], CHECK_MODEL_INCLUDE).0);
    let commented = TFLM_SKETCH.replace("#include \"model.h\"", "// #include \"model.h\"");
    assert!(!verdict(&commented, Some(&model), &[], CHECK_MODEL_INCLUDE).0);
    // Without a model there is nothing to include.
    assert!(verdict(&without, None, &[], CHECK_MODEL_INCLUDE).0);
}

#[test]
fn an_inference_call_must_be_present() {
    let model = tflite_model();
    let without = TFLM_SKETCH.replace("interpreter->Invoke();", "// interpreter->Invoke();");
    let (passed, message) = verdict(&without, Some(&model), &[], CHECK_INFERENCE_CALL);
    assert!(!passed && message.contains("Invoke()"), "{message}");
    let dot = TFLM_SKETCH.replace(
        "interpreter->Invoke();",
        "if (interp.Invoke() != kTfLiteOk) {}",
    );
    assert!(verdict(&dot, Some(&model), &[], CHECK_INFERENCE_CALL).0);

    let dense = dense_model();
    let calls = "#include \"tiny.h\"\nvoid setup() {}\nvoid loop() {\n  float x[2] = {0.1f, 0.9f};\n  int c = tiny_predict(x);\n}\n";
    assert!(verdict(calls, Some(&dense), &[], CHECK_INFERENCE_CALL).0);
    let never = calls.replace("int c = tiny_predict(x);", "int c = 0;");
    let (passed, message) = verdict(&never, Some(&dense), &[], CHECK_INFERENCE_CALL);
    assert!(
        !passed && message.contains("`tiny_predict(…)`"),
        "{message}"
    );
    // Repeating the prototype is legal; redefining the function is a clash, and the
    // definition is no call.
    let prototype = calls.replace(
        "void setup() {}",
        "int tiny_predict(const float input[2]);\nvoid setup() {}",
    );
    assert!(verdict(&prototype, Some(&dense), &[], CHECK_MODEL_SYMBOL_CLASH).0);
    assert!(verdict(&prototype, Some(&dense), &[], CHECK_INFERENCE_CALL).0);
    let redefined = never.replace(
        "void setup() {}",
        "int tiny_predict(const float input[2]) { return 0; }\nvoid setup() {}",
    );
    assert!(!verdict(&redefined, Some(&dense), &[], CHECK_INFERENCE_CALL).0);
    let (passed, message) = verdict(&redefined, Some(&dense), &[], CHECK_MODEL_SYMBOL_CLASH);
    assert!(
        !passed
            && message
                .contains("declares `tiny_predict`, which tiny.h already declares as function"),
        "{message}"
    );
}

#[test]
fn placeholder_text_is_caught_and_legitimate_text_is_not() {
    for (snippet, fragment) in [
        ("// TODO: read the sensor", "TODO"),
        ("  // ... rest of the code", "rest of the code"),
        ("  // ...", "//"),
        ("  const char* ssid = your_ssid;", "your_ssid"),
        (
            "  #include \"{decide_library}.h\"\n  int x = {decide_size};",
            "{decide_size}",
        ),
        ("  ...", "..."),
        ("  // Your code here", "Your code here"),
    ] {
        let code = format!("void setup() {{\n{snippet}\n}}\nvoid loop() {{}}\n");
        let (passed, message) = verdict(&code, None, &[], CHECK_PLACEHOLDERS);
        assert!(!passed, "{snippet}");
        assert!(
            message.contains(fragment) && message.contains("line 2"),
            "{snippet}: {message}"
        );
    }
    let fine = "#include <stdarg.h>\nvoid log(const char* fmt, ...) {}\nvoid setup() {\n  Serial.println(\"Loading...\");\n  try { } catch (...) { }\n}\nvoid loop() {}\n";
    assert!(verdict(fine, None, &[], CHECK_PLACEHOLDERS).0);
}

#[test]
fn apis_the_pinned_library_lacks_are_caught() {
    let forbidden = vec![
        ForbiddenApi {
            symbol_or_header: "tensorflow/lite/version.h".to_owned(),
            reason: "removed from TFLM; TFLITE_SCHEMA_VERSION comes with schema_generated.h"
                .to_owned(),
        },
        ForbiddenApi {
            symbol_or_header: "AllOpsResolver".to_owned(),
            reason: "removed; use tflite::MicroMutableOpResolver<N>".to_owned(),
        },
        ForbiddenApi {
            symbol_or_header: "tflite::ops::micro::Register_FULLY_CONNECTED".to_owned(),
            reason: "registrations are tflite::Register_FULLY_CONNECTED now".to_owned(),
        },
    ];
    let code = "#include \"tensorflow/lite/version.h\"\nstatic tflite::AllOpsResolver resolver;\nvoid setup() { auto r = tflite :: ops :: micro :: Register_FULLY_CONNECTED(); }\nvoid loop() {}\n";
    let (passed, message) = verdict(code, None, &forbidden, CHECK_FORBIDDEN_API);
    assert!(!passed);
    assert!(
        message.contains("line 1: `#include <tensorflow/lite/version.h>`: removed from TFLM"),
        "{message}"
    );
    assert!(
        message.contains("line 2: `AllOpsResolver`: removed"),
        "{message}"
    );
    assert!(
        message.contains("line 3: `tflite::ops::micro::Register_FULLY_CONNECTED`"),
        "{message}"
    );
    // Names inside longer names, comments and strings do not count.
    let fine = "// AllOpsResolver is gone\nconst char* s = \"AllOpsResolver\";\nint MyAllOpsResolverCount;\nvoid setup() {}\nvoid loop() {}\n";
    assert!(verdict(fine, None, &forbidden, CHECK_FORBIDDEN_API).0);
}

/// A complete sketch in the style LLMs write for the fruit example (our own text).
const REALISTIC_TFLM: &str = r#"#include <Arduino_APDS9960.h>
#include <TensorFlowLite.h>
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "model.h"

namespace {
const tflite::Model* tflModel = nullptr;
tflite::MicroInterpreter* tflInterpreter = nullptr;
TfLiteTensor* input = nullptr;
constexpr int kTensorArenaSize = 8 * 1024;
alignas(16) uint8_t tensorArena[kTensorArenaSize];
}  // namespace

const char* const CLASSES[] = {"apple", "banana", "orange"};
const char* const EMOJIS[] = {"\U0001F34E", "\U0001F34C", "\U0001F34A"};
#define NUM_CLASSES (sizeof(CLASSES) / sizeof(CLASSES[0]))

void setup() {
  Serial.begin(9600);
  unsigned long start = millis();
  while (!Serial && millis() - start < 3000) {}
  if (!APDS.begin()) {
    Serial.println("Error initializing APDS9960 sensor...");
  }
  tflModel = tflite::GetModel(g_model_data);
  if (tflModel->version() != TFLITE_SCHEMA_VERSION) {
    Serial.println("Model schema mismatch!");
    while (true) {}
  }
  static tflite::MicroMutableOpResolver<2> resolver;
  resolver.AddFullyConnected();
  resolver.AddSoftmax();
  static tflite::MicroInterpreter interpreter(tflModel, resolver, tensorArena, kTensorArenaSize);
  tflInterpreter = &interpreter;
  tflInterpreter->AllocateTensors();
  input = tflInterpreter->input(0);
}

void loop() {
  int r, g, b, p;
  while (!APDS.proximityAvailable()) {}
  p = APDS.readProximity();
  if (p != 0) return;
  while (!APDS.colorAvailable()) { delay(5); }
  APDS.readColor(r, g, b);
  float sum = r + g + b;
  if (sum <= 0) return;
  input->data.f[0] = r / sum;
  input->data.f[1] = g / sum;
  input->data.f[2] = b / sum;
  if (tflInterpreter->Invoke() != kTfLiteOk) {
    Serial.println("Invoke failed");
    return;
  }
  TfLiteTensor* output = tflInterpreter->output(0);
  size_t best = 0;
  for (size_t i = 1; i < NUM_CLASSES; i++) {
    if (output->data.f[i] > output->data.f[best]) best = i;
  }
  Serial.print(CLASSES[best]);
  Serial.print(" ");
  Serial.println(EMOJIS[best]);
  delay(1000);
}
"#;

#[test]
fn a_realistic_tflm_sketch_passes_every_check() {
    let dir = AppDir::new();
    dir.write("m.tflite", fruit_tflite());
    let app = dir.load(&fruit_toml("tflite = \"m.tflite\"")).unwrap();
    let forbidden = [
        ForbiddenApi {
            symbol_or_header: "AllOpsResolver".to_owned(),
            reason: "removed".to_owned(),
        },
        ForbiddenApi {
            symbol_or_header: "tensorflow/lite/version.h".to_owned(),
            reason: "removed".to_owned(),
        },
    ];
    let report = run_prechecks(
        REALISTIC_TFLM,
        &PrecheckInput {
            model: app.model.as_ref(),
            forbidden: &forbidden,
        },
    );
    assert!(
        report.passed(),
        "{:#?}",
        report.failures().collect::<Vec<_>>()
    );
}

/// The verdict of `check` on a sketch made of `head` plus empty `setup` and `loop`.
fn host_verdict(head: &str, check: &str) -> (bool, String) {
    let code = format!("{head}\nvoid setup() {{}}\nvoid loop() {{}}\n");
    let report = run_prechecks(&code, &PrecheckInput::default());
    let v = report.verdicts.iter().find(|v| v.check == check).unwrap();
    (v.passed, v.message.clone())
}

#[test]
fn includes_that_reach_the_host_are_refused() {
    for (head, expected) in [
        (
            "#include \"/etc/passwd\"",
            "line 1: #include `/etc/passwd` is an absolute path",
        ),
        (
            "#include \"../../../.env\"",
            "`../../../.env` is a `..` path",
        ),
        ("#include <../secrets.h>", "`../secrets.h` is a `..` path"),
        (
            "#  include_next \"/dev/zero\"",
            "#include_next `/dev/zero` is an absolute path",
        ),
        (
            "#import \"~/.ssh/id_rsa\"",
            "#import `~/.ssh/id_rsa` is an absolute path",
        ),
        (
            "#define F \"/etc/passwd\"\n#include F",
            "line 2: #include `F` is not a literal file name",
        ),
        (
            "#if __has_include(\"/root/.env\")\n#endif",
            "__has_include of `/root/.env`",
        ),
    ] {
        let (passed, message) = host_verdict(head, CHECK_INCLUDE_PATH);
        assert!(!passed, "{head}");
        assert!(message.contains(expected), "{head}: {message}");
        assert!(message.contains("by plain name"), "{message}");
    }
    for head in [
        "#include <Arduino.h>\n#include \"model.h\"\n#include <tensorflow/lite/micro/micro_interpreter.h>",
        "// #include \"/etc/passwd\" in a comment is harmless",
        "const char *p = \"../not/an/include\";",
    ] {
        let (passed, message) = host_verdict(head, CHECK_INCLUDE_PATH);
        assert!(passed, "{head}: {message}");
    }
}

#[test]
fn incbin_and_simavr_sections_are_refused() {
    let (passed, message) = host_verdict(
        "__asm__(\".section .progmem.data\\nleak: .incbin \\\"/root/.env\\\"\");",
        CHECK_INCBIN,
    );
    assert!(!passed);
    assert!(message.starts_with("line 1: `.incbin`"), "{message}");
    for (head, token) in [
        ("#include \"avr_mcu_section.h\"", "avr_mcu_section.h"),
        ("AVR_MCU(F_CPU, \"atmega328p\");", "AVR_MCU"),
        (
            "AVR_MCU_VCD_FILE(\"/root/.bashrc\", 1000);",
            "AVR_MCU_VCD_FILE",
        ),
        (
            "const char t[] __attribute__((section(\".mmcu\"), used)) = {12, 4, 'x', 0};",
            ".mmcu",
        ),
    ] {
        let (passed, message) = host_verdict(head, CHECK_SIMAVR_SECTION);
        assert!(!passed, "{head}");
        assert!(message.contains(&format!("`{token}`")), "{head}: {message}");
    }
    assert!(host_verdict("// mentions .incbin and AVR_MCU in a comment", CHECK_INCBIN).0);
    assert!(host_verdict("int mmcu_count = 0;", CHECK_SIMAVR_SECTION).0);
}
