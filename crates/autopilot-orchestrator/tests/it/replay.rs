//! Replays compared with their recordings: which sessions count as changed, and the reason
//! read from the events; which recorded traces are replayable.

use std::path::PathBuf;

use autopilot_orchestrator::replay::{
    NotReplayable, RecordedSession, RecordedStage, SessionView, compare,
};
use autopilot_orchestrator::session::infra;
use autopilot_trace::{
    AnswerSource, AttemptFinished, AttemptOutcome, CheckVerdict, CompileFinished, CompileStatus,
    Diagnostic, DiagnosticOrigin, Event, LlmAnswer, LlmCall, LlmCallResult, ModelCheck,
    ModelCheckFailure, NumberedRecord, OutputCheck, PipelineStage, PipelineStageEnded,
    PipelineStageStarted, SamplingParams, SessionFinished, SessionId, SessionOutcome,
    SessionStarted, SessionTotals, Severity, SimulationFinished, SimulationStatus, Stage,
    StageFile, TraceFile, TraceOrigin, TraceRecord,
};

fn finished(stage: Stage, attempt: u32, outcome: AttemptOutcome, message: &str) -> Event {
    Event::AttemptFinished(AttemptFinished {
        stage,
        attempt,
        outcome,
        message: message.into(),
    })
}

fn compile(attempt: u32, error: Option<&str>) -> Event {
    Event::CompileFinished(CompileFinished {
        attempt,
        backend: "arduino-builder".into(),
        backend_version: None,
        fqbn: "arduino:avr:uno".into(),
        status: if error.is_some() {
            CompileStatus::Failed
        } else {
            CompileStatus::Succeeded
        },
        diagnostics: error
            .map(|message| Diagnostic {
                file: Some("color_uno.ino".into()),
                line: Some(28),
                column: Some(37),
                severity: Severity::Error,
                message: message.into(),
                origin: DiagnosticOrigin::Compiler,
                context: vec![],
                notes: vec![],
                source_line: None,
            })
            .into_iter()
            .collect(),
        size: None,
        duration_ms: 500,
        cache_hit: false,
        input_hash: None,
        detail: None,
    })
}

fn check(stage: Stage, attempt: u32, id: &str, passed: bool, message: &str) -> Event {
    Event::CheckVerdict(CheckVerdict {
        stage,
        attempt,
        check: id.into(),
        passed,
        message: message.into(),
    })
}

fn predicted(attempt: u32) -> Event {
    Event::SimulationFinished(SimulationFinished {
        attempt,
        simulator: "simavr".into(),
        mcu: "atmega328p".into(),
        status: SimulationStatus::Predicted,
        matched: Some("red".into()),
        serial: vec!["red".into()],
        duration_ms: 5,
    })
}

fn end(outcome: SessionOutcome) -> Event {
    Event::SessionFinished(SessionFinished {
        outcome,
        totals: SessionTotals::default(),
    })
}

fn exhausted() -> SessionOutcome {
    SessionOutcome::Exhausted {
        stage: Stage::Sketch,
    }
}

/// The demo session: a valid spec, attempt 1 fails to compile, attempt 2 compiles and predicts.
fn demo() -> Vec<Event> {
    vec![
        check(Stage::Spec, 1, "spec.json", true, ""),
        finished(Stage::Spec, 1, AttemptOutcome::Succeeded, ""),
        check(Stage::Check, 1, "precheck.setup_loop", true, ""),
        compile(1, Some("'NUM_SAMPLES' was not declared in this scope")),
        finished(
            Stage::Sketch,
            1,
            AttemptOutcome::CompileFailed,
            "'NUM_SAMPLES' was not declared in this scope",
        ),
        compile(2, None),
        check(Stage::Size, 2, "size.fits", true, ""),
        predicted(2),
        finished(
            Stage::Sketch,
            2,
            AttemptOutcome::Succeeded,
            "sketch written",
        ),
        end(SessionOutcome::Success { attempt: 2 }),
    ]
}

fn view(events: &[Event]) -> SessionView {
    SessionView::from_events(events)
}

