//! Record and replay: a three-call session recorded against a loopback server replays with
//! identical answers after the server is gone; misses are errors that say what was asked and
//! what exists; scripted answers files serve hand-written answers.

use std::sync::Arc;

use autopilot_llm::{
    CallContext, ChatAnswer, ChatRequest, LlmClient, LlmError, LlmErrorKind, Provider,
    ReplayBackend, ReplayMatch, ScriptedAnswers,
};
use autopilot_trace::{AnswerSource, LlmCallResult, Stage, TraceFile};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Traced, base_url, client, request, traced, wire};

/// The three calls of a short session: the spec, a first sketch, a repair.
fn session_calls() -> Vec<(CallContext, ChatRequest)> {
    vec![
        (
            CallContext::new(Stage::Spec, 1),
            request("Fill the spec for a colour classifier.", false),
        ),
        (
            CallContext::new(Stage::Sketch, 1),
            request("Write the sketch.", true),
        ),
        (
            CallContext::new(Stage::Sketch, 2),
            request("Fix: 'foo' was not declared in this scope.", false),
        ),
    ]
}

/// Runs [`session_calls`] through a client, tracing them.
async fn run_session(client: &LlmClient) -> Traced<Vec<ChatAnswer>> {
    traced(async {
        let mut answers = Vec::new();
        for (context, request) in session_calls() {
            answers.push(client.chat(&context, &request).await.unwrap());
        }
        answers
    })
    .await
}

async fn serve(server: &MockServer, prompt: &str, body: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(body_partial_json(serde_json::json!({
            "messages": [{"role": "system"}, {"role": "user", "content": prompt}]
        })))
        .respond_with(body)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_recorded_session_replays_identically_without_the_server() {
    let server = MockServer::start().await;
    serve(
        &server,
        "Fill the spec for a colour classifier.",
        ResponseTemplate::new(200).set_body_json(wire::openai_completion(
            "gpt-4o-2024-08-06",
            r#"{"board":"uno"}"#,
            (50, 8),
        )),
    )
    .await;
    serve(
        &server,
        "Write the sketch.",
        ResponseTemplate::new(200).set_body_raw(
            wire::openai_sse(
                "gpt-4o-2024-08-06",
                &["<think>pins</think>", "void setup() {foo();}"],
                (120, 40),
                true,
            ),
            "text/event-stream",
        ),
    )
    .await;
    serve(
        &server,
        "Fix: 'foo' was not declared in this scope.",
        ResponseTemplate::new(200).set_body_json(wire::openai_completion(
            "gpt-4o-2024-08-06",
            "void setup() {}",
            (160, 30),
        )),
    )
    .await;
    let url = base_url(Provider::OpenAi, &server.uri());
    let live = client(Provider::OpenAi, "gpt-4o", &url);
    let recorded = run_session(&live).await;
    assert_eq!(recorded.calls.len(), 3);
    drop(server);

    let trace = TraceFile::read(&recorded.path).unwrap();
    let backend = ReplayBackend::from_traces(&[trace], ReplayMatch::Exact).unwrap();
    assert_eq!(backend.recorded_models(), [live.model().clone()]);
    assert_eq!(backend.keys().len(), 3);
    let model = backend.recorded_models()[0].clone();
    let backend = Arc::new(backend);
    assert_eq!(
        autopilot_llm::ChatBackend::endpoint(backend.as_ref()),
        None,
        "replay has no endpoint to reach"
    );
    let replay = LlmClient::new(model, backend);
    let replayed = run_session(&replay).await;
    for (live, again) in recorded.output.iter().zip(&replayed.output) {
        assert_eq!(again.to_trace(), live.to_trace());
        assert_eq!(again.request_hash, live.request_hash);
        assert_eq!(again.cost_usd, live.cost_usd);
        assert_eq!(again.source, AnswerSource::Replay);
        assert_eq!(again.tries, 1);
    }
    assert_eq!(recorded.output[1].reasoning.as_deref(), Some("pins"));
    for (live, again) in recorded.calls.iter().zip(&replayed.calls) {
        assert_eq!(again.source, AnswerSource::Replay);
        assert_eq!(
            (
                again.stage,
                again.attempt,
                &again.request_hash,
                again.repeat
            ),
            (live.stage, live.attempt, &live.request_hash, live.repeat)
        );
        assert_eq!(again.result, live.result);
    }
}

/// Records one call of `context` against a loopback server answering `template`: the
/// traced outcome and the trace file.
async fn record_one(
    template: ResponseTemplate,
    context: CallContext,
    req: &ChatRequest,
) -> (Traced<Result<ChatAnswer, LlmError>>, TraceFile) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    let live = client(
        Provider::OpenAi,
        "gpt-4o",
        &base_url(Provider::OpenAi, &server.uri()),
    );
    let run = traced(live.chat(&context, req)).await;
    let trace = TraceFile::read(&run.path).unwrap();
    (run, trace)
}

async fn recorded_one_call() -> (TraceFile, ChatRequest) {
    let req = request("Write the sketch.", false);
    let answer = ResponseTemplate::new(200).set_body_json(wire::openai_completion(
        "gpt-4o",
        "first",
        (1, 1),
    ));
    let (run, trace) = record_one(answer, CallContext::new(Stage::Sketch, 1), &req).await;
    run.output.unwrap();
    (trace, req)
}

