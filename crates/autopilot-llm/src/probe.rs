//! Reachability probes (for `autopilot doctor`): one bounded `GET` per endpoint —
//! `<base>/models` on an OpenAI-compatible server, `<base>/api/tags` on Ollama — that says
//! whether the endpoint answers, with which status, what kind of fault when it does not, and
//! which models it lists. No retries: a probe reports what one try saw.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::backend::http::{BodyCap, HttpStatusError, http_client, join_url, read_capped};
use crate::error::{LlmError, LlmErrorKind, Observation};
use crate::settings::{ConfigError, EndpointSettings};
use autopilot_trace::Provider;

/// The model listing is read up to this size (OpenAI's is a few tens of KiB).
const LISTING_LIMIT: u64 = 4 * 1024 * 1024;

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub provider: Provider,
    /// The URL probed, without credentials.
    pub url: String,
    /// An HTTP response came back (whatever its status).
    pub reachable: bool,
    pub status: Option<u16>,
    /// The fault, when the probe did not succeed (`unauthorized`, `connection_refused`, …).
    pub kind: Option<LlmErrorKind>,
    /// The models the endpoint lists, in its order (empty unless it succeeded), with the
    /// endpoint's secrets removed.
    pub models: Vec<String>,
    /// What went wrong, with the endpoint's secrets removed; `None` when the probe succeeded.
    pub error: Option<String>,
    pub latency: Duration,
}

impl ProbeResult {
    /// The endpoint answered with a success status and a listing we could read.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// `GET`s the endpoint's model listing once, within `timeout`, with the endpoint's key as a
/// bearer token when it has one. A fault is a [`ProbeResult`] that says so; `Err` only when
/// the provider has no endpoint (replay) or the HTTP client cannot be built.
pub async fn probe(
    provider: Provider,
    endpoint: &EndpointSettings,
    timeout: Duration,
) -> Result<ProbeResult, ConfigError> {
    let path = match provider {
        Provider::OpenAi => "/models",
        Provider::Ollama => "/api/tags",
        Provider::Replay => {
            return Err(ConfigError::InvalidValue {
                origin: "probe".to_owned(),
                message: "replay models answer from recordings and have no endpoint".to_owned(),
            });
        }
    };
    let http = http_client(endpoint)?;
    let mut request = http
        .get(join_url(&endpoint.base_url, path))
        .timeout(timeout);
    if let Some(key) = &endpoint.api_key {
        request = request.bearer_auth(key.expose());
    }
    let started = Instant::now();
    let outcome = listing(provider, request).await;
    let redactor = endpoint.redactor();
    let mut result = ProbeResult {
        provider,
        url: join_url(&endpoint.redacted_url(), path),
        reachable: false,
        status: None,
        kind: None,
        models: Vec::new(),
        error: None,
        latency: started.elapsed(),
    };
    match outcome {
        Ok((status, models)) => {
            result.reachable = true;
            result.status = Some(status);
            result.models = models
                .into_iter()
                .map(|m| redactor.redact_string(m))
                .collect();
        }
        Err(error) => {
            result.status = error.http_status();
            result.reachable = result.status.is_some();
            result.kind = Some(error.kind());
            result.error = Some(error.redacted(&redactor).to_string());
        }
    }
    Ok(result)
}

/// Sends the request and reads the listing: the status and the model names.
async fn listing(
    provider: Provider,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Vec<String>), LlmError> {
    let transport = |e: reqwest::Error| LlmError::transport(&e.without_url());
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(HttpStatusError::read(response).await.into_llm_error());
    }
    let body = read_capped(response, &BodyCap::new(LISTING_LIMIT))
        .await
        .map_err(|e| e.with_status(status))?;
    parse_listing(provider, &body)
        .map(|models| (status, models))
        .map_err(|reason| {
            malformed(
                status,
                &format!("the model listing is not the protocol's JSON: {reason}"),
            )
        })
}

fn malformed(status: u16, detail: &str) -> LlmError {
    LlmError::observed(&Observation::UnparsableBody, detail).with_status(status)
}

/// The model names of a listing: OpenAI's `{"data":[{"id":…}]}` or Ollama's
/// `{"models":[{"name":…}]}`.
pub fn parse_listing(provider: Provider, body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct OpenAiListing {
        data: Vec<OpenAiModel>,
    }
    #[derive(Deserialize)]
    struct OpenAiModel {
        id: String,
    }
    #[derive(Deserialize)]
    struct OllamaListing {
        models: Vec<OllamaModel>,
    }
    #[derive(Deserialize)]
    struct OllamaModel {
        name: String,
    }
    let error = |e: serde_json::Error| e.to_string();
    match provider {
        Provider::OpenAi => serde_json::from_slice::<OpenAiListing>(body)
            .map(|l| l.data.into_iter().map(|m| m.id).collect())
            .map_err(error),
        Provider::Ollama => serde_json::from_slice::<OllamaListing>(body)
            .map(|l| l.models.into_iter().map(|m| m.name).collect())
            .map_err(error),
        Provider::Replay => Err("replay has no listing".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_of_both_protocols() {
        let openai = br#"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1,"owned_by":"system"},{"id":"o3-mini","object":"model"}]}"#;
        assert_eq!(
            parse_listing(Provider::OpenAi, openai).unwrap(),
            ["gpt-4o", "o3-mini"]
        );
        let ollama = br#"{"models":[{"name":"qwen2.5-coder:32b","model":"qwen2.5-coder:32b","size":19851349856,"details":{"family":"qwen2"}}]}"#;
        assert_eq!(
            parse_listing(Provider::Ollama, ollama).unwrap(),
            ["qwen2.5-coder:32b"]
        );
        assert_eq!(
            parse_listing(Provider::Ollama, br#"{"models":[]}"#).unwrap(),
            Vec::<String>::new()
        );
        // Each protocol's listing is not the other's.
        assert!(parse_listing(Provider::OpenAi, ollama).is_err());
        assert!(parse_listing(Provider::Ollama, openai).is_err());
        assert!(parse_listing(Provider::OpenAi, b"<html>").is_err());
    }
}
