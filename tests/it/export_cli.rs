//! `autopilot export` and live `--otlp-endpoint` against a real collector with a UI: Arize
//! Phoenix (scripts/setup-phoenix.sh), started here on loopback; the spans are read back through
//! Phoenix's REST API and compared with the span trees of the same trace files. Plus the
//! collector-down behaviour of `run` and `export`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autopilot_otel::{MapOptions, MappedTrace, map_session};
use autopilot_trace::{Event, TraceFile, TraceRecord, collect_trace_files};
use serde_json::Value;

use autopilot_testkit::tools::{avr_toolchain_and_simavr, cache_dir};
use autopilot_testkit::{corpus, require};

use crate::support::autopilot;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET` over HTTP/1.0 (the body runs to the end of the connection): status and body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A Phoenix server on loopback ports, its working folder in a temp dir; killed (with its
/// process group) when dropped.
struct Phoenix {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

/// The `phoenix` of scripts/setup-phoenix.sh's cache. Under `CI=true` a missing one fails.
fn phoenix_executable() -> Option<PathBuf> {
    let found = fs_err::read_dir(cache_dir()).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("phoenix-"))
            .map(|e| e.path().join("bin/phoenix"))
            .find(|p| p.is_file())
    });
    require(
        "Arize Phoenix (bash scripts/setup-phoenix.sh)",
        found.is_some(),
    )
    .then_some(found?)
}

fn start_phoenix() -> Option<Phoenix> {
    use std::os::unix::process::CommandExt as _;
    let executable = phoenix_executable()?;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    #[expect(
        clippy::disallowed_methods,
        reason = "the test harness runs the collector the export is checked against"
    )]
    let mut command = std::process::Command::new(executable);
    let child = command
        .arg("serve")
        .current_dir(dir.path())
        .env("PHOENIX_WORKING_DIR", dir.path())
        .env("PHOENIX_HOST", "127.0.0.1")
        .env("PHOENIX_PORT", port.to_string())
        .env("PHOENIX_GRPC_PORT", free_port().to_string())
        .env("PHOENIX_TELEMETRY_ENABLED", "false")
        .stdout(
            fs_err::File::create(dir.path().join("phoenix.log"))
                .unwrap()
                .into_file(),
        )
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let phoenix = Phoenix {
        child,
        port,
        _dir: dir,
    };
    // Phoenix imports a large Python application: minutes on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if http_get(port, "/healthz").is_some_and(|(status, _)| status == 200) {
            return Some(phoenix);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("phoenix did not answer on port {port} within 600 s");
}

fn records(path: &Path) -> Vec<TraceRecord> {
    let file = TraceFile::read(path).unwrap();
    file.records.into_iter().map(|r| r.record).collect()
}

/// Phoenix's spans of one trace, once it has all `expected` of them (ingestion is
/// asynchronous).
fn spans_of(port: u16, trace: &MappedTrace) -> Vec<Value> {
    let path = format!(
        "/v1/projects/default/spans?trace_id={}&limit=1000",
        trace.trace_id_hex()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = http_get(port, &path).unwrap();
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let spans = answer["data"].as_array().cloned().unwrap_or_default();
        if spans.len() >= trace.spans.len() || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Phoenix's copy of a session agrees with its span tree: count, names, parents, root
/// attributes and times, GenAI attributes of the LLM calls.
fn check_in_phoenix(port: u16, records: &[TraceRecord]) {
    let trace = map_session(records, MapOptions::default()).unwrap();
    let spans = spans_of(port, &trace);
    assert_eq!(spans.len(), trace.spans.len(), "session {}", trace.session);
    let by_id: BTreeMap<String, &Value> = spans
        .iter()
        .map(|s| (s["context"]["span_id"].as_str().unwrap().to_owned(), s))
        .collect();
    let mut names: Vec<String> = spans
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = trace.spans.iter().map(|s| s.name.clone()).collect();
    expected.sort();
    assert_eq!(names, expected);
    let roots: Vec<&&Value> = by_id
        .values()
        .filter(|s| s["parent_id"].is_null())
        .collect();
    assert_eq!(roots.len(), 1, "one root per session");
    let root = roots[0];
    assert_eq!(root["name"], "invoke_workflow sketch_generation");
    for span in by_id.values() {
        if let Some(parent) = span["parent_id"].as_str() {
            assert!(by_id.contains_key(parent), "orphan span {}", span["name"]);
        }
    }
    let attributes = &root["attributes"];
    assert_eq!(attributes["autopilot.session.id"], trace.session.as_str());
    let outcome = records.iter().find_map(|r| match &r.event {
        Event::SessionFinished(f) => Some(f.outcome.as_str()),
        _ => None,
    });
    assert_eq!(
        attributes["autopilot.outcome"].as_str(),
        Some(outcome.unwrap_or("interrupted"))
    );
    // Times from the trace, not from the export.
    let start = root["start_time"].as_str().unwrap();
    assert!(
        start.starts_with(&records[0].ts[..19]),
        "{start} vs {}",
        records[0].ts
    );
    let calls = records
        .iter()
        .filter(|r| matches!(r.event, Event::LlmCall(_)))
        .count();
    let chats: Vec<&&Value> = by_id
        .values()
        .filter(|s| s["attributes"]["gen_ai.operation.name"] == "chat")
        .collect();
    assert_eq!(chats.len(), calls);
    for chat in chats {
        assert!(chat["attributes"]["gen_ai.request.model"].is_string());
        assert!(chat["attributes"]["gen_ai.provider.name"].is_string());
        assert!(chat["attributes"].get("gen_ai.input.messages").is_none());
    }
    let compiles = records
        .iter()
        .filter(|r| matches!(r.event, Event::CompileFinished(_)))
        .count();
    let compile_spans = by_id
        .values()
        .filter(|s| s["name"] == "execute_tool arduino_compile")
        .count();
    assert_eq!(compile_spans, compiles);
}

/// `session\ttrace id` lines of `autopilot export`.
fn exported(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect()
}

/// `autopilot run` of the color_uno example (the demo answers) into `out`.
fn run_demo(out: &Path) -> assert_cmd::Command {
    let mut command = autopilot();
    command
        .arg("run")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml"))
        .arg("--out")
        .arg(out);
    command
}

fn demo_trace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/autopilot-otel/tests/fixtures/demo-color_uno.jsonl")
}

#[test]
fn phoenix_shows_a_demo_session_imported_legacy_sessions_and_a_live_run_as_span_trees() {
    let Some(corpus) = corpus() else { return };
    if !avr_toolchain_and_simavr() {
        return;
    }
    let Some(phoenix) = start_phoenix() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", phoenix.port);
    let work = tempfile::tempdir().unwrap();

    // After the fact: the demo trace.
    let output = autopilot()
        .args(["export", "--endpoint", &endpoint])
        .arg(demo_trace())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(exported(&output.stdout).len(), 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains("dropped 0 session(s), 0 span(s)"));
    check_in_phoenix(phoenix.port, &records(&demo_trace()));

    // After the fact: a legacy log through the importer.
    let legacy = work.path().join("legacy");
    autopilot()
        .args(["import", "--out"])
        .arg(&legacy)
        .arg(corpus.join("raw_logs/sg_gpt4o_7677.log"))
        .assert()
        .success();
    let output = autopilot()
        .args(["export", "--endpoint", &endpoint])
        .arg(corpus.join("raw_logs/sg_gpt4o_7677.log"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let files = collect_trace_files(&legacy).unwrap();
    let sessions: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(exported(&output.stdout), sessions, "every session, once");
    for file in &files {
        check_in_phoenix(phoenix.port, &records(file));
    }

    // Live: a run with --otlp-endpoint.
    let run = work.path().join("run");
    let output = run_demo(&run)
        .args(["--otlp-endpoint", &endpoint])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("otlp: exported 1 session(s)"), "{stderr}");
    let live = collect_trace_files(&run).unwrap();
    assert_eq!(live.len(), 1);
    check_in_phoenix(phoenix.port, &records(&live[0]));
}

#[test]
fn a_run_with_its_collector_down_succeeds_and_reports_the_spans_it_dropped() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let run = work.path().join("run");
    let output = run_demo(&run)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20sk-down-0123456789",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let files = collect_trace_files(&run).unwrap();
    let spans = map_session(&records(&files[0]), MapOptions::default())
        .unwrap()
        .spans
        .len();
    assert!(
        stderr.contains(&format!("dropped 1 session(s), {spans} span(s)")),
        "{stderr}"
    );
    assert!(!stderr.contains("sk-down-0123456789"), "{stderr}");

    // After the fact, the same collector down is exit 3 with the count.
    let output = autopilot()
        .args(["export", "--endpoint", &endpoint])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("dropped 1 session(s), {spans} span(s)")),
        "{stderr}"
    );
}
