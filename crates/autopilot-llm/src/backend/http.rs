//! HTTP plumbing shared by the live backends: the reqwest client (rustls with the ring
//! provider), reading an error response, the server's requested wait (`Retry-After`), and the
//! cap on a response body's size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;

use crate::error::{LlmError, LlmErrorKind, Observation};
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
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .user_agent(concat!("autopilot/", env!("CARGO_PKG_VERSION")));
    if is_plain_http(&settings.base_url) {
        // A plain-HTTP endpoint (a local server) never speaks TLS: no root store. Loading the
        // platform's certificates was most of a batch's start-up; a redirect from such an
        // endpoint to https would fail its certificate check.
        builder = builder.tls_certs_only(std::iter::empty());
    }
    builder
        .build()
        .map_err(|e| ConfigError::HttpClient(crate::error::chain_text(&e)))
}

/// Whether a base URL is `http://` (not TLS).
fn is_plain_http(base_url: &str) -> bool {
    base_url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
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

/// `base` joined with `path` (`/chat/completions`, `/api/chat`): the path goes before the
/// base's query string and fragment (`https://h/v1?key=k` → `https://h/v1/models?key=k`).
pub(crate) fn join_url(base: &str, path: &str) -> String {
    let (before, query) = split_query(base);
    format!("{}{path}{query}", before.trim_end_matches('/'))
}

/// A URL split before its query string (or fragment): (`https://h/v1`, `?key=k`).
pub(crate) fn split_query(url: &str) -> (&str, &str) {
    // Only after the scheme and authority: a `?` cannot come earlier in a valid URL.
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find(['?', '#']) {
        Some(at) => url.split_at(start + at),
        None => (url, ""),
    }
}

/// A body over its size cap: the error inside the capped stream.
#[derive(Debug, thiserror::Error)]
#[error("the response body is larger than {limit} bytes")]
pub(crate) struct BodyTooLarge {
    pub limit: u64,
}

/// The size cap of one call's response body, and whether it was hit (read after the call,
/// since the body may be consumed on another task that only reports an error text).
#[derive(Debug)]
pub(crate) struct BodyCap {
    pub limit: u64,
    hit: AtomicBool,
}

impl BodyCap {
    pub(crate) fn new(limit: u64) -> Arc<Self> {
        Arc::new(BodyCap {
            limit,
            hit: AtomicBool::new(false),
        })
    }

    pub(crate) fn was_hit(&self) -> bool {
        self.hit.load(Ordering::SeqCst)
    }

    /// Counts `len` more bytes; an error once the total passes the limit.
    pub(crate) fn take(&self, seen: &mut u64, len: usize) -> Result<(), BodyTooLarge> {
        *seen = seen.saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        if *seen > self.limit {
            self.hit.store(true, Ordering::SeqCst);
            return Err(BodyTooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The typed error of a body over this cap.
    pub(crate) fn error(&self) -> LlmError {
        body_too_large(self.limit)
    }
}

/// The `body_too_large` error for a cap of `limit` bytes.
fn body_too_large(limit: u64) -> LlmError {
    LlmError::new(
        LlmErrorKind::BodyTooLarge,
        format!(
            "the response body passed its cap of {limit} bytes (max_body_bytes); stopped reading"
        ),
    )
}

/// The same response with its body cut off by `cap`: reading past the limit fails with
/// [`BodyTooLarge`] and marks the cap as hit. Status, version and headers are kept.
pub(crate) fn capped_response(response: reqwest::Response, cap: Arc<BodyCap>) -> reqwest::Response {
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let mut seen = 0u64;
    let stream = response.bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        cap.take(&mut seen, chunk.len())?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(chunk)
    });
    let mut rebuilt = http::Response::new(reqwest::Body::wrap_stream(stream));
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}

/// Reads a whole body, at most `cap.limit` bytes.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    cap: &BodyCap,
) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    let mut seen = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| LlmError::transport(&e.without_url()))?;
        cap.take(&mut seen, chunk.len()).map_err(|_| cap.error())?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
    fn paths_go_before_the_query_string() {
        let table = [
            ("https://h/v1", "/models", "https://h/v1/models"),
            ("https://h/v1/", "/models", "https://h/v1/models"),
            ("https://h/v1?key=k", "/models", "https://h/v1/models?key=k"),
            (
                "https://h/v1/?key=k#f",
                "/api/chat",
                "https://h/v1/api/chat?key=k#f",
            ),
            (
                "http://127.0.0.1:11434",
                "/api/tags",
                "http://127.0.0.1:11434/api/tags",
            ),
        ];
        for (base, path, expected) in table {
            assert_eq!(join_url(base, path), expected, "{base}");
        }
    }

    #[test]
    fn only_http_urls_skip_the_root_store() {
        assert!(is_plain_http("http://127.0.0.1:11434"));
        assert!(is_plain_http("HTTP://localhost/v1"));
        assert!(!is_plain_http("https://api.openai.com/v1"));
        assert!(!is_plain_http("http:/"));
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
