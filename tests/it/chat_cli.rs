//! `autopilot chat`: the answer on stdout, the accounting on stderr, exit 3 for an unreachable
//! backend and 2 for a rejected request or bad input.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::thread;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::{autopilot, read_request};

/// A loopback HTTP server answering `connections` requests with `status` and a JSON `body`,
/// then closing its port.
fn serve(connections: usize, status: &str, body: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    thread::spawn(move || {
        for mut stream in listener.incoming().take(connections).flatten() {
            read_request(&mut stream);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// A config file with quick retries.
pub(crate) fn quick_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("autopilot.toml");
    fs_err::write(
        &path,
        "[retry]\nmax_attempts = 2\ninitial_delay_ms = 10\njitter = false\n",
    )
    .unwrap();
    path
}

#[test]
fn an_openai_compatible_answer_goes_to_stdout_and_its_cost_to_stderr() {
    let url = serve(
        1,
        "200 OK",
        r#"{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"<think>easy</think>void setup() {}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100}}"#,
    );
    autopilot()
        .args(["chat", "--model", "openai:gpt-4o", "--base-url"])
        .arg(format!("{url}/v1"))
        .args(["--system", "be brief", "Blink the LED."])
        .env_remove("OPENAI_API_KEY")
        .assert()
        .code(0)
        .stdout("void setup() {}\n")
        .stderr(contains("tokens 1000 in, 100 out"))
        .stderr(contains("cost $0.003500"))
        .stderr(contains("model gpt-4o-2024-08-06"))
        .stderr(contains("characters of reasoning"));
}

#[test]
fn an_unreachable_backend_exits_3_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    autopilot()
        .args(["chat", "--model", "ollama:qwen2.5-coder:32b", "--config"])
        .arg(quick_config(dir.path()))
        .args(["--base-url", &url, "hello"])
        .assert()
        .code(3)
        .stdout("")
        .stderr(contains("connection refused"))
        .stderr(contains("gave up after 2 tries"))
        .stderr(contains("Start it with `ollama serve`"))
        // Two tries: one retry, said once.
        .stderr(predicates::function::function(|err: &str| {
            err.matches("retrying in").count() == 1
        }));
}

#[test]
fn a_rejected_request_exits_2_without_retrying() {
    let url = serve(
        1,
        "401 Unauthorized",
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
    );
    autopilot()
        .args(["chat", "--model", "openai:gpt-4o", "--base-url"])
        .arg(format!("{url}/v1"))
        .arg("hello")
        .assert()
        .code(2)
        .stderr(contains("unauthorized"))
        .stderr(contains("Incorrect API key provided"))
        .stderr(contains("tries").not());
}

#[test]
fn bad_input_exits_2_and_says_what_is_wrong() {
    autopilot()
        .args(["chat", "--model", "gpt-4o", "hello"])
        .assert()
        .code(2)
        .stderr(contains("has no provider"));
    autopilot()
        .args(["chat", "--model", "openai:gpt-4o", "hello"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .assert()
        .code(2)
        .stderr(contains("set OPENAI_API_KEY"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    fs_err::write(&config, "[providers.openai]\napi_key = \"sk-literal\"\n").unwrap();
    autopilot()
        .args(["chat", "--model", "openai:gpt-4o", "--config"])
        .arg(&config)
        .arg("hello")
        .assert()
        .code(2)
        .stderr(contains("bad.toml"))
        .stderr(contains("api_key"));
    autopilot()
        .args(["chat", "--model", "replay:demo", "hello"])
        .assert()
        .code(2)
        .stderr(contains("--answers"));
}

#[test]
fn scripted_answers_replay_without_a_network() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.toml");
    fs_err::write(
        &answers,
        "[[answer]]\nstage = \"sketch\"\ntext = \"void loop() {}\"\ninput_tokens = 3\noutput_tokens = 4\n",
    )
    .unwrap();
    autopilot()
        .args(["chat", "--model", "replay:demo", "--answers"])
        .arg(&answers)
        .arg("anything")
        .assert()
        .code(0)
        .stdout("void loop() {}\n")
        .stderr(contains("tokens 3 in, 4 out"))
        .stderr(contains("cost unknown"))
        .stderr(contains("replayed"));
    autopilot()
        .args([
            "chat",
            "--model",
            "replay:demo",
            "--stage",
            "spec",
            "--answers",
        ])
        .arg(&answers)
        .arg("anything")
        .assert()
        .code(2)
        .stderr(contains("no recorded answer"))
        .stderr(contains("sketch#*"));
}

#[test]
fn a_traced_chat_is_a_valid_session_that_replays_without_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(
        1,
        "200 OK",
        r#"{"id":"c1","object":"chat.completion","created":1,"model":"qwen2.5-coder:32b","choices":[{"index":0,"message":{"role":"assistant","content":"void setup() {}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#,
    );
    let run_dir = dir.path().join("run");
    autopilot()
        .args([
            "chat",
            "--model",
            "openai:qwen2.5-coder:32b",
            "--temperature",
            "0.5",
        ])
        .args(["--stage", "spec", "--base-url"])
        .arg(format!("{url}/v1"))
        .arg("--trace-dir")
        .arg(&run_dir)
        .arg("Blink.")
        .assert()
        .code(0)
        .stdout("void setup() {}\n")
        .stderr(contains("trace: "));
    autopilot()
        .args(["trace", "validate"])
        .arg(&run_dir)
        .assert()
        .code(0)
        .stderr(contains("1 trace file(s), 3 event(s), 0 invalid"));
    // The server served its one request and is gone: the answer comes from the trace.
    autopilot()
        .args([
            "chat",
            "--model",
            "openai:qwen2.5-coder:32b",
            "--temperature",
            "0.5",
        ])
        .args(["--stage", "spec", "--replay"])
        .arg(&run_dir)
        .arg("Blink.")
        .assert()
        .code(0)
        .stdout("void setup() {}\n")
        .stderr(contains("tokens 9 in, 4 out"))
        .stderr(contains("replayed"));
    // Another prompt was never recorded.
    autopilot()
        .args([
            "chat",
            "--model",
            "openai:qwen2.5-coder:32b",
            "--temperature",
            "0.5",
        ])
        .args(["--stage", "spec", "--replay"])
        .arg(&run_dir)
        .arg("Blink twice.")
        .assert()
        .code(2)
        .stderr(contains("no recorded answer"))
        .stderr(contains("spec#1"));
}
