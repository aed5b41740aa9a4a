//! The shipped examples: app files load, the fruit header matches our converter, and the
//! hand-written demo answers (color_uno, fruit_to_emoji) pass spec validation, extraction and the
//! prechecks.

use autopilot_orchestrator::session::TargetView;
use autopilot_steps::{
    App, ModelKind, PrecheckInput, SpecRules, extract_code, run_prechecks, spec_template,
    tflite_to_header, validate_spec,
};
use autopilot_toolchain::{LibraryCatalog, TinyMlApi};
use serde::Deserialize;

use crate::support::{examples_dir, load_target, mutant_body};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoAnswers {
    answer: Vec<DemoAnswer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoAnswer {
    stage: String,
    attempt: u32,
    text: String,
}

fn demo_answers(example: &str) -> Vec<DemoAnswer> {
    let path = examples_dir().join(example).join("demo-answers.toml");
    let text = fs_err::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# HAND-WRITTEN DEMO ANSWERS, NOT MODEL OUTPUT."),
        "the file must say what it is"
    );
    toml::from_str::<DemoAnswers>(&text).unwrap().answer
}

fn answer<'a>(answers: &'a [DemoAnswer], stage: &str, attempt: u32) -> &'a str {
    &answers
        .iter()
        .find(|a| a.stage == stage && a.attempt == attempt)
        .unwrap_or_else(|| panic!("no {stage} answer for attempt {attempt}"))
        .text
}

#[test]
fn the_fruit_example_loads_and_its_header_is_our_conversion() {
    let dir = examples_dir().join("fruit_to_emoji");
    let app = App::load(&dir.join("app.toml")).unwrap();
    assert_eq!(app.target, "nano33ble_sense");
    assert_eq!(app.classes, ["apple", "banana", "orange"]);
    assert_eq!(app.dataset.files.len(), 3);
    for file in &app.dataset.files {
        assert!(
            (60..=100).contains(&file.rows),
            "{}: {} rows",
            file.file,
            file.rows
        );
        let names: Vec<&str> = file.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Red", "Green", "Blue"]);
        assert!(
            file.columns
                .iter()
                .all(|c| c.min.unwrap() >= 0.0 && c.max.unwrap() <= 1.0)
        );
    }
    let model = app.model.as_ref().unwrap();
    assert_eq!(model.kind, ModelKind::Tflite);
    // make_model.py wrote model.h with the same layout as the Rust converter.
    let bytes = fs_err::read(dir.join("model.tflite")).unwrap();
    let committed = fs_err::read_to_string(dir.join("model.h")).unwrap();
    assert_eq!(
        tflite_to_header(&bytes, "g_model_data", "model.tflite").unwrap(),
        committed
    );
    assert_eq!(model.header_text, committed);
}

#[test]
fn the_uno_example_loads() {
    let app = App::load(&examples_dir().join("color_uno/app.toml")).unwrap();
    assert_eq!(app.target, "uno");
    assert_eq!(app.classes, ["red", "green", "blue", "yellow"]);
    let model = app.model.as_ref().unwrap();
    assert_eq!(model.kind, ModelKind::Dense);
    assert_eq!(model.inference_call(), Some("color_model_predict"));
    assert_eq!(app.dataset.rows(), 240);
    assert!(
        app.description.contains("simavr"),
        "the description says there is no sensor"
    );
}

#[test]
fn the_demo_spec_answer_is_a_valid_spec() {
    let app = App::load(&examples_dir().join("color_uno/app.toml")).unwrap();
    let answers = demo_answers("color_uno");
    let template = spec_template(&app);
    let validation = validate_spec(
        answer(&answers, "spec", 1),
        &template,
        &SpecRules {
            target: &app.target,
            classes: &app.classes,
            allowed_libraries: &[],
            model_kind: Some(ModelKind::Dense),
            ram_bytes: Some(2048),
        },
    );
    assert!(validation.problems.is_empty(), "{:#?}", validation.problems);
    assert_eq!(validation.spec.unwrap().serial_baud, 9600);
}

