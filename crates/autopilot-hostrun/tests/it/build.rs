//! The host build and run for real: g++, arduino-ctags, the host TFLM library and the
//! Chirale_TensorFLowLite 2.0.0 profile; the correct fruit_to_emoji sketch passes, broken ones
//! get the verdict their defect deserves, and compile errors come back as parsed diagnostics.

use autopilot_hostrun::scene::colour_scene;
use autopilot_hostrun::{CoreFamily, HostBuildOutcome, HostSensor, Presentation, SensorMapping};
use autopilot_trace::HostVerdictKind;

use crate::support::{
    build, check, check_on, correct_sketch, first_error, host, root, sketch_with,
};

#[tokio::test]
async fn the_correct_sketch_builds_runs_and_passes() {
    let Some(host) = host().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), "correct", &correct_sketch());
    let (obs, verdict) = check(host, &dir).await;
    assert_eq!(verdict.kind, HostVerdictKind::Pass, "{}", verdict.summary);
    assert_eq!(verdict.objects, 225);
    assert_eq!(verdict.invokes, 225, "one inference per presented object");
    assert_eq!(verdict.invokes_without_object, 0);
    assert!(
        verdict.printed_accuracy.unwrap() > 0.9,
        "{}",
        verdict.summary
    );
    assert_eq!(verdict.printed_accuracy, verdict.model_accuracy);
    assert!(verdict.max_input_deviation.unwrap() < 0.01);
    assert!(verdict.arena_used_bytes.unwrap() > 0);
    assert_eq!(obs.end_reason.as_deref(), Some("dataset_presented"));
    assert!(obs.serial.iter().any(|l| l.text.starts_with("apple")));
}

/// The correct sketch with one edit; panics when the edit does not apply.
fn mutate(from: &str, to: &str) -> String {
    let code = correct_sketch();
    assert!(
        code.contains(from),
        "the fixture no longer contains {from:?}"
    );
    code.replacen(from, to, 1)
}

async fn verdict_of(name: &str, code: &str) -> Option<(HostVerdictKind, String)> {
    let host = host().await?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), name, code);
    let (_, verdict) = check(host, &dir).await;
    Some((verdict.kind, verdict.summary))
}

#[tokio::test]
async fn class_names_in_the_wrong_order_are_wrong_output() {
    let code = mutate(
        r#"{"apple", "banana", "orange"}"#,
        r#"{"banana", "orange", "apple"}"#,
    );
    let Some((kind, summary)) = verdict_of("wrong_order", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::WrongOutput, "{summary}");
    assert!(summary.contains("the model itself says"), "{summary}");
}

#[tokio::test]
async fn an_unregistered_softmax_is_op_missing() {
    let code = mutate("  resolver.AddSoftmax();\n", "");
    let Some((kind, summary)) = verdict_of("no_softmax", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::OpMissing, "{summary}");
    assert!(summary.contains("SOFTMAX"), "{summary}");
}

#[tokio::test]
async fn raw_counts_instead_of_proportions_are_wrong_input() {
    let code = mutate("input->data.f[0] = r / sum;", "input->data.f[0] = r;")
        .replacen("input->data.f[1] = g / sum;", "input->data.f[1] = g;", 1)
        .replacen("input->data.f[2] = b / sum;", "input->data.f[2] = b;", 1);
    let Some((kind, summary)) = verdict_of("raw_counts", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::WrongInput, "{summary}");
}

#[tokio::test]
async fn inference_without_proximity_gating_predicts_without_object() {
    let code = mutate("  if (object_seen) return;\n", "").replacen(
        "  if (p > 0) {\n    object_seen = false;\n    return;\n  }\n",
        "",
        1,
    );
    let Some((kind, summary)) = verdict_of("no_gating", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::PredictsWithoutObject, "{summary}");
}

#[tokio::test]
async fn printing_without_invoke_is_no_invoke() {
    let code = mutate(
        "  if (interpreter->Invoke() != kTfLiteOk) {",
        "  if (false) {",
    );
    let Some((kind, summary)) = verdict_of("no_invoke", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::NoInvoke, "{summary}");
    assert!(summary.contains("class names were printed"), "{summary}");
}

#[tokio::test]
async fn a_tiny_arena_fails_allocation() {
    let code = mutate(
        "constexpr int kArenaSize = 4 * 1024;",
        "constexpr int kArenaSize = 256;",
    );
    let Some((kind, summary)) = verdict_of("tiny_arena", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::AllocateFailed, "{summary}");
}

