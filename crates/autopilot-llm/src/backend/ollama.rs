//! The `ollama` backend: Ollama's native `/api/chat`, as JSON or as NDJSON streaming, with its
//! options (`num_ctx`, `num_predict`, …) and eval counts.
//!
//! The wire types are our own, small and tested against the protocol, rather than ollama-rs's:
//! its client turns every non-success status into a bare string (no status code, no
//! Retry-After), prints and skips stream lines it cannot parse (a library must not print), and
//! the crate switches on `serde_json/preserve_order` for the whole workspace (through its
//! schemars dependency), which changes the key order of every `serde_json::Map` we write.

use std::time::{Duration, Instant};

use autopilot_trace::{AnswerSource, LlmAnswer, Redactor, Role, Secret, TokenUsage};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::http::{
    BodyCap, HttpStatusError, error_message, http_client, join_url, read_capped, shorten,
};
use super::{BackendCall, BoxFuture, ChatBackend};
use crate::error::{LlmError, Observation, duration_ms};
use crate::settings::{ConfigError, EndpointSettings};
use autopilot_trace::Provider;

/// An Ollama server.
#[derive(Debug, Clone)]
pub struct OllamaBackend {
    http: reqwest::Client,
    chat_url: String,
    endpoint: String,
    api_key: Option<Secret>,
    timeout: Duration,
    max_body_bytes: u64,
    redactor: Redactor,
}

impl OllamaBackend {
    pub fn new(settings: &EndpointSettings) -> Result<Self, ConfigError> {
        Ok(OllamaBackend {
            http: http_client(settings)?,
            chat_url: join_url(&settings.base_url, "/api/chat"),
            endpoint: settings.redacted_url(),
            api_key: settings.api_key.clone(),
            timeout: settings.request_timeout,
            max_body_bytes: settings.max_body_bytes,
            redactor: settings.redactor(),
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
        let cap = BodyCap::new(self.max_body_bytes);
        let body = read_capped(self.send(call).await?, &cap).await?;
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
        let cap = BodyCap::new(self.max_body_bytes);
        let mut seen = 0u64;
        while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|e| LlmError::transport(&e))?;
            cap.take(&mut seen, chunk.len()).map_err(|_| cap.error())?;
            pending.extend_from_slice(&chunk);
            while let Some(newline) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=newline).collect();
                let before = answer.text.len();
                answer.take(&line, started)?;
                if let Some(sink) = call.on_text {
                    sink.send(answer.text.get(before..).unwrap_or_default());
                }
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

    fn redactor(&self) -> Option<&Redactor> {
        Some(&self.redactor)
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

/// The `/api/chat` request.
#[derive(Debug, Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options,
}

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

/// Ollama's model options (a Modelfile's parameters) that our sampling parameters map to.
#[derive(Debug, Default, PartialEq, Serialize)]
struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    /// The most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<u32>,
    /// The context window.
    #[serde(skip_serializing_if = "Option::is_none")]
    num_ctx: Option<u32>,
}

impl Options {
    fn is_empty(&self) -> bool {
        *self == Options::default()
    }
}

fn request_body<'a>(call: &BackendCall<'a>) -> ChatBody<'a> {
    let sampling = &call.request.sampling;
    ChatBody {
        model: call.model,
        messages: call
            .request
            .messages
            .iter()
            .map(|message| WireMessage {
                role: match message.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                },
                content: &message.content,
            })
            .collect(),
        stream: call.request.stream,
        options: Options {
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            seed: sampling.seed,
            num_predict: sampling.max_tokens,
            num_ctx: sampling.num_ctx,
        },
    }
}

/// One JSON object of the response (the whole body, or one NDJSON line).
#[derive(Debug, Deserialize)]
struct Line {
    model: Option<String>,
    message: Option<ResponseMessage>,
    #[serde(default)]
    done: bool,
    done_reason: Option<String>,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: String,
    /// Reasoning, when the request asked a thinking model to think apart.
    thinking: Option<String>,
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
