//! The `openai` backend: chat completions through async-openai, for any OpenAI-compatible base
//! URL (OpenAI, OpenRouter, vLLM, llama.cpp's server, Ollama's `/v1`).
//!
//! async-openai's built-in retry layer is replaced (through its `middleware` hook) by a plain
//! transport that turns every non-success response into an [`HttpStatusError`] carrying the
//! status, `Retry-After` and body: our client owns the retry policy, and classification sees
//! everything. Responses are read into our own types (its `byot` hook) because the typed ones
//! drop the reasoning fields (`reasoning_content`, `reasoning`) that compatible servers send.
//!
//! The transport also caps each response body ([`BodyCap`], per call through a task-local, since
//! async-openai reads streams on a task of its own and reports their errors as text only) and
//! puts a base URL's query string (`?api-version=…`, `?key=…`) after the path, where
//! async-openai's plain concatenation would not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError};
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use autopilot_trace::{AnswerSource, LlmAnswer, Redactor, Role, TokenUsage};
use futures_util::StreamExt;
use serde::Deserialize;

use super::http::{
    BodyCap, HttpStatusError, capped_response, error_message, http_client, shorten, split_query,
};
use super::{BackendCall, BoxFuture, ChatBackend, TIME_LIMIT, TextSink};
use crate::error::{LlmError, Observation, chain_text, duration_ms};
use crate::settings::{ConfigError, EndpointSettings};
use autopilot_trace::Provider;

/// An OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    client: Client<OpenAIConfig>,
    endpoint: String,
    timeout: Duration,
    official: bool,
    max_body_bytes: u64,
    redactor: Redactor,
}

tokio::task_local! {
    /// The body cap of the call running on this task (read by the transport).
    static BODY_CAP: Arc<BodyCap>;
}

