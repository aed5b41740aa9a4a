//! `autopilot run` from the command line: the model it picks when none is named (a reachable
//! Ollama, else the example's hand-written demo answers, labelled), its outputs and exit codes.

use std::path::PathBuf;

use autopilot_trace::{Event, TraceFile, collect_trace_files};
use predicates::str::contains;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{AVR_TOOLCHAIN, autopilot, installed};

fn toolchain() -> bool {
    installed(
        "the AVR toolchain and simavr",
        &[AVR_TOOLCHAIN, &["/usr/bin/simavr"]].concat(),
    )
}

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
            &self.spec
        } else {
            &self.sketch
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_ollama_is_used_when_no_model_is_named() {
    if !toolchain() {
        return;
    }
    let text = std::fs::read_to_string(app().with_file_name("demo-answers.toml")).unwrap();
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
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let mut cmd = autopilot();
    cmd.args(["run"])
        .arg(app())
        .arg("--out")
        .arg(&run)
        .arg("--cache-dir")
        .arg(cache_dir())
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", server.uri());
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
        (1800, 600),
        "Ollama's eval counts"
    );
}

#[test]
fn a_bad_app_file_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("app.toml");
    std::fs::write(
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

/// Whether `autopilot host setup` has built the host TFLM library in the default cache (and the
/// host build's tools are there).
fn host_library() -> bool {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    let cache = base.join("autopilot/host-tflm");
    let library = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("lib/libtflm.a"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| cache.join("<key>/lib/libtflm.a"));
    installed(
        "the host TFLM library (bash scripts/setup-host-tflm.sh), arduino-ctags, g++",
        &[
            &library.to_string_lossy(),
            "/usr/bin/arduino-ctags",
            "/usr/bin/g++",
        ],
    )
}

#[test]
fn fruit_to_emoji_runs_on_the_host_build_where_arduino_cli_is_missing() {
    if !host_library() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    autopilot()
        .arg("run")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji/app.toml"))
        .arg("--out")
        .arg(&run)
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
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
}
