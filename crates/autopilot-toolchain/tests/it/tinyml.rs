//! TinyML API facts per pinned library version.

use autopilot_toolchain::TinyMlApi;

#[test]
fn facts_are_keyed_by_library_and_version() {
    let api = TinyMlApi::builtin();
    let chirale = api.facts("Chirale_TensorFLowLite", "2.0.0").unwrap();
    assert_eq!(chirale.main_header, "Chirale_TensorFlowLite.h");
    assert!(api.facts("Chirale_TensorFLowLite", "9.9.9").is_none());
    // `*` entries match any version.
    assert!(
        api.facts("Arduino_TensorFlowLite", "1.15.0-ALPHA")
            .is_some()
    );
    let v2 = api.facts("EloquentTinyML", "2.4.4").unwrap();
    let v3 = api.facts("EloquentTinyML", "3.0.1").unwrap();
    assert_ne!(v2.main_header, v3.main_header);
}

const OLD_STYLE: &str = r#"
#include <TensorFlowLite.h>
#include "tensorflow/lite/micro/all_ops_resolver.h"
#include "tensorflow/lite/micro/micro_error_reporter.h"
#include "tensorflow/lite/version.h"
// tflite::AllOpsResolver in a comment is fine
/* so is AddBuiltin
   in a block comment */
static tflite::MicroErrorReporter micro_error_reporter;
static tflite::AllOpsResolver resolver;
void setup() { resolver.AddBuiltin(tflite::BuiltinOperator_SOFTMAX, tflite::ops::micro::Register_SOFTMAX()); }
static tflite::MyAllOpsResolverLike other;
"#;

#[test]
fn violations_against_current_tflm() {
    let api = TinyMlApi::builtin();
    let official = api.facts("Arduino_TensorFlowLite", "any").unwrap();
    let found: Vec<(u32, &str, String)> = official
        .violations(OLD_STYLE)
        .into_iter()
        .map(|v| (v.line, v.kind, v.name))
        .collect();
    assert_eq!(
        found,
        [
            (
                3,
                "header",
                "tensorflow/lite/micro/all_ops_resolver.h".to_owned()
            ),
            (
                4,
                "header",
                "tensorflow/lite/micro/micro_error_reporter.h".to_owned()
            ),
            (5, "header", "tensorflow/lite/version.h".to_owned()),
            (9, "symbol", "MicroErrorReporter".to_owned()),
            (10, "symbol", "AllOpsResolver".to_owned()),
            (11, "symbol", "AddBuiltin".to_owned()),
            (11, "symbol", "ops::micro".to_owned()),
        ]
    );
}

#[test]
fn chirale_still_has_all_ops_resolver_but_not_version_h() {
    let api = TinyMlApi::builtin();
    let chirale = api.facts("Chirale_TensorFLowLite", "2.0.0").unwrap();
    let violations = chirale.violations(OLD_STYLE);
    let names: Vec<&str> = violations.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            // 2.0.0 renamed its main header to Chirale_TensorFlowLite.h.
            "TensorFlowLite.h",
            "tensorflow/lite/micro/micro_error_reporter.h",
            "tensorflow/lite/version.h",
            "AddBuiltin",
            "ops::micro"
        ]
    );
    assert!(
        violations[2].message.contains("schema_generated.h"),
        "{}",
        violations[2].message
    );
}

#[test]
fn an_invalid_facts_file_is_rejected() {
    let error = TinyMlApi::parse(
        std::path::Path::new("x.toml"),
        "[[library]]\nname = \"L\"\nversions = []\nmain_header = \"L.h\"\n",
    )
    .unwrap_err();
    assert!(error.to_string().contains("lists no version"), "{error}");
}
