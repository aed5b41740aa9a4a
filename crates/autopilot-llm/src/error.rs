//! Typed LLM faults: what a failed try looked like ([`Observation`]), the pure decision of what
//! kind of fault that is ([`classify`]), and the error the client returns ([`LlmError`]).
//!
//! Transient kinds (connection refused or reset, timeout, 429, 5xx, a truncated or malformed
//! body, an empty answer) may succeed when retried; fatal kinds (401, 403, unknown model,
//! context too long, other 4xx, a replay miss) never will and are never retried. The split is
//! [`LlmErrorKind::is_transient`], owned by the trace crate so readers of traces agree with it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

pub use autopilot_trace::LlmErrorKind;
use autopilot_trace::LlmFailure;

/// What went wrong on one try, as seen on the wire, before it is given a kind.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// The server answered with a non-success HTTP status; `body` is its error text.
    Status { status: u16, body: &'a str },
    /// A transport error; its `source()` chain is inspected.
    Transport(&'a (dyn StdError + 'static)),
    /// The try ran past its timeout.
    TimedOut,
    /// A success status whose body is not the protocol's JSON.
    UnparsableBody,
    /// A body or stream that ended before its end marker (no `finish_reason`, no
    /// `"done": true`, a cut connection).
    EndedEarly,
    /// An answer without text.
    NoText,
    /// The request could not be built (a parameter out of range).
    InvalidRequest,
}

/// Decides the kind of a fault. Pure: the same observation always gets the same kind.
pub fn classify(observation: &Observation<'_>) -> LlmErrorKind {
    match observation {
        Observation::Status { status, body } => classify_status(*status, body),
        Observation::Transport(error) => classify_transport(*error),
        Observation::TimedOut => LlmErrorKind::Timeout,
        Observation::UnparsableBody => LlmErrorKind::MalformedBody,
        Observation::EndedEarly => LlmErrorKind::TruncatedStream,
        Observation::NoText => LlmErrorKind::EmptyAnswer,
        Observation::InvalidRequest => LlmErrorKind::BadRequest,
    }
}

/// Phrases providers use for a prompt over the context window (OpenAI `context_length_exceeded`,
/// vLLM "maximum context length", Anthropic-style "prompt is too long", llama.cpp's
/// `exceed_context_size_error` "the request exceeds the available context size").
const CONTEXT_MARKERS: &[&str] = &[
    "context_length_exceeded",
    "exceed_context_size",
    "available context size",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
];

/// Phrases for a model the endpoint does not serve (OpenAI `model_not_found`, Ollama
/// `model "x" not found, try pulling it first`, vLLM "does not exist", OpenRouter "not a valid
/// model ID").
const UNKNOWN_MODEL_MARKERS: &[&str] = &[
    "model_not_found",
    "model not found",
    "not found, try pulling",
    "does not exist",
    "not a valid model",
    "unknown model",
    "no such model",
];

fn mentions(body: &str, markers: &[&str]) -> bool {
    let lower = body.to_ascii_lowercase();
    markers.iter().any(|m| lower.contains(m))
}

/// The kind of an HTTP status. The status decides transient versus fatal; the body only
/// refines a fatal 4xx (unknown model, context too long) or spots OpenAI's
/// `insufficient_quota`, a 429 that waiting never cures.
fn classify_status(status: u16, body: &str) -> LlmErrorKind {
    match status {
        401 => LlmErrorKind::Unauthorized,
        403 => LlmErrorKind::Forbidden,
        408 => LlmErrorKind::Timeout,
        413 => LlmErrorKind::ContextTooLong,
        429 if body.contains("insufficient_quota") => LlmErrorKind::Forbidden,
        429 => LlmErrorKind::RateLimited,
        400..=499 if mentions(body, CONTEXT_MARKERS) => LlmErrorKind::ContextTooLong,
        404 => {
            if body.to_ascii_lowercase().contains("model") {
                LlmErrorKind::UnknownModel
            } else {
                LlmErrorKind::BadRequest
            }
        }
        400..=499 if mentions(body, UNKNOWN_MODEL_MARKERS) => LlmErrorKind::UnknownModel,
        400..=499 => LlmErrorKind::BadRequest,
        500..=599 => LlmErrorKind::ServerError,
        _ => LlmErrorKind::Other,
    }
}

