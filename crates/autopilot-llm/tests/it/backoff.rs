//! The retry loop on a paused tokio clock: delays grow exponentially, Retry-After is honoured,
//! the time bound and the try bound stop retries, fatal faults are never retried. The backend
//! here is a script of outcomes (the HTTP faults themselves are in `faults.rs`), so the clock
//! only moves when the client sleeps or times out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autopilot_llm::{
    BackendCall, BoxFuture, ChatBackend, LlmClient, LlmError, LlmErrorKind, ModelRef, Provider,
    RetryPolicy,
};
use autopilot_trace::{AnswerSource, LlmAnswer, LlmCallResult, TokenUsage};
use tokio::time::Instant;

use crate::support::{request, sketch, traced};

enum Step {
    Fail(LlmErrorKind, Option<Duration>),
    Answer(&'static str),
    /// Never answers (the try's timeout ends it).
    Hang,
}

/// A backend that plays a script and notes when each try started.
#[derive(Debug)]
struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    started: Mutex<Vec<Instant>>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Step")
    }
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Scripted {
            steps: Mutex::new(steps.into()),
            started: Mutex::default(),
        })
    }

    /// When each try started, in ms after the first.
    fn offsets_ms(&self) -> Vec<u128> {
        let started = self.started.lock().unwrap();
        started
            .iter()
            .map(|t| t.duration_since(started[0]).as_millis())
            .collect()
    }
}

impl ChatBackend for Scripted {
    fn provider(&self) -> Provider {
        Provider::OpenAi
    }
    fn endpoint(&self) -> Option<String> {
        None
    }
    fn source(&self) -> AnswerSource {
        AnswerSource::Live
    }
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
    fn chat<'a>(&'a self, _call: BackendCall<'a>) -> BoxFuture<'a, Result<LlmAnswer, LlmError>> {
        self.started.lock().unwrap().push(Instant::now());
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .expect("script exhausted");
        Box::pin(async move {
            match step {
                Step::Fail(kind, wait) => {
                    Err(LlmError::new(kind, "scripted").with_retry_after(wait))
                }
                Step::Answer(text) => Ok(LlmAnswer {
                    text: text.to_owned(),
                    reasoning: None,
                    finish_reason: Some("stop".to_owned()),
                    response_model: None,
                    usage: TokenUsage::default(),
                    time_to_first_token_ms: None,
                }),
                Step::Hang => std::future::pending().await,
            }
        })
    }
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        factor: 2.0,
        jitter: false,
        jitter_seed: None,
        max_elapsed: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(30),
    }
}

fn client(backend: Arc<Scripted>, policy: RetryPolicy) -> LlmClient {
    LlmClient::new(ModelRef::new(Provider::OpenAi, "gpt-4o"), backend).with_retry(policy)
}

fn retry_delays(calls: &[autopilot_trace::LlmCall]) -> Vec<Option<u64>> {
    calls.iter().map(|c| c.retry_in_ms).collect()
}

