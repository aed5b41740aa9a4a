//! Default mode: every diagnostic of every failed attempt, no bookkeeping, wrappers looked
//! through, the measured mislabels (W1–W6 of failure-taxonomy.md §3) fixed; on fixtures, on a
//! native trace and on the published corpus.

use std::collections::BTreeMap;
use std::path::PathBuf;

use autopilot_classifier::{
    ClassifiedSession, ClassifyOptions, FailureSource, Summary, Taxonomy, Unit, classify_paths,
    import_legacy_all,
};
use autopilot_trace::{
    AnswerSource, AttemptFinished, AttemptOutcome, CheckVerdict, CompileFinished, CompileStatus,
    Diagnostic, DiagnosticOrigin, Event, LlmCall, LlmCallResult, LlmErrorKind, LlmFailure,
    SamplingParams, SessionFinished, SessionId, SessionOutcome, SessionStarted, SessionTotals,
    Severity, Stage, TraceOrigin, TraceRecord,
};

use crate::support::{corpus, corpus_logs};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logs")).join(name)
}

fn classify(paths: &[PathBuf]) -> Vec<ClassifiedSession> {
    let taxonomy = Taxonomy::builtin().unwrap();
    classify_paths(paths, &taxonomy, &ClassifyOptions { threads: 2 }).unwrap()
}

/// (category id, root cause, message) of each record.
fn labels(session: &ClassifiedSession) -> Vec<(&str, &str, &str)> {
    session
        .records
        .iter()
        .map(|r| {
            (
                r.label.category_id.as_str(),
                r.label.root_cause.as_str(),
                r.message.as_str(),
            )
        })
        .collect()
}

#[test]
fn legacy_fixture_every_diagnostic_no_bookkeeping_wrappers_looked_through() {
    let sessions = classify(&[fixture("sg_demo_1a2b.log")]);
    assert_eq!(sessions.len(), 3);
    let [first, second, third] = &sessions[..] else {
        unreachable!()
    };

    let got = labels(first);
    let categories: Vec<&str> = got.iter().map(|l| l.0).collect();
    // Spec failure (W1: not a missing library), the reconstructed and the logged compile of
    // attempt 1, the no-code reply of attempt 2 (W3: the cause, not the wrapper).
    assert_eq!(
        categories,
        [
            "spec_parsing",
            "missing_libraries",
            "missing_libraries",
            "prompt_format"
        ]
    );
    assert_eq!(
        got[3].2,
        "Unsupported output format: no cpp/ino code blocks found"
    );
    assert_eq!(first.verdict.outcome, "success");
    assert!(first.verdict.final_failure.is_none());

    let got = labels(second);
    let categories: Vec<&str> = got.iter().map(|l| l.0).collect();
    assert_eq!(
        categories,
        [
            "invalid_tflite",  // conflicting declaration 'const tflite::Model* model' (W5)
            "invalid_tflite",  // 'GetMicroErrorReporter' is not a member of 'tflite' (W5)
            "symbol_api",      // no matching function for call to 'APDS9960::APDS9960()' (W6)
            "symbol_api",      // 'colorSensor' was not declared: an object, no constant (W5)
            "sensor_constant", // 'PIN' was not declared (W6)
            "invalid_tflite",  // redefinition of 'const tflite::Model* model' (W5)
            "llm_backend",     // the Ollama crash; the end-of-session marker is no failure (W2)
        ]
    );
    assert_eq!(
        got[0].1, got[5].1,
        "conflicting declaration and redefinition: one root cause"
    );
    assert!(got[1].1.contains("drift"), "{}", got[1].1);
    assert_eq!(second.verdict.outcome, "infrastructure_error");
    assert_eq!(
        second.verdict.final_failure.as_ref().unwrap().category_id,
        "llm_backend"
    );
    assert!(
        second
            .records
            .iter()
            .all(|r| !r.message.contains("In function")),
        "wrapper lines are context, not failures"
    );

    // A legacy log that stops inside a session: `truncated`, the word `import` and `report` use.
    assert_eq!(third.verdict.outcome, "truncated");
    assert!(third.records.is_empty());
    assert_eq!(third.verdict.session.model, "gpt-4o");
    assert_eq!(third.verdict.session.provider, "openai");
}

#[test]
fn vocabulary_b_sessions_are_classified_too() {
    let sessions = classify(&[fixture("sg_demo_b2025.log")]);
    let outcomes: Vec<&str> = sessions.iter().map(|s| s.verdict.outcome).collect();
    assert_eq!(outcomes, ["exhausted", "exhausted", "aborted"]);
    let got = labels(&sessions[0]);
    let categories: Vec<&str> = got.iter().map(|l| l.0).collect();
    // Spec validation, the precheck, the undefined helper; not the `Last error` copy.
    assert_eq!(
        categories,
        ["spec_parsing", "code_generation", "missing_utility"]
    );
    assert_eq!(
        got[0].2,
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"
    );
}

