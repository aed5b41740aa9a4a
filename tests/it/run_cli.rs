//! `autopilot run` from the command line: the model it picks when none is named (a reachable
//! Ollama, else the example's hand-written demo answers, labelled), its outputs and exit codes.

use std::path::PathBuf;

use autopilot_trace::{Event, TraceFile, collect_trace_files};
use predicates::prelude::PredicateBooleanExt as _;
use predicates::str::contains;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use autopilot_testkit::openai::{requested_target, spec_for_target};
use autopilot_testkit::tools::{avr_toolchain_and_simavr as toolchain, host_library};

use crate::support::autopilot;

fn app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml")
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run-cache")
}

fn events(run_dir: &std::path::Path) -> Vec<Event> {
    let files = collect_trace_files(run_dir).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = TraceFile::read(&files[0]).unwrap();
    assert_eq!(file.validate(), vec![]);
    file.events().cloned().collect()
}

#[test]
fn without_any_llm_the_demo_answers_run_and_say_so() {
    if !toolchain() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    autopilot()
        .args(["run"])
        .arg(app())
        .arg("--out")
        .arg(&run)
        .arg("--cache-dir")
        .arg(cache_dir())
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .assert()
        .code(0)
        .stdout(contains("sketch/color_uno"))
        .stderr(contains("HAND-WRITTEN DEMO ANSWERS"))
        .stderr(contains("simulate #2: simavr printed"));
    let events = events(&run);
    match &events[0] {
        Event::SessionStarted(s) => assert_eq!(
            (s.provider.as_str(), s.model.as_str()),
            ("replay", "demo-answers")
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Note(n) if n.message.contains("HAND-WRITTEN DEMO ANSWERS"))
        )
    );
    assert!(run.join("sketch/color_uno/color_uno.ino").is_file());
    assert!(run.join("sketch/color_uno/color_model.h").is_file());
}

/// Ollama's `/api/chat`: the spec for spec requests, the good sketch otherwise.
struct OllamaChat {
    spec: String,
    sketch: String,
}

impl Respond for OllamaChat {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let content = if body.contains("<fill:") {
            spec_for_target(
                &self.spec,
                requested_target(&serde_json::from_slice(&request.body).unwrap_or_default())
                    .as_deref(),
            )
        } else {
            self.sketch.clone()
        };
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "model": "qwen2.5-coder:7b",
            "created_at": "2026-11-21T00:00:00Z",
            "message": {"role": "assistant", "content": content},
            "done": true,
            "done_reason": "stop",
            "prompt_eval_count": 900,
            "eval_count": 300
        }))
    }
}