impl OpenAiBackend {
    /// A backend for one endpoint. The official OpenAI host needs a key; other hosts (local
    /// servers) may have none.
    pub fn new(settings: &EndpointSettings) -> Result<Self, ConfigError> {
        // OpenAI's own models want `max_completion_tokens` (o-series and gpt-5 reject
        // `max_tokens`); compatible servers get the older, more widely understood `max_tokens`.
        let official = settings.is_openai_api();
        if official && settings.api_key.is_none() {
            return Err(ConfigError::MissingApiKey {
                base_url: settings.redacted_url(),
                env: settings
                    .api_key_env
                    .clone()
                    .unwrap_or_else(|| "OPENAI_API_KEY".to_owned()),
            });
        }
        let http = http_client(settings)?;
        let (api_base, query) = split_query(&settings.base_url);
        let query = query.strip_prefix('?').map(|q| {
            // The fragment never goes to the server.
            q.split('#').next().unwrap_or_default().to_owned()
        });
        // Every field set explicitly: the defaults would read OPENAI_* variables.
        let config = OpenAIConfig::new()
            .with_api_base(api_base.trim_end_matches('/'))
            .with_api_key(
                settings
                    .api_key
                    .as_ref()
                    .map(|key| key.expose().to_owned())
                    .unwrap_or_default(),
            )
            .with_org_id("")
            .with_project_id("");
        let transport = http.clone();
        let default_limit = settings.max_body_bytes;
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = transport.clone();
            let query = query.clone();
            async move {
                let mut request = factory.build().await?;
                if let Some(base_query) = query.filter(|q| !q.is_empty()) {
                    let joined = match request.url().query() {
                        Some(own) if !own.is_empty() => format!("{own}&{base_query}"),
                        _ => base_query,
                    };
                    request.url_mut().set_query(Some(&joined));
                }
                let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                if response.status().is_success() {
                    // Outside a call's scope (never, today) the endpoint's cap still applies.
                    let cap = BODY_CAP
                        .try_with(Arc::clone)
                        .unwrap_or_else(|_| BodyCap::new(default_limit));
                    Ok(capped_response(response, cap))
                } else {
                    let error = HttpStatusError::read(response).await;
                    Err(OpenAIError::Boxed(Box::new(error)))
                }
            }
        });
        let client = Client::build(http, config).with_http_service(service);
        Ok(OpenAiBackend {
            client,
            endpoint: settings.redacted_url(),
            timeout: settings.request_timeout,
            official,
            max_body_bytes: settings.max_body_bytes,
            redactor: settings.redactor(),
        })
    }

    async fn complete(&self, request: CreateChatCompletionRequest) -> Result<LlmAnswer, LlmError> {
        let completion: Completion = self
            .client
            .chat()
            .create_byot(request)
            .await
            .map_err(map_openai_error)?;
        let usage = completion.usage.map(Usage::to_trace).unwrap_or_default();
        let Some(choice) = completion.choices.into_iter().next() else {
            return Err(LlmError::observed(
                &Observation::NoText,
                "the response has no choices",
            ));
        };
        let message = choice.message;
        let text = match (message.content, message.refusal) {
            (Some(content), _) if !content.is_empty() => content,
            (_, Some(refusal)) => {
                return Err(LlmError::observed(
                    &Observation::NoText,
                    format!("the model refused: {}", shorten(&refusal, 300)),
                ));
            }
            _ => String::new(),
        };
        Ok(LlmAnswer {
            text,
            reasoning: message.reasoning_content.or(message.reasoning),
            finish_reason: choice.finish_reason,
            response_model: completion.model,
            usage,
            time_to_first_token_ms: None,
        })
    }

    async fn stream(
        &self,
        request: CreateChatCompletionRequest,
        on_text: Option<&TextSink>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<LlmAnswer, LlmError> {
        let started = Instant::now();
        let mut stream = self
            .client
            .chat()
            .create_stream_byot::<_, Chunk>(request)
            .await
            .map_err(map_openai_error)?;
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut finish_reason = None;
        let mut response_model = None;
        let mut usage = TokenUsage::default();
        let mut first_token = None;
        loop {
            let next = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, stream.next()).await,
                None => Ok(stream.next().await),
            };
            let item = match next {
                Ok(Some(item)) => item,
                Ok(None) => break,
                // Time is up with text in hand: a slow answer, kept and marked as cut.
                Err(_) if !(text.is_empty() && reasoning.is_empty()) => {
                    finish_reason = Some(TIME_LIMIT.to_owned());
                    break;
                }
                Err(_) => {
                    return Err(LlmError::observed(
                        &Observation::TimedOut,
                        "no token before the try's time limit",
                    ));
                }
            };
            let chunk = item.map_err(map_openai_error)?;
            if let Some(error) = chunk.error {
                return Err(stream_error(&error));
            }
            if response_model.is_none() {
                response_model = chunk.model;
            }
            if let Some(chunk_usage) = chunk.usage {
                usage = chunk_usage.to_trace();
            }
            // One choice was asked for (n = 1).
            let Some(choice) = chunk.choices.into_iter().next() else {
                continue;
            };
            let delta = choice.delta;
            if let (Some(sink), Some(piece)) = (on_text, &delta.content) {
                sink.send(piece);
            }
            for (piece, into) in [
                (delta.content, &mut text),
                (delta.reasoning_content.or(delta.reasoning), &mut reasoning),
            ] {
                if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                    first_token.get_or_insert_with(|| started.elapsed());
                    into.push_str(&piece);
                }
            }
            if choice.finish_reason.is_some() {
                finish_reason = choice.finish_reason;
            }
        }
        if finish_reason.is_none() {
            return Err(LlmError::observed(
                &Observation::EndedEarly,
                format!(
                    "the stream ended without a finish_reason after {} characters",
                    text.len() + reasoning.len()
                ),
            ));
        }
        Ok(LlmAnswer {
            text,
            reasoning: (!reasoning.is_empty()).then_some(reasoning),
            finish_reason,
            response_model,
            usage,
            time_to_first_token_ms: first_token.map(duration_ms),
        })
    }

    fn build_request(
        &self,
        call: &BackendCall<'_>,
    ) -> Result<CreateChatCompletionRequest, LlmError> {
        let messages = call
            .request
            .messages
            .iter()
            .map(|message| -> ChatCompletionRequestMessage {
                let content = message.content.as_str();
                match message.role {
                    Role::System => ChatCompletionRequestSystemMessage::from(content).into(),
                    Role::User => ChatCompletionRequestUserMessage::from(content).into(),
                    Role::Assistant => ChatCompletionRequestAssistantMessage::from(content).into(),
                }
            })
            .collect();
        let sampling = &call.request.sampling;
        let seed = sampling.seed.map(i64::try_from).transpose().map_err(|_| {
            LlmError::observed(
                &Observation::InvalidRequest,
                "the seed does not fit the protocol's 64-bit signed integer",
            )
        })?;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the protocol's sampling parameters are 32-bit floats"
        )]
        let as_f32 = |value: f64| value as f32;
        let mut request = CreateChatCompletionRequest {
            model: call.model.to_owned(),
            messages,
            temperature: sampling.temperature.map(as_f32),
            top_p: sampling.top_p.map(as_f32),
            ..CreateChatCompletionRequest::default()
        };
        #[expect(
            deprecated,
            reason = "OpenAI marks seed and max_tokens deprecated; compatible servers (llama.cpp, \
                      older vLLM) know only max_tokens, and seeds make runs repeatable"
        )]
        {
            request.seed = seed;
            if self.official {
                request.max_completion_tokens = sampling.max_tokens;
            } else {
                request.max_tokens = sampling.max_tokens;
            }
        }
        if call.request.stream {
            request.stream = Some(true);
            request.stream_options = Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            });
        }
        Ok(request)
    }
}

