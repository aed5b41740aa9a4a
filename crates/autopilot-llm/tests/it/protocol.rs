//! The real clients against loopback servers speaking each protocol: OpenAI chat completions
//! as JSON and as SSE with a final usage chunk; Ollama `/api/chat` as JSON and as NDJSON with
//! eval counts. Requests are checked on the wire, answers and trace events on our side.

use std::sync::Arc;

use autopilot_llm::{
    EndpointSettings, LlmClient, ModelRef, OllamaBackend, OpenAiBackend, Provider, RetryPolicy,
};
use autopilot_trace::{AnswerSource, LlmCallResult, SamplingParams, Secret};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TRY_TIMEOUT, client, request, sketch, traced, wire};

#[tokio::test]
async fn openai_json_answer_with_usage_cost_and_the_request_on_the_wire() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test-123"))
        .and(body_partial_json(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You write Arduino sketches."},
                {"role": "user", "content": "Blink the LED."}
            ],
            "temperature": 0.5,
            "seed": 7,
            "max_tokens": 256
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(wire::openai_completion(
                "gpt-4o-2024-08-06",
                "void setup() {}\nvoid loop() {}",
                (12, 7),
            )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut settings = EndpointSettings::at(format!("{}/v1", server.uri()), TRY_TIMEOUT);
    settings.api_key = Some(Secret::new("sk-test-123"));
    let backend = Arc::new(OpenAiBackend::new(&settings).unwrap());
    let client = LlmClient::new(ModelRef::new(Provider::OpenAi, "gpt-4o"), backend)
        .with_retry(RetryPolicy::no_retries());
    let mut req = request("Blink the LED.", false);
    req.sampling = SamplingParams {
        temperature: Some(0.5),
        seed: Some(7),
        max_tokens: Some(256),
        ..SamplingParams::default()
    };
    let run = traced(client.chat(&sketch(1), &req)).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.text, "void setup() {}\nvoid loop() {}");
    assert_eq!(answer.reasoning, None);
    assert_eq!(answer.response_model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (answer.usage.input, answer.usage.output),
        (Some(12), Some(7))
    );
    let expected_cost = (12.0 * 2.5 + 7.0 * 10.0) / 1e6;
    assert!((answer.cost_usd.unwrap() - expected_cost).abs() < 1e-12);
    assert_eq!(answer.tries, 1);
    assert_eq!(answer.source, AnswerSource::Live);
    assert_eq!(answer.time_to_first_token, None);

    assert_eq!(run.calls.len(), 1);
    let call = &run.calls[0];
    assert_eq!(
        (call.provider.as_str(), call.model.as_str()),
        ("openai", "gpt-4o")
    );
    assert_eq!(call.request_hash, answer.request_hash);
    assert_eq!(call.messages, req.messages);
    assert_eq!(call.sampling, req.sampling);
    assert!(!call.stream);
    assert_eq!(call.cost_usd, answer.cost_usd);
    assert_eq!(call.retry_in_ms, None);
    match &call.result {
        LlmCallResult::Answered(traced) => assert_eq!(traced, &answer.to_trace()),
        other @ LlmCallResult::Failed(_) => panic!("{other:?}"),
    }
    let text = fs_err::read_to_string(&run.path).unwrap();
    assert!(
        !text.contains("sk-test-123"),
        "the API key reached the trace"
    );
}

