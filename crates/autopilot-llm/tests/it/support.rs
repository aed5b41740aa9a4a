//! Shared test helpers: capturing trace events through the real JSONL layer, bodies that speak
//! each protocol, a raw TCP server for faults wiremock cannot make (a cut connection), and
//! fast retry policies.

use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use autopilot_llm::{
    CallContext, ChatBackend, ChatRequest, EndpointSettings, LlmClient, ModelRef, OllamaBackend,
    OpenAiBackend, Provider, RetryPolicy,
};
use autopilot_trace::{Event, LlmCall, RunDirSink, SessionId, Stage, TraceFile};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::Instrument;

/// A future's output and the `llm_call` events it emitted, read back from the session file
/// the real JSONL layer wrote.
pub struct Traced<T> {
    pub output: T,
    pub calls: Vec<LlmCall>,
    pub path: PathBuf,
    /// Keeps the run directory alive.
    pub _dir: tempfile::TempDir,
}

pub async fn traced<F: Future>(future: F) -> Traced<F::Output> {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId::new("test-session").unwrap();
    // The span is created inside the layer's subscriber, so the layer sees it open.
    let output = autopilot_testkit::trace::capture(dir.path(), async {
        future.instrument(autopilot_trace::session_span(&id)).await
    })
    .await;
    let path = RunDirSink::session_path(dir.path(), &id);
    let file = TraceFile::read(&path).unwrap();
    assert_eq!(file.problems, vec![], "unreadable trace lines");
    let calls = file
        .events()
        .filter_map(|event| match event {
            Event::LlmCall(call) => Some(call.clone()),
            _ => None,
        })
        .collect();
    Traced {
        output,
        calls,
        path,
        _dir: dir,
    }
}

/// Quick retries without jitter: 3 tries, 5 then 10 ms apart.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        factor: 2.0,
        jitter: false,
        jitter_seed: None,
        max_elapsed: Duration::from_secs(20),
        max_retry_after: Duration::from_secs(5),
    }
}

/// The per-try timeout of loopback tests: generous, so a loaded machine cannot make a healthy
/// answer late (the timeout fault sets its own).
pub const TRY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn backend(provider: Provider, base_url: &str) -> Arc<dyn ChatBackend> {
    let settings = EndpointSettings::at(base_url, TRY_TIMEOUT);
    match provider {
        Provider::OpenAi => Arc::new(OpenAiBackend::new(&settings).unwrap()),
        Provider::Ollama => Arc::new(OllamaBackend::new(&settings).unwrap()),
        Provider::Replay => unreachable!("replay backends are built from recordings"),
    }
}

/// A live client with [`fast_policy`].
pub fn client(provider: Provider, model: &str, base_url: &str) -> LlmClient {
    LlmClient::new(ModelRef::new(provider, model), backend(provider, base_url))
        .with_retry(fast_policy())
}

pub fn sketch(attempt: u32) -> CallContext {
    CallContext::new(Stage::Sketch, attempt)
}

pub fn request(prompt: &str, stream: bool) -> ChatRequest {
    ChatRequest {
        stream,
        ..ChatRequest::prompt(Some("You write Arduino sketches."), prompt)
    }
}

/// The base URL of a loopback server for a provider (`/v1` for OpenAI-compatible servers).
pub fn base_url(provider: Provider, server_uri: &str) -> String {
    match provider {
        Provider::OpenAi => format!("{server_uri}/v1"),
        _ => server_uri.to_owned(),
    }
}

/// A port nothing listens on.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Bodies in each protocol's wire format.
pub mod wire {
    use std::fmt::Write as _;

    use super::json;

    pub use autopilot_testkit::openai::completion as openai_completion;

    fn openai_chunk(model: &str, delta: &serde_json::Value, finish: Option<&str>) -> String {
        let chunk = json!({
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 1_763_700_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            "usage": null
        });
        format!("data: {chunk}\n\n")
    }

    /// An SSE stream: a role chunk, one chunk per piece, a finish chunk, the usage chunk
    /// (`stream_options.include_usage`), `[DONE]`. `finish` false leaves out the finish chunk.
    pub fn openai_sse(model: &str, pieces: &[&str], usage: (u64, u64), finish: bool) -> String {
        let mut body = openai_chunk(model, &json!({"role": "assistant", "content": ""}), None);
        for piece in pieces {
            body.push_str(&openai_chunk(model, &json!({"content": piece}), None));
        }
        if finish {
            body.push_str(&openai_chunk(model, &json!({}), Some("stop")));
            let usage_chunk = json!({
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 1_763_700_000,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}
            });
            let _ = write!(body, "data: {usage_chunk}\n\ndata: [DONE]\n\n");
        }
        body
    }

    pub fn openai_error(message: &str, kind: &str, code: &str) -> serde_json::Value {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }

    pub fn ollama_final(model: &str, content: &str, usage: (u64, u64)) -> serde_json::Value {
        json!({
            "model": model,
            "created_at": "2026-11-21T02:03:41.120Z",
            "message": {"role": "assistant", "content": content},
            "done_reason": "stop",
            "done": true,
            "total_duration": 4_883_583_458_u64,
            "load_duration": 1_334_875,
            "prompt_eval_count": usage.0,
            "prompt_eval_duration": 342_546_000,
            "eval_count": usage.1,
            "eval_duration": 4_535_599_000_u64
        })
    }

    /// An NDJSON stream: one line per piece, then the `done` line with the eval counts.
    /// `done` false leaves out the final line.
    pub fn ollama_ndjson(model: &str, pieces: &[&str], usage: (u64, u64), done: bool) -> String {
        let mut body = String::new();
        for piece in pieces {
            let line = json!({
                "model": model,
                "created_at": "2026-11-21T02:03:41.120Z",
                "message": {"role": "assistant", "content": piece},
                "done": false
            });
            let _ = writeln!(body, "{line}");
        }
        if done {
            let _ = writeln!(body, "{}", ollama_final(model, "", usage));
        }
        body
    }
}

/// A loopback server that reads each request whole, writes a fixed response and closes the
/// connection: cut streams and resets that a well-behaved mock server cannot produce.
pub struct RawServer {
    pub url: String,
    connections: Arc<AtomicUsize>,
}

impl RawServer {
    pub async fn start(response: Vec<u8>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let response = Arc::new(response);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    read_request(&mut socket).await;
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawServer { url, connections }
    }

    /// A `200` whose chunked body sends `body` and then stops without the final chunk.
    pub async fn cut_after(content_type: &str, body: &str) -> RawServer {
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let _ = write!(response, "{:x}\r\n{body}\r\n", body.len());
        RawServer::start(response.into_bytes()).await
    }

    /// A `200` of `content_type` whose chunked body repeats `chunk` until the client hangs up:
    /// the endless body of a hostile server.
    pub async fn endless(content_type: &str, chunk: &str) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let frame = format!("{:x}\r\n{chunk}\r\n", chunk.len()).repeat(64);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (head, frame) = (head.clone(), frame.clone());
                tokio::spawn(async move {
                    read_request(&mut socket).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    while socket.write_all(frame.as_bytes()).await.is_ok() {}
                });
            }
        });
        RawServer { url, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads a request's head and its `content-length` body.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}
