//! The lifecycle stages' pure parts: the data-processing plan's validation, the checks of a
//! run's declared outputs, the code picked out of an answer, and the stage prompts.

use std::path::Path;

use autopilot_steps::{
    CHECK_PLAN_EMPTY, CHECK_PLAN_KIND, CHECK_PLAN_SHAPE, CHECK_PLAN_TOO_MANY, CsvExpectation,
    FileStamp, RowBounds, StagePrompts, StageTemplate, check_csv_output, python_code, tail,
    validate_plan,
};

fn plan_answer(operations: &str) -> String {
    format!("Here is the plan.\n\n```json\n{{\"operations\": {operations}}}\n```\n")
}

#[test]
fn a_plan_of_known_operations_is_accepted_in_order() {
    let plan = validate_plan(
        &plan_answer(
            r#"[{"kind": "drop_missing", "description": "drop rows with an empty r, g or b"},
                {"kind": "normalize_labels", "description": "lowercase and trim `label`"}]"#,
        ),
        8,
    )
    .unwrap();
    let kinds: Vec<&str> = plan.operations.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(kinds, ["drop_missing", "normalize_labels"]);
}

/// The original reported success with zero operations done; an empty plan is refused.
#[test]
fn zero_operations_is_a_problem_never_a_plan() {
    let problems = validate_plan(&plan_answer("[]"), 8).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].check, CHECK_PLAN_EMPTY);
}

#[test]
fn plans_over_the_bound_with_unknown_kinds_or_without_descriptions_are_refused() {
    let many = [r#"{"kind": "deduplicate", "description": "x"}"#; 4].join(",");
    let problems = validate_plan(&plan_answer(&format!("[{many}]")), 3).unwrap_err();
    assert_eq!(problems[0].check, CHECK_PLAN_TOO_MANY);
    let problems = validate_plan(
        &plan_answer(
            r#"[{"kind": "train_model", "description": "fit it"}, {"kind": "deduplicate"}]"#,
        ),
        8,
    )
    .unwrap_err();
    let checks: Vec<&str> = problems.iter().map(|p| p.check).collect();
    assert_eq!(checks, [CHECK_PLAN_KIND, CHECK_PLAN_SHAPE]);
    assert!(problems[0].message.contains("train_model"), "{problems:?}");
    let problems = validate_plan("```json\n{\"steps\": []}\n```", 8).unwrap_err();
    assert_eq!(problems[0].check, CHECK_PLAN_SHAPE);
}

fn expectation() -> CsvExpectation {
    CsvExpectation {
        columns: vec!["r".into(), "g".into(), "label".into()],
        numeric: vec!["r".into(), "g".into()],
        label_column: Some("label".into()),
        labels: vec!["apple".into(), "banana".into()],
        rows: Some(RowBounds {
            min: 2,
            max: Some(10),
        }),
    }
}

fn failed_checks(dir: &Path, before: Option<&FileStamp>) -> Vec<String> {
    check_csv_output(dir, "out.csv", before, &expectation(), 1)
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.check.clone())
        .collect()
}

#[test]
fn a_good_output_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("out.csv"),
        "r,g,label\n0.5,0.3,apple\n0.4,0.4,banana\n",
    )
    .unwrap();
    let report = check_csv_output(dir.path(), "out.csv", None, &expectation(), 1);
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.rows, Some(2));
    let ids: Vec<&str> = report.checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        ids,
        [
            "output.exists",
            "output.nonempty",
            "output.fresh",
            "output.csv",
            "output.columns",
            "output.rows",
            "output.numeric",
            "output.numeric",
            "output.labels"
        ]
    );
}

/// The original set the next dataset path to a file that was never written; a missing
/// declared output fails the run.
#[test]
fn a_missing_declared_output_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(failed_checks(dir.path(), None), ["output.exists"]);
}

#[test]
fn an_output_the_run_did_not_write_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    fs_err::write(&path, "r,g,label\n0.5,0.3,apple\n0.4,0.4,banana\n").unwrap();
    let before = FileStamp::of(&path).unwrap();
    assert_eq!(failed_checks(dir.path(), Some(&before)), ["output.fresh"]);
}