/// The kind of a transport error, from the first error in its `source()` chain that says.
fn classify_transport(error: &(dyn StdError + 'static)) -> LlmErrorKind {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<crate::backend::http::BodyTooLarge>()
            .is_some()
        {
            return LlmErrorKind::BodyTooLarge;
        }
        if let Some(reqwest) = error.downcast_ref::<reqwest::Error>() {
            if reqwest.is_timeout() {
                return LlmErrorKind::Timeout;
            }
            if reqwest.is_body() || reqwest.is_decode() {
                return LlmErrorKind::TruncatedStream;
            }
            if reqwest.is_connect() {
                // Refused, unreachable host, failed DNS or TLS handshake: no connection was made.
                return LlmErrorKind::ConnectionRefused;
            }
        }
        if let Some(io) = error.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return LlmErrorKind::ConnectionRefused,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::NotConnected => return LlmErrorKind::ConnectionReset,
                io::ErrorKind::TimedOut => return LlmErrorKind::Timeout,
                io::ErrorKind::UnexpectedEof => return LlmErrorKind::TruncatedStream,
                _ => {}
            }
        }
        next = error.source();
    }
    if let Some(reqwest) = error.downcast_ref::<reqwest::Error>()
        && reqwest.is_request()
    {
        // Connected, then lost the connection before a response head arrived.
        return LlmErrorKind::ConnectionReset;
    }
    LlmErrorKind::Other
}

/// A short phrase for a kind, used at the start of error messages.
pub fn describe(kind: LlmErrorKind) -> &'static str {
    match kind {
        LlmErrorKind::ConnectionRefused => "connection refused",
        LlmErrorKind::ConnectionReset => "connection reset",
        LlmErrorKind::Timeout => "timed out",
        LlmErrorKind::RateLimited => "rate limited",
        LlmErrorKind::ServerError => "server error",
        LlmErrorKind::MalformedBody => "malformed response body",
        LlmErrorKind::TruncatedStream => "response ended early",
        LlmErrorKind::EmptyAnswer => "empty answer",
        LlmErrorKind::Unauthorized => "unauthorized (check the API key)",
        LlmErrorKind::Forbidden => "forbidden",
        LlmErrorKind::UnknownModel => "unknown model",
        LlmErrorKind::ContextTooLong => "prompt longer than the context window",
        LlmErrorKind::BadRequest => "request rejected",
        LlmErrorKind::ReplayMiss => "no recorded answer",
        LlmErrorKind::BudgetExceeded => "budget exceeded",
        LlmErrorKind::BodyTooLarge => "response too large",
        LlmErrorKind::Other => "failed",
    }
}

/// A failed LLM call: its kind, what was seen (causes included), and how many tries were made.
#[derive(Debug)]
pub struct LlmError {
    kind: LlmErrorKind,
    detail: String,
    http_status: Option<u16>,
    retry_after: Option<Duration>,
    tries: u32,
    model: Option<String>,
}

impl LlmError {
    /// An error of `kind` with a detail message (no secrets: it reaches traces).
    pub fn new(kind: LlmErrorKind, detail: impl Into<String>) -> Self {
        LlmError {
            kind,
            detail: detail.into(),
            http_status: None,
            retry_after: None,
            tries: 1,
            model: None,
        }
    }

    /// An error classified from an observation.
    pub fn observed(observation: &Observation<'_>, detail: impl Into<String>) -> Self {
        let mut error = LlmError::new(classify(observation), detail);
        if let Observation::Status { status, .. } = observation {
            error.http_status = Some(*status);
        }
        error
    }

