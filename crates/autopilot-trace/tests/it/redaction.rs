//! An API key cannot reach a trace: the secret type has no serialization, and the endpoint
//! and error texts that do reach a trace are redacted.

use autopilot_trace::{
    Event, JsonlLayer, LlmCall, LlmCallResult, LlmErrorKind, LlmFailure, RunDirSink,
    SamplingParams, Secret, SessionId, SessionStarted, Stage, TraceOrigin, emit, redact_header,
    redact_url, session_span,
};
use tracing_subscriber::layer::SubscriberExt;

const KEY: &str = "sk-proj-SECRET0123456789abcdef";

#[test]
fn a_key_used_everywhere_a_session_touches_never_reaches_its_file() {
    let key = Secret::new(KEY);
    let base_url = format!(
        "https://user:{}@api.example/v1?api_key={}",
        key.expose(),
        key.expose()
    );
    let auth_header = format!("Bearer {}", key.expose());
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId::new("secret").unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(dir.path()));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = session_span(&id);
        let _entered = span.enter();
        emit(&Event::SessionStarted(SessionStarted {
            app: "a".into(),
            app_path: None,
            target: "uno".into(),
            fqbn: None,
            provider: "openai".into(),
            model: "gpt-4o".into(),
            endpoint: Some(redact_url(&base_url)),
            prompt_variant: "default".into(),
            sampling: SamplingParams::default(),
            seed: None,
            tool_versions: vec![],
            autopilot_version: "0".into(),
            batch: None,
            origin: TraceOrigin::Native,
        }));
        emit(&Event::LlmCall(LlmCall {
            stage: Stage::Spec,
            attempt: 1,
            retry: 0,
            repeat: 0,
            provider: "openai".into(),
            model: "gpt-4o".into(),
            request_hash: "0".into(),
            messages: vec![],
            sampling: SamplingParams::default(),
            stream: false,
            result: LlmCallResult::Failed(LlmFailure {
                kind: LlmErrorKind::Unauthorized,
                transient: false,
                http_status: Some(401),
                message: format!(
                    "401 from {} with authorization {}",
                    redact_url(&base_url),
                    redact_header("Authorization", &auth_header)
                ),
                retry_after_ms: None,
            }),
            latency_ms: 3,
            cost_usd: None,
            source: autopilot_trace::AnswerSource::Live,
            retry_in_ms: None,
        }));
        // Debug formatting of the secret, as a careless log line would do it.
        tracing::info!(target: "autopilot::trace", key = ?key, "debug of the key");
    });
    let text = fs_err::read_to_string(RunDirSink::session_path(dir.path(), &id)).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        !text.contains("SECRET0123456789"),
        "the key reached the trace:\n{text}"
    );
    assert!(
        text.contains("https://***@api.example/v1?api_key=***"),
        "{text}"
    );
    assert!(text.contains("Bearer ***"), "{text}");
    assert!(!format!("{key:?}").contains("SECRET"));
}
