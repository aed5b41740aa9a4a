//! A real LLM in the loop: llama.cpp's `llama-server` with SmolLM2-135M-Instruct (built and
//! cached by scripts/setup-llama.sh), started per test on a free loopback port. `chat` plain
//! and streamed, a truncated answer, a model looping until the cap, a context overflow, a
//! model name the endpoint does not serve, and a whole `run`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use autopilot_trace::{Event, LlmCall, LlmCallResult, TraceFile};

use crate::support::autopilot;

/// A running `llama-server`, killed on drop.
pub struct LlamaServer {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The cached server and model (scripts/setup-llama.sh), if built.
fn cached() -> Option<(PathBuf, PathBuf)> {
    fs_err::read_dir(autopilot_testkit::tools::cache_dir())
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("llama-"))
        })
        .map(|dir| (dir.join("bin/llama-server"), dir.join("model.gguf")))
        .find(|(server, model)| server.is_file() && model.is_file())
}

impl LlamaServer {
    /// Starts the server with the settings of scripts/setup-llama.sh and waits for `/health`.
    /// `None` (a recorded skip) when it is not built; under `CI=true` that fails the test.
    pub fn start() -> Option<LlamaServer> {
        let found = cached();
        if !autopilot_testkit::require(
            "llama-server and its model (bash scripts/setup-llama.sh)",
            found.is_some(),
        ) {
            return None;
        }
        let (server, model) = found?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let out = fs_err::File::create(&log).unwrap().into_file();
        #[expect(
            clippy::disallowed_methods,
            reason = "the test starts the LLM server the code under test talks to"
        )]
        let child = std::process::Command::new(&server)
            .arg("-m")
            .arg(&model)
            .args(["--alias", "smollm2-135m", "-c", "8192", "-n", "1024"])
            .args(["-np", "1", "-t", "1", "-tb", "2", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            // Busy-waiting OpenMP threads on 2 shared cores ran 4x slower.
            .env("OMP_WAIT_POLICY", "passive")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("llama-server starts");
        let mut running = LlamaServer {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !running.healthy() {
            if let Some(status) = running.child.try_wait().unwrap() {
                panic!("llama-server exited ({status}):\n{}", running.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "llama-server not healthy after 120 s:\n{}",
                running.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(running)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200")
    }

    pub fn log_text(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `llm_call` events of the one trace in `dir`.
pub fn llm_calls(dir: &Path) -> Vec<LlmCall> {
    let files = autopilot_trace::collect_trace_files(dir).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let trace = TraceFile::read(&files[0]).unwrap();
    assert_eq!(trace.validate(), vec![], "the trace is valid");
    trace
        .events()
        .filter_map(|e| match e {
            Event::LlmCall(call) => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// `chat` against the server, tracing into `trace`, deterministic sampling.
fn chat_args(server: &LlamaServer, model: &str, trace: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "chat",
        "--model",
        model,
        "--base-url",
        &server.base_url(),
        "--temperature",
        "0",
        "--seed",
        "7",
        "--timeout",
        "120",
        "--trace-dir",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(trace.into());
    args
}

fn chat(server: &LlamaServer, model: &str, trace: &Path) -> assert_cmd::Command {
    let mut cmd = autopilot();
    cmd.args(chat_args(server, model, trace))
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    cmd
}

fn answered(call: &LlmCall) -> &autopilot_trace::LlmAnswer {
    match &call.result {
        LlmCallResult::Answered(answer) => answer,
        LlmCallResult::Failed(failure) => panic!("the call failed: {failure:?}"),
    }
}

#[test]
fn chat_plain_truncated_and_overflowing_against_llama_server() {
    let Some(server) = LlamaServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();

    // Plain, under the name of a priced model: another model answers, so the cost is unknown
    // (before: priced as gpt-4o-mini).
    let plain = tmp.path().join("plain");
    let output = chat(&server, "openai:gpt-4o-mini", &plain)
        .args(["--max-tokens", "40", "What colour is the sky? One word."])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!output.stdout.trim_ascii().is_empty(), "{stderr}");
    assert!(
        stderr.contains("model smollm2-135m (requested gpt-4o-mini)"),
        "{stderr}"
    );
    assert!(stderr.contains("cost unknown"), "{stderr}");
    assert!(
        stderr.contains("priced as the model that answered"),
        "{stderr}"
    );
    let calls = llm_calls(&plain);
    assert_eq!(calls.len(), 1);
    let answer = answered(&calls[0]);
    assert_eq!(calls[0].model, "gpt-4o-mini");
    assert_eq!(answer.response_model.as_deref(), Some("smollm2-135m"));
    assert!(answer.usage.input.is_some_and(|n| n > 0), "{answer:?}");
    assert!(answer.usage.output.is_some_and(|n| (1..=40).contains(&n)));
    assert!(answer.finish_reason.is_some(), "{answer:?}");
    assert_eq!(calls[0].cost_usd, None);

    // Truncated: the cap cuts the answer, and the finish reason says so.
    let cut = tmp.path().join("cut");
    let output = chat(&server, "openai:smollm2-135m", &cut)
        .args(["--max-tokens", "8", "Describe the Arduino Uno in detail."])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("finish length (cut at 8 tokens)"),
        "{stderr}"
    );
    let calls = llm_calls(&cut);
    let answer = answered(&calls[0]);
    assert_eq!(answer.finish_reason.as_deref(), Some("length"));
    assert_eq!(answer.usage.output, Some(8));
    assert_eq!(calls[0].sampling.max_tokens, Some(8));

    // A prompt over the 8192-token context: typed as such, not retried, exit 2 (before: a
    // generic `bad_request`).
    let overflow = tmp.path().join("overflow");
    let prompt = "blink the red led then wait ".repeat(2000);
    let output = chat(&server, "openai:smollm2-135m", &overflow)
        .args(["--max-attempts", "3", &prompt])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("prompt longer than the context window"),
        "{stderr}"
    );
    let calls = llm_calls(&overflow);
    assert_eq!(calls.len(), 1, "not retried");
    match &calls[0].result {
        LlmCallResult::Failed(failure) => {
            assert_eq!(
                failure.kind,
                autopilot_trace::LlmErrorKind::ContextTooLong,
                "{failure:?}"
            );
            assert_eq!(failure.http_status, Some(400));
        }
        LlmCallResult::Answered(answer) => panic!("answered: {answer:?}"),
    }

    // doctor: the requested model is not among those the endpoint serves.
    let output = autopilot()
        .args(["doctor", "--model", "openai:gpt-4o-mini", "--base-url"])
        .arg(server.base_url())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "the requested model openai:gpt-4o-mini is not among those its endpoint serves (smollm2-135m)"
        ),
        "{stdout}"
    );
}

#[test]
fn a_streamed_loop_prints_as_it_arrives_and_stops_at_the_cap() {
    let Some(server) = LlamaServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("stream");
    #[expect(
        clippy::disallowed_methods,
        reason = "the test reads the binary's stdout while it runs"
    )]
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("autopilot"));
    let started = Instant::now();
    let mut child = command
        .args(chat_args(&server, "openai:smollm2-135m", &trace))
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .args(["--stream", "--max-tokens", "96"])
        .arg("Count from 1 to 500, separated by commas.")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    let first_byte = started.elapsed();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let done = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let calls = llm_calls(&trace);
    let answer = answered(&calls[0]);
    assert!(calls[0].stream);
    // The loop runs into the cap, not into the timeout.
    assert_eq!(
        answer.finish_reason.as_deref(),
        Some("length"),
        "{answer:?}"
    );
    assert_eq!(answer.usage.output, Some(96));
    let ttft = answer
        .time_to_first_token_ms
        .expect("the time to the first token is recorded");
    assert!(ttft < calls[0].latency_ms, "{ttft} {}", calls[0].latency_ms);
    // Printed as it arrived: the first byte came long before the 96 tokens were done
    // (before: the whole answer was printed at the end).
    assert!(
        done.saturating_sub(first_byte) > Duration::from_millis(500),
        "first byte at {first_byte:?}, done at {done:?}"
    );
    let printed = [&first[..], &rest].concat();
    assert_eq!(
        String::from_utf8_lossy(&printed).trim_end(),
        answer.text.trim_end()
    );
}

#[test]
fn a_whole_run_of_color_uno_ends_classified_with_every_call_accounted() {
    if !autopilot_testkit::tools::avr_toolchain_and_simavr() {
        return;
    }
    let Some(server) = LlamaServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let policies = tmp.path().join("policies.toml");
    // Small budgets: this model cannot write the sketch; the point is how the session ends.
    fs_err::write(
        &policies,
        "[attempts]\nspec = 2\nsketch = 2\n[timeouts]\nllm_call_secs = 120\n\
         [retry]\nmax_tries = 1\n[llm]\nmax_tokens = 192\n",
    )
    .unwrap();
    let run = tmp.path().join("run");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = autopilot()
        .arg("run")
        .arg(root.join("examples/color_uno/app.toml"))
        .args([
            "--model",
            "openai:smollm2-135m",
            "--base-url",
            &server.base_url(),
        ])
        .args(["--seed", "1", "--temperature", "0", "--stream"])
        .arg("--policies")
        .arg(&policies)
        .arg("--out")
        .arg(&run)
        .arg("--cache-dir")
        .arg(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("llama-run-cache"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Success (0) or a used-up budget (1); never infrastructure (3) or a rejection (2).
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "exit {:?}\n{stderr}\n{}",
        output.status.code(),
        server.log_text()
    );
    let files = autopilot_trace::collect_trace_files(&run).unwrap();
    assert_eq!(files.len(), 1);
    let trace = TraceFile::read(&files[0]).unwrap();
    assert_eq!(trace.validate(), vec![], "the trace is valid");
    let calls: Vec<&LlmCall> = trace
        .events()
        .filter_map(|e| match e {
            Event::LlmCall(call) => Some(call),
            _ => None,
        })
        .collect();
    assert!(calls.len() >= 2, "{calls:?}");
    for call in &calls {
        let answer = answered(call);
        assert!(
            answer.usage.input.is_some() && answer.usage.output.is_some(),
            "usage of every call: {answer:?}"
        );
        assert!(
            answer.usage.output.is_some_and(|n| n <= 192),
            "the policy's cap is sent: {answer:?}"
        );
        assert_eq!(call.sampling.max_tokens, Some(192));
        assert!(answer.finish_reason.is_some());
    }
    let finished = trace
        .events()
        .find_map(|e| match e {
            Event::SessionFinished(f) => Some(f.clone()),
            _ => None,
        })
        .expect("session_finished");
    assert!(
        matches!(
            finished.outcome,
            autopilot_trace::SessionOutcome::Success { .. }
                | autopilot_trace::SessionOutcome::Exhausted { .. }
        ),
        "{:?}",
        finished.outcome
    );
    // `classify` labels its failures; `report` renders it.
    let classified = autopilot()
        .args(["classify", "--format", "jsonl"])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(
        classified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&classified.stderr)
    );
    let labels = String::from_utf8_lossy(&classified.stdout);
    if matches!(
        finished.outcome,
        autopilot_trace::SessionOutcome::Exhausted { .. }
    ) {
        assert!(labels.lines().count() >= 1, "{labels}");
    }
    let report = tmp.path().join("report");
    autopilot()
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&report)
        .assert()
        .code(0);
    assert!(fs_err::read_dir(&report).unwrap().count() > 0);
    print_outcomes(&trace);
}

/// The session's attempts, finish reasons and verdicts, for the test log.
#[expect(
    clippy::print_stderr,
    reason = "the real-model outcome table goes to the test log"
)]
fn print_outcomes(trace: &TraceFile) {
    for event in trace.events() {
        match event {
            Event::LlmCall(call) => {
                let answer = answered(call);
                eprintln!(
                    "llm {:?} #{}: finish {:?}, tokens {:?} in / {:?} out, {} ms",
                    call.stage,
                    call.attempt,
                    answer.finish_reason,
                    answer.usage.input,
                    answer.usage.output,
                    call.latency_ms
                );
            }
            Event::CheckVerdict(v) if !v.passed => {
                eprintln!(
                    "check {:?} #{}: {} {}",
                    v.stage, v.attempt, v.check, v.message
                );
            }
            Event::AttemptFinished(a) => {
                eprintln!("attempt {:?} #{}: {:?}", a.stage, a.attempt, a.outcome);
            }
            Event::SessionFinished(f) => eprintln!("session: {:?}", f.outcome),
            _ => {}
        }
    }
}
