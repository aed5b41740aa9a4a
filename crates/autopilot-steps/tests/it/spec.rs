//! The spec template, JSON extraction and typed validation.

use autopilot_steps::{
    App, FILL_MARKER, ModelKind, SpecCheck, SpecRules, extract_json, spec_template,
    spec_template_for, validate_spec,
};
use autopilot_trace::Stage;
use serde_json::{Value, json};

use crate::support::dense_app;

fn app() -> App {
    let (dir, toml) = dense_app();
    let app = dir.load(&toml).unwrap();
    // The app keeps what it needs in memory; the directory may go.
    drop(dir);
    app
}

fn allowed() -> Vec<String> {
    vec!["Arduino_APDS9960".to_owned(), "Arduino_LSM9DS1".to_owned()]
}

fn rules<'a>(app: &'a App, allowed: &'a [String]) -> SpecRules<'a> {
    SpecRules {
        target: &app.target,
        classes: &app.classes,
        allowed_libraries: allowed,
        model_kind: Some(ModelKind::Dense),
        ram_bytes: Some(2048),
    }
}

/// The template with every fill-in filled.
fn filled(template: &Value) -> Value {
    let mut spec = template.clone();
    spec["application"]["purpose"] = json!("Predict left or right from two numbers.");
    spec["board"]["name"] = json!("Arduino Uno");
    spec["libraries"] = json!([]);
    spec["sensor"] = json!({"name": "fixed table", "reading": "next row of a const table", "sample_interval_ms": 500});
    spec["preprocessing"] = json!(["none: the table holds model inputs"]);
    spec["inference"]["call"] = json!("int c = tiny_predict(sample);");
    spec["output"]["serial_baud"] = json!(9600);
    spec["output"]["line_format"] = json!("the class name alone");
    spec
}

fn as_answer(value: &Value) -> String {
    format!(
        "Here it is:\n```json\n{}\n```\n",
        serde_json::to_string_pretty(value).unwrap()
    )
}

#[test]
fn the_template_holds_facts_and_fill_ins() {
    let app = app();
    let template = spec_template(&app);
    assert_eq!(template["board"]["target"], "uno");
    assert_eq!(template["output"]["classes"], json!(["left", "right"]));
    assert_eq!(template["model"]["header"], "tiny.h");
    assert_eq!(template["model"]["predict_function"], "tiny_predict");
    assert_eq!(template["model"]["input"], "float32[1, 2]");
    assert!(
        template["output"]["serial_baud"]
            .as_str()
            .unwrap()
            .starts_with(FILL_MARKER)
    );
    assert!(
        template["inference"].get("tensor_arena_bytes").is_none(),
        "no arena for a dense model"
    );
}

#[test]
fn a_filled_spec_validates_into_a_typed_spec() {
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let mut answer = filled(&template);
    // Facts may differ in spacing and case.
    answer["model"]["input"] = json!("Float32[1,2]");
    let validation = validate_spec(&as_answer(&answer), &template, &rules(&app, &allowed));
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    let spec = validation.spec.as_ref().unwrap();
    assert_eq!(spec.serial_baud, 9600);
    assert_eq!(spec.sample_interval_ms, 500);
    assert_eq!(spec.classes, app.classes);
    assert!(spec.libraries.is_empty());
    let verdicts = validation.verdicts(1);
    assert_eq!(verdicts.len(), SpecCheck::ALL.len());
    assert!(verdicts.iter().all(|v| v.passed && v.stage == Stage::Spec));
}

#[test]
fn a_session_on_another_target_holds_the_spec_to_that_target() {
    // `run --target nano` on an uno app: the template states nano, an answer that keeps it
    // passes, one that goes back to the app's board fails.
    let app = app();
    let allowed = allowed();
    let template = spec_template_for(&app, "nano");
    assert_eq!(template["board"]["target"], "nano");
    let rules = SpecRules {
        target: "nano",
        ..rules(&app, &allowed)
    };
    let spec = filled(&template);
    let validation = validate_spec(&as_answer(&spec), &template, &rules);
    assert!(validation.is_valid(), "{:#?}", validation.problems);
    assert_eq!(validation.spec.unwrap().target, "nano");

    let mut back = spec.clone();
    back["board"]["target"] = json!("uno");
    let validation = validate_spec(&as_answer(&back), &template, &rules);
    assert!(
        validation
            .problems
            .iter()
            .any(|p| p.check == SpecCheck::Target
                && p.message == "is `uno` but this session builds for target `nano`"),
        "{:#?}",
        validation.problems
    );
}

