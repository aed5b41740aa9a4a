//! The fault matrix: every fault against every live backend, each ending with the expected
//! number of tries (counted on the server side too), the expected typed outcome, and trace
//! events that say so (one per try, each retry with its delay).

use std::time::Duration;

use autopilot_llm::{LlmErrorKind, Provider};
use autopilot_trace::LlmCallResult;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    RawServer, base_url, client, fast_policy, refused_url, request, sketch, traced, wire,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ConnectionRefused,
    /// The server reads the request and closes the connection without answering.
    ConnectionReset,
    /// 429 with the wait in the headers.
    RateLimited,
    Status500,
    Status503,
    /// The answer comes later than the try's timeout.
    PastTimeout,
    MalformedJson,
    EmptyContent,
    /// A streamed answer whose connection is cut mid-body.
    CutStream,
    /// A streamed answer that ends cleanly but without its end marker.
    NoEndMarker,
    Unauthorized,
    UnknownModel,
}

struct Expected {
    kind: LlmErrorKind,
    tries: u32,
    status: Option<u16>,
}

fn expected(fault: Fault) -> Expected {
    let tries = fast_policy().max_attempts;
    let (kind, tries, status) = match fault {
        Fault::ConnectionRefused => (LlmErrorKind::ConnectionRefused, tries, None),
        Fault::ConnectionReset => (LlmErrorKind::ConnectionReset, tries, None),
        Fault::RateLimited => (LlmErrorKind::RateLimited, tries, Some(429)),
        Fault::Status500 => (LlmErrorKind::ServerError, tries, Some(500)),
        Fault::Status503 => (LlmErrorKind::ServerError, tries, Some(503)),
        Fault::PastTimeout => (LlmErrorKind::Timeout, tries, None),
        Fault::MalformedJson => (LlmErrorKind::MalformedBody, tries, None),
        Fault::EmptyContent => (LlmErrorKind::EmptyAnswer, tries, None),
        Fault::CutStream | Fault::NoEndMarker => (LlmErrorKind::TruncatedStream, tries, None),
        Fault::Unauthorized => (LlmErrorKind::Unauthorized, 1, Some(401)),
        Fault::UnknownModel => (LlmErrorKind::UnknownModel, 1, Some(404)),
    };
    Expected {
        kind,
        tries,
        status,
    }
}

const OPENAI_MODEL: &str = "gpt-4o";
const OLLAMA_MODEL: &str = "qwen2.5-coder:32b";

/// The wait each provider's 429 asks for: OpenAI sends `retry-after-ms` (and a rounded
/// `retry-after`), an Ollama host behind a gateway sends `Retry-After` in seconds.
fn retry_after(provider: Provider) -> Duration {
    match provider {
        Provider::OpenAi => Duration::from_millis(40),
        _ => Duration::from_secs(1),
    }
}

/// The server side of a fault.
enum Arranged {
    Mock(MockServer),
    Raw(RawServer),
    Nothing(String),
}

impl Arranged {
    fn url(&self, provider: Provider) -> String {
        match self {
            Arranged::Mock(server) => base_url(provider, &server.uri()),
            Arranged::Raw(server) => base_url(provider, &server.url),
            Arranged::Nothing(url) => url.clone(),
        }
    }

    async fn requests_seen(&self) -> usize {
        match self {
            Arranged::Mock(server) => server.received_requests().await.unwrap_or_default().len(),
            Arranged::Raw(server) => server.connections(),
            Arranged::Nothing(_) => 0,
        }
    }
}

async fn mock(template: ResponseTemplate) -> Arranged {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    Arranged::Mock(server)
}

