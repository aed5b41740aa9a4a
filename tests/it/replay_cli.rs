//! `autopilot replay`: a demo session recorded by `autopilot run` (hand-written answers, the real
//! AVR compiler and simavr) is replayed unchanged, with a stricter policy (changed, with the
//! reason), and with `--exact` after its app changed (a replay miss); what is skipped, what is
//! refused; a fruit_to_emoji session judged by the host check is re-judged by it.

use std::path::{Path, PathBuf};
use std::process::Output;

use autopilot_trace::{
    AnswerSource, Event, HostVerdictKind, LlmAnswer, LlmCall, LlmCallResult, SamplingParams,
    SessionOutcome, Stage, TraceFile, TraceOrigin,
};

use autopilot_testkit::tools::{avr_toolchain_and_simavr as avr_toolchain, host_library};
use autopilot_testkit::trace::{session_started, write_events, write_session};

use crate::support::{autopilot, read_request};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A cache folder shared by these tests (the Arduino core is compiled once).
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay-cache")
}

/// The uno example copied into `dir/app` (so a test may edit it).
fn copy_example(dir: &Path) -> PathBuf {
    let from = root().join("examples/color_uno");
    let app = dir.join("app");
    fs_err::create_dir_all(app.join("data")).unwrap();
    for file in [
        "app.toml",
        "color_model.h",
        "demo-answers.toml",
        "data/colors.csv",
    ] {
        fs_err::copy(from.join(file), app.join(file)).unwrap();
    }
    app
}