#[test]
fn every_problem_is_listed_exactly() {
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let mut spec = filled(&template);
    spec["board"]["target"] = json!("nano33ble");
    spec["libraries"] = json!(["arduino_apds9960", "TensorFlowLite.h", "Arduino_APDS9960"]);
    spec["sensor"]["sample_interval_ms"] =
        json!("<fill: integer: milliseconds between two predictions>");
    spec["output"]["serial_baud"] = json!(9601);
    spec["output"]["classes"] = json!(["left", "up"]);
    spec["model"]["header"] = json!("model.h");
    spec["inference"]["call"] = json!("{decide_when_generating_code}");
    spec["preprocessing"] = json!("scale");
    spec["application"]
        .as_object_mut()
        .unwrap()
        .remove("purpose");
    let validation = validate_spec(&as_answer(&spec), &template, &rules(&app, &allowed));
    assert!(!validation.is_valid());
    let listed: Vec<String> = validation
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    let expect = |path: &str, check: SpecCheck, fragment: &str| {
        assert!(
            validation
                .problems
                .iter()
                .any(|p| p.path == path && p.check == check && p.message.contains(fragment)),
            "no {check:?} problem at {path} with {fragment:?} in {listed:#?}"
        );
    };
    expect(
        "board.target",
        SpecCheck::Target,
        "this session builds for target `uno`",
    );
    expect("libraries[1]", SpecCheck::Libraries, "is a header");
    expect("libraries[2]", SpecCheck::Libraries, "listed twice");
    expect(
        "sensor.sample_interval_ms",
        SpecCheck::Placeholders,
        "still a fill-in",
    );
    expect(
        "output.serial_baud",
        SpecCheck::Fields,
        "not a standard baud rate",
    );
    expect(
        "output.classes",
        SpecCheck::Classes,
        "missing right; not classes: up",
    );
    expect("model.header", SpecCheck::Facts, "must stay \"tiny.h\"");
    expect(
        "inference.call",
        SpecCheck::Placeholders,
        "still a placeholder",
    );
    expect(
        "preprocessing",
        SpecCheck::Fields,
        "must be a list of strings",
    );
    expect("application.purpose", SpecCheck::Fields, "is missing");
    // A fill-in is reported once, as a placeholder, not again as a wrong type.
    assert_eq!(
        validation
            .problems
            .iter()
            .filter(|p| p.path == "sensor.sample_interval_ms")
            .count(),
        1
    );
    let failed: Vec<String> = validation
        .verdicts(2)
        .into_iter()
        .filter(|v| !v.passed)
        .map(|v| v.check)
        .collect();
    assert_eq!(
        failed,
        [
            "spec.fields",
            "spec.placeholders",
            "spec.facts",
            "spec.target",
            "spec.libraries",
            "spec.classes"
        ]
    );
}

#[test]
fn library_names_match_ignoring_case_and_take_the_allow_list_spelling() {
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let mut spec = filled(&template);
    spec["libraries"] = json!(["arduino_lsm9ds1"]);
    let validation = validate_spec(&as_answer(&spec), &template, &rules(&app, &allowed));
    assert_eq!(validation.spec.unwrap().libraries, vec!["Arduino_LSM9DS1"]);
    let none: Vec<String> = Vec::new();
    let validation = validate_spec(&as_answer(&spec), &template, &rules(&app, &none));
    assert!(
        validation.problems[0]
            .message
            .contains("no libraries are available for this target; use []")
    );
}

#[test]
fn a_tflite_spec_needs_an_arena_that_fits_in_ram() {
    let app = app();
    let allowed = allowed();
    let mut template = spec_template(&app);
    template["inference"]["tensor_arena_bytes"] = json!("<fill: integer: bytes>");
    let mut spec = filled(&template);
    spec["inference"]["tensor_arena_bytes"] = json!(4096);
    let tflite_rules = SpecRules {
        model_kind: Some(ModelKind::Tflite),
        ..rules(&app, &allowed)
    };
    let validation = validate_spec(&as_answer(&spec), &template, &tflite_rules);
    let problem = &validation.problems[0];
    assert_eq!(problem.path, "inference.tensor_arena_bytes");
    assert!(
        problem.message.contains("between 256 and 2048"),
        "{problem}"
    );
    spec["inference"]["tensor_arena_bytes"] = json!("1024");
    let validation = validate_spec(&as_answer(&spec), &template, &tflite_rules);
    assert_eq!(
        validation.spec.unwrap().tensor_arena_bytes,
        Some(1024),
        "numeric strings are accepted"
    );
}

#[test]
fn json_is_found_in_fences_or_bare_text() {
    let object = json!({"a": {"b": [1, 2]}});
    assert_eq!(
        extract_json("```json\n{\"a\": {\"b\": [1, 2]}}\n```").unwrap(),
        object
    );
    assert_eq!(
        extract_json("```\n{\"a\": {\"b\": [1, 2]}}\n```").unwrap(),
        object
    );
    assert_eq!(
        extract_json("Sure! {\"a\": {\"b\": [1, 2]}} Hope it helps {}").unwrap(),
        object
    );
    assert_eq!(
        extract_json("<think>{\"draft\": true}</think>```json\n{\"a\": {\"b\": [1, 2]}}\n```")
            .unwrap(),
        object
    );
    // A ```json block that does not parse is reported with serde's line and column.
    let problem = extract_json("```json\n{\"a\": 1,}\n```").unwrap_err();
    assert_eq!(problem.check, SpecCheck::Json);
    assert!(
        problem.message.contains("not valid JSON") && problem.message.contains("line 1"),
        "{}",
        problem.message
    );
    let problem = extract_json("No JSON here.").unwrap_err();
    assert!(problem.message.contains("holds no JSON object"));
}

