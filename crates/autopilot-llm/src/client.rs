//! The client the orchestrator calls: one model on one backend, with the retry policy, the
//! price table and one trace event per try.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use autopilot_trace::{
    AnswerSource, Event, LlmAnswer, LlmCall, LlmCallResult, LlmErrorKind, LlmFailure, Redactor,
};
use backon::Retryable;
use tokio::time::Instant;

use crate::backend::{BackendCall, ChatBackend, TextSink};
use crate::error::{LlmError, Observation, duration_ms};
use crate::model::{display_model_name, pricing_model};
use crate::prices::PriceTable;
use crate::reasoning::split_reasoning;
use crate::request::{CallContext, ChatAnswer, ChatRequest, request_hash};
use crate::retry::RetryPolicy;
use autopilot_trace::ModelRef;

/// A model on a backend. Cheap to build and to clone (the backend and the price table are
/// shared), so a session builds one per model: its primary and, when that stays unreachable,
/// its fallback ([`LlmClient::for_model`]).
///
/// Clones share the repeat counter: use one client (or its clones, or its
/// [`for_model`](LlmClient::for_model) siblings) per session, since repeat indices count
/// identical requests within a session.
#[derive(Debug, Clone)]
pub struct LlmClient {
    model: ModelRef,
    backend: Arc<dyn ChatBackend>,
    retry: RetryPolicy,
    prices: Arc<PriceTable>,
    repeats: Arc<Mutex<HashMap<String, u32>>>,
}

/// A failed try waiting for the retry decision before its trace event is written.
struct FailedTry {
    retry: u32,
    latency: Duration,
    failure: LlmFailure,
}

impl LlmClient {
    /// A client with the default retry policy and the built-in price table.
    pub fn new(model: ModelRef, backend: Arc<dyn ChatBackend>) -> Self {
        LlmClient {
            model,
            backend,
            retry: RetryPolicy::default(),
            prices: PriceTable::builtin_shared(),
            repeats: Arc::default(),
        }
    }

    /// Another model in the same session (a fallback): the same retry policy, prices and
    /// repeat counter, on its own backend.
    #[must_use]
    pub fn for_model(&self, model: ModelRef, backend: Arc<dyn ChatBackend>) -> Self {
        LlmClient {
            model,
            backend,
            retry: self.retry.clone(),
            prices: self.prices.clone(),
            repeats: self.repeats.clone(),
        }
    }

