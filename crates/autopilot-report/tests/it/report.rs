//! Report rows read from runs: native traces (tokens, cost, time, unfinished sessions) and
//! legacy logs (rows equal to the importer's, failures equal to the classifier's, in both
//! taxonomies).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use autopilot_classifier::{
    ClassifyOptions, LegacySummary, Summary, Taxonomy, Unit, classify_paths, collect_inputs,
    import_legacy_all, legacy_classify_inputs,
};
use autopilot_report::{
    LEGACY_GROUP, ReportInput, ReportTaxonomy, build_report, load_report_input, report_session,
};
use autopilot_trace::{
    AnswerSource, AttemptFinished, AttemptOutcome, Event, LlmAnswer, LlmCall, LlmCallResult,
    SamplingParams, SessionFinished, SessionId, SessionOutcome, SessionStarted, SessionTotals,
    Stage, TokenUsage, TraceOrigin, TraceRecord,
};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../autopilot-classifier/tests/fixtures/logs"
    ))
}

const OPTIONS: ClassifyOptions = ClassifyOptions { threads: 2 };

fn started(model: &str, origin: TraceOrigin) -> Event {
    Event::SessionStarted(SessionStarted {
        app: "color".into(),
        app_path: None,
        target: "uno".into(),
        fqbn: None,
        provider: "openai".into(),
        model: model.into(),
        endpoint: None,
        prompt_variant: "staged".into(),
        sampling: SamplingParams::default(),
        seed: None,
        tool_versions: vec![],
        autopilot_version: "0.1.0".into(),
        batch: None,
        origin,
    })
}

fn answered(attempt: u32, input: Option<u64>, output: Option<u64>, cost: Option<f64>) -> Event {
    Event::LlmCall(LlmCall {
        stage: Stage::Sketch,
        attempt,
        retry: 0,
        repeat: 0,
        provider: "openai".into(),
        model: "m".into(),
        request_hash: "00".into(),
        messages: vec![],
        sampling: SamplingParams::default(),
        stream: false,
        result: LlmCallResult::Answered(LlmAnswer {
            text: "```cpp\nvoid setup(){}\n```".into(),
            reasoning: None,
            finish_reason: None,
            response_model: None,
            usage: TokenUsage { input, output },
            time_to_first_token_ms: None,
        }),
        latency_ms: 10,
        cost_usd: cost,
        source: AnswerSource::Live,
        retry_in_ms: None,
    })
}

fn attempt_failed(attempt: u32) -> Event {
    Event::AttemptFinished(AttemptFinished {
        stage: Stage::Sketch,
        attempt,
        outcome: AttemptOutcome::CompileFailed,
        message: "'foo' was not declared in this scope".into(),
    })
}

/// The report rows of a run directory with the built-in taxonomy.
fn load_default(dir: &Path) -> ReportInput {
    let taxonomy = Taxonomy::builtin().unwrap();
    let kind = ReportTaxonomy::Taxonomy {
        taxonomy: &taxonomy,
        name: "default",
        unit: Unit::Diagnostic,
    };
    load_report_input(&[dir.to_owned()], kind, &OPTIONS).unwrap()
}

fn write_trace(dir: &Path, id: &str, events: &[(&str, Event)]) {
    let sessions = dir.join("sessions");
    fs_err::create_dir_all(&sessions).unwrap();
    let mut file = fs_err::File::create(sessions.join(format!("{id}.jsonl"))).unwrap();
    for (seq, (ts, event)) in (0u64..).zip(events) {
        let record = TraceRecord {
            v: autopilot_trace::FORMAT_VERSION,
            session: SessionId::new(id).unwrap(),
            seq,
            ts: (*ts).to_owned(),
            event: event.clone(),
        };
        serde_json::to_writer(&mut file, &record).unwrap();
        file.write_all(b"\n").unwrap();
    }
}

