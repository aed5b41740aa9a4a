//! Helpers for CLI tests: the binary under test and small trace files.

use std::io::Read;
use std::path::{Path, PathBuf};

use autopilot_trace::{
    AttemptFinished, AttemptOutcome, Event, JsonlLayer, RunDirSink, SamplingParams,
    SessionFinished, SessionId, SessionOutcome, SessionStarted, SessionTotals, Stage, TraceOrigin,
    emit, session_span,
};
use tracing_subscriber::layer::SubscriberExt;

pub fn autopilot() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("autopilot").unwrap();
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// A `session_started` of the uno demo answered by `replay:demo`.
pub fn session_started(app_path: Option<&str>, origin: TraceOrigin) -> Event {
    Event::SessionStarted(SessionStarted {
        app: "color_classifier".into(),
        app_path: app_path.map(Into::into),
        target: "uno".into(),
        fqbn: Some("arduino:avr:uno".into()),
        provider: "replay".into(),
        model: "demo".into(),
        endpoint: None,
        prompt_variant: "default".into(),
        sampling: SamplingParams::default(),
        seed: None,
        tool_versions: vec![],
        autopilot_version: "0.1.0".into(),
        batch: None,
        origin,
    })
}

/// Writes a small finished session into `<run_dir>/sessions/<id>.jsonl` through the real layer.
pub fn write_session(run_dir: &Path, id: &str) -> PathBuf {
    write_events(
        run_dir,
        id,
        &[
            session_started(None, TraceOrigin::Native),
            Event::AttemptFinished(AttemptFinished {
                stage: Stage::Sketch,
                attempt: 1,
                outcome: AttemptOutcome::CompileFailed,
                message: "'foo' was not declared in this scope".into(),
            }),
            Event::SessionFinished(SessionFinished {
                outcome: SessionOutcome::Success { attempt: 2 },
                totals: SessionTotals::default(),
            }),
        ],
    )
}

/// Writes `events` as the session `<run_dir>/sessions/<id>.jsonl` through the real layer.
pub fn write_events(run_dir: &Path, id: &str, events: &[Event]) -> PathBuf {
    let id = SessionId::new(id).unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(run_dir));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = session_span(&id);
        let _entered = span.enter();
        for event in events {
            emit(event);
        }
    });
    RunDirSink::session_path(run_dir, &id)
}

/// `<workspace>/../shared/corpus/autopilot-failures` (or the same under a further ancestor, for
/// git worktrees one level deeper), if present. Under `CI=true` a missing corpus fails the
/// test; elsewhere the test is skipped with a message.
#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on stderr, where the test harness shows it"
)]
pub fn corpus() -> Option<PathBuf> {
    // An explicit corpus wins; a wrong one is an error, not a skip.
    if let Some(dir) = std::env::var_os("AUTOPILOT_CORPUS").map(PathBuf::from) {
        assert!(
            dir.join("raw_logs").is_dir(),
            "AUTOPILOT_CORPUS={} has no raw_logs/",
            dir.display()
        );
        return Some(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = root.canonicalize().unwrap_or(root);
    if let Some(found) = root
        .ancestors()
        .map(|a| a.join("shared/corpus/autopilot-failures"))
        .find(|d| d.join("raw_logs").is_dir())
    {
        return Some(found);
    }
    let expected = root.join("../shared/corpus/autopilot-failures");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the published corpus is missing at {} and CI=true requires it",
        expected.display()
    );
    eprintln!(
        "skipped: the published corpus is not at {} (CI=true makes this a failure)",
        expected.display()
    );
    None
}

/// Whether every one of `files` exists: Debian's AVR toolchain and simavr live at fixed paths.
/// Under `CI=true` a missing one fails the test; elsewhere the test is skipped with a message.
#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on stderr, where the test harness shows it"
)]
pub fn installed(what: &str, files: &[&str]) -> bool {
    if let Some(missing) = files.iter().find(|f| !Path::new(f).is_file()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing ({missing}) and CI=true requires it"
        );
        eprintln!("skipped: {what} is missing ({missing}; scripts/install-os-deps.sh)");
        return false;
    }
    true
}

/// arduino-builder, its AVR core and avr-gcc.
pub const AVR_TOOLCHAIN: &[&str] = &[
    "/usr/bin/arduino-builder",
    "/usr/bin/avr-gcc",
    "/usr/share/arduino/hardware/arduino/avr/platform.txt",
];

/// Reads a request's head and `content-length` body; returns the head.
pub fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The board a chat request's spec template states (`"target": "<name>"` in a message), so a
/// loopback LLM can answer for the session's target.
pub fn requested_target(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    body["messages"].as_array()?.iter().find_map(|message| {
        let content = message["content"].as_str()?;
        let rest = &content[content.find("\"target\": \"")? + "\"target\": \"".len()..];
        Some(rest[..rest.find('"')?].to_owned())
    })
}

/// A spec answer written for the uno, restated for `target`.
pub fn spec_for_target(spec: &str, target: Option<&str>) -> String {
    spec.replace(
        "\"target\": \"uno\"",
        &format!("\"target\": \"{}\"", target.unwrap_or("uno")),
    )
}

/// Runs the binary with its stdout on a pipe whose reader is already gone (`| head` that has
/// stopped reading), and returns its exit code and stderr.
pub fn run_into_closed_pipe(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    #[expect(
        clippy::disallowed_methods,
        reason = "the test runs the binary under test with a closed stdout"
    )]
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("autopilot"));
    let output = command
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether `autopilot host setup` has built the host TFLM library in the default cache (and the
/// host build's tools are there).
pub fn host_library() -> bool {
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