    /// Replaces the retry policy for live backends. Replay backends are never retried: a
    /// recording answers the same way every time.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    #[must_use]
    pub fn with_prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = prices;
        self
    }

    pub fn model(&self) -> &ModelRef {
        &self.model
    }

    pub fn backend(&self) -> &Arc<dyn ChatBackend> {
        &self.backend
    }

    /// The policy applied to this client's calls.
    pub fn retry_policy(&self) -> RetryPolicy {
        match self.backend.source() {
            AnswerSource::Live => self.retry.clone(),
            AnswerSource::Replay => RetryPolicy::no_retries(),
        }
    }

    /// Sends a request, retrying transient failures by the policy. Every try, the retries
    /// included, emits an `llm_call` trace event. The error after retries is the last try's,
    /// with the number of tries made.
    pub async fn chat(
        &self,
        context: &CallContext,
        request: &ChatRequest,
    ) -> Result<ChatAnswer, LlmError> {
        self.chat_streamed(context, request, None).await
    }

    /// [`chat`](LlmClient::chat) that hands the answer's text to `on_text` as it arrives (when
    /// the request is streamed; a retry streams again from the start).
    pub async fn chat_streamed(
        &self,
        context: &CallContext,
        request: &ChatRequest,
        on_text: Option<&TextSink>,
    ) -> Result<ChatAnswer, LlmError> {
        let hash = request_hash(&self.model.model, &request.messages, &request.sampling);
        let repeat = self.next_repeat(&hash);
        let call = BackendCall {
            model: &self.model.model,
            stage: context.stage,
            attempt: context.attempt,
            repeat,
            request_hash: &hash,
            request,
            on_text,
            deadline: None,
        };
        let per_try = request
            .timeout
            .unwrap_or_else(|| self.backend.default_timeout());
        let policy = self.retry_policy();
        let started = Instant::now();
        let tries = AtomicU32::new(0);
        let pending: Mutex<Option<FailedTry>> = Mutex::new(None);
        let one_try = || async {
            let retry = tries.fetch_add(1, Ordering::SeqCst);
            let try_started = Instant::now();
            // A stream keeps what arrived at the deadline; the outer limit, a little later,
            // catches a backend that does not watch it.
            let call = BackendCall {
                deadline: request.stream.then(|| try_started + per_try),
                ..call
            };
            let limit = if request.stream {
                per_try + STREAM_DEADLINE_GRACE
            } else {
                per_try
            };
            let outcome = match tokio::time::timeout(limit, self.backend.chat(call)).await {
                // Secrets out first: everything below traces, logs or returns it.
                Ok(outcome) => match self.backend.redactor() {
                    Some(redactor) => outcome
                        .map(|answer| redact_answer(answer, redactor))
                        .map_err(|error| error.redacted(redactor)),
                    None => outcome,
                }
                .and_then(finish_answer),
                Err(_) => Err(LlmError::observed(
                    &Observation::TimedOut,
                    format!("no answer within {} ms", duration_ms(per_try)),
                )),
            };
            let latency = try_started.elapsed();
            match outcome {
                Ok(answer) => {
                    self.emit(
                        &call,
                        retry,
                        latency,
                        LlmCallResult::Answered(answer.clone()),
                        &answer.usage,
                        None,
                    );
                    Ok((answer, latency))
                }
                Err(error) => {
                    *pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(FailedTry {
                        retry,
                        latency,
                        failure: error.to_failure(),
                    });
                    Err(error)
                }
            }
        };
        let result = one_try
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(LlmError::is_transient)
            .adjust(|error, backoff| {
                policy.next_delay(backoff, error.retry_after(), started.elapsed())
            })
            .notify(|error, delay| {
                tracing::warn!(
                    model = %self.model,
                    stage = %context.stage,
                    attempt = context.attempt,
                    "{error}; retrying in {} ms",
                    duration_ms(delay)
                );
                self.emit_failed(&call, &pending, Some(delay));
            })
            .await;
        let tries = tries.load(Ordering::SeqCst);
        match result {
            Ok((answer, latency)) => {
                Ok(self.chat_answer(answer, latency, started.elapsed(), tries, hash, repeat))
            }
            Err(error) => {
                self.emit_failed(&call, &pending, None);
                Err(error.with_context(&self.model.to_string(), tries))
            }
        }
    }

    fn next_repeat(&self, hash: &str) -> u32 {
        let mut repeats = self.repeats.lock().unwrap_or_else(PoisonError::into_inner);
        let count = repeats.entry(hash.to_owned()).or_insert(0);
        let repeat = *count;
        *count += 1;
        repeat
    }

    fn chat_answer(
        &self,
        answer: LlmAnswer,
        latency: Duration,
        elapsed: Duration,
        tries: u32,
        request_hash: String,
        repeat: u32,
    ) -> ChatAnswer {
        ChatAnswer {
            cost_usd: self.cost(&answer.usage, answer.response_model.as_deref()),
            text: answer.text,
            reasoning: answer.reasoning,
            finish_reason: answer.finish_reason,
            response_model: answer.response_model,
            usage: answer.usage,
            latency,
            elapsed,
            time_to_first_token: answer.time_to_first_token_ms.map(Duration::from_millis),
            source: self.backend.source(),
            tries,
            request_hash,
            repeat,
        }
    }

    /// The cost as the model that answered ([`pricing_model`]); a different model than the
    /// one requested is a warning (a local server behind an OpenAI model name is not priced
    /// as that model).
    fn cost(&self, usage: &autopilot_trace::TokenUsage, answered: Option<&str>) -> Option<f64> {
        let priced_as = pricing_model(&self.model.model, answered);
        self.prices.cost(self.model.provider, priced_as, *usage)
    }

    fn emit_failed(
        &self,
        call: &BackendCall<'_>,
        pending: &Mutex<Option<FailedTry>>,
        retry_in: Option<Duration>,
    ) {
        let taken = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(failed) = taken {
            self.emit(
                call,
                failed.retry,
                failed.latency,
                LlmCallResult::Failed(failed.failure),
                &autopilot_trace::TokenUsage::default(),
                retry_in,
            );
        }
    }

    fn emit(
        &self,
        call: &BackendCall<'_>,
        retry: u32,
        latency: Duration,
        result: LlmCallResult,
        usage: &autopilot_trace::TokenUsage,
        retry_in: Option<Duration>,
    ) {
        let cost_usd = match &result {
            LlmCallResult::Answered(answer) => {
                let answered = answer.response_model.as_deref();
                if pricing_model(&self.model.model, answered) != self.model.model {
                    tracing::warn!(
                        model = %self.model,
                        "requested {}, answered by {}: priced as the model that answered",
                        self.model.model,
                        answered.map_or("?", display_model_name)
                    );
                }
                self.cost(usage, answered)
            }
            LlmCallResult::Failed(_) => None,
        };
        autopilot_trace::emit(&Event::LlmCall(LlmCall {
            stage: call.stage,
            attempt: call.attempt,
            retry,
            repeat: call.repeat,
            provider: self.model.provider.to_string(),
            model: self.model.model.clone(),
            request_hash: call.request_hash.to_owned(),
            messages: call.request.messages.clone(),
            sampling: call.request.sampling.clone(),
            stream: call.request.stream,
            result,
            latency_ms: duration_ms(latency),
            cost_usd,
            source: self.backend.source(),
            retry_in_ms: retry_in.map(duration_ms),
        }));
    }
}