fn line(seq: u64, event: Event) -> String {
    let record = TraceRecord {
        v: 1,
        session: SessionId::new("native-1").unwrap(),
        seq,
        ts: format!("2026-01-01T00:00:{seq:02}.000Z"),
        event,
    };
    serde_json::to_string(&record).unwrap()
}

fn failed_call(attempt: u32, retry_in_ms: Option<u64>) -> Event {
    Event::LlmCall(LlmCall {
        stage: Stage::Sketch,
        attempt,
        retry: u32::from(retry_in_ms.is_none()),
        repeat: 0,
        provider: "ollama".into(),
        model: "phi4".into(),
        request_hash: "00".into(),
        messages: vec![],
        sampling: SamplingParams::default(),
        stream: false,
        result: LlmCallResult::Failed(LlmFailure {
            kind: LlmErrorKind::ConnectionRefused,
            transient: true,
            http_status: None,
            message: "connection refused".into(),
            retry_after_ms: None,
        }),
        latency_ms: 3,
        cost_usd: None,
        source: AnswerSource::Live,
        retry_in_ms,
    })
}

#[test]
fn native_traces_classify_diagnostics_checks_final_llm_failures_and_bare_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let sessions_dir = dir.path().join("sessions");
    fs_err::create_dir_all(&sessions_dir).unwrap();
    let diagnostic = |severity, message: &str, origin| Diagnostic {
        file: Some("sketch.ino".into()),
        line: Some(3),
        column: Some(1),
        severity,
        message: message.into(),
        origin,
        context: vec![],
        notes: vec![],
        source_line: None,
    };
    let events = vec![
        Event::SessionStarted(SessionStarted {
            app: "color".into(),
            app_path: None,
            target: "uno".into(),
            fqbn: Some("arduino:avr:uno".into()),
            provider: "ollama".into(),
            model: "phi4".into(),
            endpoint: None,
            prompt_variant: "staged".into(),
            sampling: SamplingParams::default(),
            seed: None,
            tool_versions: vec![],
            autopilot_version: "0.1.0".into(),
            batch: None,
            origin: TraceOrigin::Native,
        }),
        Event::CompileFinished(CompileFinished {
            attempt: 1,
            backend: "arduino-builder".into(),
            backend_version: None,
            fqbn: "arduino:avr:uno".into(),
            status: CompileStatus::Failed,
            diagnostics: vec![
                diagnostic(
                    Severity::Warning,
                    "unused variable 'x'",
                    DiagnosticOrigin::Compiler,
                ),
                diagnostic(
                    Severity::Error,
                    "'PIN' was not declared in this scope",
                    DiagnosticOrigin::Compiler,
                ),
                diagnostic(
                    Severity::Error,
                    "undefined reference to `loop'",
                    DiagnosticOrigin::Linker,
                ),
                diagnostic(Severity::Error, "exit status 1", DiagnosticOrigin::Tool),
            ],
            size: None,
            duration_ms: 10,
            cache_hit: false,
            input_hash: None,
            detail: None,
        }),
        failed_call(2, Some(500)),
        failed_call(2, None),
        Event::CheckVerdict(CheckVerdict {
            stage: Stage::Extract,
            attempt: 3,
            check: "extract.code_block".into(),
            passed: false,
            message: "no fenced code block in the answer".into(),
        }),
        Event::AttemptFinished(AttemptFinished {
            stage: Stage::Sketch,
            attempt: 3,
            outcome: AttemptOutcome::ExtractionFailed,
            message: "no fenced code block in the answer".into(),
        }),
        Event::AttemptFinished(AttemptFinished {
            stage: Stage::Sketch,
            attempt: 4,
            outcome: AttemptOutcome::CompileTimedOut,
            message: "compile timed out after 120 s".into(),
        }),
        // No compiler here: infrastructure, never a failure record (decided on the typed
        // status; the taxonomy has no rule for it).
        Event::CompileFinished(CompileFinished {
            attempt: 5,
            backend: "arduino-cli".into(),
            backend_version: None,
            fqbn: "arduino:avr:uno".into(),
            status: CompileStatus::ToolchainMissing,
            diagnostics: vec![],
            size: None,
            duration_ms: 0,
            cache_hit: false,
            input_hash: None,
            detail: Some("arduino-cli not found".into()),
        }),
        Event::SessionFinished(SessionFinished {
            outcome: SessionOutcome::Exhausted {
                stage: Stage::Sketch,
            },
            totals: SessionTotals::default(),
        }),
    ];
    let text: Vec<String> = events
        .into_iter()
        .zip(0..)
        .map(|(event, seq)| line(seq, event))
        .collect();
    fs_err::write(sessions_dir.join("native-1.jsonl"), text.join("\n") + "\n").unwrap();

    let sessions = classify(&[dir.path().to_owned()]);
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    let got: Vec<(FailureSource, u32, &str)> = session
        .records
        .iter()
        .map(|r| (r.source, r.attempt, r.label.category_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (FailureSource::Diagnostic, 1, "sensor_constant"),
            (FailureSource::Diagnostic, 1, "missing_main"),
            (FailureSource::Llm, 2, "llm_backend"),
            (FailureSource::Check, 3, "prompt_format"),
            (FailureSource::Attempt, 4, "code_generation"),
        ],
        "warnings, retried calls, `exit status` and attempts already explained are not counted"
    );
    assert_eq!(session.records[1].label.stage.as_str(), "link");
    assert_eq!(session.records[4].label.symptom, "Hang - Timeout");
    assert_eq!(session.verdict.outcome, "exhausted");
    assert_eq!(
        session.verdict.final_failure.as_ref().unwrap().category_id,
        "code_generation"
    );
    let info = &session.verdict.session;
    assert_eq!(
        (
            info.model.as_str(),
            info.target.as_str(),
            info.prompt_variant.as_str()
        ),
        ("phi4", "uno", "staged")
    );
}

