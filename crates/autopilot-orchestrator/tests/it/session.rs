//! End-to-end sessions: a loopback OpenAI-compatible server serves scripted answers, Debian's
//! real arduino-builder compiles and simavr runs the firmware. Each test asserts on the trace.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use autopilot_llm::{EndpointSettings, LlmClient, ModelRef, OpenAiBackend, RetryPolicy};
use autopilot_orchestrator::session::{SessionSetup, run_session};
use autopilot_steps::{App, Policies, PromptSet};
use autopilot_toolchain::{LibraryCatalog, Targets, TinyMlApi, ToolchainConfig};
use autopilot_trace::{
    AttemptOutcome, CompileStatus, Event, LlmCallResult, RunDirSink, SamplingParams, SessionId,
    SessionOutcome, SimulationStatus, Stage, TraceFile,
};

use autopilot_testkit::openai::{Reply, ScriptedOpenAi};
use autopilot_testkit::tools::avr_toolchain_and_simavr;

use crate::support::{examples_dir, prompts_dir, workspace_root};

/// The demo answers of the uno example: the spec, a sketch that fails to compile, a good one.
struct Answers {
    spec: String,
    broken: String,
    good: String,
}

fn answers() -> Answers {
    let text = fs_err::read_to_string(examples_dir().join("color_uno/demo-answers.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let all: Vec<String> = file["answer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap().to_owned())
        .collect();
    Answers {
        spec: all[0].clone(),
        broken: all[1].clone(),
        good: all[2].clone(),
    }
}

/// A cache folder shared by the tests of this binary (the core is compiled once).
fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("session-cache")
}

fn fast_retry(tries: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: tries,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        jitter: false,
        ..RetryPolicy::default()
    }
}

fn client(name: &str, url: &str, tries: u32) -> LlmClient {
    let backend = OpenAiBackend::new(&EndpointSettings::at(
        format!("{url}/v1"),
        Duration::from_secs(20),
    ))
    .unwrap();
    LlmClient::new(
        ModelRef::parse(&format!("openai:{name}")).unwrap(),
        Arc::new(backend),
    )
    .with_retry(fast_retry(tries))
}

fn setup(run_dir: &Path, llm: LlmClient, policies: Policies) -> SessionSetup {
    let app = App::load(&examples_dir().join("color_uno/app.toml")).unwrap();
    let target = Targets::builtin().get("uno").unwrap().clone();
    let mut toolchain = ToolchainConfig::with_cache_dir(&shared_cache());
    toolchain.timeout = Duration::from_secs(120);
    SessionSetup {
        host_check: None,
        id: SessionId::new("e2e").unwrap(),
        app,
        target,
        prompts: Arc::new(PromptSet::load(&prompts_dir()).unwrap()),
        variant: "default".into(),
        policies,
        llm,
        fallback_llm: None,
        sampling: SamplingParams::default(),
        stream: false,
        toolchain,
        catalog: Arc::new(LibraryCatalog::builtin()),
        tinyml_api: Arc::new(TinyMlApi::builtin()),
        simavr: PathBuf::from("simavr"),
        run_dir: run_dir.to_owned(),
        final_dir: None,
        batch: None,
        tool_versions: vec![],
        note: None,
        pipeline: None,
    }
}

fn policies(sketch_attempts: u32) -> Policies {
    let mut policies = Policies::default();
    policies.attempts.sketch = sketch_attempts;
    policies.simulation.time_budget_secs = 8;
    policies
}

/// Runs the session with its trace written to `run_dir`, and reads the trace back.
async fn run(setup: &SessionSetup) -> (autopilot_orchestrator::session::SessionReport, Vec<Event>) {
    // run_session opens its own session span, under the subscriber it runs with.
    let report =
        autopilot_testkit::trace::capture(&setup.run_dir, Box::pin(run_session(setup))).await;
    let file = TraceFile::read(&RunDirSink::session_path(&setup.run_dir, &setup.id)).unwrap();
    assert_eq!(
        file.validate(),
        vec![],
        "the trace breaks the session rules"
    );
    (report, file.events().cloned().collect())
}

fn compiles(events: &[Event]) -> Vec<(u32, CompileStatus)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CompileFinished(c) => Some((c.attempt, c.status)),
            _ => None,
        })
        .collect()
}

fn attempt_outcomes(events: &[Event], stage: Stage) -> Vec<AttemptOutcome> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AttemptFinished(a) if a.stage == stage => Some(a.outcome),
            _ => None,
        })
        .collect()
}

fn finished(events: &[Event]) -> SessionOutcome {
    match events.last() {
        Some(Event::SessionFinished(f)) => f.outcome.clone(),
        other => panic!("last event {other:?}"),
    }
}