#[tokio::test]
async fn a_sketch_that_hangs_in_setup_is_blocked_in_setup() {
    let code = mutate("  while (!Serial) {}\n", "  while (true) {}\n");
    let Some((kind, summary)) = verdict_of("hang", &code).await else {
        return;
    };
    assert_eq!(kind, HostVerdictKind::BlockedInSetup, "{summary}");
}

async fn first_error_of(name: &str, code: &str, family: CoreFamily) -> Option<String> {
    let host = host().await?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), name, code);
    let built = build(host, &dir, family).await;
    Some(first_error(&built))
}

#[tokio::test]
async fn the_2020_interpreter_constructor_does_not_compile_for_chirale_2() {
    let code = mutate(
        "static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, kArenaSize);",
        "static tflite::MicroErrorReporter reporter;\n  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, kArenaSize, &reporter);",
    );
    let Some(error) = first_error_of("old_api", &code, CoreFamily::Mbed).await else {
        return;
    };
    assert!(
        error.contains("'MicroErrorReporter' in namespace 'tflite' does not name a type"),
        "{error}"
    );
}

#[tokio::test]
async fn a_header_chirale_lacks_fails_like_on_the_board() {
    let code = mutate(
        "#include \"model.h\"",
        "#include \"model.h\"\n#include \"tensorflow/lite/version.h\"",
    );
    let Some(error) = first_error_of("version_h", &code, CoreFamily::Mbed).await else {
        return;
    };
    assert!(
        error.contains("tensorflow/lite/version.h: No such file or directory"),
        "{error}"
    );
}

#[tokio::test]
async fn serial_printf_fails_on_mbed_and_builds_on_esp32() {
    let code = mutate(
        "  Serial.print(CLASSES[best]);",
        "  Serial.printf(\"%s\", CLASSES[best]);",
    );
    let Some(error) = first_error_of("printf", &code, CoreFamily::Mbed).await else {
        return;
    };
    assert!(
        error.contains("'class arduino::UART' has no member named 'printf'"),
        "{error}"
    );
    let Some(host) = host().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), "printf", &code);
    let built = build(host, &dir, CoreFamily::Esp32).await;
    assert!(
        matches!(built.outcome, HostBuildOutcome::Built { .. }),
        "{}",
        first_error(&built)
    );
}

#[tokio::test]
async fn functions_used_before_their_definition_get_prototypes() {
    let code = format!(
        "{}\nvoid report(int best) {{\n  Serial.println(CLASSES[best]);\n}}\n",
        mutate("  Serial.print(CLASSES[best]);", "  report(best);")
    );
    let Some(error) = first_error_of("prototypes", &code, CoreFamily::Mbed).await else {
        return;
    };
    assert_eq!(error, "built");
}

#[tokio::test]
async fn a_shorter_presentation_from_the_app_changes_the_run() {
    let Some(host) = host().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), "short", &correct_sketch());
    // The app's [host] section as the session passes it: named columns, a shorter presentation.
    let mapping = SensorMapping {
        sensor: HostSensor::Apds9960Colour,
        columns: vec!["Red".into(), "Green".into(), "Blue".into()],
        label_column: None,
        presentation: Presentation {
            dwell_ms: 400,
            gap_ms: 200,
            ..Presentation::default()
        },
    };
    let classes = ["apple", "banana", "orange"];
    let files: Vec<_> = (0..classes.len())
        .map(|i| {
            let file = format!("examples/fruit_to_emoji/data/{}.csv", classes[i]);
            (root().join(file), Some(i))
        })
        .collect();
    let classes = classes.iter().map(|c| (*c).to_owned()).collect();
    let scene = colour_scene(&files, classes, &mapping).expect("the scene");
    let default_period_us = 2_500_000;
    let (obs, verdict) = check_on(host, &dir, &scene).await;
    assert_eq!(verdict.kind, HostVerdictKind::Pass, "{}", verdict.summary);
    // Every inference falls inside its object's window of the new presentation: gap, then dwell.
    let period_us = 600_000;
    for invoke in &obs.invokes {
        let object = invoke.object.expect("inferences only with an object") as u64;
        let start = object * period_us + 200_000;
        assert!(
            (start..start + 400_000).contains(&invoke.t_us),
            "invoke at {} us is outside object {object}'s window",
            invoke.t_us
        );
    }
    let last = obs.invokes.last().expect("invokes").t_us;
    assert!(last < 225 * period_us && last < 224 * default_period_us);
}
