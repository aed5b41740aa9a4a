//! What a caller asks ([`ChatRequest`], in a [`CallContext`]) and what it gets back
//! ([`ChatAnswer`]), plus the request hash that keys recordings.

use std::time::Duration;

use autopilot_trace::{
    AnswerSource, ChatMessage, LlmAnswer, Role, SamplingParams, Stage, TokenUsage,
};
use serde::Serialize;

/// Where in a session a call is made: the trace records it and replay keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    pub stage: Stage,
    /// The stage attempt (1-based).
    pub attempt: u32,
}

impl CallContext {
    pub fn new(stage: Stage, attempt: u32) -> Self {
        CallContext { stage, attempt }
    }
}

/// One chat request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingParams,
    /// Ask for the answer as a stream (measures the time to the first token).
    pub stream: bool,
    /// The limit for one try; `None` takes the endpoint's request timeout.
    pub timeout: Option<Duration>,
}

impl ChatRequest {
    /// A request of one user message, optionally after a system message.
    pub fn prompt(system: Option<&str>, user: &str) -> Self {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = system {
            messages.push(ChatMessage {
                role: Role::System,
                content: system.to_owned(),
            });
        }
        messages.push(ChatMessage {
            role: Role::User,
            content: user.to_owned(),
        });
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }
}

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatAnswer {
    /// The answer text, reasoning removed.
    pub text: String,
    pub reasoning: Option<String>,
    pub finish_reason: Option<String>,
    /// The model the provider says answered.
    pub response_model: Option<String>,
    pub usage: TokenUsage,
    /// Duration of the try that answered.
    pub latency: Duration,
    /// From the start of the first try to the answer, retries and waits included.
    pub elapsed: Duration,
    pub time_to_first_token: Option<Duration>,
    /// US dollars; `None` when the model has no price or the usage is unknown.
    pub cost_usd: Option<f64>,
    pub source: AnswerSource,
    /// Tries made, the answering one included.
    pub tries: u32,
    /// The key of this request in recordings (see [`request_hash`]).
    pub request_hash: String,
    /// How many identical requests the client had sent before this one.
    pub repeat: u32,
}

impl ChatAnswer {
    /// The answer as the trace records it.
    pub fn to_trace(&self) -> LlmAnswer {
        LlmAnswer {
            text: self.text.clone(),
            reasoning: self.reasoning.clone(),
            finish_reason: self.finish_reason.clone(),
            response_model: self.response_model.clone(),
            usage: self.usage,
            time_to_first_token_ms: self.time_to_first_token.map(crate::error::duration_ms),
        }
    }
}

#[derive(Serialize)]
struct CanonicalRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    sampling: &'a SamplingParams,
}

/// SHA-256 (hex) of the canonical request: the model name, the messages and the sampling
/// parameters, serialized as compact JSON in that order. Streaming and timeouts do not change
/// what is asked, so they are not part of it. The trace's `request_hash` and the replay key.
pub fn request_hash(model: &str, messages: &[ChatMessage], sampling: &SamplingParams) -> String {
    let canonical = CanonicalRequest {
        model,
        messages,
        sampling,
    };
    // Serializing strings, numbers and derived structs cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    autopilot_trace::sha256_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_model_messages_and_sampling_only() {
        let request = ChatRequest::prompt(Some("be brief"), "hello");
        let base = request_hash("gpt-4o", &request.messages, &request.sampling);
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            request_hash("gpt-4o", &request.messages, &request.sampling)
        );
        assert_ne!(
            base,
            request_hash("gpt-4o-mini", &request.messages, &request.sampling)
        );
        let other = ChatRequest::prompt(Some("be brief"), "hello!");
        assert_ne!(
            base,
            request_hash("gpt-4o", &other.messages, &request.sampling)
        );
        let sampling = SamplingParams {
            temperature: Some(0.1),
            ..SamplingParams::default()
        };
        assert_ne!(base, request_hash("gpt-4o", &request.messages, &sampling));
        // A fixed vector: the hash is part of the trace format and must not drift.
        assert_eq!(
            request_hash(
                "m",
                &ChatRequest::prompt(None, "hi").messages,
                &SamplingParams::default()
            ),
            autopilot_trace::sha256_hex(
                br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"sampling":{}}"#
            )
        );
    }
}