fn json_body(status: u16, body: &serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

async fn arrange(provider: Provider, fault: Fault) -> Arranged {
    let openai = provider == Provider::OpenAi;
    let (stream_type, model) = if openai {
        ("text/event-stream", OPENAI_MODEL)
    } else {
        ("application/x-ndjson", OLLAMA_MODEL)
    };
    let error = |message: &str, kind: &str, code: &str| {
        if openai {
            wire::openai_error(message, kind, code)
        } else {
            json!({ "error": message })
        }
    };
    let good = if openai {
        wire::openai_completion(model, "void setup() {}", (10, 5))
    } else {
        wire::ollama_final(model, "void setup() {}", (10, 5))
    };
    match fault {
        Fault::ConnectionRefused => Arranged::Nothing(base_url(provider, &refused_url().await)),
        Fault::ConnectionReset => Arranged::Raw(RawServer::start(Vec::new()).await),
        Fault::RateLimited => {
            let wait = retry_after(provider);
            let mut template = json_body(
                429,
                &error(
                    "Rate limit reached for requests",
                    "requests",
                    "rate_limit_exceeded",
                ),
            );
            template = if openai {
                template
                    .insert_header("retry-after-ms", wait.as_millis().to_string().as_str())
                    .insert_header("retry-after", "1")
            } else {
                template.insert_header("retry-after", wait.as_secs().to_string().as_str())
            };
            mock(template).await
        }
        Fault::Status500 => {
            let message = if openai {
                "The server had an error while processing your request."
            } else {
                "llama runner process has terminated: CUDA error: out of memory"
            };
            mock(json_body(
                500,
                &error(message, "server_error", "server_error"),
            ))
            .await
        }
        Fault::Status503 => {
            let message = if openai {
                "The engine is currently overloaded, please try again later"
            } else {
                "server busy, please try again.  maximum pending requests exceeded"
            };
            mock(json_body(
                503,
                &error(message, "server_error", "server_error"),
            ))
            .await
        }
        Fault::PastTimeout => mock(json_body(200, &good).set_delay(Duration::from_secs(3))).await,
        Fault::MalformedJson => {
            mock(ResponseTemplate::new(200).set_body_raw(
                r#"{"id":"chatcmpl-1","choices":[{"index":0,"#,
                "application/json",
            ))
            .await
        }
        Fault::EmptyContent => {
            let empty = if openai {
                wire::openai_completion(model, "", (10, 0))
            } else {
                wire::ollama_final(model, "", (10, 0))
            };
            mock(json_body(200, &empty)).await
        }
        Fault::CutStream => {
            let partial = if openai {
                wire::openai_sse(model, &["void setup()"], (0, 0), false)
            } else {
                wire::ollama_ndjson(model, &["void setup()"], (0, 0), false)
            };
            Arranged::Raw(RawServer::cut_after(stream_type, &partial).await)
        }
        Fault::NoEndMarker => {
            let partial = if openai {
                wire::openai_sse(model, &["void setup()", " {}"], (0, 0), false)
            } else {
                wire::ollama_ndjson(model, &["void setup()", " {}"], (0, 0), false)
            };
            mock(ResponseTemplate::new(200).set_body_raw(partial, stream_type)).await
        }
        Fault::Unauthorized => {
            mock(json_body(
                401,
                &error(
                    "Incorrect API key provided: sk-bad***",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            ))
            .await
        }
        Fault::UnknownModel => {
            let message = if openai {
                "The model `gpt-4o` does not exist or you do not have access to it."
            } else {
                "model \"qwen2.5-coder:32b\" not found, try pulling it first"
            };
            mock(json_body(
                404,
                &error(message, "invalid_request_error", "model_not_found"),
            ))
            .await
        }
    }
}

async fn check(provider: Provider, fault: Fault) {
    let arranged = arrange(provider, fault).await;
    let model = if provider == Provider::OpenAi {
        OPENAI_MODEL
    } else {
        OLLAMA_MODEL
    };
    let client = client(provider, model, &arranged.url(provider));
    let streamed = matches!(fault, Fault::CutStream | Fault::NoEndMarker);
    let mut req = request("Blink the LED.", streamed);
    if fault == Fault::PastTimeout {
        req.timeout = Some(Duration::from_millis(300));
    }
    let run = traced(client.chat(&sketch(1), &req)).await;
    let expect = expected(fault);
    let label = format!("{provider} {fault:?}");

    let error = run.output.expect_err(&label);
    assert_eq!(error.kind(), expect.kind, "{label}: {error}");
    assert_eq!(error.tries(), expect.tries, "{label}: {error}");
    assert_eq!(error.http_status(), expect.status, "{label}: {error}");
    if expect.tries > 1 {
        assert!(
            error
                .to_string()
                .contains(&format!("after {} tries", expect.tries)),
            "{label}: {error}"
        );
    }
    if fault != Fault::ConnectionRefused {
        assert_eq!(
            arranged.requests_seen().await,
            expect.tries as usize,
            "{label}: requests the server saw"
        );
    }

    assert_eq!(
        run.calls.len(),
        expect.tries as usize,
        "{label}: trace events"
    );
    for (n, call) in run.calls.iter().enumerate() {
        let last = n + 1 == run.calls.len();
        assert_eq!(call.retry as usize, n, "{label}");
        assert_eq!(call.stream, streamed, "{label}");
        let LlmCallResult::Failed(failure) = &call.result else {
            panic!("{label}: try {n} answered");
        };
        assert_eq!(failure.kind, expect.kind, "{label}: try {n}");
        assert_eq!(failure.transient, expect.kind.is_transient(), "{label}");
        assert_eq!(failure.http_status, expect.status, "{label}");
        assert!(!failure.message.is_empty(), "{label}: a failure says why");
        assert_eq!(
            call.retry_in_ms.is_some(),
            !last,
            "{label}: try {n} retry_in_ms"
        );
        if fault == Fault::RateLimited {
            let wait = u64::try_from(retry_after(provider).as_millis()).unwrap();
            assert_eq!(failure.retry_after_ms, Some(wait), "{label}");
            if !last {
                assert_eq!(
                    call.retry_in_ms,
                    Some(wait),
                    "{label}: Retry-After honoured"
                );
            }
        }
        if fault == Fault::PastTimeout {
            assert!(call.latency_ms >= 300, "{label}: {} ms", call.latency_ms);
        }
    }
}

macro_rules! matrix {
    ($($name:ident: $fault:ident;)*) => {
        mod openai {
            use super::*;
            $(#[tokio::test] async fn $name() { check(Provider::OpenAi, Fault::$fault).await; })*
        }
        mod ollama {
            use super::*;
            $(#[tokio::test] async fn $name() { check(Provider::Ollama, Fault::$fault).await; })*
        }
    };
}

matrix! {
    connection_refused: ConnectionRefused;
    connection_reset: ConnectionReset;
    rate_limited_with_retry_after: RateLimited;
    server_error_500: Status500;
    unavailable_503: Status503;
    delay_past_the_timeout: PastTimeout;
    malformed_json: MalformedJson;
    empty_content: EmptyContent;
    stream_cut_mid_body: CutStream;
    stream_without_end_marker: NoEndMarker;
    unauthorized_401: Unauthorized;
    unknown_model: UnknownModel;
}

/// A 429 followed by an answer: the retry waits exactly what the server asked and succeeds.
#[tokio::test]
async fn a_rate_limit_that_clears_is_answered_on_the_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            json_body(
                429,
                &wire::openai_error("slow down", "requests", "rate_limit_exceeded"),
            )
            .insert_header("retry-after-ms", "60"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_body(
            200,
            &wire::openai_completion(OPENAI_MODEL, "ok", (3, 1)),
        ))
        .mount(&server)
        .await;
    let client = client(
        Provider::OpenAi,
        OPENAI_MODEL,
        &base_url(Provider::OpenAi, &server.uri()),
    );
    let run = traced(client.chat(&sketch(1), &request("q", false))).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.text, "ok");
    assert_eq!(answer.tries, 2);
    assert!(
        answer.elapsed >= Duration::from_millis(60),
        "{:?}",
        answer.elapsed
    );
    assert_eq!(run.calls.len(), 2);
    assert_eq!(run.calls[0].retry_in_ms, Some(60));
    assert!(matches!(run.calls[1].result, LlmCallResult::Answered(_)));
    assert_eq!(run.calls[1].retry, 1);
    assert_eq!(run.calls[0].request_hash, run.calls[1].request_hash);
    assert_eq!(
        run.calls[0].repeat, run.calls[1].repeat,
        "a retry is not a repeat"
    );
}

/// Credentials in a base URL never reach an error message or the trace (reqwest sends them as
/// basic auth and keeps them out of its URLs).
#[tokio::test]
async fn credentials_in_the_base_url_stay_out_of_errors_and_traces() {
    let refused = refused_url()
        .await
        .replace("http://", "http://user:hunter2@");
    let client = client(Provider::Ollama, OLLAMA_MODEL, &refused);
    let run = traced(client.chat(&sketch(1), &request("q", false))).await;
    let error = run.output.unwrap_err();
    assert_eq!(error.kind(), LlmErrorKind::ConnectionRefused);
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let text = fs_err::read_to_string(&run.path).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
}

/// The orchestrator's parachute: the primary stays unreachable after its retries, so the
/// session asks its fallback model, and the trace shows both.
#[tokio::test]
async fn a_fallback_model_answers_when_the_primary_stays_unreachable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_body(
            200,
            &wire::ollama_final(OLLAMA_MODEL, "void setup() {}", (7, 3)),
        ))
        .mount(&server)
        .await;
    let primary = client(Provider::OpenAi, OPENAI_MODEL, &refused_url().await);
    let fallback = primary.for_model(
        autopilot_llm::ModelRef::new(Provider::Ollama, OLLAMA_MODEL),
        crate::support::backend(Provider::Ollama, &server.uri()),
    );
    assert_eq!(fallback.retry_policy(), primary.retry_policy());
    let run = traced(async {
        let error = primary
            .chat(&sketch(1), &request("q", false))
            .await
            .unwrap_err();
        assert!(error.is_transient(), "{error}");
        fallback.chat(&sketch(1), &request("q", false)).await
    })
    .await;
    assert_eq!(run.output.unwrap().text, "void setup() {}");
    let models: Vec<&str> = run.calls.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(
        models,
        [OPENAI_MODEL, OPENAI_MODEL, OPENAI_MODEL, OLLAMA_MODEL]
    );
}
