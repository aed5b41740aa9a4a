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