#[tokio::test]
async fn a_miss_says_what_was_asked_and_what_the_recording_holds() {
    let (trace, req) = recorded_one_call().await;
    let backend = Arc::new(
        ReplayBackend::from_traces(std::slice::from_ref(&trace), ReplayMatch::Exact).unwrap(),
    );
    let model = backend.recorded_models()[0].clone();
    let replay = LlmClient::new(model.clone(), backend);
    let context = CallContext::new(Stage::Sketch, 1);
    replay.chat(&context, &req).await.unwrap();
    // The same request again is repeat 1, which was never recorded.
    let error = replay.chat(&context, &req).await.unwrap_err();
    assert_eq!(error.kind(), LlmErrorKind::ReplayMiss);
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.contains("sketch attempt 1"), "{message}");
    assert!(message.contains("repeat 1"), "{message}");
    assert!(message.contains("repeat 0"), "{message}");
    assert!(message.contains("sketch#1"), "{message}");

    // A changed prompt misses under exact matching and is served in order otherwise.
    let changed = request("Write the sketch, please.", false);
    let strict = LlmClient::new(
        model.clone(),
        Arc::new(
            ReplayBackend::from_traces(std::slice::from_ref(&trace), ReplayMatch::Exact).unwrap(),
        ),
    );
    let error = strict.chat(&context, &changed).await.unwrap_err();
    assert_eq!(error.kind(), LlmErrorKind::ReplayMiss);
    let lenient = LlmClient::new(
        model,
        Arc::new(ReplayBackend::from_traces(&[trace], ReplayMatch::InOrder).unwrap()),
    );
    assert_eq!(
        lenient.chat(&context, &changed).await.unwrap().text,
        "first"
    );
}

#[tokio::test]
async fn scripted_answers_are_served_in_order_per_stage_attempt() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("sketch.md"),
        "```cpp\nvoid setup() {}\n```\n",
    )
    .unwrap();
    let file = dir.path().join("answers.toml");
    fs_err::write(
        &file,
        r#"
model = "demo"

[[answer]]
stage = "spec"
attempt = 1
text = '{"board": "uno"}'
input_tokens = 10
output_tokens = 5

[[answer]]
stage = "sketch"
file = "sketch.md"

[[answer]]
stage = "sketch"
attempt = 2
error = "server_error"
"#,
    )
    .unwrap();
    let answers = ScriptedAnswers::load(&file).unwrap();
    let replay = LlmClient::new(
        "replay:demo".parse().unwrap(),
        Arc::new(ReplayBackend::from_scripted(answers)),
    );
    let ask = |stage, attempt| {
        let replay = replay.clone();
        async move {
            replay
                .chat(
                    &CallContext::new(stage, attempt),
                    &request("anything", false),
                )
                .await
        }
    };
    let spec = ask(Stage::Spec, 1).await.unwrap();
    assert_eq!(spec.text, r#"{"board": "uno"}"#);
    assert_eq!(spec.usage.output, Some(5));
    assert_eq!(spec.response_model.as_deref(), Some("demo"));
    assert_eq!(spec.source, AnswerSource::Replay);
    // Attempts without their own answers take the stage's answer without an attempt.
    for attempt in [1, 3] {
        let sketch = ask(Stage::Sketch, attempt).await.unwrap();
        assert_eq!(sketch.text, "```cpp\nvoid setup() {}\n```");
    }
    let failure = ask(Stage::Sketch, 2).await.unwrap_err();
    assert_eq!(failure.kind(), LlmErrorKind::ServerError);
    assert_eq!(failure.tries(), 1, "replays are not retried");
    let miss = ask(Stage::Spec, 1).await.unwrap_err();
    assert_eq!(miss.kind(), LlmErrorKind::ReplayMiss);
    let message = miss.to_string();
    assert!(message.contains("spec attempt 1 (call 2)"), "{message}");
    assert!(message.contains("answers.toml"), "{message}");
    assert!(message.contains("sketch#*"), "{message}");
}

#[tokio::test]
async fn a_trace_without_llm_calls_cannot_be_replayed() {
    let (mut trace, _) = recorded_one_call().await;
    trace.records.clear();
    let error = ReplayBackend::from_traces(&[trace], ReplayMatch::Exact).unwrap_err();
    assert!(
        error.to_string().contains("holds no LLM answers"),
        "{error}"
    );
}

#[tokio::test]
async fn recorded_failures_replay_as_the_same_failure() {
    let unauthorized = ResponseTemplate::new(401).set_body_json(wire::openai_error(
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let req = request("q", false);
    let context = CallContext::new(Stage::Spec, 1);
    let (run, trace) = record_one(unauthorized, context, &req).await;
    assert_eq!(run.output.unwrap_err().kind(), LlmErrorKind::Unauthorized);
    assert!(matches!(run.calls[0].result, LlmCallResult::Failed(_)));
    let replay = LlmClient::new(
        "openai:gpt-4o".parse().unwrap(),
        Arc::new(ReplayBackend::from_traces(&[trace], ReplayMatch::Exact).unwrap()),
    );
    let error = replay.chat(&context, &req).await.unwrap_err();
    assert_eq!(error.kind(), LlmErrorKind::Unauthorized);
    assert_eq!(error.http_status(), Some(401));
}