#[test]
fn the_same_outcome_and_attempts_are_no_change_even_with_other_details() {
    let recorded = demo();
    let mut replayed = demo();
    // A different compile error text with the same attempt outcome is not a change.
    replayed[3] = compile(1, Some("'kSamples' was not declared in this scope"));
    assert_eq!(compare(&view(&recorded), &view(&replayed)), None);
    assert_eq!(view(&recorded).outcome_label(), "success@2");
}

#[test]
fn a_precheck_that_now_rejects_the_good_attempt_is_named_with_its_message() {
    let mut replayed = demo();
    replayed.truncate(5);
    replayed.extend([
        check(
            Stage::Check,
            2,
            "precheck.model_symbol_clash",
            false,
            "the sketch redefines `color_model_predict`, which color_model.h defines",
        ),
        finished(
            Stage::Sketch,
            2,
            AttemptOutcome::PrecheckFailed,
            "precheck.model_symbol_clash: …",
        ),
        end(exhausted()),
    ]);
    let change = compare(&view(&demo()), &view(&replayed)).unwrap();
    assert_eq!(change.before, "success@2");
    assert_eq!(change.after, "exhausted/sketch");
    assert_eq!(
        change.to_string(),
        "success@2 → exhausted/sketch: sketch attempt 2 was compiled (succeeded) and printed \"red\" \
         in simavr, now precheck.model_symbol_clash (the sketch redefines `color_model_predict`, \
         which color_model.h defines) rejects it before compiling"
    );
}

#[test]
fn an_attempt_no_longer_made_says_how_the_replay_ended_instead() {
    // A budget of one sketch attempt.
    let mut budget = demo();
    budget.truncate(5);
    budget.push(end(exhausted()));
    let change = compare(&view(&demo()), &view(&budget)).unwrap();
    assert_eq!(
        change.reason,
        "sketch attempt 2 was compiled (succeeded) and printed \"red\" in simavr, now it is not \
         made: the sketch attempt budget runs out after attempt 1"
    );
    // No recorded answer for today's spec request.
    let miss = vec![end(SessionOutcome::InfrastructureError {
        kind: infra::REPLAY_MISS,
        message: "no recorded answer after 1 try: spec attempt 1, request 7b196062dba5, repeat 0 \
                  is not in trace runs/a/sessions/s.jsonl; it holds: spec#1 (request ab91d6d328de repeat 0)"
            .into(),
    })];
    let change = compare(&view(&demo()), &view(&miss)).unwrap();
    assert_eq!(change.after, "infrastructure_error/replay_miss");
    assert_eq!(
        change.reason,
        "spec attempt 1 was a valid spec, now the recording has no answer for today's request \
         (spec attempt 1, request 7b196062dba5, repeat 0)"
    );
}

#[test]
fn a_change_of_an_earlier_attempt_is_reported_even_when_the_outcome_stays() {
    let mut replayed = demo();
    replayed[3] = check(
        Stage::Check,
        1,
        "precheck.placeholders",
        false,
        "line 12 holds a placeholder: `// TODO`",
    );
    replayed[4] = finished(
        Stage::Sketch,
        1,
        AttemptOutcome::PrecheckFailed,
        "precheck.placeholders: line 12",
    );
    let change = compare(&view(&demo()), &view(&replayed)).unwrap();
    assert_eq!(change.before, change.after);
    assert_eq!(
        change.reason,
        "sketch attempt 1 failed to compile (color_uno.ino:28:37: error: 'NUM_SAMPLES' was not declared in \
         this scope), now precheck.placeholders (line 12 holds a placeholder: `// TODO`) rejects it \
         before compiling"
    );
}