#[test]
fn native_sessions_count_tokens_cost_time_and_unfinished_ones_stay_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    write_trace(
        dir.path(),
        "done",
        &[
            ("2025-01-01T00:00:00Z", started("m", TraceOrigin::Native)),
            (
                "2025-01-01T00:00:01Z",
                answered(1, Some(100), Some(20), Some(0.01)),
            ),
            ("2025-01-01T00:00:02Z", attempt_failed(1)),
            (
                "2025-01-01T00:00:03Z",
                answered(2, Some(200), Some(40), Some(0.02)),
            ),
            (
                "2025-01-01T00:00:09Z",
                Event::SessionFinished(SessionFinished {
                    outcome: SessionOutcome::Success { attempt: 2 },
                    totals: SessionTotals {
                        attempts: 2,
                        llm_calls: 2,
                        input_tokens: Some(300),
                        output_tokens: Some(60),
                        cost_usd: Some(0.03),
                        wall_ms: 9000,
                        compiles: 2,
                        cache_hits: 0,
                    },
                }),
            ),
        ],
    );
    // Killed after one answer, one of whose calls had no price.
    write_trace(
        dir.path(),
        "killed",
        &[
            ("2025-01-01T00:00:00Z", started("m", TraceOrigin::Native)),
            ("2025-01-01T00:00:01Z", answered(1, Some(50), None, None)),
            ("2025-01-01T00:00:04.500Z", attempt_failed(1)),
        ],
    );
    let taxonomy = Taxonomy::builtin().unwrap();
    let input = load_report_input(
        &[dir.path().to_owned()],
        ReportTaxonomy::Taxonomy {
            taxonomy: &taxonomy,
            name: "default",
            unit: Unit::Diagnostic,
        },
        &OPTIONS,
    )
    .unwrap();
    let [done, killed] = &input.sessions[..] else {
        panic!("{:?}", input.sessions)
    };
    assert_eq!(
        (
            done.outcome.as_str(),
            done.success_attempt,
            done.attempts,
            done.llm_calls
        ),
        ("success", Some(2), 2, 2)
    );
    assert_eq!(
        (done.input_tokens, done.output_tokens),
        (Some(300), Some(60))
    );
    assert_eq!((done.wall_ms, done.cost_usd), (9000, Some(0.03)));
    assert_eq!(
        (done.model.as_str(), done.variant.as_str()),
        ("m", "staged")
    );
    assert_eq!(
        (killed.outcome.as_str(), killed.attempts, killed.llm_calls),
        ("unfinished", 1, 1)
    );
    assert_eq!(
        (killed.input_tokens, killed.output_tokens),
        (Some(50), None)
    );
    assert_eq!((killed.wall_ms, killed.cost_usd), (4500, None));
    // One failure per failed attempt, as the classifier counts them.
    let classified = classify_paths(&[dir.path().to_owned()], &taxonomy, &OPTIONS).unwrap();
    let records: usize = classified.iter().map(|c| c.records.len()).sum();
    assert_eq!(input.failure_count(), records as u64);
    assert_eq!(records, 2);

    // A legacy session the log cut off is `truncated`, as the importer calls it.
    let origin = TraceOrigin::LegacyImport {
        file: "sg_x.log".into(),
        batch: "1a2b".into(),
        session: "aa01".into(),
    };
    let legacy = started("codestral", origin);
    let row = report_session("cut", &[("2025-01-01T00:00:00Z", &legacy)]);
    assert_eq!(row.outcome, "truncated");
    assert_eq!((row.input_tokens, row.cost_usd), (None, None));
}