/// A loopback Ollama answering with the demo spec (for the requested target) and the good
/// demo sketch.
async fn ollama_with_demo_answers() -> MockServer {
    let text = fs_err::read_to_string(app().with_file_name("demo-answers.toml")).unwrap();
    let answers: toml::Value = toml::from_str(&text).unwrap();
    let texts: Vec<String> = answers["answer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap().to_owned())
        .collect();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "models": [{"name": "llama3.2:1b"}, {"name": "qwen2.5-coder:7b"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(OllamaChat {
            spec: texts[0].clone(),
            sketch: texts[2].clone(),
        })
        .mount(&server)
        .await;
    server
}

/// `autopilot run <color_uno> <extra> --out <run>` with no model named and `server` as Ollama.
fn run_with_ollama(
    server: &MockServer,
    extra: &[&str],
    run: &std::path::Path,
) -> assert_cmd::Command {
    let mut cmd = autopilot();
    cmd.args(["run"])
        .arg(app())
        .args(extra)
        .arg("--out")
        .arg(run)
        .arg("--cache-dir")
        .arg(cache_dir())
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", server.uri());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_ollama_is_used_when_no_model_is_named() {
    if !toolchain() {
        return;
    }
    let server = ollama_with_demo_answers().await;
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let mut cmd = run_with_ollama(&server, &[], &run);
    let assert = tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap();
    assert
        .code(0)
        .stderr(contains("using ollama:qwen2.5-coder:7b"));
    let events = events(&run);
    match &events[0] {
        Event::SessionStarted(s) => assert_eq!(
            (s.provider.as_str(), s.model.as_str()),
            ("ollama", "qwen2.5-coder:7b")
        ),
        other => panic!("{other:?}"),
    }
    let finished = events.iter().find_map(|e| match e {
        Event::SessionFinished(f) => Some(f.clone()),
        _ => None,
    });
    let finished = finished.unwrap();
    assert_eq!(
        finished.outcome,
        autopilot_trace::SessionOutcome::Success { attempt: 1 }
    );
    assert_eq!(
        (finished.totals.input_tokens, finished.totals.output_tokens),
        (Some(1800), Some(600)),
        "Ollama's eval counts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_target_overrides_the_apps_board_in_the_spec_and_the_build() {
    if !toolchain() {
        return;
    }
    let server = ollama_with_demo_answers().await;
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let mut cmd = run_with_ollama(&server, &["--target", "nano"], &run);
    let assert = tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap();
    assert.code(0);
    let prompt = fs_err::read_to_string(
        run.join("artifacts")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("spec-1/prompt.md"),
    )
    .unwrap();
    assert!(prompt.contains("\"target\": \"nano\""), "{prompt}");
    let events = events(&run);
    assert!(events.iter().any(|e| matches!(e,
        Event::CheckVerdict(v) if v.check == "spec.target" && v.passed)));
    let compiles: Vec<&autopilot_trace::CompileFinished> = events
        .iter()
        .filter_map(|e| match e {
            Event::CompileFinished(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(!compiles.is_empty());
    assert!(
        compiles
            .iter()
            .all(|c| c.fqbn == "arduino:avr:nano:cpu=atmega328"),
        "{compiles:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_nothing_here_can_build_stops_before_any_llm_call() {
    // The Nano 33 BLE example needs arduino-cli and the mbed core; neither exists here.
    let server = MockServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let mut cmd = autopilot();
    cmd.arg("run")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji/app.toml"))
        .args(["--model", "openai:gpt-4o-mini", "--base-url"])
        .arg(format!("{}/v1", server.uri()))
        .arg("--out")
        .arg(&run)
        .arg("--cache-dir")
        .arg(cache_dir())
        .env("OPENAI_API_KEY", "test-key")
        .env("AUTOPILOT_ARDUINO_CLI", out.path().join("no-arduino-cli"));
    let assert = tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap();
    assert
        .code(3)
        .stderr(contains("cannot build for nano33ble_sense"))
        .stderr(contains(
            "install arduino-cli: https://arduino.github.io/arduino-cli/latest/installation/, then `arduino-cli core install arduino:mbed_nano`",
        ))
        // The test's cache folder holds no host TFLM library: no host build stands in either.
        .stderr(contains("no host build either"))
        .stderr(contains("autopilot host setup"));
    assert_eq!(
        server.received_requests().await.unwrap_or_default().len(),
        0,
        "no LLM request"
    );
    let events = events(&run);
    assert!(matches!(events[0], Event::SessionStarted(_)));
    assert!(!events.iter().any(|e| matches!(e, Event::LlmCall(_))));
    match events.last() {
        Some(Event::SessionFinished(f)) => assert!(
            matches!(&f.outcome, autopilot_trace::SessionOutcome::InfrastructureError { kind, .. } if *kind == autopilot_trace::InfraErrorKind::ToolchainMissing),
            "{:?}",
            f.outcome
        ),
        other => panic!("{other:?}"),
    }
}

/// The progress lines of a session answered from the example's recorded answers: a failed
/// compile, a repair, a successful compile and the simulation, one line each.
#[test]
fn the_progress_lines_of_a_recorded_session() {
    if !toolchain() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = autopilot()
        .arg("run")
        .arg(app())
        .arg("--answers")
        .arg(app().with_file_name("demo-answers.toml"))
        .arg("--out")
        .arg(out.path().join("run"))
        // A cache of its own: no line says "(cache hit)" on one run and not on another.
        .arg("--cache-dir")
        .arg(out.path().join("cache"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    autopilot_testkit::snapshot::settings(&[(out.path(), "[OUT]")]).bind(|| {
        insta::assert_snapshot!(
            "run_progress_recorded_answers",
            autopilot_testkit::snapshot::command_output(&output)
        );
    });
}

/// `run -q` prints errors only: stdout has the sketch folder, stderr nothing.
#[test]
fn run_quiet_prints_nothing_on_stderr() {
    if !toolchain() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let answers = app().with_file_name("demo-answers.toml");
    let assert = autopilot()
        .args(["run", "-q"])
        .arg(app())
        .arg("--answers")
        .arg(&answers)
        .arg("--out")
        .arg(out.path().join("run"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .assert()
        .code(0)
        .stdout(contains("sketch/color_uno"));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(stderr, "", "-q is errors only");
}

#[test]
fn a_bad_app_file_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("app.toml");
    fs_err::write(
        &bad,
        "name = \"x\"\ndescription = \"y\"\ntarget = \"uno\"\nclasses = []\n",
    )
    .unwrap();
    autopilot()
        .arg("run")
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(contains(bad.display().to_string()))
        .stderr(contains("classes"));
    autopilot()
        .args(["run", "no-such-app.toml"])
        .assert()
        .code(2)
        .stderr(contains("no-such-app.toml"));
}

#[test]
fn two_runs_into_one_out_at_once_keep_both_sessions() {
    if !toolchain() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let one_run = || {
        let run = run.clone();
        std::thread::spawn(move || {
            autopilot()
                .args(["run"])
                .arg(app())
                .arg("--out")
                .arg(&run)
                .arg("--cache-dir")
                .arg(cache_dir())
                .env_remove("OPENAI_API_KEY")
                .env("OLLAMA_HOST", "127.0.0.1:9")
                .output()
                .unwrap()
        })
    };
    let (a, b) = (one_run(), one_run());
    for output in [a.join().unwrap(), b.join().unwrap()] {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let files = collect_trace_files(&run).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        assert_eq!(TraceFile::read(&file).unwrap().validate(), vec![]);
    }
}

#[test]
fn sampling_flags_have_help() {
    for command in ["run", "chat"] {
        let output = autopilot().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in ["--temperature", "--top-p", "--seed", "--max-tokens"] {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(flag))
                .unwrap_or_else(|| panic!("{command}: no {flag} in {help}"));
            assert!(
                line.trim_end().len() > line.trim().find(' ').unwrap_or(0) + 12,
                "{command} {flag} has no help: {line:?}"
            );
        }
    }
}

#[test]
fn fruit_to_emoji_runs_on_the_host_build_where_arduino_cli_is_missing() {
    if !host_library() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    // An arduino-cli sketchbook with the pinned library installed (properties and an empty
    // src/) but not built for the host: the verdict says it was found and that the profile was
    // used instead of its sources.
    let library = out
        .path()
        .join("sketchbook/libraries/Chirale_TensorFLowLite");
    fs_err::create_dir_all(library.join("src")).unwrap();
    fs_err::write(
        library.join("library.properties"),
        "name=Chirale_TensorFLowLite\nversion=2.0.0\n",
    )
    .unwrap();
    autopilot()
        .arg("run")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji/app.toml"))
        .arg("--out")
        .arg(&run)
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .env("ARDUINO_DIRECTORIES_USER", out.path().join("sketchbook"))
        .assert()
        .code(0)
        .stdout(contains("sketch/fruit_to_emoji"))
        .stderr(contains("HOST BUILD"))
        .stderr(contains(
            "host check #1 (host build, Chirale_TensorFLowLite@2.0.0): wrong_input",
        ))
        .stderr(contains(
            "host check #2 (host build, Chirale_TensorFLowLite@2.0.0): pass",
        ));
    let verdicts: Vec<_> = events(&run)
        .into_iter()
        .filter_map(|e| match e {
            Event::HostCheckFinished(h) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[1].invokes, Some(225));
    assert!(verdicts[1].printed_accuracy.unwrap() > 0.9);
    let source = &verdicts[1].tflm_source;
    assert!(source.starts_with("crates.io tfmicro 0.1.0"), "{source}");
    assert!(
        source.contains(&format!(
            "Chirale_TensorFLowLite@2.0.0 is installed at {}",
            library.display()
        )) && source.contains("the API profile over tfmicro was used"),
        "{source}"
    );
}

/// Without --model, `run` picks OpenAI when the resolved settings hold a key: the variable
/// the LLM config's `api_key_env` names counts, not only OPENAI_API_KEY.
#[test]
fn the_configured_key_variable_picks_openai() {
    if !toolchain() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("llm.toml");
    fs_err::write(
        &config,
        "[providers.openai]\napi_key_env = \"AUTOPILOT_TEST_KEY\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
    )
    .unwrap();
    autopilot()
        .args(["run"])
        .arg(app())
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(out.path().join("run"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .env_remove("OPENAI_API_KEY")
        .env("AUTOPILOT_TEST_KEY", "sk-test-key-12345")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .assert()
        .code(3)
        .stderr(contains("with openai:gpt-4o-mini"))
        .stderr(contains("DEMO ANSWERS").not());
}

/// A run that stops before any LLM call (no arduino-cli for the Nano 33 BLE), with the given
/// flags; returns its stderr.
fn stderr_of_early_stop(dir: &std::path::Path, flags: &[&std::ffi::OsStr]) -> String {
    let output = autopilot()
        .arg("run")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji/app.toml"))
        .args([
            "--model",
            "openai:gpt-4o-mini",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ])
        .args(flags)
        .arg("--out")
        .arg(dir.join("run"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .env("OPENAI_API_KEY", "test-key")
        .env("AUTOPILOT_ARDUINO_CLI", dir.join("no-arduino-cli"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A policies file with a retry section, an LLM config with a fallback model (both in their old
/// homes).
fn files_in_old_homes(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let policies = dir.join("policies.toml");
    fs_err::write(&policies, "[retry]\nmax_tries = 2\n").unwrap();
    let llm = dir.join("llm.toml");
    fs_err::write(&llm, "fallback_model = \"ollama:qwen2.5-coder:7b\"\n").unwrap();
    (policies, llm)
}

/// Retries live in the LLM config, the fallback model in the policies: the old places still
/// work, and each says so on stderr instead of being silently used or ignored.
#[test]
fn settings_in_their_old_file_are_used_with_a_deprecation_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (policies, llm) = files_in_old_homes(dir.path());
    let flags = [
        "--policies".as_ref(),
        policies.as_os_str(),
        "--config".as_ref(),
        llm.as_os_str(),
    ];
    let stderr = stderr_of_early_stop(dir.path(), &flags);
    assert!(
        stderr.contains(&format!(
            "{}: `[retry]` in the policies file is deprecated",
            policies.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}: `fallback_model = \"ollama:qwen2.5-coder:7b\"` in the LLM config is deprecated",
            llm.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("used this time"), "{stderr}");
    assert!(!stderr.contains("--config now names"), "{stderr}");
}

/// `--config` names the LLM config for every command; the old `--config policies.toml` and
/// `--llm-config` of run, batch and replay still work, each with a warning.
#[test]
fn the_old_config_flags_of_sessions_still_work_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (policies, llm) = files_in_old_homes(dir.path());
    let flags = [
        "--config".as_ref(),
        policies.as_os_str(),
        "--llm-config".as_ref(),
        llm.as_os_str(),
    ];
    let stderr = stderr_of_early_stop(dir.path(), &flags);
    assert!(
        stderr.contains("--llm-config is deprecated: use --config"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "--config {} reads as a policies file",
            policies.display()
        )),
        "{stderr}"
    );
    // Each file was read as what it is: the policies' retry and the LLM config's fallback.
    assert!(
        stderr.contains("`[retry]` in the policies file is deprecated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("in the LLM config is deprecated"),
        "{stderr}"
    );
}