#[test]
fn on_the_corpus_uncategorized_stays_under_one_percent_and_the_mislabels_are_fixed() {
    let Some(corpus) = corpus() else { return };
    let sessions = classify(&[corpus.join("raw_logs")]);
    assert_eq!(sessions.len(), 214);
    let taxonomy = Taxonomy::builtin().unwrap();
    let mut summary = Summary::new(&taxonomy, Unit::Diagnostic);
    for s in &sessions {
        summary.add(s);
    }
    summary.finish();
    assert!(
        summary.uncategorized_percent <= 1.0,
        "{}",
        summary.uncategorized_percent
    );
    let records: Vec<_> = sessions.iter().flat_map(|s| &s.records).collect();
    let category_of = |pattern: &str| -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for r in records.iter().filter(|r| r.message.contains(pattern)) {
            *counts.entry(r.label.category_id.as_str()).or_default() += 1;
        }
        counts
    };
    // W1: every spec failure is a spec failure (139 `s` records).
    let spec: Vec<_> = records
        .iter()
        .filter(|r| r.label.stage.as_str() == "spec_fill")
        .collect();
    assert_eq!(spec.len(), 139);
    assert!(spec.iter().all(|r| r.label.category_id == "spec_parsing"));
    // W2: no end-of-session markers, no copies of the last error.
    assert!(
        records
            .iter()
            .all(|r| !r.message.contains("after maximum attempts")
                && !r.message.contains("Failed to generate valid code"))
    );
    // W3: the 60 no-code replies are labelled by their cause.
    assert_eq!(
        category_of("no cpp/ino code blocks found"),
        BTreeMap::from([("prompt_format", 60)])
    );
    assert_eq!(category_of("In function").len(), 0);
    // W5: the model clash, conflicting or redefined, is one TFLite root cause.
    let clash = category_of("conflicting declaration 'const tflite::Model* model'");
    assert_eq!(
        clash.keys().copied().collect::<Vec<_>>(),
        ["invalid_tflite"]
    );
    assert_eq!(
        category_of("redefinition of 'const tflite::Model* model'")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        ["invalid_tflite"]
    );
    assert_eq!(
        category_of("'GetMicroErrorReporter' is not a member of 'tflite'")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        ["invalid_tflite"]
    );
    // W6: the sensor constructor and 'PIN' have labels.
    assert_eq!(
        category_of("no matching function for call to 'APDS9960::APDS9960()'")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        ["symbol_api"]
    );
    assert_eq!(
        category_of("'PIN' was not declared")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        ["sensor_constant"]
    );
    // W5: R13's `sensor` substring no longer makes objects and helpers sensor constants.
    assert!(
        records
            .iter()
            .filter(|r| r.label.category_id == "sensor_constant")
            .all(|r| !r.message.contains("Sensor"))
    );
    // W4: every error diagnostic of the 928 compile records, not one line each.
    let diagnostics = records
        .iter()
        .filter(|r| r.source == FailureSource::Diagnostic)
        .count();
    assert!(diagnostics > 9_000, "{diagnostics}");
    assert_eq!(summary.outcomes["success"], 11);
}

#[test]
fn imported_traces_classify_exactly_like_the_logs_they_came_from() {
    let Some(corpus) = corpus() else { return };
    let out = tempfile::tempdir().unwrap();
    for log in corpus_logs(&corpus) {
        for session in import_legacy_all(&log).unwrap() {
            session.write_to_run_dir(out.path(), false).unwrap();
        }
    }
    let from_logs = classify(&[corpus.join("raw_logs")]);
    let from_traces = classify(&[out.path().to_owned()]);
    let key = |sessions: &[ClassifiedSession]| -> Vec<(String, String, u32, String)> {
        let mut rows: Vec<_> = sessions
            .iter()
            .flat_map(|s| &s.records)
            .map(|r| {
                (
                    r.session.session.clone(),
                    r.label.rule.clone(),
                    r.attempt,
                    r.message.clone(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(key(&from_logs), key(&from_traces));
}