#[test]
fn attempts_beyond_the_recording_and_endings_after_the_same_attempts() {
    // The recording exhausted after one attempt; today a second attempt is made and misses.
    let mut recorded = demo();
    recorded.truncate(5);
    recorded.push(end(exhausted()));
    let mut longer = demo();
    longer.truncate(5);
    longer.push(finished(
        Stage::Sketch,
        2,
        AttemptOutcome::IdenticalCode,
        "identical to attempt 1, which failed; nothing was compiled",
    ));
    longer.push(end(exhausted()));
    let change = compare(&view(&recorded), &view(&longer)).unwrap();
    assert_eq!(
        change.reason,
        "sketch attempt 2 is new: it is not compiled (identical to attempt 1, which failed; nothing \
         was compiled); the recording ended before it, with exhausted/sketch"
    );
    let mut missed = recorded.clone();
    missed.pop();
    missed.push(end(SessionOutcome::InfrastructureError {
        kind: infra::REPLAY_MISS,
        message: "no recorded answer after 1 try: sketch attempt 2 (call 1) is not in trace t"
            .into(),
    }));
    let change = compare(&view(&recorded), &view(&missed)).unwrap();
    assert_eq!(
        change.reason,
        "after the same attempts, the recording has no answer for today's request (sketch attempt \
         2 (call 1))"
    );
    // An unfinished recording differs from any finished replay.
    let mut unfinished = demo();
    unfinished.pop();
    let change = compare(&view(&unfinished), &view(&demo())).unwrap();
    assert_eq!(change.before, "unfinished");
    assert_eq!(change.after, "success@2");
}

fn file(role: &str, sha256: &str) -> StageFile {
    StageFile {
        role: role.into(),
        path: format!("/run/stages/{role}"),
        sha256: sha256.into(),
        bytes: 10,
    }
}

/// An MC stage: attempt 1's model has the wrong dtypes, attempt 2's passes.
fn conversion() -> Vec<Event> {
    vec![
        Event::PipelineStageStarted(PipelineStageStarted {
            pipeline: "p1".into(),
            stage: PipelineStage::Mc,
            inputs: vec![file("dataset", "d1"), file("keras", "k1")],
        }),
        Event::ModelCheck(ModelCheck {
            attempt: 1,
            passed: false,
            failures: vec![ModelCheckFailure {
                check: "model.wrong_input_dtype".into(),
                message: "input is int8, the app asks float32".into(),
            }],
            input_dtype: Some("int8".into()),
            output_dtype: None,
            ops: vec![],
            size_bytes: None,
            tflite_accuracy: None,
            keras_accuracy: None,
        }),
        finished(
            Stage::Conversion,
            1,
            AttemptOutcome::OutputInvalid,
            "input is int8, the app asks float32",
        ),
        finished(Stage::Conversion, 2, AttemptOutcome::Succeeded, ""),
        Event::PipelineStageEnded(PipelineStageEnded {
            pipeline: "p1".into(),
            stage: PipelineStage::Mc,
            succeeded: true,
            outputs: vec![file("tflite", "t1")],
            message: String::new(),
            duration_ms: 9,
        }),
        end(SessionOutcome::Success { attempt: 2 }),
    ]
}

#[test]
fn a_python_stage_is_compared_on_its_output_and_model_checks() {
    let recorded = conversion();
    let stage = RecordedStage::from_events(&recorded).unwrap();
    assert_eq!(
        (stage.pipeline.as_str(), stage.stage),
        ("p1", PipelineStage::Mc)
    );
    assert_eq!(stage.input("dataset").unwrap().sha256, "d1");
    assert_eq!(stage.output("tflite").unwrap().sha256, "t1");
    assert_eq!(RecordedStage::from_events(&demo()), None);

    // Today the first model passes: the failed model check is named.
    let replayed = vec![
        finished(Stage::Conversion, 1, AttemptOutcome::Succeeded, ""),
        end(SessionOutcome::Success { attempt: 1 }),
    ];
    let change = compare(&view(&recorded), &view(&replayed)).unwrap();
    assert_eq!(
        change.to_string(),
        "success@2 → success@1: conversion attempt 1 ran but its outputs failed (input is int8, \
         the app asks float32), now it runs and its outputs pass the checks"
    );
    assert_eq!(
        view(&recorded).attempts[0].failed_check,
        Some((
            "model.wrong_input_dtype".into(),
            "input is int8, the app asks float32".into()
        ))
    );

    // Today a declared output is missing: the output check and its file are named.
    let mut replayed = recorded.clone();
    replayed.truncate(3);
    replayed.extend([
        Event::OutputCheck(OutputCheck {
            attempt: 2,
            check: "output.exists".into(),
            file: "model.tflite".into(),
            passed: false,
            message: "the run did not write this declared output".into(),
        }),
        finished(
            Stage::Conversion,
            2,
            AttemptOutcome::OutputInvalid,
            "model.tflite (output.exists): the run did not write this declared output",
        ),
        end(SessionOutcome::Exhausted {
            stage: Stage::Conversion,
        }),
    ]);
    let replayed = view(&replayed);
    assert_eq!(
        replayed.attempts[1].failed_check,
        Some((
            "output.exists".into(),
            "model.tflite: the run did not write this declared output".into()
        ))
    );
    let change = compare(&view(&recorded), &replayed).unwrap();
    assert!(
        change
            .reason
            .starts_with("conversion attempt 2 ran and its outputs passed the checks, now it runs but its outputs fail"),
        "{change}"
    );
}

