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
use crate::model::Provider;
use crate::request::ChatRequest;
use crate::settings::{ConfigError, LlmSettings};

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
