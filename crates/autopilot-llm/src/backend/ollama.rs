//! The `ollama` backend: Ollama's native `/api/chat`, as JSON or as NDJSON streaming, with its
//! options (`num_ctx`, `num_predict`, …) and eval counts.
//!
//! Requests and messages are ollama-rs's types, so the wire format is the one that crate keeps
//! up with. The HTTP exchange is ours: ollama-rs's client turns every non-success status into
//! a bare string (no status code, no Retry-After) and, when streaming, prints and skips lines it
//! cannot parse; classification needs the status, and a library must not print.

use std::time::{Duration, Instant};

use autopilot_trace::{AnswerSource, LlmAnswer, Role, Secret, TokenUsage};
use futures_util::StreamExt;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, MessageRole};
use ollama_rs::models::ModelOptions;
use serde::Deserialize;

use super::http::{HttpStatusError, error_message, http_client, join_url, shorten};
use super::{BackendCall, BoxFuture, ChatBackend};
use crate::error::{LlmError, Observation, duration_ms};
use crate::model::Provider;
use crate::settings::{ConfigError, EndpointSettings};

/// An Ollama server.
#[derive(Debug, Clone)]
pub struct OllamaBackend {
    http: reqwest::Client,
    chat_url: String,
    endpoint: String,
    api_key: Option<Secret>,
    timeout: Duration,
}

impl OllamaBackend {
    pub fn new(settings: &EndpointSettings) -> Result<Self, ConfigError> {
        Ok(OllamaBackend {
            http: http_client(settings)?,
            chat_url: join_url(&settings.base_url, "/api/chat"),
            endpoint: settings.redacted_url(),
            api_key: settings.api_key.clone(),
            timeout: settings.request_timeout,
        })
    }

    async fn send(&self, call: &BackendCall<'_>) -> Result<reqwest::Response, LlmError> {
        let mut request = self.http.post(&self.chat_url).json(&request_body(call));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| LlmError::transport(&e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(HttpStatusError::read(response).await.into_llm_error())
        }
    }

    async fn complete(&self, call: &BackendCall<'_>) -> Result<LlmAnswer, LlmError> {
        let body = self
            .send(call)
            .await?
            .bytes()
            .await
            .map_err(|e| LlmError::transport(&e))?;
        let line = parse_line(&body)?;
        if !line.done {
            return Err(LlmError::observed(
                &Observation::EndedEarly,
                "the answer is not marked done",
            ));
        }
        let usage = line.usage();
        let (text, reasoning) = line
            .message
            .map(|m| (m.content, m.thinking))
            .unwrap_or_default();
        Ok(LlmAnswer {
            text,
            reasoning: reasoning.filter(|r| !r.is_empty()),
            usage,
            finish_reason: line.done_reason,
            response_model: line.model,
            time_to_first_token_ms: None,
        })
    }

    async fn stream(&self, call: &BackendCall<'_>) -> Result<LlmAnswer, LlmError> {
        let started = Instant::now();
        let mut bytes = self.send(call).await?.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        let mut answer = StreamedAnswer::default();
        while let Some(chunk) = bytes.next().await {
            pending.extend_from_slice(&chunk.map_err(|e| LlmError::transport(&e))?);
            while let Some(newline) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=newline).collect();
                answer.take(&line, started)?;
            }
        }
        // A last line without its newline.
        answer.take(&pending, started)?;
        let Some(finish) = answer.finished else {
            return Err(LlmError::observed(
                &Observation::EndedEarly,
                format!(
                    "the stream ended before a \"done\": true line after {} characters",
                    answer.text.len() + answer.reasoning.len()
                ),
            ));
        };
        Ok(LlmAnswer {
            text: answer.text,
            reasoning: (!answer.reasoning.is_empty()).then_some(answer.reasoning),
            usage: finish.usage(),
            finish_reason: finish.done_reason,
            response_model: answer.model,
            time_to_first_token_ms: answer.first_token.map(duration_ms),
        })
    }
}