fn started(origin: TraceOrigin, app_path: Option<&str>) -> Event {
    Event::SessionStarted(SessionStarted {
        app: "color_uno".into(),
        app_path: app_path.map(Into::into),
        fqbn: None,
        provider: "openai".into(),
        model: "gpt-4o".into(),
        ..autopilot_testkit::trace::sample_started(origin)
    })
}

fn answered(stream: bool) -> Event {
    Event::LlmCall(LlmCall {
        stage: Stage::Spec,
        attempt: 1,
        retry: 0,
        repeat: 0,
        provider: "openai".into(),
        model: "gpt-4o".into(),
        request_hash: "ab".repeat(32),
        messages: vec![],
        sampling: SamplingParams::default(),
        stream,
        result: LlmCallResult::Answered(LlmAnswer {
            text: "{}".into(),
            reasoning: None,
            finish_reason: None,
            response_model: None,
            usage: autopilot_trace::TokenUsage::default(),
            time_to_first_token_ms: None,
        }),
        latency_ms: 10,
        cost_usd: None,
        source: AnswerSource::Live,
        retry_in_ms: None,
    })
}

fn trace(events: Vec<Event>) -> TraceFile {
    let session = SessionId::new("s01").unwrap();
    TraceFile {
        path: PathBuf::from("runs/a/sessions/s01.jsonl"),
        records: events
            .into_iter()
            .enumerate()
            .map(|(seq, event)| NumberedRecord {
                line: seq as u64 + 1,
                record: TraceRecord {
                    v: 1,
                    session: session.clone(),
                    seq: seq as u64,
                    ts: "2026-11-21T03:00:00.000Z".into(),
                    event,
                },
            })
            .collect(),
        problems: vec![],
    }
}

#[test]
fn a_recorded_session_carries_what_a_replay_needs() {
    let recorded = RecordedSession::from_trace(&trace(vec![
        started(TraceOrigin::Native, Some("/apps/color/app.toml")),
        answered(true),
        finished(Stage::Spec, 1, AttemptOutcome::Succeeded, ""),
        end(exhausted()),
    ]))
    .unwrap();
    assert_eq!(recorded.id.as_str(), "s01");
    assert_eq!(recorded.app_path, PathBuf::from("/apps/color/app.toml"));
    assert!(recorded.stream);
    assert_eq!(recorded.view.outcome_label(), "exhausted/sketch");
    assert_eq!(recorded.view.attempts.len(), 1);
}

#[test]
fn legacy_imports_traces_without_an_app_or_answers_are_not_replayable() {
    let legacy = TraceOrigin::LegacyImport {
        file: "7677.log".into(),
        batch: "7677".into(),
        session: "63d0".into(),
    };
    let cases = [
        (
            trace(vec![started(legacy, None), answered(false)]),
            NotReplayable::LegacyImport {
                file: "7677.log".into(),
            },
        ),
        (
            trace(vec![started(TraceOrigin::Native, None), answered(false)]),
            NotReplayable::NoApp,
        ),
        (
            trace(vec![
                started(TraceOrigin::Native, Some("/a/app.toml")),
                end(exhausted()),
            ]),
            NotReplayable::NoAnswers,
        ),
        (
            trace(vec![answered(false)]),
            NotReplayable::NoSessionStarted,
        ),
        (trace(vec![]), NotReplayable::NoSessionStarted),
    ];
    for (trace, expected) in cases {
        let not = RecordedSession::from_trace(&trace).unwrap_err();
        assert_eq!(not, expected);
        assert_eq!(not.is_broken(), expected == NotReplayable::NoSessionStarted);
    }
}
