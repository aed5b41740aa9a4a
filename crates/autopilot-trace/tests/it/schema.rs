//! The committed JSON Schema must equal the one generated from the types.

use std::path::PathBuf;

fn committed_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/trace-schema.json")
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = serde_json::to_string_pretty(&autopilot_trace::json_schema()).unwrap() + "\n";
    let path = committed_schema_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        fs_err::write(&path, &generated).unwrap();
    }
    let committed = fs_err::read_to_string(&path).unwrap_or_default();
    // Compared as JSON values: key order may follow serde_json features other crates turn on.
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap_or_default();
    assert!(
        committed == autopilot_trace::json_schema(),
        "data/trace-schema.json is out of date with the trace types; regenerate it with \
         `UPDATE_SCHEMA=1 cargo test -p autopilot-trace --test it schema` and commit it"
    );
}

#[test]
fn the_schema_names_every_event_type() {
    let schema = serde_json::to_string(&autopilot_trace::json_schema()).unwrap();
    for kind in [
        "session_started",
        "llm_call",
        "compile_finished",
        "check_verdict",
        "session_finished",
        "pipeline_stage_started",
        "pipeline_stage_ended",
        "dp_operation",
        "python_run",
        "output_check",
        "model_check",
    ] {
        assert!(
            schema.contains(&format!("\"{kind}\"")),
            "{kind} missing from the schema"
        );
    }
}

/// Infrastructure kinds keep the snake_case names written before they were an enum; a kind
/// this version does not know still reads.
#[test]
fn infrastructure_kinds_keep_their_wire_names() {
    use autopilot_trace::InfraErrorKind;
    let kinds = [
        (InfraErrorKind::LlmUnreachable, "llm_unreachable"),
        (InfraErrorKind::LlmRejected, "llm_rejected"),
        (InfraErrorKind::ReplayMiss, "replay_miss"),
        (InfraErrorKind::ToolchainMissing, "toolchain_missing"),
        (InfraErrorKind::ToolchainFailed, "toolchain_failed"),
        (InfraErrorKind::Local, "local"),
        (InfraErrorKind::BackendCrash, "backend_crash"),
    ];
    for (kind, name) in kinds {
        assert_eq!(serde_json::to_value(kind).unwrap(), name);
        assert_eq!(kind.as_str(), name);
        let read: InfraErrorKind = serde_json::from_value(name.into()).unwrap();
        assert_eq!(read, kind);
    }
    let outcome: autopilot_trace::SessionOutcome = serde_json::from_str(
        r#"{"status":"infrastructure_error","kind":"quota_gone","message":"m"}"#,
    )
    .unwrap();
    assert_eq!(
        outcome,
        autopilot_trace::SessionOutcome::InfrastructureError {
            kind: InfraErrorKind::Unknown,
            message: "m".to_owned()
        }
    );
}

/// The lifecycle stages' events read back as written, with their snake_case wire names, and an
/// unmeasured accuracy stays absent (unknown), never 0.
#[test]
fn lifecycle_events_round_trip() {
    use autopilot_trace::{Event, ModelCheck, PipelineStage, PipelineStageStarted};
    let started = Event::PipelineStageStarted(PipelineStageStarted {
        pipeline: "p-1".into(),
        stage: PipelineStage::Mc,
        inputs: Vec::new(),
    });
    let line = serde_json::to_string(&started).unwrap();
    assert_eq!(
        line,
        r#"{"type":"pipeline_stage_started","pipeline":"p-1","stage":"mc"}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), started);
    let check = Event::ModelCheck(ModelCheck {
        attempt: 1,
        passed: false,
        failures: Vec::new(),
        input_dtype: None,
        output_dtype: None,
        ops: Vec::new(),
        size_bytes: None,
        tflite_accuracy: None,
        keras_accuracy: None,
    });
    let line = serde_json::to_string(&check).unwrap();
    assert!(!line.contains("accuracy"), "{line}");
    assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), check);
}