#[tokio::test(start_paused = true)]
async fn delays_double_up_to_the_cap_until_an_answer() {
    use LlmErrorKind::ServerError;
    let backend = Scripted::new(vec![
        Step::Fail(ServerError, None),
        Step::Fail(ServerError, None),
        Step::Fail(ServerError, None),
        Step::Fail(ServerError, None),
        Step::Fail(ServerError, None),
        Step::Answer("done"),
    ]);
    let start = Instant::now();
    let run =
        traced(client(backend.clone(), policy(6)).chat(&sketch(1), &request("q", false))).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.tries, 6);
    assert_eq!(backend.offsets_ms(), vec![0, 100, 300, 700, 1_500, 2_500]);
    assert_eq!(start.elapsed(), Duration::from_millis(2_500));
    assert_eq!(answer.elapsed, Duration::from_millis(2_500));
    assert_eq!(
        retry_delays(&run.calls),
        vec![
            Some(100),
            Some(200),
            Some(400),
            Some(800),
            Some(1_000),
            None
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_wait_a_server_asks_for_replaces_the_backoff() {
    let backend = Scripted::new(vec![
        Step::Fail(LlmErrorKind::RateLimited, Some(Duration::from_secs(7))),
        Step::Answer("ok"),
    ]);
    let run =
        traced(client(backend.clone(), policy(3)).chat(&sketch(1), &request("q", false))).await;
    assert_eq!(run.output.unwrap().tries, 2);
    assert_eq!(backend.offsets_ms(), vec![0, 7_000]);
    assert_eq!(retry_delays(&run.calls), vec![Some(7_000), None]);
    let LlmCallResult::Failed(failure) = &run.calls[0].result else {
        panic!("first try answered");
    };
    assert_eq!(failure.retry_after_ms, Some(7_000));
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_the_limit_ends_the_retries() {
    let backend = Scripted::new(vec![Step::Fail(
        LlmErrorKind::RateLimited,
        Some(Duration::from_secs(3_600)),
    )]);
    let start = Instant::now();
    let run =
        traced(client(backend.clone(), policy(5)).chat(&sketch(1), &request("q", false))).await;
    let error = run.output.unwrap_err();
    assert_eq!(
        (error.kind(), error.tries()),
        (LlmErrorKind::RateLimited, 1)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(retry_delays(&run.calls), vec![None]);
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_after_the_time_bound() {
    use LlmErrorKind::ConnectionRefused;
    let backend = Scripted::new(vec![
        Step::Fail(ConnectionRefused, None),
        Step::Fail(ConnectionRefused, None),
        Step::Fail(ConnectionRefused, None),
    ]);
    let bounded = RetryPolicy {
        max_elapsed: Duration::from_millis(250),
        ..policy(10)
    };
    let run = traced(client(backend.clone(), bounded).chat(&sketch(1), &request("q", false))).await;
    let error = run.output.unwrap_err();
    // Tries at 0 and 100 ms; the next would start at 300 ms, past 250.
    assert_eq!(error.tries(), 2);
    assert_eq!(backend.offsets_ms(), vec![0, 100]);
    assert_eq!(retry_delays(&run.calls), vec![Some(100), None]);
}

#[tokio::test(start_paused = true)]
async fn fatal_faults_are_never_retried() {
    for kind in [
        LlmErrorKind::Unauthorized,
        LlmErrorKind::Forbidden,
        LlmErrorKind::UnknownModel,
        LlmErrorKind::ContextTooLong,
        LlmErrorKind::BadRequest,
        LlmErrorKind::ReplayMiss,
    ] {
        let backend = Scripted::new(vec![Step::Fail(kind, None), Step::Answer("never")]);
        let start = Instant::now();
        let run =
            traced(client(backend.clone(), policy(5)).chat(&sketch(1), &request("q", false))).await;
        let error = run.output.unwrap_err();
        assert_eq!((error.kind(), error.tries()), (kind, 1), "{kind:?}");
        assert!(!error.is_transient());
        assert_eq!(start.elapsed(), Duration::ZERO, "{kind:?}");
        assert_eq!(run.calls.len(), 1, "{kind:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn each_try_is_cut_at_its_timeout() {
    let backend = Scripted::new(vec![Step::Hang, Step::Hang]);
    let mut req = request("q", false);
    req.timeout = Some(Duration::from_secs(2));
    let start = Instant::now();
    let run = traced(client(backend.clone(), policy(2)).chat(&sketch(1), &req)).await;
    let error = run.output.unwrap_err();
    assert_eq!((error.kind(), error.tries()), (LlmErrorKind::Timeout, 2));
    assert_eq!(backend.offsets_ms(), vec![0, 2_100]);
    assert_eq!(start.elapsed(), Duration::from_millis(4_100));
    assert_eq!(
        run.calls.iter().map(|c| c.latency_ms).collect::<Vec<_>>(),
        vec![2_000, 2_000]
    );
}

#[tokio::test(start_paused = true)]
async fn jitter_adds_up_to_one_delay() {
    let steps = (0..4)
        .map(|_| Step::Fail(LlmErrorKind::ServerError, None))
        .collect();
    let backend = Scripted::new(steps);
    let jittered = RetryPolicy {
        jitter: true,
        ..policy(4)
    };
    let run =
        traced(client(backend.clone(), jittered).chat(&sketch(1), &request("q", false))).await;
    assert_eq!(run.output.unwrap_err().tries(), 4);
    let delays: Vec<u64> = run.calls.iter().filter_map(|c| c.retry_in_ms).collect();
    assert_eq!(delays.len(), 3);
    for (delay, base) in delays.iter().zip([100, 200, 400]) {
        assert!(
            (base..2 * base).contains(delay),
            "{delay} ms for a {base} ms step"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_answer_that_is_only_reasoning_is_empty_and_retried() {
    let backend = Scripted::new(vec![
        Step::Answer("<think>all tokens spent thinking"),
        Step::Answer("<think>short</think>void loop() {}"),
    ]);
    let run = traced(client(backend, policy(3)).chat(&sketch(1), &request("q", false))).await;
    let answer = run.output.unwrap();
    assert_eq!(answer.text, "void loop() {}");
    assert_eq!(answer.reasoning.as_deref(), Some("short"));
    let LlmCallResult::Failed(failure) = &run.calls[0].result else {
        panic!("first try answered");
    };
    assert_eq!(failure.kind, LlmErrorKind::EmptyAnswer);
    assert!(failure.message.contains("reasoning"), "{}", failure.message);
}

#[test]
fn the_chat_future_is_send_so_sessions_can_be_spawned() {
    fn spawnable<T: Send + 'static>(_: T) {}
    let client = client(Scripted::new(vec![Step::Answer("a")]), policy(2));
    spawnable(async move { client.chat(&sketch(1), &request("q", false)).await });
}
