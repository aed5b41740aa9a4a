//! LLM calls, accounted for: the OpenAI-compatible, Ollama and replay backends behind one
//! chat interface, with typed faults, a retry policy, prices, and one trace event per try.
//!
//! This crate is the only one that talks HTTP to LLMs. It keeps a strict line between the
//! decisions, which are pure functions over plain data ([`classify`] for faults,
//! [`RetryPolicy::next_delay`] for waits, [`PriceTable::cost`] for money, [`request_hash`] for
//! replay keys, [`resolve_settings`] for endpoints), and the I/O that applies them (the
//! backends and [`LlmClient`]). It never reads the environment: the CLI resolves settings and
//! passes them in. It never prints: every try is an `llm_call` event of the session trace
//! (`autopilot_trace::emit`), and retries are also `tracing` warnings.
//!
//! Every error and answer passes the backend's [`autopilot_trace::Redactor`] (its key and URL
//! credentials) before it is traced or returned.
//!
//! [`probe`] asks an endpoint for its model listing once (`autopilot doctor` uses it): whether
//! it answers, with which status and fault kind, and which models it serves.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use autopilot_llm::{
//!     CallContext, ChatRequest, LlmClient, LlmConfigFile, LlmOverrides, ModelRef,
//!     live_backend, resolve_settings,
//! };
//! use autopilot_trace::Stage;
//!
//! let env = |name: &str| std::env::var(name).ok(); // the CLI's business, not the library's
//! let settings = resolve_settings(&LlmConfigFile::default(), &env, &LlmOverrides::default())?;
//! let model = ModelRef::parse("ollama:qwen2.5-coder:32b")?;
//! let backend = live_backend(model.provider, &settings)?;
//! let client = LlmClient::new(model, backend).with_retry(settings.retry.clone());
//! let request = ChatRequest::prompt(Some("You write Arduino sketches."), "Blink the LED.");
//! let answer = client.chat(&CallContext::new(Stage::Sketch, 1), &request).await?;
//! println!("{} ({:?} tokens out)", answer.text, answer.usage.output);
//! # Ok(()) }
//! ```
//!
//! # Faults
//!
//! | fault | kind | retried |
//! |---|---|---|
//! | connection refused, DNS or TLS failure | `connection_refused` | yes |
//! | connection reset before the answer | `connection_reset` | yes |
//! | no answer within the try's timeout, HTTP 408 | `timeout` | yes |
//! | HTTP 429 (waits for `Retry-After`/`retry-after-ms`) | `rate_limited` | yes |
//! | HTTP 5xx, an error object inside a stream | `server_error` | yes |
//! | a body that is not the protocol's JSON | `malformed_body` | yes |
//! | a body or stream that ends early | `truncated_stream` | yes |
//! | an answer without text (after reasoning is split out) | `empty_answer` | yes |
//! | HTTP 401 | `unauthorized` | no |
//! | a response body over `max_body_bytes` (32 MiB), an answer over 4 MiB | `body_too_large` | no |
//! | HTTP 403, 429 `insufficient_quota` | `forbidden` | no |
//! | HTTP 404 or 400 naming the model | `unknown_model` | no |
//! | HTTP 413, 400 naming the context length | `context_too_long` | no |
//! | any other 4xx, a parameter out of range | `bad_request` | no |
//! | no recorded answer | `replay_miss` | no |

mod backend;
mod client;
mod error;
mod model;
mod prices;
mod probe;
mod reasoning;
mod request;
mod retry;
mod settings;

pub use backend::{
    BackendCall, BoxFuture, ChatBackend, OllamaBackend, OpenAiBackend, ReplayBackend, ReplayError,
    ReplayKey, ReplayMatch, ScriptedAnswer, ScriptedAnswers, TIME_LIMIT, TextSink, live_backend,
};
pub use client::LlmClient;
pub use error::{LlmError, LlmErrorKind, Observation, classify, describe};
pub use model::{display_model_name, pricing_model};
// Models are part of the trace contract (they are recorded); the type lives in the trace crate.
pub use autopilot_trace::{ModelRef, ModelRefError, Provider};
pub use prices::{ANY_MODEL, Price, PriceError, PriceTable};
pub use probe::{ProbeResult, parse_listing, probe};
pub use reasoning::split_reasoning;
pub use request::{CallContext, ChatAnswer, ChatRequest, request_hash};
pub use retry::RetryPolicy;
pub use settings::{
    ConfigError, EndpointOverrides, EndpointSettings, EnvLookup, LlmConfigFile, LlmOverrides,
    LlmSettings, OLLAMA_DEFAULT_BASE_URL, OPENAI_DEFAULT_BASE_URL, ProviderFile, ProvidersFile,
    RetryFile, ollama_host_url, resolve_settings,
};