#[test]
fn an_answer_without_json_fails_only_the_json_check() {
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let validation = validate_spec(
        "I need more information.",
        &template,
        &rules(&app, &allowed),
    );
    assert_eq!(validation.checked, vec![SpecCheck::Json]);
    let verdicts = validation.verdicts(1);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].check, "spec.json");
    assert!(!verdicts[0].passed);
}

/// The spec answers quoted in the published logs (after "The last response was:").
fn logged_spec_answers() -> Option<Vec<String>> {
    let logs = crate::support::corpus_logs()?;
    let mut answers = Vec::new();
    for entry in fs_err::read_dir(logs).unwrap() {
        let text = fs_err::read_to_string(entry.unwrap().path()).unwrap();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let starts_record =
                line.len() > 23 && line.as_bytes()[4] == b'-' && line.as_bytes()[19] == b',';
            if starts_record {
                answers.extend(current.take());
            } else if let Some(answer) = current.as_mut() {
                answer.push('\n');
                answer.push_str(line);
            }
            if let Some((_, rest)) = line.split_once("The last response was:") {
                answers.extend(current.take());
                current = Some(rest.trim_start().to_owned());
            }
        }
        answers.extend(current);
    }
    Some(answers)
}

#[test]
fn the_spec_answers_of_the_published_logs_are_parsed_and_rejected_exactly() {
    let Some(answers) = logged_spec_answers() else {
        return;
    };
    assert!(answers.len() > 100, "found {} answers", answers.len());
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let mut parsed = 0;
    for answer in &answers {
        match extract_json(answer) {
            Ok(_) => parsed += 1,
            // The rest are really broken (`...` elisions, fragments, prose): each is named
            // with serde's position, or as holding no object.
            Err(problem) => assert!(
                problem.message.contains(" at line ")
                    || problem.message.contains("holds no JSON object"),
                "{}",
                problem.message
            ),
        }
        // They follow the original's spec format, not ours: every one is rejected, with
        // exact problems.
        let validation = validate_spec(answer, &template, &rules(&app, &allowed));
        assert!(!validation.is_valid());
        assert!(!validation.problems.is_empty());
    }
    assert!(
        parsed * 3 >= answers.len() * 2,
        "only {parsed} of {} answers parsed",
        answers.len()
    );
}

#[test]
fn the_spec_check_is_semantic_as_well_as_structural() {
    // Three answers a real small model (SmolLM2-135M on llama.cpp) gave, each structurally
    // valid: before, all three passed.
    let app = app();
    let allowed = allowed();
    let template = spec_template(&app);
    let cases = [
        (
            "inference",
            "call",
            json!("1.1.1.1.1.1.1.1"),
            "inference.call",
        ),
        ("board", "name", json!("uno"), "board.name"),
        (
            "output",
            "line_format",
            json!("float32"),
            "output.line_format",
        ),
        (
            "output",
            "line_format",
            json!("int8_t[1, 4]"),
            "output.line_format",
        ),
    ];
    for (section, field, value, path) in cases {
        let mut answer = filled(&template);
        answer[section][field] = value.clone();
        let validation = validate_spec(&as_answer(&answer), &template, &rules(&app, &allowed));
        assert!(validation.spec.is_none(), "{value} accepted");
        assert_eq!(validation.problems.len(), 1, "{:?}", validation.problems);
        let problem = &validation.problems[0];
        assert_eq!(problem.check, SpecCheck::Semantics, "{problem}");
        assert_eq!(problem.path, path);
        let failed: Vec<_> = validation
            .verdicts(2)
            .into_iter()
            .filter(|v| !v.passed)
            .map(|v| v.check)
            .collect();
        assert_eq!(failed, ["spec.semantics"]);
    }
    // The message names what is expected.
    let mut answer = filled(&template);
    answer["inference"]["call"] = json!("predict();");
    let validation = validate_spec(&as_answer(&answer), &template, &rules(&app, &allowed));
    assert!(
        validation.problems[0].message.contains("`tiny_predict(…)`"),
        "{}",
        validation.problems[0]
    );
    // Spacing inside the call does not matter; a line format naming a class passes.
    let mut answer = filled(&template);
    answer["inference"]["call"] = json!("int c = tiny_predict (x);");
    answer["output"]["line_format"] = json!("left");
    let validation = validate_spec(&as_answer(&answer), &template, &rules(&app, &allowed));
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
}