#[tokio::test]
async fn a_real_compile_error_is_repaired_at_attempt_two_and_the_firmware_predicts() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let a = answers();
    let server = ScriptedOpenAi::queue(vec![
        Reply::Answer(a.spec.clone()),
        Reply::Answer(a.broken.clone()),
        Reply::Answer(a.good.clone()),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let session = setup(
        dir.path(),
        client("scripted", &server.uri(), 2),
        policies(5),
    );
    let (report, events) = run(&session).await;

    assert_eq!(report.outcome, SessionOutcome::Success { attempt: 2 });
    // Prompt and answer files are written while the next request is out; the last answer's
    // when the session ends: all of them are there once it has.
    let artifacts = dir.path().join("artifacts").join(session.id.as_str());
    for (attempt, answer) in [
        ("spec-1", &a.spec),
        ("sketch-1", &a.broken),
        ("sketch-2", &a.good),
    ] {
        let read = |name: &str| fs_err::read_to_string(artifacts.join(attempt).join(name));
        assert_eq!(
            read("answer.md").unwrap().trim_end(),
            answer.trim_end(),
            "{attempt}"
        );
        assert!(
            read("prompt.md").unwrap().starts_with("## System"),
            "{attempt}"
        );
    }
    assert_eq!(finished(&events), SessionOutcome::Success { attempt: 2 });
    match &events[0] {
        Event::SessionStarted(started) => assert!(
            started
                .tool_versions
                .iter()
                .any(|v| v.name == "arduino-builder"),
            "session_started records the toolchain: {:?}",
            started.tool_versions
        ),
        other => panic!("first event {other:?}"),
    }
    assert_eq!(
        compiles(&events),
        vec![(1, CompileStatus::Failed), (2, CompileStatus::Succeeded)]
    );
    let first_compile = events.iter().find_map(|e| match e {
        Event::CompileFinished(c) if c.attempt == 1 => Some(c.clone()),
        _ => None,
    });
    let diagnostic = &first_compile.unwrap().diagnostics[0];
    assert!(
        diagnostic
            .message
            .contains("'NUM_SAMPLES' was not declared"),
        "{diagnostic:?}"
    );
    assert_eq!(
        diagnostic.file.as_deref(),
        Some("color_uno.ino"),
        "paths are relative to the sketch"
    );
    // The repair prompt carries the real diagnostic and the last extracted code.
    let repair = events.iter().find_map(|e| match e {
        Event::RepairContext(r) => Some(r.clone()),
        _ => None,
    });
    let repair = repair.expect("a repair_context event");
    assert_eq!(repair.attempt, 2);
    assert_eq!(repair.diagnostics_shown, 1);
    assert!(
        repair.block.contains("Arduino Uno") || repair.block.contains("arduino:avr:uno"),
        "{}",
        repair.block
    );
    let third = &server.requests()[2];
    assert!(
        third.contains("NUM_SAMPLES"),
        "the repair request quotes the error"
    );
    assert!(
        third.contains("kSamples[next_sample]"),
        "the repair request carries the last code"
    );
    let simulation = events.iter().find_map(|e| match e {
        Event::SimulationFinished(s) => Some(s.clone()),
        _ => None,
    });
    let simulation = simulation.expect("a simulation_finished event");
    assert_eq!(simulation.status, SimulationStatus::Predicted);
    assert!(["red", "green", "blue", "yellow"].contains(&simulation.matched.as_deref().unwrap()));
    let sketch = report.sketch_dir.unwrap();
    assert!(sketch.join("color_uno.ino").is_file() && sketch.join("color_model.h").is_file());
    assert_eq!(report.totals.llm_calls, 3);
    assert_eq!(report.totals.input_tokens, Some(3000));
}

#[tokio::test]
async fn a_model_symbol_clash_is_caught_before_any_compile() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let a = answers();
    let clashing = a.good.replace(
        "int next_sample = 0;",
        "int next_sample = 0;\nconst int color_model_num_classes = 4;  // clashes with color_model.h",
    );
    assert_ne!(clashing, a.good);
    let server = ScriptedOpenAi::queue(vec![
        Reply::Answer(a.spec),
        Reply::Answer(clashing),
        Reply::Answer(a.good),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (report, events) = run(&setup(
        dir.path(),
        client("scripted", &server.uri(), 2),
        policies(5),
    ))
    .await;

    assert_eq!(report.outcome, SessionOutcome::Success { attempt: 2 });
    assert_eq!(
        attempt_outcomes(&events, Stage::Sketch),
        vec![AttemptOutcome::PrecheckFailed, AttemptOutcome::Succeeded]
    );
    let clash = events.iter().find_map(|e| match e {
        Event::CheckVerdict(v) if v.check == "precheck.model_symbol_clash" && v.attempt == 1 => {
            Some(v.clone())
        }
        _ => None,
    });
    let clash = clash.expect("a model_symbol_clash verdict at attempt 1");
    assert!(!clash.passed);
    assert!(
        clash.message.contains("color_model_num_classes"),
        "{}",
        clash.message
    );
    // No compiler call for attempt 1: the only compile is attempt 2's.
    assert_eq!(compiles(&events), vec![(2, CompileStatus::Succeeded)]);
    assert!(
        server.requests()[2].contains("color_model_num_classes"),
        "the repair names the clash"
    );
}

#[tokio::test]
async fn an_outage_is_retried_then_the_fallback_model_takes_over() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let a = answers();
    // The primary is down for good; the fallback serves the whole session.
    let primary = ScriptedOpenAi::queue(vec![Reply::Status(503); 10]).await;
    let fallback = ScriptedOpenAi::queue(vec![Reply::Answer(a.spec), Reply::Answer(a.good)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut setup = setup(
        dir.path(),
        client("primary", &primary.uri(), 3),
        policies(5),
    );
    setup.fallback_llm = Some(client("fallback", &fallback.uri(), 3));
    let (report, events) = run(&setup).await;

    assert_eq!(report.outcome, SessionOutcome::Success { attempt: 1 });
    assert_eq!(primary.requests().len(), 3, "three tries on the primary");
    let calls: Vec<(String, u32, bool, Option<u64>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::LlmCall(c) => Some((
                c.model.clone(),
                c.retry,
                matches!(c.result, LlmCallResult::Answered(_)),
                c.retry_in_ms,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(calls[0].0, "primary");
    assert_eq!((calls[0].1, calls[0].2), (0, false));
    assert!(
        calls[0].3.is_some() && calls[1].3.is_some(),
        "retries are announced with their delay: {calls:?}"
    );
    assert_eq!(
        (calls[2].1, calls[2].2, calls[2].3),
        (2, false, None),
        "the last try is not retried"
    );
    assert_eq!(&calls[3].0, "fallback");
    assert!(calls[3].2);
    let switch = events.iter().find_map(|e| match e {
        Event::FallbackApplied(f) if f.policy == "fallback_model" => Some(f.clone()),
        _ => None,
    });
    let switch = switch.expect("a fallback_applied event");
    assert_eq!(
        (switch.from.as_str(), switch.to.as_str()),
        ("openai:primary", "openai:fallback")
    );
    assert!(switch.reason.contains("server"), "{}", switch.reason);
}

#[tokio::test]
async fn a_spec_answer_that_is_not_json_gets_a_repair_prompt_naming_the_problem() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let a = answers();
    let broken_spec = "Sure! Here is the spec:\n```json\n{ \"application\": { \"name\": \"color_uno\", ... }\n```\n";
    let server = ScriptedOpenAi::queue(vec![
        Reply::Answer(broken_spec.into()),
        Reply::Answer(a.spec),
        Reply::Answer(a.good),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (report, events) = run(&setup(
        dir.path(),
        client("scripted", &server.uri(), 2),
        policies(5),
    ))
    .await;

    assert_eq!(report.outcome, SessionOutcome::Success { attempt: 1 });
    assert_eq!(
        attempt_outcomes(&events, Stage::Spec),
        vec![AttemptOutcome::SpecInvalid, AttemptOutcome::Succeeded]
    );
    let json_check = events.iter().find_map(|e| match e {
        Event::CheckVerdict(v) if v.stage == Stage::Spec && v.attempt == 1 && !v.passed => {
            Some(v.clone())
        }
        _ => None,
    });
    let json_check = json_check.expect("a failed spec check");
    assert_eq!(json_check.check, "spec.json");
    let repair_request = &server.requests()[1];
    assert!(
        repair_request.contains("color_uno\\\", ..."),
        "the repair prompt quotes the previous answer"
    );
    assert!(
        repair_request.to_lowercase().contains("json"),
        "the repair prompt names the problem"
    );
}

#[tokio::test]
async fn a_sketch_that_compiles_but_never_prints_a_class_fails_the_simulation_check() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let a = answers();
    let silent = a.good.replace(
        "Serial.println(kClassNames[predicted]);",
        "Serial.println(predicted);",
    );
    assert_ne!(silent, a.good);
    let server = ScriptedOpenAi::queue(vec![Reply::Answer(a.spec), Reply::Answer(silent)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut policies = policies(1);
    policies.simulation.time_budget_secs = 3;
    let (report, events) = run(&setup(
        dir.path(),
        client("scripted", &server.uri(), 2),
        policies,
    ))
    .await;

    assert_eq!(
        report.outcome,
        SessionOutcome::Exhausted {
            stage: Stage::Sketch
        }
    );
    assert_eq!(compiles(&events), vec![(1, CompileStatus::Succeeded)]);
    let simulation = events.iter().find_map(|e| match e {
        Event::SimulationFinished(s) => Some(s.clone()),
        _ => None,
    });
    let simulation = simulation.expect("a simulation_finished event");
    assert_eq!(simulation.status, SimulationStatus::NoPrediction);
    assert!(
        simulation
            .serial
            .iter()
            .any(|line| line.trim().parse::<u32>().is_ok()),
        "{:?}",
        simulation.serial
    );
    assert_eq!(
        attempt_outcomes(&events, Stage::Sketch),
        vec![AttemptOutcome::SimulationFailed]
    );
    assert!(report.sketch_dir.is_none());
}

#[test]
fn the_examples_used_here_exist() {
    assert!(
        workspace_root()
            .join("examples/color_uno/demo-answers.toml")
            .is_file()
    );
}