#[test]
fn wrong_columns_rows_numbers_and_labels_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| fs_err::write(dir.path().join("out.csv"), text).unwrap();
    write("");
    assert_eq!(failed_checks(dir.path(), None), ["output.nonempty"]);
    write("r,label\n0.5,apple\n0.4,banana\n");
    assert_eq!(failed_checks(dir.path(), None), ["output.columns"]);
    write("r,g,label\n0.5,0.3,apple\n");
    assert_eq!(failed_checks(dir.path(), None), ["output.rows"]);
    write("r,g,label\n0.5,,apple\n0.4,0.4,banana\n");
    assert_eq!(failed_checks(dir.path(), None), ["output.numeric"]);
    write("r,g,label\n0.5,0.3, Apple\n0.4,0.4,banana\n");
    // csv trims cells, so ` Apple` is read as `Apple`: still not the class `apple`.
    let report = check_csv_output(dir.path(), "out.csv", None, &expectation(), 1);
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].check, "output.labels");
    assert!(
        failed[0].message.contains("`Apple`"),
        "{}",
        failed[0].message
    );
    write("r,g,label\n0.5,0.3\n");
    assert_eq!(failed_checks(dir.path(), None), ["output.csv"]);
}

#[test]
fn python_code_takes_the_one_python_block() {
    let answer = "Sure.\n\n```python\nimport sys\nprint(1)\n```\n";
    assert_eq!(python_code(answer).unwrap(), "import sys\nprint(1)\n");
    assert_eq!(python_code("```\nx = 1\n```").unwrap(), "x = 1\n");
    assert_eq!(python_code("no code"), None);
    assert_eq!(python_code("```python\na\n```\n```python\nb\n```"), None);
}

#[test]
fn tail_keeps_the_last_lines_within_the_byte_bound() {
    let text = "one\ntwo\nthree\nfour";
    assert_eq!(tail(text, 2, 100), "three\nfour");
    assert_eq!(tail(text, 10, 6), "…e\nfour");
}

/// Every stage template renders with strict undefined variables, and the prompts carry what the
/// LLM must see (the goal, the operation, the traceback of a failed run, the dtypes asked).
#[test]
fn every_stage_template_renders() {
    let prompts = StagePrompts::new();
    let app = serde_json::json!({"name": "fruit", "description": "fruit by colour", "classes": ["apple", "banana"]});
    let plan = serde_json::json!([{"kind": "drop_missing", "description": "drop empty rows"}]);
    let dp = serde_json::json!({
        "app": app, "goal": "clean it", "raw": "raw.csv", "summary": "raw.csv: 3 rows",
        "features": ["r", "g"], "label_column": "label", "max_operations": 8,
        "kinds": autopilot_steps::OPERATION_KINDS, "previous_answer": "{}",
        "problems": ["the plan has no operation"], "plan": plan,
        "operation": {"index": 1, "total": 1, "kind": "drop_missing", "description": "drop empty rows", "last": true},
        "code": "import pandas", "traceback": "KeyError: 'r'",
    });
    for template in [
        StageTemplate::DpPlan,
        StageTemplate::DpPlanRepair,
        StageTemplate::DpCode,
        StageTemplate::DpRepair,
    ] {
        let messages = prompts.messages("dp", template, &dp).unwrap();
        assert!(messages[0].content.contains("data engineer"));
        assert!(
            messages[1].content.contains("clean it"),
            "{}",
            template.name()
        );
    }
    let repair = prompts.render_one(StageTemplate::DpRepair, &dp).unwrap();
    assert!(repair.contains("KeyError: 'r'") && repair.contains("import pandas"));
    let mc = serde_json::json!({
        "app": app, "features": ["r", "g"], "label_column": "label",
        "target": {"name": "nano33ble_sense", "flash_bytes": 983_040, "model_budget_bytes": 400_000},
        "model": {"input_dtype": "int8", "output_dtype": "int8", "quantize": true},
        "code": "import tensorflow", "traceback": "", "problems": ["input type is float32, not int8"],
    });
    for template in [StageTemplate::McCode, StageTemplate::McRepair] {
        let text = prompts.render_one(template, &mc).unwrap();
        assert!(text.contains("input tensor type: int8"), "{text}");
        assert!(text.contains("representative"), "{text}");
    }
    let missing = prompts.render_one(StageTemplate::McCode, &serde_json::json!({"app": app}));
    assert!(missing.is_err());
}

