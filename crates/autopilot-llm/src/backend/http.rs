//! HTTP plumbing shared by the live backends: the reqwest client (rustls with the ring
//! provider), reading an error response, and the server's requested wait (`Retry-After`).

use std::sync::Once;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;

use crate::error::{LlmError, Observation};
use crate::settings::{ConfigError, EndpointSettings};

/// At most this much of an error body is kept (messages, classification).
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// At most this much of an error body reaches a message or a trace.
const ERROR_MESSAGE_LIMIT: usize = 500;

/// Installs rustls's ring provider as the process default, once. reqwest is built with
/// `rustls-no-provider` (no aws-lc); an application that installed a provider first keeps it.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client for one endpoint: its connect timeout, no overall timeout (the LLM client
/// bounds each try), our user agent.
pub(crate) fn http_client(settings: &EndpointSettings) -> Result<reqwest::Client, ConfigError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .user_agent(concat!("autopilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::HttpClient(crate::error::chain_text(&e)))
}

/// A non-success response, read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub(crate) struct HttpStatusError {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl HttpStatusError {
    /// Reads the status, the requested wait and (the start of) the body.
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), jiff::Timestamp::now());
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_BODY_LIMIT {
                body.truncate(ERROR_BODY_LIMIT);
                break;
            }
        }
        HttpStatusError {
            status,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The typed error.
    pub(crate) fn into_llm_error(self) -> LlmError {
        let observation = Observation::Status {
            status: self.status,
            body: &self.body,
        };
        LlmError::observed(&observation, error_message(&self.body))
            .with_retry_after(self.retry_after)
    }
}

/// The human part of an error body: OpenAI's `{"error":{"message":…}}`, Ollama's
/// `{"error":"…"}`, or the text itself; shortened.
pub(crate) fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            let error = value.get("error")?;
            let message = error
                .get("message")
                .and_then(serde_json::Value::as_str)
                .or_else(|| error.as_str())?;
            let code = error.get("code").and_then(serde_json::Value::as_str);
            Some(match code {
                Some(code) if !message.contains(code) => format!("{message} ({code})"),
                _ => message.to_owned(),
            })
        });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    shorten(&text, ERROR_MESSAGE_LIMIT)
}

/// The first `limit` bytes of `text` (on a character boundary), with `…` when cut.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The wait a response asks for: `retry-after-ms` (milliseconds, as OpenAI sends), else
/// `Retry-After` as seconds or as an HTTP date relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = now.duration_until(date);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// `base` joined with `path` (`/chat/completions`, `/api/chat`).
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = &'static [(&'static str, &'static str)];

    #[test]
    fn retry_after_in_its_three_spellings() {
        let now: jiff::Timestamp = "2026-11-21T08:49:30Z".parse().unwrap();
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, v.parse().unwrap());
            }
            map
        };
        let table: &[(Headers, Option<Duration>)] = &[
            (&[], None),
            (&[("retry-after", "7")], Some(Duration::from_secs(7))),
            (&[("retry-after", "1.5")], Some(Duration::from_millis(1500))),
            (
                &[("retry-after-ms", "250")],
                Some(Duration::from_millis(250)),
            ),
            (
                &[("retry-after-ms", "40"), ("retry-after", "9")],
                Some(Duration::from_millis(40)),
            ),
            (
                &[("retry-after", "Sat, 21 Nov 2026 08:49:37 GMT")],
                Some(Duration::from_secs(7)),
            ),
            (
                &[("retry-after", "Sat, 21 Nov 2026 08:00:00 GMT")],
                Some(Duration::ZERO),
            ),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "-3")], None),
        ];
        for (pairs, expected) in table {
            assert_eq!(retry_after(&headers(pairs), now), *expected, "{pairs:?}");
        }
    }

    #[test]
    fn error_messages_come_from_either_protocol() {
        assert_eq!(
            error_message(
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#
            ),
            "Incorrect API key provided (invalid_api_key)"
        );
        assert_eq!(
            error_message(r#"{"error":"model \"x\" not found, try pulling it first"}"#),
            r#"model "x" not found, try pulling it first"#
        );
        assert_eq!(error_message("  Bad Gateway \n"), "Bad Gateway");
        let long = "é".repeat(400);
        let short = error_message(&long);
        assert!(
            short.len() <= ERROR_MESSAGE_LIMIT + "…".len(),
            "{}",
            short.len()
        );
        assert!(short.ends_with('…'));
    }
}