/// How long after a stream's deadline the client stops waiting for the backend to end it.
const STREAM_DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// The most bytes of text and reasoning one answer may have; a longer one fails the try with
/// `body_too_large` (it would be traced, and fed back into prompts, whole).
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The answer with the endpoint's secrets removed from everything the server wrote.
fn redact_answer(mut answer: LlmAnswer, redactor: &Redactor) -> LlmAnswer {
    answer.text = redactor.redact_string(answer.text);
    answer.reasoning = answer.reasoning.map(|r| redactor.redact_string(r));
    answer.finish_reason = answer.finish_reason.map(|r| redactor.redact_string(r));
    answer.response_model = answer.response_model.map(|m| redactor.redact_string(m));
    answer
}

/// Splits reasoning out of a backend's answer; an answer left without text is a failure, and
/// so is one over [`MAX_ANSWER_BYTES`].
fn finish_answer(mut answer: LlmAnswer) -> Result<LlmAnswer, LlmError> {
    let size = answer.text.len() + answer.reasoning.as_ref().map_or(0, String::len);
    if size > MAX_ANSWER_BYTES {
        return Err(LlmError::new(
            LlmErrorKind::BodyTooLarge,
            format!(
                "the answer has {size} bytes of text and reasoning, more than the cap of \
                 {MAX_ANSWER_BYTES}"
            ),
        ));
    }
    let (text, reasoning) = split_reasoning(&answer.text, answer.reasoning.as_deref());
    if text.is_empty() {
        let detail = match (&answer.finish_reason, &reasoning) {
            (Some(reason), Some(r)) => format!(
                "no text after {} characters of reasoning (finish_reason {reason})",
                r.len()
            ),
            (Some(reason), None) => format!("no text (finish_reason {reason})"),
            (None, _) => "no text".to_owned(),
        };
        return Err(LlmError::observed(&Observation::NoText, detail));
    }
    answer.text = text;
    answer.reasoning = reasoning;
    Ok(answer)
}