fn fruit_app(quantize: bool) -> autopilot_steps::App {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/fruit_to_emoji/app.toml");
    let mut app = autopilot_steps::App::load(&path).unwrap();
    if let Some(pipeline) = app.pipeline.as_mut() {
        pipeline.quantize = quantize;
    }
    app
}

/// What the evaluation script reports for the example's float32 model (measured by
/// `python/autopilot_eval.py` on examples/fruit_to_emoji/model.tflite).
fn float_report(ops: &[&str]) -> autopilot_steps::ModelReport {
    serde_json::from_value(serde_json::json!({
        "loaded": true, "error": null, "interpreter": "ai_edge_litert",
        "input": {"name": "serving_default_rgb:0", "dtype": "float32", "shape": [1, 3], "quantization": null},
        "output": {"name": "StatefulPartitionedCall_1:0", "dtype": "float32", "shape": [1, 3], "quantization": null},
        "ops": ops, "float_tensors": 6, "size_bytes": 1972,
        "tflite_accuracy": 1.0, "keras_accuracy": 1.0, "keras_error": null, "rows": 45,
    }))
    .unwrap()
}

fn failed(app: &autopilot_steps::App, report: &autopilot_steps::ModelReport) -> Vec<&'static str> {
    let supported = autopilot_steps::tflm_supported(&report.ops);
    let requirements = autopilot_steps::model_requirements(app, 983_040, Some(supported)).unwrap();
    autopilot_steps::judge(report, &requirements)
        .failures
        .iter()
        .map(autopilot_steps::ModelFailure::check)
        .collect()
}

#[test]
fn the_example_app_has_its_pipeline_section() {
    let app = fruit_app(false);
    let pipeline = app.pipeline.as_ref().unwrap();
    assert_eq!(pipeline.features, ["Red", "Green", "Blue"]);
    assert_eq!(pipeline.label_column, "label");
    assert!(pipeline.raw.is_file() && pipeline.keras.is_file() && pipeline.held_out.is_file());
    assert_eq!(
        failed(&app, &float_report(&["FULLY_CONNECTED", "SOFTMAX"])),
        Vec::<&str>::new()
    );
}

/// The original never looked at the converted model: a float model where a quantized one was
/// asked for, or int8 tensors where the sketch feeds floats, passed. Both are refused here.
#[test]
fn an_unquantized_model_is_refused_when_int8_is_asked() {
    let mut app = fruit_app(true);
    let checks = failed(&app, &float_report(&["FULLY_CONNECTED", "SOFTMAX"]));
    assert_eq!(checks, ["model.not_quantized"]);
    // The app asks for int8 tensors: the float model has the wrong dtypes too.
    if let Some(model) = app.model.as_mut() {
        model.input.dtype = autopilot_steps::DType::Int8;
        model.output.dtype = autopilot_steps::DType::Int8;
    }
    let checks = failed(&app, &float_report(&["FULLY_CONNECTED", "SOFTMAX"]));
    assert_eq!(
        checks,
        [
            "model.wrong_input_dtype",
            "model.wrong_output_dtype",
            "model.not_quantized"
        ]
    );
}

/// A model converted with `SELECT_TF_OPS` needs TensorFlow ops TFLM cannot register.
#[test]
fn an_op_the_device_lacks_is_refused() {
    let app = fruit_app(false);
    let checks = failed(
        &app,
        &float_report(&["FULLY_CONNECTED", "FlexErf", "SOFTMAX"]),
    );
    assert_eq!(checks, ["model.unsupported_op"]);
    assert_eq!(
        autopilot_steps::tflm_supported(&[
            "FULLY_CONNECTED".into(),
            "FlexErf".into(),
            "CUSTOM".into()
        ]),
        ["FULLY_CONNECTED"]
    );
}

/// The flash budget is half the board's flash: a model over it is refused.
#[test]
fn a_model_over_the_flash_budget_is_refused() {
    let app = fruit_app(false);
    let mut report = float_report(&["FULLY_CONNECTED", "SOFTMAX"]);
    report.size_bytes = 600_000;
    assert_eq!(autopilot_steps::model_budget(983_040), 491_520);
    assert_eq!(failed(&app, &report), ["model.too_large"]);
}