/// A missing arduino-cli is the run's infrastructure problem: the session's outcome says so, and
/// no model failure ("Missing / Incorrect Libraries") is counted for it.
#[test]
fn a_missing_toolchain_is_infrastructure_not_a_library_failure() {
    let dir = tempfile::tempdir().unwrap();
    let detail = "arduino-cli not found (AUTOPILOT_ARDUINO_CLI=/nowhere/arduino-cli)";
    write_trace(
        dir.path(),
        "no-cli",
        &[
            ("2025-01-01T00:00:00Z", started("m", TraceOrigin::Native)),
            (
                "2025-01-01T00:00:01Z",
                answered(1, Some(100), Some(20), None),
            ),
            (
                "2025-01-01T00:00:02Z",
                Event::CompileFinished(autopilot_trace::CompileFinished {
                    attempt: 1,
                    backend: "arduino-cli".into(),
                    backend_version: None,
                    fqbn: "arduino:avr:uno".into(),
                    status: autopilot_trace::CompileStatus::ToolchainMissing,
                    diagnostics: vec![],
                    size: None,
                    duration_ms: 1,
                    cache_hit: false,
                    input_hash: None,
                    detail: Some(detail.into()),
                }),
            ),
            (
                "2025-01-01T00:00:03Z",
                Event::SessionFinished(SessionFinished {
                    outcome: SessionOutcome::InfrastructureError {
                        kind: autopilot_trace::InfraErrorKind::ToolchainMissing,
                        message: detail.into(),
                    },
                    totals: SessionTotals {
                        attempts: 1,
                        llm_calls: 1,
                        input_tokens: Some(100),
                        output_tokens: Some(20),
                        cost_usd: None,
                        wall_ms: 3000,
                        compiles: 1,
                        cache_hits: 0,
                    },
                }),
            ),
        ],
    );
    let input = load_default(dir.path());
    assert_eq!(input.sessions[0].outcome, "infrastructure_error");
    assert!(
        input
            .failures
            .iter()
            .all(|f| f.category != "Missing / Incorrect Libraries"),
        "{:?}",
        input.failures
    );
    assert_eq!(input.failure_count(), 0, "{:?}", input.failures);
}

/// Answers that were not live model output are labelled: the replay provider shows in the model
/// (`replay:demo-answers`), sessions.csv says where answers came from, and report.md and
/// report.html carry a warning.
#[test]
fn hand_written_and_replayed_answers_are_labelled_in_every_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let replayed = |attempt| match answered(attempt, None, None, None) {
        Event::LlmCall(call) => Event::LlmCall(LlmCall {
            source: AnswerSource::Replay,
            ..call
        }),
        _ => unreachable!(),
    };
    let mut demo = started("demo-answers", TraceOrigin::Native);
    if let Event::SessionStarted(s) = &mut demo {
        s.provider = "replay".into();
    }
    write_trace(
        dir.path(),
        "a-demo",
        &[
            ("2025-01-01T00:00:00Z", demo),
            ("2025-01-01T00:00:01Z", replayed(1)),
        ],
    );
    for (id, call) in [
        ("b-replayed", replayed(1)),
        ("c-live", answered(1, None, None, None)),
    ] {
        let events = [
            (
                "2025-01-01T00:00:00Z",
                started("gpt-4o", TraceOrigin::Native),
            ),
            ("2025-01-01T00:00:01Z", call),
        ];
        write_trace(dir.path(), id, &events);
    }
    let input = load_default(dir.path());
    let rows: Vec<(&str, &str, &str)> = input
        .sessions
        .iter()
        .map(|s| (s.model.as_str(), s.provider.as_str(), s.answers.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("replay:demo-answers", "replay", "hand-written"),
            ("gpt-4o", "openai", "replayed"),
            ("gpt-4o", "openai", "live"),
        ]
    );
    let report = build_report(&input);
    let file = |name: &str| {
        &report
            .files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    };
    let csv = file("sessions.csv");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",provider,answers,stage,pipeline"),
        "{csv}"
    );
    assert!(csv.contains("a-demo,replay:demo-answers,"), "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",replay,hand-written,sg,"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .ends_with(",openai,replayed,sg,"),
        "{csv}"
    );
    assert!(
        csv.lines().nth(3).unwrap().ends_with(",openai,live,sg,"),
        "{csv}"
    );
    for name in ["report.md", "report.html"] {
        let text = file(name);
        assert!(
            text.contains("NOT LIVE MODEL OUTPUT: of 3 sessions, 1 with hand-written answers (replay:demo-answers), 1 with replayed answers (gpt-4o)"),
            "{name}: {text}"
        );
        assert!(text.contains("replay:demo-answers"), "{name}");
    }
}