/// `autopilot run` of the copied example on its demo answers into `dir/run`; the session id.
fn record(dir: &Path) -> (PathBuf, String) {
    let app = copy_example(dir);
    let run_dir = dir.join("run");
    autopilot()
        .current_dir(&app)
        .args(["run", "app.toml", "--answers", "demo-answers.toml", "--out"])
        .arg(&run_dir)
        .env("AUTOPILOT_CACHE_DIR", cache_dir())
        .assert()
        .code(0);
    let trace = fs_err::read_dir(run_dir.join("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let id = trace.file_stem().unwrap().to_string_lossy().into_owned();
    (run_dir, id)
}

/// `autopilot replay <args>` run from `cwd`.
fn replay(cwd: &Path, args: &[&str]) -> Output {
    autopilot()
        .current_dir(cwd)
        .arg("replay")
        .args(args)
        .env("AUTOPILOT_CACHE_DIR", cache_dir())
        .env("AUTOPILOT_PROMPTS_DIR", root().join("prompts"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn events(trace: &Path) -> Vec<Event> {
    TraceFile::read(trace).unwrap().events().cloned().collect()
}

fn outcome(events: &[Event]) -> SessionOutcome {
    events
        .iter()
        .find_map(|e| match e {
            Event::SessionFinished(f) => Some(f.outcome.clone()),
            _ => None,
        })
        .unwrap()
}

fn llm_sources(events: &[Event]) -> Vec<AnswerSource> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::LlmCall(call) => Some(call.source),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unchanged_replay_prints_nothing_and_answers_every_call_from_the_recording() {
    if !avr_toolchain() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (run_dir, id) = record(dir.path());
    // From another folder: the trace names the app file by its canonical path.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = replay(elsewhere.path(), &[run_dir.to_str().unwrap()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "", "{stderr}");
    assert!(
        stderr.contains("replay: 1 replayed, 1 unchanged, 0 changed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("LLM cost $0: 3 calls served from the recordings (3 answered), no network"),
        "{stderr}"
    );
    let replayed = dir
        .path()
        .join("run-replay/sessions")
        .join(format!("{id}.jsonl"));
    let events = events(&replayed);
    assert_eq!(outcome(&events), SessionOutcome::Success { attempt: 2 });
    assert_eq!(llm_sources(&events), vec![AnswerSource::Replay; 3]);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Note(n) if n.message.starts_with("replay of ") && n.message.contains("no network")
    )));
    // A compile really ran (or was answered from today's compile cache) for both attempts.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::CompileFinished(_)))
            .count(),
        2
    );

    // Replaying again into the same folder is refused, and the replayed trace is kept.
    let before = fs_err::read(&replayed).unwrap();
    let output = replay(elsewhere.path(), &[run_dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("exists already"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert_eq!(fs_err::read(&replayed).unwrap(), before);
}

/// A loopback OpenAI-compatible server answering one request per answer, in order, each with
/// 1000 tokens in and 400 out; then it closes its port.
fn serve_answers(answers: Vec<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (answer, stream) in answers.into_iter().zip(listener.incoming()) {
            let mut stream = stream.unwrap();
            read_request(&mut stream);
            let body = serde_json::json!({
                "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 400, "total_tokens": 1400}
            })
            .to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            std::io::Write::write_all(&mut stream, response.as_bytes()).unwrap();
        }
    });
    url
}

#[test]
fn a_session_recorded_from_a_live_model_replays_offline_at_no_cost() {
    if !avr_toolchain() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = copy_example(dir.path());
    let demo = autopilot_llm::ScriptedAnswers::load(&app.join("demo-answers.toml")).unwrap();
    let texts = demo
        .answers
        .into_iter()
        .map(|a| a.reply.unwrap().text)
        .collect();
    let url = serve_answers(texts);
    let run_dir = dir.path().join("run");
    autopilot()
        .current_dir(&app)
        .args([
            "run",
            "app.toml",
            "--model",
            "openai:gpt-4o",
            "--base-url",
            &url,
        ])
        .arg("--out")
        .arg(&run_dir)
        .env("OPENAI_API_KEY", "sk-test")
        .env("AUTOPILOT_CACHE_DIR", cache_dir())
        .assert()
        .code(0);
    // The server has served its three answers and closed: the replay cannot reach it.
    let output = replay(dir.path(), &[run_dir.to_str().unwrap(), "--base-url", &url]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "", "{stderr}");
    assert!(
        stderr.contains(
            "LLM cost $0: 3 calls served from the recordings (3 answered), no network; live they \
             would cost $0.0195 at today's prices"
        ),
        "{stderr}"
    );
    let replayed = fs_err::read_dir(dir.path().join("run-replay/sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let events = events(&replayed);
    assert_eq!(llm_sources(&events), vec![AnswerSource::Replay; 3]);
    let Some(Event::SessionStarted(started)) = events.first() else {
        panic!("no session_started");
    };
    assert_eq!(
        (started.provider.as_str(), started.model.as_str()),
        ("openai", "gpt-4o")
    );
    assert_eq!(outcome(&events), SessionOutcome::Success { attempt: 2 });
}

#[test]
fn a_stricter_policy_changes_the_outcome_and_the_replay_says_why() {
    if !avr_toolchain() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (run_dir, id) = record(dir.path());
    // A second session in the run directory: the same recording under another id.
    let sessions = run_dir.join("sessions");
    let second = format!("{id}-b");
    let copy = fs_err::read_to_string(sessions.join(format!("{id}.jsonl")))
        .unwrap()
        .replace(
            &format!("\"session\":\"{id}\""),
            &format!("\"session\":\"{second}\""),
        );
    fs_err::write(sessions.join(format!("{second}.jsonl")), copy).unwrap();
    let policies = dir.path().join("policies.toml");
    fs_err::write(&policies, "[attempts]\nsketch = 1\n").unwrap();
    let out = dir.path().join("strict");
    let output = replay(
        dir.path(),
        &[
            run_dir.to_str().unwrap(),
            "--policies",
            policies.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            "2",
        ],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    // One line per changed session, in the order of the trace files whatever finished first.
    let mut order = [format!("{id}.jsonl"), format!("{second}.jsonl")];
    order.sort();
    for (line, file) in lines.iter().zip(&order) {
        let session = file.trim_end_matches(".jsonl");
        assert!(
            line.starts_with(&format!(
                "{session}: success@2 → exhausted/sketch: sketch attempt 2 was compiled \
                 (succeeded) and printed \"red\" in simavr, now it is not made: the sketch \
                 attempt budget runs out after attempt 1 [final failure: "
            )),
            "{stdout}"
        );
    }
    assert!(
        stderr.contains("replay: 2 replayed, 0 unchanged, 2 changed"),
        "{stderr}"
    );
    assert!(out.join("artifacts").join(&second).is_dir());
    let events = events(&out.join("sessions").join(format!("{id}.jsonl")));
    assert_eq!(
        outcome(&events),
        SessionOutcome::Exhausted {
            stage: Stage::Sketch
        }
    );
    assert_eq!(llm_sources(&events), vec![AnswerSource::Replay; 2]);
}

#[test]
fn an_exact_replay_after_the_app_changed_is_a_replay_miss() {
    if !avr_toolchain() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (run_dir, id) = record(dir.path());
    let app = dir.path().join("app/app.toml");
    let edited = fs_err::read_to_string(&app)
        .unwrap()
        .replace("Classify colours", "Classify colors");
    fs_err::write(&app, edited).unwrap();
    let run = run_dir.to_str().unwrap();
    let exact = dir.path().join("exact");
    let output = replay(
        dir.path(),
        &[run, "--exact", "--out", exact.to_str().unwrap()],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "{id}: success@2 → infrastructure_error/replay_miss: spec attempt 1 was a valid spec, \
             now the recording has no answer for today's request (spec attempt 1, request "
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 changed (1 with a replay miss)"),
        "{stderr}"
    );
    // The original app file, given with --app, asks the recorded requests again.
    let original = root().join("examples/color_uno/app.toml");
    let with_app = dir.path().join("with-app");
    let output = replay(
        dir.path(),
        &[
            run,
            "--exact",
            "--app",
            original.to_str().unwrap(),
            "--out",
            with_app.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    // In recorded order, today's different prompt still gets the recorded answers.
    let in_order = dir.path().join("in-order");
    let output = replay(dir.path(), &[run, "--out", in_order.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "");
    assert!(text(&output.stderr).contains("1 unchanged"));
}

/// Writes a session with an app path and one answered LLM call (or a legacy import).
fn write_replayable(run_dir: &Path, id: &str, app_path: &str, origin: TraceOrigin) {
    write_events(
        run_dir,
        id,
        &[
            session_started(Some(app_path), origin),
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
                stream: false,
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
            }),
        ],
    );
}

#[test]
fn legacy_imports_and_traces_without_an_app_are_skipped_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let skipped = cwd.join("skipped");
    write_replayable(
        &skipped,
        "legacy",
        "/nowhere/app.toml",
        TraceOrigin::LegacyImport {
            file: "7677.log".into(),
            batch: "7677".into(),
            session: "63d0".into(),
        },
    );
    write_session(&skipped, "chat");
    let output = replay(cwd, &["skipped"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("legacy.jsonl: was imported from the legacy log 7677.log"),
        "{stderr}"
    );
    assert!(
        stderr.contains("chat.jsonl: records no app file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing to replay in skipped: every trace was skipped"),
        "{stderr}"
    );
    assert!(!cwd.join("skipped-replay").exists());

    // A recorded app file that is gone is named, and nothing runs.
    let gone = cwd.join("gone");
    write_replayable(&gone, "s01", "/nowhere/app.toml", TraceOrigin::Native);
    let output = replay(cwd, &["gone"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the app file of session s01"), "{stderr}");
    assert!(stderr.contains("/nowhere/app.toml"), "{stderr}");
    assert!(!cwd.join("gone-replay").exists());

    // A trace that does not start with session_started is broken input.
    let broken = cwd.join("broken/sessions");
    fs_err::create_dir_all(&broken).unwrap();
    fs_err::write(broken.join("x.jsonl"), "not json\n").unwrap();
    let output = replay(cwd, &["broken"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("x.jsonl: does not start with session_started"));

    // No run directory at all.
    let output = replay(cwd, &["missing"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("missing is not a run directory"));
}

/// The host verdicts (`host_check_finished`) of a trace: attempt, verdict, invokes, summary.
fn host_verdicts(events: &[Event]) -> Vec<(u32, HostVerdictKind, Option<u32>, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostCheckFinished(h) => {
                Some((h.attempt, h.verdict, h.invokes, h.summary.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_recorded_host_build_session_is_re_judged_by_the_host_check() {
    if !host_library() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let example = root().join("examples/fruit_to_emoji");
    // No arduino-cli: the session builds and judges the sketch on the host.
    autopilot()
        .arg("run")
        .arg(example.join("app.toml"))
        .arg("--answers")
        .arg(example.join("demo-answers.toml"))
        .arg("--out")
        .arg(&run_dir)
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .assert()
        .code(0);
    let recorded = fs_err::read_dir(run_dir.join("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let recorded_verdicts = host_verdicts(&events(&recorded));
    assert_eq!(
        recorded_verdicts.iter().map(|v| v.1).collect::<Vec<_>>(),
        [HostVerdictKind::WrongInput, HostVerdictKind::Pass]
    );

    let output = autopilot()
        .current_dir(dir.path())
        .arg("replay")
        .arg(&run_dir)
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .env("AUTOPILOT_PROMPTS_DIR", root().join("prompts"))
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("replay: 1 replayed, 1 unchanged, 0 changed"),
        "{stderr}"
    );
    let replayed = run_dir
        .with_file_name("run-replay/sessions")
        .join(recorded.file_name().unwrap());
    let events = events(&replayed);
    assert_eq!(outcome(&events), SessionOutcome::Success { attempt: 2 });
    // The replay re-ran the session's host check: the same verdicts, in the new trace.
    assert_eq!(host_verdicts(&events), recorded_verdicts);
    assert_eq!(recorded_verdicts[1].2, Some(225));
}