impl ChatBackend for OllamaBackend {
    fn provider(&self) -> Provider {
        Provider::Ollama
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

    fn chat<'a>(&'a self, call: BackendCall<'a>) -> BoxFuture<'a, Result<LlmAnswer, LlmError>> {
        Box::pin(async move {
            if call.request.stream {
                self.stream(&call).await
            } else {
                self.complete(&call).await
            }
        })
    }
}

/// The `/api/chat` body: ollama-rs's request, with `stream` set (that crate keeps the field
/// private and sets it in its own send functions).
fn request_body(call: &BackendCall<'_>) -> serde_json::Value {
    let messages = call
        .request
        .messages
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::System => MessageRole::System,
                Role::User => MessageRole::User,
                Role::Assistant => MessageRole::Assistant,
            };
            ChatMessage::new(role, message.content.clone())
        })
        .collect();
    let sampling = &call.request.sampling;
    let mut options = ModelOptions::default();
    #[expect(
        clippy::cast_possible_truncation,
        reason = "Ollama's sampling parameters are 32-bit floats"
    )]
    {
        if let Some(temperature) = sampling.temperature {
            options = options.temperature(temperature as f32);
        }
        if let Some(top_p) = sampling.top_p {
            options = options.top_p(top_p as f32);
        }
    }
    if let Some(max_tokens) = sampling.max_tokens {
        options = options.num_predict(i32::try_from(max_tokens).unwrap_or(i32::MAX));
    }
    if let Some(num_ctx) = sampling.num_ctx {
        options = options.num_ctx(u64::from(num_ctx));
    }
    if let Some(seed) = sampling.seed {
        // ollama-rs types the seed as i32; Ollama takes any integer.
        options = options.extra("seed", seed);
    }
    let mut request = ChatMessageRequest::new(call.model.to_owned(), messages);
    if options != ModelOptions::default() {
        request = request.options(options);
    }
    let mut body = serde_json::to_value(&request).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.insert("stream".to_owned(), call.request.stream.into());
    }
    body
}

/// One JSON object of the response (the whole body, or one NDJSON line).
#[derive(Debug, Deserialize)]
struct Line {
    model: Option<String>,
    message: Option<ChatMessage>,
    #[serde(default)]
    done: bool,
    done_reason: Option<String>,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    error: Option<String>,
}

impl Line {
    fn usage(&self) -> TokenUsage {
        TokenUsage {
            input: self.prompt_eval_count,
            output: self.eval_count,
        }
    }
}

fn parse_line(bytes: &[u8]) -> Result<Line, LlmError> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| {
        LlmError::observed(
            &Observation::UnparsableBody,
            format!(
                "not an Ollama chat response ({e}): {:?}",
                shorten(&String::from_utf8_lossy(bytes), 120)
            ),
        )
    })?;
    if let Some(error) = &line.error {
        // Ollama reports failures after a 200 (a crashed runner mid-stream) as {"error": …}.
        let body = serde_json::json!({ "error": error }).to_string();
        return Err(LlmError::observed(
            &Observation::Status {
                status: 500,
                body: &body,
            },
            error_message(&body),
        ));
    }
    Ok(line)
}

#[derive(Debug, Default)]
struct StreamedAnswer {
    text: String,
    reasoning: String,
    model: Option<String>,
    first_token: Option<Duration>,
    finished: Option<Line>,
}

impl StreamedAnswer {
    fn take(&mut self, raw: &[u8], started: Instant) -> Result<(), LlmError> {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        let mut line = parse_line(trimmed)?;
        if self.model.is_none() {
            self.model.clone_from(&line.model);
        }
        if let Some(message) = line.message.take() {
            for (piece, into) in [
                (Some(message.content), &mut self.text),
                (message.thinking, &mut self.reasoning),
            ] {
                if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                    self.first_token.get_or_insert_with(|| started.elapsed());
                    into.push_str(&piece);
                }
            }
        }
        if line.done {
            self.finished = Some(line);
        }
        Ok(())
    }
}