/// Failures per (model, category), as the report counts them.
fn counts(input: &ReportInput) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for f in &input.failures {
        *counts
            .entry((f.model.clone(), f.category.clone()))
            .or_default() += f.count;
    }
    counts
}

#[test]
fn legacy_logs_give_the_importers_rows_and_the_classifiers_counts_in_both_taxonomies() {
    let paths = [fixtures()];
    let taxonomy = Taxonomy::builtin().unwrap();
    let default = load_report_input(
        &paths,
        ReportTaxonomy::Taxonomy {
            taxonomy: &taxonomy,
            name: "default",
            unit: Unit::Diagnostic,
        },
        &OPTIONS,
    )
    .unwrap();
    let legacy = load_report_input(&paths, ReportTaxonomy::Legacy, &OPTIONS).unwrap();

    let mut rows = Vec::new();
    for log in ["sg_demo_1a2b.log", "sg_demo_b2025.log"] {
        rows.extend(
            import_legacy_all(&fixtures().join(log))
                .unwrap()
                .iter()
                .map(autopilot_classifier::LegacySession::row),
        );
    }
    for input in [&default, &legacy] {
        let got: Vec<(&str, &str, u32, Option<u32>, u32)> = input
            .sessions
            .iter()
            .map(|s| {
                (
                    s.model.as_str(),
                    s.outcome.as_str(),
                    s.attempts,
                    s.success_attempt,
                    s.llm_calls,
                )
            })
            .collect();
        let want: Vec<(&str, &str, u32, Option<u32>, u32)> = rows
            .iter()
            .map(|r| {
                (
                    r.model.as_str(),
                    r.outcome,
                    r.attempts,
                    r.success_attempt,
                    r.llm_calls,
                )
            })
            .collect();
        assert_eq!(got, want);
        assert!(got.iter().any(|r| r.1 == "truncated"), "{got:?}");
        assert!(got.iter().any(|r| r.1 == "success"), "{got:?}");
    }

    // Default taxonomy: the classifier's summary, model by model and category by category.
    let mut summary = Summary::new(&taxonomy, Unit::Diagnostic);
    for session in classify_paths(&paths, &taxonomy, &OPTIONS).unwrap() {
        summary.add(&session);
    }
    let mut want = BTreeMap::new();
    for (model, s) in &summary.by_model {
        for (category, n) in &s.categories {
            want.insert((model.clone(), category.clone()), *n);
        }
    }
    assert_eq!(counts(&default), want);
    assert!(!want.is_empty());

    // Legacy taxonomy: the published classifier's entries.
    let inputs = collect_inputs(&paths).unwrap();
    let mut legacy_summary = LegacySummary::default();
    legacy_classify_inputs(&inputs, &OPTIONS, |r| {
        legacy_summary.add(&r);
        Ok(())
    })
    .unwrap();
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, category), n) in counts(&legacy) {
        *by_category.entry(category).or_default() += n;
    }
    assert_eq!(by_category, legacy_summary.categories);
    assert!(legacy.failures.iter().all(|f| f.group == LEGACY_GROUP));

    // The report's categories.csv says the same.
    let report = build_report(&legacy);
    let csv = &report
        .files
        .iter()
        .find(|f| f.0 == "categories.csv")
        .unwrap()
        .1;
    let mut from_csv: BTreeMap<String, u64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        *from_csv.entry(fields[2].to_owned()).or_default() += fields[3].parse::<u64>().unwrap();
    }
    assert_eq!(from_csv, legacy_summary.categories);
}

#[test]
fn legacy_taxonomy_refuses_traces_and_bad_paths_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_trace(
        dir.path(),
        "t",
        &[("2025-01-01T00:00:00Z", started("m", TraceOrigin::Native))],
    );
    let err =
        load_report_input(&[dir.path().to_owned()], ReportTaxonomy::Legacy, &OPTIONS).unwrap_err();
    assert!(
        err.to_string()
            .contains("the legacy taxonomy reads legacy .log files only"),
        "{err}"
    );
    let missing = dir.path().join("nope.log");
    let err = load_report_input(
        std::slice::from_ref(&missing),
        ReportTaxonomy::Legacy,
        &OPTIONS,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}