#[tokio::test]
async fn openai_sse_stream_with_think_tags_and_a_final_usage_chunk() {
    let server = MockServer::start().await;
    let sse = wire::openai_sse(
        "qwen3:8b",
        &[
            "<think>plan the",
            " pins",
            "</think>\n",
            "void setup() {}",
            "\nvoid loop() {}",
        ],
        (30, 11),
        true,
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({
            "stream": true,
            "stream_options": {"include_usage": true}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(
        Provider::OpenAi,
        "qwen3:8b",
        &format!("{}/v1", server.uri()),
    );
    let run = traced(client.chat(&sketch(1), &request("Blink", true))).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.text, "void setup() {}\nvoid loop() {}");
    assert_eq!(answer.reasoning.as_deref(), Some("plan the pins"));
    assert_eq!(
        (answer.usage.input, answer.usage.output),
        (Some(30), Some(11))
    );
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert!(answer.time_to_first_token.is_some());
    assert!(answer.time_to_first_token <= Some(answer.latency));
    assert_eq!(answer.cost_usd, None, "qwen3 via openai has no price");
    assert_eq!(run.calls.len(), 1);
    assert!(run.calls[0].stream);
    assert_eq!(run.calls[0].cost_usd, None);
}

#[tokio::test]
async fn openai_reasoning_fields_are_split_out() {
    let server = MockServer::start().await;
    let mut body = wire::openai_completion("deepseek-r1", "answer", (5, 9));
    body["choices"][0]["message"]["reasoning_content"] = json!("thought about it");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let client = client(
        Provider::OpenAi,
        "deepseek-r1",
        &format!("{}/v1", server.uri()),
    );
    let answer = client.chat(&sketch(1), &request("q", false)).await.unwrap();
    assert_eq!(answer.text, "answer");
    assert_eq!(answer.reasoning.as_deref(), Some("thought about it"));
}

#[tokio::test]
async fn ollama_json_answer_with_options_and_eval_counts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({
            "model": "qwen2.5-coder:32b",
            "stream": false,
            "messages": [
                {"role": "system", "content": "You write Arduino sketches."},
                {"role": "user", "content": "Blink the LED."}
            ],
            "options": {"temperature": 0.25, "top_p": 0.5, "num_ctx": 8192, "num_predict": 512, "seed": 42}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(wire::ollama_final(
            "qwen2.5-coder:32b",
            "void setup() {}",
            (26, 282),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let backend =
        Arc::new(OllamaBackend::new(&EndpointSettings::at(server.uri(), TRY_TIMEOUT)).unwrap());
    let client = LlmClient::new(
        ModelRef::parse("ollama:qwen2.5-coder:32b").unwrap(),
        backend,
    )
    .with_retry(RetryPolicy::no_retries());
    let mut req = request("Blink the LED.", false);
    req.sampling = SamplingParams {
        temperature: Some(0.25),
        top_p: Some(0.5),
        seed: Some(42),
        max_tokens: Some(512),
        num_ctx: Some(8192),
    };
    let run = traced(client.chat(&sketch(2), &req)).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.text, "void setup() {}");
    assert_eq!(
        (answer.usage.input, answer.usage.output),
        (Some(26), Some(282))
    );
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert_eq!(answer.response_model.as_deref(), Some("qwen2.5-coder:32b"));
    assert_eq!(
        answer.cost_usd, None,
        "local models have no price by default"
    );
    assert_eq!(run.calls.len(), 1);
    assert_eq!(run.calls[0].provider, "ollama");
    assert_eq!(run.calls[0].attempt, 2);
}

#[tokio::test]
async fn ollama_ndjson_stream_with_thinking_and_eval_counts() {
    let server = MockServer::start().await;
    let thinking = json!({
        "model": "qwen3:8b",
        "created_at": "2026-11-21T02:03:41.120Z",
        "message": {"role": "assistant", "content": "", "thinking": "which pin?"},
        "done": false
    });
    let body = format!("{thinking}\n")
        + &wire::ollama_ndjson("qwen3:8b", &["void setup()", " {}"], (40, 3), true);
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(Provider::Ollama, "qwen3:8b", &server.uri());
    let answer = client
        .chat(&sketch(1), &request("Blink", true))
        .await
        .unwrap();
    assert_eq!(answer.text, "void setup() {}");
    assert_eq!(answer.reasoning.as_deref(), Some("which pin?"));
    assert_eq!(
        (answer.usage.input, answer.usage.output),
        (Some(40), Some(3))
    );
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert!(answer.time_to_first_token.is_some());
}
