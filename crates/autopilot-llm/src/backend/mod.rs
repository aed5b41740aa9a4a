//! The backends behind one object-safe interface, [`ChatBackend`]: one per endpoint (a base URL
//! and a key, or a set of recordings), shared by every client and model that uses it.

pub(crate) mod http;
mod ollama;
mod openai;
mod replay;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use autopilot_trace::{AnswerSource, LlmAnswer, Redactor, Stage};

pub use ollama::OllamaBackend;
pub use openai::OpenAiBackend;
pub use replay::{
    ReplayBackend, ReplayError, ReplayKey, ReplayMatch, ScriptedAnswer, ScriptedAnswers,
};

use crate::error::LlmError;
use crate::request::ChatRequest;
use crate::settings::{ConfigError, LlmSettings};
use autopilot_trace::Provider;

/// A boxed, sendable future (what [`ChatBackend::chat`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One try of one request, as a backend sees it.
#[derive(Debug, Clone, Copy)]
pub struct BackendCall<'a> {
    /// The model name on this backend (`gpt-4o`, `qwen2.5-coder:32b`).
    pub model: &'a str,
    pub stage: Stage,
    pub attempt: u32,
    /// How many identical requests came before (replay key).
    pub repeat: u32,
    pub request_hash: &'a str,
    pub request: &'a ChatRequest,
    /// Receives the answer's text as it arrives, when the request is streamed.
    pub on_text: Option<&'a TextSink>,
    /// When this try's time is up. A stream that has delivered text by then ends there with
    /// what arrived and the finish reason [`TIME_LIMIT`] (a slow answer is kept, not lost).
    pub deadline: Option<tokio::time::Instant>,
}

/// The finish reason of a streamed answer cut by its try's time limit (our own value, next to
/// the providers' `stop` and `length`).
pub const TIME_LIMIT: &str = "time_limit";

/// A receiver of answer text as it streams in (`chat --stream` prints it). It sees every try's
/// text, so a retried stream is seen again from its start; reasoning is not sent to it.
pub struct TextSink(Box<dyn Fn(&str) + Send + Sync>);

impl TextSink {
    pub fn new(receive: impl Fn(&str) + Send + Sync + 'static) -> Self {
        TextSink(Box::new(receive))
    }

    /// Hands a piece of text to the receiver; empty pieces are not sent.
    pub fn send(&self, piece: &str) {
        if !piece.is_empty() {
            (self.0)(piece);
        }
    }
}

impl std::fmt::Debug for TextSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextSink")
    }
}

/// A chat endpoint. Implementations answer one try: no retries, no timeout (the client adds
/// both), no trace events (the client emits them). The answer text may still hold
/// `<think>` blocks; the client splits them out.
pub trait ChatBackend: Send + Sync + std::fmt::Debug {
    /// `openai`, `ollama`, `replay`.
    fn provider(&self) -> Provider;
    /// The endpoint without credentials, for traces; `None` for recordings.
    fn endpoint(&self) -> Option<String>;
    /// Live network answers or recorded ones.
    fn source(&self) -> AnswerSource;
    /// The limit for one try when the request sets none.
    fn default_timeout(&self) -> Duration;
    /// The secrets of the endpoint (its key, URL credentials), which the client removes from
    /// errors and answers before they are traced or returned; `None` when it has none.
    fn redactor(&self) -> Option<&Redactor> {
        None
    }
    /// Sends one try.
    fn chat<'a>(&'a self, call: BackendCall<'a>) -> BoxFuture<'a, Result<LlmAnswer, LlmError>>;
}

/// The live backend of a provider from resolved settings (`openai` or `ollama`). Replay
/// backends are built from their recordings instead ([`ReplayBackend`]).
pub fn live_backend(
    provider: Provider,
    settings: &LlmSettings,
) -> Result<Arc<dyn ChatBackend>, ConfigError> {
    match provider {
        Provider::OpenAi => Ok(Arc::new(OpenAiBackend::new(&settings.openai)?)),
        Provider::Ollama => Ok(Arc::new(OllamaBackend::new(&settings.ollama)?)),
        Provider::Replay => Err(ConfigError::InvalidValue {
            origin: "model".to_owned(),
            message: "replay models answer from recordings: give a trace or an answers file"
                .to_owned(),
        }),
    }
}
