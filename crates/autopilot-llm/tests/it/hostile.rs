//! Hostile servers: endpoints that reflect the API key (in error bodies of every status, a
//! malformed 200, the answer itself, the request URL) and endpoints that never stop sending.
//! The key must appear in no error and no trace line; an endless body must end with
//! `body_too_large` on the first try.

use std::sync::Arc;
use std::time::Duration;

use autopilot_llm::{
    ChatBackend, EndpointSettings, LlmClient, LlmErrorKind, ModelRef, OllamaBackend, OpenAiBackend,
    Provider,
};
use autopilot_trace::{LlmCallResult, Secret};
use wiremock::matchers::{any, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{
    RawServer, TRY_TIMEOUT, base_url, fast_policy, refused_url, request, sketch, traced, wire,
};

/// The key every hostile server tries to leak; every reflected form contains `hostile`.
const KEY: &str = "sk-hostile/Key+42=xyz";
/// A secret carried in the base URL's query string.
const QUERY_SECRET: &str = "qs-hostile-77";

#[derive(Debug, Clone, Copy)]
enum Reflect {
    /// An error status whose body repeats the request's credentials.
    Status(u16),
    /// A 200 that is not the protocol's JSON, holding the credentials.
    Malformed,
    /// A valid answer whose text holds the credentials.
    Answer(Provider),
}

impl Respond for Reflect {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let key = auth.strip_prefix("Bearer ").unwrap_or(&auth);
        let encoded: String = key
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let echo = format!("bad key {auth} ({encoded}) for {}", request.url);
        match *self {
            Reflect::Status(status) => ResponseTemplate::new(status).set_body_json(
                serde_json::json!({"error": {"message": echo, "code": "invalid_api_key"}}),
            ),
            Reflect::Malformed => ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(format!("{{\"choices\": [ {echo}")),
            Reflect::Answer(Provider::Ollama) => {
                ResponseTemplate::new(200).set_body_json(wire::ollama_final("m", &echo, (1, 1)))
            }
            Reflect::Answer(_) => ResponseTemplate::new(200)
                .set_body_json(wire::openai_completion("m", &echo, (1, 1))),
        }
    }
}

fn live(provider: Provider, settings: &EndpointSettings) -> Arc<dyn ChatBackend> {
    match provider {
        Provider::OpenAi => Arc::new(OpenAiBackend::new(settings).unwrap()),
        _ => Arc::new(OllamaBackend::new(settings).unwrap()),
    }
}

fn keyed_client(provider: Provider, base: &str) -> LlmClient {
    let settings = EndpointSettings {
        api_key: Some(Secret::new(KEY)),
        ..EndpointSettings::at(base, TRY_TIMEOUT)
    };
    LlmClient::new(ModelRef::new(provider, "m"), live(provider, &settings))
        .with_retry(fast_policy())
}

/// One exchange with a reflecting server; returns what a user or a reader could see.
async fn exchange(provider: Provider, reflect: Reflect, stream: bool) -> String {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(reflect)
        .mount(&server)
        .await;
    let base = format!("{}?key={QUERY_SECRET}", base_url(provider, &server.uri()));
    let client = keyed_client(provider, &base);
    let run = traced(client.chat(&sketch(1), &request("q", stream))).await;
    let shown = match &run.output {
        Ok(answer) => answer.text.clone(),
        Err(error) => error.to_string(),
    };
    let trace = fs_err::read_to_string(&run.path).unwrap();
    assert!(
        !run.calls.is_empty(),
        "{provider} {reflect:?}: no llm_call in\n{trace}\n{shown}"
    );
    format!("{shown}\n{trace}")
}

#[tokio::test]
async fn a_reflected_key_reaches_no_error_answer_or_trace() {
    let mut cases = Vec::new();
    for provider in [Provider::OpenAi, Provider::Ollama] {
        for status in [400, 401, 403, 404, 429, 500] {
            cases.push((provider, Reflect::Status(status), false));
        }
        cases.push((provider, Reflect::Malformed, false));
        cases.push((provider, Reflect::Answer(provider), false));
    }
    cases.push((Provider::OpenAi, Reflect::Status(500), true));
    for (provider, reflect, stream) in cases {
        let seen = exchange(provider, reflect, stream).await;
        assert!(
            !seen.contains("hostile"),
            "{provider} {reflect:?}: the key leaked:\n{seen}"
        );
        assert!(
            seen.contains("***"),
            "{provider} {reflect:?}: nothing redacted:\n{seen}"
        );
    }
}

