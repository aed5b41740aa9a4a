//! `probe` against loopback servers speaking each protocol: a listing, a rejected key, a
//! port nothing listens on, a server too slow for the probe's limit, and a body that is not
//! a listing.

use std::time::Duration;

use autopilot_llm::{EndpointSettings, LlmErrorKind, ProbeResult, Provider, probe};
use autopilot_trace::Secret;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{base_url, refused_url};

const LIMIT: Duration = Duration::from_secs(5);

fn endpoint(base: &str, key: Option<&str>) -> EndpointSettings {
    EndpointSettings {
        api_key: key.map(Secret::new),
        ..EndpointSettings::at(base, Duration::from_secs(60))
    }
}

/// A server that answers `GET <route>` with `response`.
async fn server(route: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// Probes `server` as a `provider` endpoint.
async fn probe_server(
    provider: Provider,
    server: &MockServer,
    key: Option<&str>,
    limit: Duration,
) -> ProbeResult {
    let base = base_url(provider, &server.uri());
    probe(provider, &endpoint(&base, key), limit).await.unwrap()
}

#[tokio::test]
async fn an_openai_listing_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", "Bearer sk-probe-1234"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [
                {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "system"},
                {"id": "gpt-4o-mini", "object": "model", "created": 2, "owned_by": "system"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let result = probe_server(Provider::OpenAi, &server, Some("sk-probe-1234"), LIMIT).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(result.reachable);
    assert_eq!(result.status, Some(200));
    assert_eq!(result.kind, None);
    assert_eq!(result.models, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(result.url, format!("{}/v1/models", server.uri()));
}

#[tokio::test]
async fn an_ollama_listing() {
    let server = server(
        "/api/tags",
        ResponseTemplate::new(200).set_body_json(json!({
            "models": [
                {"name": "qwen2.5-coder:32b", "model": "qwen2.5-coder:32b", "size": 19_851_349_856_u64},
                {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2_019_393_189}
            ]
        })),
    )
    .await;
    let result = probe_server(Provider::Ollama, &server, None, LIMIT).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(result.models, ["qwen2.5-coder:32b", "llama3.2:latest"]);
    // No key configured: no Authorization header was sent.
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_rejected_key_is_reachable_but_unauthorized_and_never_echoed() {
    let server = server(
        "/v1/models",
        ResponseTemplate::new(401).set_body_json(json!({
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key"
            }
        })),
    )
    .await;
    let result = probe_server(Provider::OpenAi, &server, Some("sk-wrong-5678"), LIMIT).await;
    assert!(!result.is_ok());
    assert!(result.reachable);
    assert_eq!(result.status, Some(401));
    assert_eq!(result.kind, Some(LlmErrorKind::Unauthorized));
    assert!(result.models.is_empty());
    let error = result.error.unwrap();
    assert!(error.contains("Incorrect API key provided"), "{error}");
    assert!(!error.contains("sk-wrong"), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    for provider in [Provider::OpenAi, Provider::Ollama] {
        let base = refused_url().await;
        let result = probe(provider, &endpoint(&base, None), LIMIT)
            .await
            .unwrap();
        assert!(!result.reachable, "{result:?}");
        assert_eq!(result.status, None);
        assert_eq!(result.kind, Some(LlmErrorKind::ConnectionRefused));
        assert!(result.error.is_some());
    }
}

#[tokio::test]
async fn a_slow_server_times_out_within_the_limit() {
    let server = server(
        "/api/tags",
        ResponseTemplate::new(200)
            .set_body_json(json!({"models": []}))
            .set_delay(Duration::from_secs(10)),
    )
    .await;
    let started = std::time::Instant::now();
    let result = probe_server(Provider::Ollama, &server, None, Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!result.reachable);
    assert_eq!(result.kind, Some(LlmErrorKind::Timeout));
}

#[tokio::test]
async fn a_success_that_is_not_a_listing_is_malformed() {
    let server = server(
        "/api/tags",
        ResponseTemplate::new(200).set_body_string("<html>It works!</html>"),
    )
    .await;
    let result = probe_server(Provider::Ollama, &server, None, LIMIT).await;
    assert!(result.reachable);
    assert_eq!(result.status, Some(200));
    assert_eq!(result.kind, Some(LlmErrorKind::MalformedBody));
    assert!(!result.is_ok());
}

#[tokio::test]
async fn replay_has_nothing_to_probe() {
    assert!(
        probe(
            Provider::Replay,
            &endpoint("http://127.0.0.1:1", None),
            LIMIT
        )
        .await
        .is_err()
    );
}
