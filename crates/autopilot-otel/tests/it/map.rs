//! The span tree of a real demo session: structure, names, attributes, timestamps, opt-in
//! content, interrupted sessions, failed LLM calls.

use autopilot_otel::{Kind, MapOptions, MappedTrace, Status, Value, map_session, names as n};
use autopilot_trace::{
    Event, LlmCallResult, LlmErrorKind, LlmFailure, format_timestamp, parse_timestamp,
};

use crate::demo_records;

fn str_attr<'a>(trace: &'a MappedTrace, span: usize, key: &str) -> Option<&'a str> {
    match trace.spans[span].attribute(key) {
        Some(Value::Str(text)) => Some(text),
        _ => None,
    }
}

fn named(trace: &MappedTrace, prefix: &str) -> Vec<usize> {
    (0..trace.spans.len())
        .filter(|i| trace.spans[*i].name.starts_with(prefix))
        .collect()
}

fn parent_name(trace: &MappedTrace, span: usize) -> &str {
    &trace.spans[trace.spans[span].parent.unwrap()].name
}

#[test]
fn the_demo_session_is_one_trace_of_stages_attempts_calls_compiles_and_a_simulation() {
    let records = demo_records();
    let trace = map_session(&records, MapOptions::default()).unwrap();
    let names: Vec<&str> = trace.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names[0], "invoke_workflow sketch_generation", "{names:?}");
    assert_eq!(trace.spans[0].parent, None);
    assert!(trace.spans[1..].iter().all(|s| s.parent.is_some()));
    // session → stage spec / sketch → attempts → 3 chats, 2 compiles, 1 simulation.
    assert_eq!(named(&trace, "autopilot.stage spec").len(), 1);
    assert_eq!(named(&trace, "autopilot.stage sketch").len(), 1);
    let attempts = named(&trace, "autopilot.attempt ");
    assert_eq!(attempts.len(), 3, "{names:?}");
    let chats = named(&trace, "chat demo-answers");
    assert_eq!(chats.len(), 3);
    let compiles = named(&trace, "execute_tool arduino_compile");
    assert_eq!(compiles.len(), 2);
    assert_eq!(named(&trace, "execute_tool simavr_run").len(), 1);
    for span in chats.iter().chain(&compiles) {
        assert_eq!(
            parent_name(&trace, *span).split(' ').next(),
            Some("autopilot.attempt")
        );
    }
    for attempt in &attempts {
        assert!(parent_name(&trace, *attempt).starts_with("autopilot.stage "));
    }
    assert_eq!(trace.spans.len(), 1 + 2 + 3 + 3 + 2 + 1, "{names:?}");

    // Root: the session's facts and outcome.
    assert_eq!(str_attr(&trace, 0, n::APP), Some("color_uno"));
    assert_eq!(str_attr(&trace, 0, n::OUTCOME), Some("success"));
    assert_eq!(str_attr(&trace, 0, n::BOARD_FQBN), Some("arduino:avr:uno"));
    assert_eq!(str_attr(&trace, 0, n::ORIGIN), Some("native"));
    assert_eq!(trace.spans[0].attribute(n::LLM_CALLS), Some(&Value::Int(3)));
    // The demo answers report no tokens: unknown stays absent, never 0.
    assert_eq!(trace.spans[0].attribute(n::INPUT_TOKENS), None);
    assert!(trace.spans.iter().all(|s| s.status == Status::Unset));
    let session = records[0].session.as_str();
    assert!(
        trace
            .spans
            .iter()
            .all(|s| s.attribute(n::SESSION_ID) == Some(&Value::Str(session.to_owned())))
    );

    // LLM calls: GenAI names, CLIENT kind, the conversation id.
    for chat in &chats {
        let span = &trace.spans[*chat];
        assert_eq!(span.kind, Kind::Client);
        assert_eq!(
            str_attr(&trace, *chat, n::GEN_AI_OPERATION_NAME),
            Some("chat")
        );
        assert_eq!(
            str_attr(&trace, *chat, n::GEN_AI_PROVIDER_NAME),
            Some("replay")
        );
        assert_eq!(
            str_attr(&trace, *chat, n::GEN_AI_REQUEST_MODEL),
            Some("demo-answers")
        );
        assert_eq!(
            str_attr(&trace, *chat, n::GEN_AI_CONVERSATION_ID),
            Some(session)
        );
        assert_eq!(
            span.attribute(n::GEN_AI_INPUT_MESSAGES),
            None,
            "content is opt-in"
        );
    }
    // Compiles: the failed one is an outcome (attributes), not a span error.
    let outcomes: Vec<&str> = compiles
        .iter()
        .map(|c| str_attr(&trace, *c, n::COMPILE_OUTCOME).unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "succeeded"]);
    assert_eq!(
        trace.spans[compiles[0]].attribute(n::COMPILE_ERRORS),
        Some(&Value::Int(1))
    );
    assert_eq!(
        trace.spans[compiles[1]].attribute(n::FLASH_BYTES),
        Some(&Value::Int(3176))
    );
    // Attempt 1 of the sketch failed to compile: its category is on the attempt span.
    let sketch_attempt_1 = attempts
        .iter()
        .copied()
        .find(|a| {
            str_attr(&trace, *a, n::STAGE) == Some("sketch")
                && trace.spans[*a].attribute(n::ATTEMPT) == Some(&Value::Int(1))
        })
        .unwrap();
    assert_eq!(
        str_attr(&trace, sketch_attempt_1, n::FAILURE_CATEGORY),
        Some("compile_failed")
    );
    // Check verdicts are events of their attempt.
    let checks = trace
        .spans
        .iter()
        .flat_map(|s| &s.events)
        .filter(|e| e.name == "autopilot.check")
        .count();
    let recorded_checks = records
        .iter()
        .filter(|r| matches!(r.event, Event::CheckVerdict(_)))
        .count();
    assert_eq!(checks, recorded_checks);
}