#[test]
fn the_demo_sketches_pass_extraction_and_prechecks_and_differ() {
    let app = App::load(&examples_dir().join("color_uno/app.toml")).unwrap();
    let answers = demo_answers("color_uno");
    let first = extract_code(answer(&answers, "sketch", 1)).unwrap();
    let second = extract_code(answer(&answers, "sketch", 2)).unwrap();
    assert_ne!(first.sha256, second.sha256);
    for extraction in [&first, &second] {
        let report = run_prechecks(
            &extraction.code,
            &PrecheckInput {
                model: app.model.as_ref(),
                forbidden: &[],
            },
        );
        assert!(report.passed(), "{:#?}", report.verdicts);
        for class in &app.classes {
            assert!(extraction.code.contains(&format!("\"{class}\"")), "{class}");
        }
    }
    // Attempt 1 carries the compile error the demo is about; attempt 2 fixes it.
    assert!(first.code.contains("% NUM_SAMPLES") && !first.code.contains("kNumSamples"));
    assert!(second.code.contains("% kNumSamples") && !second.code.contains("NUM_SAMPLES"));
}

#[test]
fn the_fruit_demo_spec_answer_is_a_valid_spec() {
    let app = App::load(&examples_dir().join("fruit_to_emoji/app.toml")).unwrap();
    let target = load_target(&app.target);
    let answers = demo_answers("fruit_to_emoji");
    let allowed = TargetView::new(&target, &LibraryCatalog::builtin(), &TinyMlApi::builtin())
        .facts
        .allowed_libraries;
    let validation = validate_spec(
        answer(&answers, "spec", 1),
        &spec_template(&app),
        &SpecRules {
            target: &app.target,
            classes: &app.classes,
            allowed_libraries: &allowed,
            model_kind: Some(ModelKind::Tflite),
            ram_bytes: Some(target.ram_bytes),
        },
    );
    assert!(validation.problems.is_empty(), "{:#?}", validation.problems);
    let spec = validation.spec.unwrap();
    assert_eq!(
        spec.libraries,
        ["Chirale_TensorFLowLite", "Arduino_APDS9960"]
    );
    assert_eq!(spec.tensor_arena_bytes, Some(4096));
    assert_eq!(spec.classes, app.classes);
}

#[test]
fn the_fruit_demo_sketches_are_the_raw_counts_mutant_then_the_example_sketch() {
    let dir = examples_dir().join("fruit_to_emoji");
    let app = App::load(&dir.join("app.toml")).unwrap();
    let forbidden = TargetView::new(
        &load_target(&app.target),
        &LibraryCatalog::builtin(),
        &TinyMlApi::builtin(),
    )
    .forbidden;
    assert!(!forbidden.is_empty(), "Chirale 2.0.0 has API facts");
    let answers = demo_answers("fruit_to_emoji");
    let first = extract_code(answer(&answers, "sketch", 1)).unwrap();
    let second = extract_code(answer(&answers, "sketch", 2)).unwrap();
    let example = fs_err::read_to_string(dir.join("fruit_to_emoji.ino")).unwrap();
    assert_eq!(first.code.trim_end(), mutant_body("raw_counts").trim_end());
    assert_eq!(second.code.trim_end(), example.trim_end());
    assert_eq!(mutant_body("correct"), example);
    for extraction in [&first, &second] {
        let report = run_prechecks(
            &extraction.code,
            &PrecheckInput {
                model: app.model.as_ref(),
                forbidden: &forbidden,
            },
        );
        assert!(report.passed(), "{:#?}", report.verdicts);
        for class in &app.classes {
            assert!(extraction.code.contains(&format!("\"{class}\"")), "{class}");
        }
    }
    // The repair is the preprocessing the model was trained on.
    assert!(first.code.contains("input->data.f[0] = r;"));
    assert!(second.code.contains("input->data.f[0] = r / sum;"));
}