    /// An error from a transport failure; the detail is its whole `source()` chain.
    pub fn transport(error: &(dyn StdError + 'static)) -> Self {
        LlmError::new(classify(&Observation::Transport(error)), chain_text(error))
    }

    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    #[must_use]
    pub(crate) fn with_context(mut self, model: &str, tries: u32) -> Self {
        self.model = Some(model.to_owned());
        self.tries = tries;
        self
    }

    pub fn kind(&self) -> LlmErrorKind {
        self.kind
    }

    /// The error with the redactor's secrets removed from its detail.
    #[must_use]
    pub fn redacted(mut self, redactor: &autopilot_trace::Redactor) -> Self {
        self.detail = redactor.redact_string(self.detail);
        self
    }

    /// Whether retrying could help. After the client's retries, a transient error means the
    /// backend stayed unavailable.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// The wait the server asked for (`Retry-After`, `retry-after-ms`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// How many tries the client made before giving up (1 when not retried).
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The detail without the kind phrase, model and tries.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The failure as the trace records it.
    pub fn to_failure(&self) -> LlmFailure {
        LlmFailure {
            kind: self.kind,
            transient: self.kind.is_transient(),
            http_status: self.http_status,
            message: self.detail.clone(),
            retry_after_ms: self.retry_after.map(duration_ms),
        }
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(model) = &self.model {
            write!(f, "{model}: ")?;
        }
        f.write_str(describe(self.kind))?;
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if self.tries > 1 {
            write!(f, "; gave up after {} tries", self.tries)?;
        }
        // The usual cause: the Ollama server is not started.
        if self.kind == LlmErrorKind::ConnectionRefused
            && self
                .model
                .as_deref()
                .is_some_and(|m| m.starts_with("ollama:"))
        {
            f.write_str("; is Ollama running? Start it with `ollama serve` (or set OLLAMA_HOST)")?;
        }
        Ok(())
    }
}

/// The detail holds the causes' text, so the error has no `source()`: the kind is what
/// callers act on.
impl StdError for LlmError {}

/// An error and its causes on one line (`a: b: c`), skipping causes already in the text.
pub(crate) fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// Milliseconds of a duration, saturating.
pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_get_their_kinds() {
        use LlmErrorKind as K;
        let openai_quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let table: &[(u16, &str, LlmErrorKind)] = &[
            (
                400,
                r#"{"error":{"message":"bad temperature"}}"#,
                K::BadRequest,
            ),
            (
                400,
                r#"{"error":{"code":"context_length_exceeded"}}"#,
                K::ContextTooLong,
            ),
            (
                400,
                "This model's maximum context length is 8192 tokens",
                K::ContextTooLong,
            ),
            (
                400,
                r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9001,"n_ctx":8192}}"#,
                K::ContextTooLong,
            ),
            (400, "foo/bar is not a valid model ID", K::UnknownModel),
            (401, "", K::Unauthorized),
            (403, "", K::Forbidden),
            (
                404,
                r#"{"error":{"code":"model_not_found"}}"#,
                K::UnknownModel,
            ),
            (
                404,
                r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
                K::UnknownModel,
            ),
            (404, "404 page not found", K::BadRequest),
            (408, "", K::Timeout),
            (413, "", K::ContextTooLong),
            (422, "unprocessable", K::BadRequest),
            (429, "Rate limit reached", K::RateLimited),
            (429, openai_quota, K::Forbidden),
            (500, "llama runner process has terminated", K::ServerError),
            (502, "", K::ServerError),
            (503, "server busy", K::ServerError),
            (504, "", K::ServerError),
            (529, "overloaded", K::ServerError),
            (302, "", K::Other),
        ];
        for &(status, body, expected) in table {
            assert_eq!(
                classify(&Observation::Status { status, body }),
                expected,
                "HTTP {status} {body:?}"
            );
        }
    }

    #[test]
    fn transport_errors_are_read_through_their_sources() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("client error")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        use LlmErrorKind as K;
        let table = [
            (io::ErrorKind::ConnectionRefused, K::ConnectionRefused),
            (io::ErrorKind::ConnectionReset, K::ConnectionReset),
            (io::ErrorKind::BrokenPipe, K::ConnectionReset),
            (io::ErrorKind::TimedOut, K::Timeout),
            (io::ErrorKind::UnexpectedEof, K::TruncatedStream),
            (io::ErrorKind::PermissionDenied, K::Other),
        ];
        for (io_kind, expected) in table {
            let wrapped = Wrapper(io::Error::new(io_kind, "boom"));
            assert_eq!(
                classify(&Observation::Transport(&wrapped)),
                expected,
                "{io_kind:?}"
            );
        }
    }

    #[test]
    fn other_observations_and_the_transient_split() {
        use LlmErrorKind as K;
        let table = [
            (Observation::TimedOut, K::Timeout, true),
            (Observation::UnparsableBody, K::MalformedBody, true),
            (Observation::EndedEarly, K::TruncatedStream, true),
            (Observation::NoText, K::EmptyAnswer, true),
            (Observation::InvalidRequest, K::BadRequest, false),
            (
                Observation::Status {
                    status: 401,
                    body: "",
                },
                K::Unauthorized,
                false,
            ),
            (
                Observation::Status {
                    status: 429,
                    body: "",
                },
                K::RateLimited,
                true,
            ),
        ];
        for (observation, kind, transient) in table {
            let error = LlmError::observed(&observation, "x");
            assert_eq!(error.kind(), kind, "{observation:?}");
            assert_eq!(error.is_transient(), transient, "{observation:?}");
        }
    }

    #[test]
    fn the_message_names_model_status_and_tries() {
        let error = LlmError::new(LlmErrorKind::ServerError, "overloaded")
            .with_status(503)
            .with_context("openai:gpt-4o", 3);
        assert_eq!(
            error.to_string(),
            "openai:gpt-4o: server error (HTTP 503): overloaded; gave up after 3 tries"
        );
        let failure = error.to_failure();
        assert!(failure.transient);
        assert_eq!(failure.http_status, Some(503));
    }
}