/// The query string of a base URL stays after the path (`/v1/chat/completions?key=…`), and a
/// refused connection's error (reqwest names the URL) does not show its secret.
#[tokio::test]
async fn a_query_string_in_the_base_url_is_sent_after_the_path_and_never_shown() {
    for (provider, route) in [
        (Provider::OpenAi, "/v1/chat/completions"),
        (Provider::Ollama, "/api/chat"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path(route))
            .and(query_param("key", QUERY_SECRET))
            .respond_with(Reflect::Answer(provider))
            .mount(&server)
            .await;
        let base = format!("{}?key={QUERY_SECRET}", base_url(provider, &server.uri()));
        // Every call runs under a trace subscriber: tracing caches per-callsite interest across
        // the tests of this binary, and a call without one would disable the others' events.
        let answer = traced(keyed_client(provider, &base).chat(&sketch(1), &request("q", false)))
            .await
            .output
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert!(answer.text.contains(route), "{}", answer.text);
        assert!(!answer.text.contains("hostile"), "{}", answer.text);

        let refused = format!("{}?key={QUERY_SECRET}", refused_url().await);
        let run =
            traced(keyed_client(provider, &refused).chat(&sketch(1), &request("q", false))).await;
        let error = run.output.unwrap_err();
        assert_eq!(error.kind(), LlmErrorKind::ConnectionRefused);
        let trace = fs_err::read_to_string(&run.path).unwrap();
        assert!(
            !format!("{error}\n{trace}").contains("hostile"),
            "{error}\n{trace}"
        );
    }
}

/// A server that never stops sending: each protocol, whole and streamed, ends with
/// `body_too_large` on the first try (never retried), long before the try's timeout.
#[tokio::test]
async fn an_endless_body_ends_with_body_too_large_and_no_retry() {
    let sse =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"aaaaaaaaaaaaaaaa\"}}]}\n\n";
    let ndjson =
        "{\"message\":{\"role\":\"assistant\",\"content\":\"aaaaaaaaaaaaaaaa\"},\"done\":false}\n";
    let cases = [
        (
            Provider::OpenAi,
            "application/json",
            "[1,2,3,4,5,6,7,8,9,0,",
            false,
        ),
        (Provider::OpenAi, "text/event-stream", sse, true),
        (
            Provider::Ollama,
            "application/json",
            "[1,2,3,4,5,6,7,8,9,0,",
            false,
        ),
        (Provider::Ollama, "application/x-ndjson", ndjson, true),
    ];
    for (provider, content_type, chunk, stream) in cases {
        let server = RawServer::endless(content_type, chunk).await;
        let settings = EndpointSettings {
            max_body_bytes: 1024 * 1024,
            ..EndpointSettings::at(base_url(provider, &server.url), Duration::from_secs(60))
        };
        let client = LlmClient::new(ModelRef::new(provider, "m"), live(provider, &settings))
            .with_retry(fast_policy());
        let run = tokio::time::timeout(
            Duration::from_secs(50),
            traced(client.chat(&sketch(1), &request("q", stream))),
        )
        .await
        .unwrap_or_else(|_| panic!("{provider} stream={stream}: still reading after 50 s"));
        let error = run.output.unwrap_err();
        assert_eq!(
            error.kind(),
            LlmErrorKind::BodyTooLarge,
            "{provider} stream={stream}: {error}"
        );
        assert!(!error.is_transient());
        assert_eq!(error.tries(), 1, "{error}");
        assert_eq!(server.connections(), 1);
        assert!(error.to_string().contains("1048576 bytes"), "{error}");
        let [call] = run.calls.as_slice() else {
            panic!("{:?}", run.calls);
        };
        match &call.result {
            LlmCallResult::Failed(failure) => {
                assert_eq!(failure.kind, LlmErrorKind::BodyTooLarge);
                assert!(!failure.transient);
            }
            other @ LlmCallResult::Answered(_) => panic!("{other:?}"),
        }
    }
}

/// The default cap (32 MiB) ends an endless body too.
#[tokio::test]
async fn the_default_cap_ends_an_endless_body() {
    let server = RawServer::endless("application/json", &"[0,".repeat(1000)).await;
    let client = keyed_client(Provider::OpenAi, &base_url(Provider::OpenAi, &server.url));
    let error = tokio::time::timeout(
        Duration::from_secs(60),
        traced(client.chat(&sketch(1), &request("q", false))),
    )
    .await
    .expect("still reading after 60 s")
    .output
    .unwrap_err();
    assert_eq!(error.kind(), LlmErrorKind::BodyTooLarge, "{error}");
    assert!(error.to_string().contains("33554432 bytes"), "{error}");
}
