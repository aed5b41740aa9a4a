//! Hostile endpoints against the whole CLI: a server that reflects the API key (error bodies of
//! each status, a malformed 200, the answer, the query string of the base URL) and sends escape
//! sequences. The key appears nowhere — stdout, stderr, the run directory, and what `trace
//! show`, `classify` and `report` print of it — and escapes reach no terminal raw.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::thread;

use crate::chat_cli::quick_config;
use crate::support::{autopilot, read_request};

/// The key the servers reflect; each reflected form contains `hostile`.
const KEY: &str = "sk-hostile/Key+42=xyz";
const QUERY_SECRET: &str = "qs-hostile-77";

/// What a reflecting server answers.
#[derive(Debug, Clone, Copy)]
enum Reflect {
    Status(u16),
    Malformed,
    Answer,
}

/// A loopback server that answers every request by reflecting its request line and
/// `Authorization` header (the percent-encoded forms are the LLM crate's tests), plus an
/// escape sequence.
fn reflecting_server(reflect: Reflect) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let head = read_request(&mut stream);
            let line = head.lines().next().unwrap_or_default().to_owned();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_owned())
                })
                .unwrap_or_default();
            let echo = format!("\u{1b}]0;pwned\u{7}bad key {auth} for {line}");
            let (status, body) = match reflect {
                Reflect::Status(status) => (
                    status,
                    serde_json::json!({"error": {"message": echo, "code": "invalid_api_key"}})
                        .to_string(),
                ),
                Reflect::Malformed => (200, format!("{{\"choices\": [ {echo}")),
                Reflect::Answer => (
                    200,
                    serde_json::json!({
                        "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": echo},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
                    })
                    .to_string(),
                ),
            };
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// Every file under `dir`, concatenated.
fn all_text(dir: &Path) -> String {
    walk(dir)
        .iter()
        .map(|path| String::from_utf8_lossy(&fs_err::read(path).unwrap()).into_owned())
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains("hostile"), "{what}: the key leaked:\n{text}");
    assert!(
        !text.contains("\u{1b}]0;"),
        "{what}: a raw escape sequence:\n{text}"
    );
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_reflected_key_reaches_no_output_file_or_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = quick_config(dir.path());
    let runs = dir.path().join("runs");
    let cases = [
        Reflect::Status(400),
        Reflect::Status(401),
        Reflect::Status(429),
        Reflect::Status(500),
        Reflect::Malformed,
        Reflect::Answer,
    ];
    for (i, reflect) in cases.into_iter().enumerate() {
        let url = reflecting_server(reflect);
        let output = autopilot()
            .args(["chat", "--model", "openai:gpt-4o", "--config"])
            .arg(&config)
            .arg("--base-url")
            .arg(format!("{url}/v1?key={QUERY_SECRET}"))
            .arg("--trace-dir")
            .arg(runs.join(format!("case{i}")))
            .arg("hello")
            .env("OPENAI_API_KEY", KEY)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = output_text(&output);
        let what = format!("chat {reflect:?}");
        // The answer is data: piped, it stays as the server sent it (the escape included),
        // secrets removed. Everything else is escaped.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_clean(&what, &stderr);
        assert!(!text.contains("hostile"), "{what}: the key leaked:\n{text}");
        assert!(text.contains("***"), "{what}: nothing redacted:\n{text}");
        if let Reflect::Answer = reflect {
            assert_eq!(output.status.code(), Some(0), "{text}");
            assert!(
                String::from_utf8_lossy(&output.stdout).starts_with("\u{1b}]0;pwned\u{7}"),
                "{text}"
            );
        } else {
            assert_ne!(output.status.code(), Some(0), "{text}");
            assert!(stderr.contains("\\x1b]0;pwned\\x07"), "{what}: {stderr}");
        }
        if matches!(reflect, Reflect::Malformed) {
            // async-openai's own log line quotes the body; it is redacted too.
            assert!(stderr.contains("failed deserialization"), "{stderr}");
        }
    }
    assert!(
        !all_text(&runs).contains("hostile"),
        "the run directory holds the key"
    );

    // Readers of the run directory, with no key in their environment to redact with.
    let trace_files: Vec<_> = walk(&runs)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(trace_files.len(), cases.len());
    let mut escaped_shown = false;
    for file in &trace_files {
        let output = autopilot()
            .args(["trace", "show"])
            .arg(file)
            .env_remove("OPENAI_API_KEY")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = output_text(&output);
        assert_clean("trace show", &text);
        // The recorded error text is shown, its escape sequence visible and inert.
        escaped_shown |= text.contains("\\x1b]0;pwned\\x07");
    }
    assert!(escaped_shown, "trace show printed no recorded server text");
    let classify = autopilot()
        .args(["classify", "--format", "jsonl"])
        .arg(&runs)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert_clean("classify", &output_text(&classify));
    let report_dir = dir.path().join("report");
    let report = autopilot()
        .arg("report")
        .arg(&runs)
        .arg("--out")
        .arg(&report_dir)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert_clean("report", &output_text(&report));
    assert!(
        !all_text(&report_dir).contains("hostile"),
        "the report holds the key"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `doctor` probes an endpoint that reflects the key in a 401: neither its table nor its JSON
/// shows it (nor the query secret of the base URL).
#[test]
fn doctor_never_prints_a_reflected_key() {
    let url = reflecting_server(Reflect::Status(401));
    for format in ["human", "json"] {
        let output = autopilot()
            .args(["doctor", "--timeout", "5", "--format", format])
            .env("OPENAI_API_KEY", KEY)
            .env("OPENAI_BASE_URL", format!("{url}/v1?key={QUERY_SECRET}"))
            .env("OLLAMA_HOST", "http://127.0.0.1:9")
            .output()
            .unwrap();
        let text = output_text(&output);
        assert_clean(&format!("doctor {format}"), &text);
        assert!(text.contains("***"), "doctor {format}: {text}");
    }
}
