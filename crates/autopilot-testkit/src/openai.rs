//! The scripted OpenAI-compatible server of the tests: a loopback wiremock server whose
//! `POST /v1/chat/completions` answers are decided by a script (a queue of replies, or a
//! function of the request), recording every request body.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the server does for one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A `200` chat completion whose message is this text.
    Answer(String),
    /// This HTTP status with an OpenAI-style error body.
    Status(u16),
    /// The reply, sent after a delay.
    Delayed(Duration, Box<Reply>),
}

/// One request as the script sees it.
#[derive(Debug)]
pub struct Seen<'a> {
    /// 1 for the first request the server received.
    pub number: usize,
    /// The request body as JSON (`Null` if it is not JSON).
    pub body: serde_json::Value,
    /// The raw request.
    pub request: &'a Request,
}

impl Seen<'_> {
    /// Whether this is a spec request (its template has `<fill: …>` placeholders).
    pub fn asks_for_spec(&self) -> bool {
        String::from_utf8_lossy(&self.request.body).contains("<fill:")
    }

    /// The board the request's spec template states (`"target": "<name>"` in a message).
    pub fn requested_target(&self) -> Option<String> {
        requested_target(&self.body)
    }
}

type Decide = dyn Fn(&Seen<'_>) -> Reply + Send + Sync;

/// A running scripted server; it stops when dropped.
pub struct ScriptedOpenAi {
    server: MockServer,
    requests: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for ScriptedOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedOpenAi")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

struct Responder {
    decide: Box<Decide>,
    count: AtomicUsize,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&request.body).into_owned());
        let seen = Seen {
            number: self.count.fetch_add(1, Ordering::SeqCst) + 1,
            body: serde_json::from_slice(&request.body).unwrap_or_default(),
            request,
        };
        template((self.decide)(&seen))
    }
}

fn template(reply: Reply) -> ResponseTemplate {
    match reply {
        Reply::Answer(text) => {
            ResponseTemplate::new(200).set_body_json(completion("scripted", &text, (1000, 400)))
        }
        Reply::Status(status) => ResponseTemplate::new(status).set_body_json(
            serde_json::json!({"error": {"message": "scripted outage", "type": "server_error"}}),
        ),
        Reply::Delayed(delay, reply) => template(*reply).set_delay(delay),
    }
}

impl ScriptedOpenAi {
    /// Answers requests with `replies` in order; once they run out, every request gets a `500`
    /// "script exhausted".
    pub async fn queue(replies: Vec<Reply>) -> ScriptedOpenAi {
        let queue = Mutex::new(VecDeque::from(replies));
        ScriptedOpenAi::decide(move |_| {
            queue
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Reply::Status(500))
        })
        .await
    }

    /// Answers each request with what `decide` returns for it.
    pub async fn decide(
        decide: impl Fn(&Seen<'_>) -> Reply + Send + Sync + 'static,
    ) -> ScriptedOpenAi {
        let server = MockServer::start().await;
        let requests = Arc::default();
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(Responder {
                decide: Box::new(decide),
                count: AtomicUsize::new(0),
                requests: Arc::clone(&requests),
            })
            .mount(&server)
            .await;
        ScriptedOpenAi { server, requests }
    }

    /// The server's root, `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The base URL an OpenAI client is given (`<uri>/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// Every request body received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A `chat.completion` body with one choice and the given (prompt, completion) token usage.
pub fn completion(model: &str, content: &str, usage: (u64, u64)) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_763_700_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1},
        "system_fingerprint": "fp_test"
    })
}

/// The board a chat request's spec template states (`"target": "<name>"` in a message), so a
/// loopback LLM can answer for the session's target.
pub fn requested_target(body: &serde_json::Value) -> Option<String> {
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