impl ChatBackend for OpenAiBackend {
    fn provider(&self) -> Provider {
        Provider::OpenAi
    }

    fn endpoint(&self) -> Option<String> {
        Some(self.endpoint.clone())
    }

    fn source(&self) -> AnswerSource {
        AnswerSource::Live
    }

    fn default_timeout(&self) -> Duration {
        self.timeout
    }

    fn redactor(&self) -> Option<&Redactor> {
        Some(&self.redactor)
    }

    fn chat<'a>(&'a self, call: BackendCall<'a>) -> BoxFuture<'a, Result<LlmAnswer, LlmError>> {
        Box::pin(async move {
            let request = self.build_request(&call)?;
            let cap = BodyCap::new(self.max_body_bytes);
            let answer = BODY_CAP
                .scope(cap.clone(), async {
                    if call.request.stream {
                        self.stream(request, call.on_text, call.deadline).await
                    } else {
                        self.complete(request).await
                    }
                })
                .await;
            // Whatever error the cut body surfaced as (a reqwest body error, a broken event
            // stream), it was the cap.
            answer.map_err(|error| if cap.was_hit() { cap.error() } else { error })
        })
    }
}

/// A typed error from whatever async-openai returned.
fn map_openai_error(error: OpenAIError) -> LlmError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpStatusError>() {
            Ok(status) => status.into_llm_error(),
            Err(other) => {
                let detail = chain_text(&*other);
                LlmError::observed(&Observation::Transport(&*other), detail)
            }
        },
        OpenAIError::Reqwest(error) => LlmError::transport(&error),
        OpenAIError::ApiError(response) => {
            let body = response.api_error.to_string();
            LlmError::observed(
                &Observation::Status {
                    status: response.status_code.as_u16(),
                    body: &body,
                },
                body.clone(),
            )
        }
        OpenAIError::JSONDeserialize(error, content) => LlmError::observed(
            &Observation::UnparsableBody,
            format!(
                "not a chat completion ({error}); the body starts {:?}",
                shorten(&content, 120)
            ),
        ),
        OpenAIError::StreamError(stream) => match *stream {
            StreamError::EventStream(message) => LlmError::observed(
                &Observation::EndedEarly,
                format!("the event stream broke: {message}"),
            ),
            StreamError::UnknownEvent(event) => LlmError::observed(
                &Observation::UnparsableBody,
                format!("unexpected stream event {:?}", shorten(&event.data, 120)),
            ),
        },
        OpenAIError::InvalidArgument(message) => {
            LlmError::observed(&Observation::InvalidRequest, message)
        }
        other => LlmError::observed(&Observation::UnparsableBody, other.to_string()),
    }
}

/// An error object sent inside a stream (OpenRouter does this after a 200).
fn stream_error(error: &serde_json::Value) -> LlmError {
    let body = serde_json::json!({ "error": error }).to_string();
    let status = error
        .get("code")
        .and_then(serde_json::Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..600).contains(code))
        .unwrap_or(500);
    LlmError::observed(
        &Observation::Status {
            status,
            body: &body,
        },
        error_message(&body),
    )
    .with_status(status)
}

#[derive(Debug, Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ResponseMessage,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ResponseMessage {
    content: Option<String>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl Usage {
    fn to_trace(self) -> TokenUsage {
        TokenUsage {
            input: self.prompt_tokens,
            output: self.completion_tokens,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Chunk {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<Usage>,
    error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
}