#[test]
fn timestamps_come_from_the_trace_and_children_lie_within_their_parents() {
    let records = demo_records();
    let trace = map_session(&records, MapOptions::default()).unwrap();
    let first = parse_timestamp(&records[0].ts).unwrap();
    let last = parse_timestamp(&records.last().unwrap().ts).unwrap();
    assert_eq!(trace.spans[0].start, first);
    assert_eq!(trace.spans[0].end, last);
    for span in &trace.spans[1..] {
        let parent = &trace.spans[span.parent.unwrap()];
        assert!(span.start <= span.end, "{}", span.name);
        assert!(
            parent.start <= span.start && span.end <= parent.end,
            "{} [{}, {}] outside {} [{}, {}]",
            span.name,
            span.start,
            span.end,
            parent.name,
            parent.start,
            parent.end
        );
    }
    // Each chat span ends at its llm_call record.
    let call_times: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.event, Event::LlmCall(_)))
        .map(|r| r.ts.clone())
        .collect();
    let chat_ends: Vec<String> = trace
        .spans
        .iter()
        .filter(|s| s.kind == Kind::Client)
        .map(|s| format_timestamp(s.end))
        .collect();
    assert_eq!(chat_ends, call_times);
    // Stable ids: the same session maps to the same trace.
    let again = map_session(&records, MapOptions::default()).unwrap();
    assert_eq!(again.trace_id, trace.trace_id);
    let ids: std::collections::BTreeSet<[u8; 8]> = trace.spans.iter().map(|s| s.span_id).collect();
    assert_eq!(ids.len(), trace.spans.len());
}

#[test]
fn prompts_and_answers_are_exported_only_when_asked() {
    let records = demo_records();
    let trace = map_session(&records, MapOptions { content: true }).unwrap();
    let chat = trace.spans.iter().find(|s| s.kind == Kind::Client).unwrap();
    let Some(Value::Str(input)) = chat.attribute(n::GEN_AI_INPUT_MESSAGES) else {
        panic!("no input messages");
    };
    let input: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(input[0]["parts"][0]["type"], "text");
    assert!(input.as_array().unwrap().len() >= 2, "{input}");
    let Some(Value::Str(output)) = chat.attribute(n::GEN_AI_OUTPUT_MESSAGES) else {
        panic!("no output messages");
    };
    let output: serde_json::Value = serde_json::from_str(output).unwrap();
    assert_eq!(output[0]["role"], "assistant");
}

#[test]
fn an_interrupted_session_ends_at_its_last_record_with_an_error_root() {
    let mut records = demo_records();
    records.truncate(27); // inside attempt 1's compile stage
    let trace = map_session(&records, MapOptions::default()).unwrap();
    assert_eq!(str_attr(&trace, 0, n::OUTCOME), Some("interrupted"));
    assert!(
        matches!(&trace.spans[0].status, Status::Error { error_type, .. } if error_type == "interrupted")
    );
    let last = parse_timestamp(&records.last().unwrap().ts).unwrap();
    assert!(
        trace
            .spans
            .iter()
            .all(|s| s.end <= last && s.start <= s.end)
    );
    assert!(map_session(&[], MapOptions::default()).is_none());
}

#[test]
fn a_failed_llm_call_is_a_span_error_with_its_kind() {
    let mut records = demo_records();
    let call = records
        .iter_mut()
        .find_map(|r| match &mut r.event {
            Event::LlmCall(call) => Some(call),
            _ => None,
        })
        .unwrap();
    call.result = LlmCallResult::Failed(LlmFailure {
        kind: LlmErrorKind::RateLimited,
        transient: true,
        http_status: Some(429),
        message: "rate limited".to_owned(),
        retry_after_ms: Some(1000),
    });
    let trace = map_session(&records, MapOptions::default()).unwrap();
    let failed = trace
        .spans
        .iter()
        .position(|s| s.kind == Kind::Client)
        .unwrap();
    assert_eq!(
        str_attr(&trace, failed, n::ERROR_TYPE),
        Some("rate_limited")
    );
    assert!(
        matches!(&trace.spans[failed].status, Status::Error { error_type, .. } if error_type == "rate_limited")
    );
    assert_eq!(
        trace.spans[failed].attribute(n::GEN_AI_USAGE_INPUT_TOKENS),
        None
    );
}
