//! One LLM request with the parachutes: the session's budgets are checked before it, its
//! tokens and cost are accounted after it, and when the model stays unreachable after the
//! client's retries the fallback model takes over for the rest of the session.

use autopilot_llm::{CallContext, ChatAnswer, ChatRequest, LlmError, LlmErrorKind};
use autopilot_trace::{
    ChatMessage, CheckVerdict, Event, FallbackApplied, SamplingParams, SessionOutcome, Stage, emit,
};

use super::engine::Run;
use super::setup::{Ending, infra, infrastructure};

impl Run<'_> {
    /// Ends the session when a budget is spent; called before every LLM call.
    pub(super) fn check_budgets(&self) -> Result<(), Ending> {
        let budget = &self.setup.policies.budget;
        if let Some(limit) = budget.wall_time()
            && self.start.elapsed() >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("wall-time budget of {} s spent", limit.as_secs()),
            });
        }
        let tokens = self
            .totals
            .input_tokens
            .unwrap_or(0)
            .saturating_add(self.totals.output_tokens.unwrap_or(0));
        if let Some(limit) = budget.tokens
            && tokens >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("token budget of {limit} spent ({tokens} used)"),
            });
        }
        if let Some(limit) = budget.cost_usd
            && self.cost >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("cost budget of ${limit:.4} spent (${:.4} used)", self.cost),
            });
        }
        Ok(())
    }

    fn account(&mut self, answer: &ChatAnswer) {
        account(
            &mut self.totals,
            &mut self.cost,
            &mut self.all_priced,
            answer,
        );
    }

    /// One LLM request with the parachutes: the client retries transient faults; when they
    /// outlast the retries, the fallback model takes over for the rest of the session.
    pub(super) async fn ask(
        &mut self,
        stage: Stage,
        attempt: u32,
        messages: Vec<ChatMessage>,
    ) -> Result<ChatAnswer, Ending> {
        self.check_budgets()?;
        let request = ChatRequest {
            messages,
            sampling: self.setup.sampling.clone(),
            stream: self.setup.stream,
            timeout: Some(self.setup.policies.timeouts.llm_call()),
        };
        let context = CallContext::new(stage, attempt);
        loop {
            let this: &Self = self;
            // Earlier prompt and answer files are written while the request is out, after a
            // yield: sessions answered at the same moment send their requests first. A file
            // that cannot be written ends the session once the answer is in. The first request
            // of the process also warms the prechecks up (once).
            let (chat, written) = tokio::join!(this.llm.chat(&context, &request), async {
                tokio::task::yield_now().await;
                let written = this.write_pending();
                autopilot_steps::warm_up_prechecks(&autopilot_steps::PrecheckInput {
                    model: this.setup.app.model.as_ref(),
                    forbidden: &this.facts.forbidden,
                });
                written
            });
            written?;
            match chat {
                Ok(answer) => {
                    self.account(&answer);
                    return Ok(answer);
                }
                Err(error) => {
                    self.totals.llm_calls += error.tries();
                    if let Some(ending) = self.after_llm_error(&error) {
                        return Err(ending);
                    }
                }
            }
        }
    }

    /// Switches to the fallback model (and returns `None` to try again) or says how to end.
    fn after_llm_error(&mut self, error: &LlmError) -> Option<Ending> {
        let message = format!(
            "{} after {} tr{}: {}",
            autopilot_llm::describe(error.kind()),
            error.tries(),
            if error.tries() == 1 { "y" } else { "ies" },
            error.detail()
        );
        if error.kind() == LlmErrorKind::ReplayMiss {
            return Some(infrastructure(infra::REPLAY_MISS, message));
        }
        if !error.is_transient() {
            return Some(infrastructure(infra::LLM_REJECTED, message));
        }
        match (&self.setup.fallback_llm, self.switched_model) {
            (Some(fallback), false) => {
                emit(&Event::FallbackApplied(FallbackApplied {
                    policy: "fallback_model".into(),
                    from: self.llm.model().to_string(),
                    to: fallback.model().to_string(),
                    reason: format!("{} stayed unreachable: {message}", self.llm.model()),
                }));
                self.llm = fallback.clone();
                self.switched_model = true;
                None
            }
            // A timeout reached a server that accepted the request: "unreachable" would send
            // people looking for a network problem that is not there.
            _ if error.kind() == LlmErrorKind::Timeout => {
                Some(infrastructure(infra::LLM_TIMED_OUT, message))
            }
            _ => Some(infrastructure(infra::LLM_UNREACHABLE, message)),
        }
    }
}

/// An answer a limit cut (`finish_reason: length`, or the call's time limit).
pub(super) struct Truncation {
    pub(super) message: String,
}

impl Truncation {
    pub(super) fn verdict(&self, stage: Stage, attempt: u32) -> CheckVerdict {
        CheckVerdict {
            stage,
            attempt,
            check: "answer.truncated".into(),
            passed: false,
            message: self.message.clone(),
        }
    }
}

/// Whether the answer stopped at the token limit (`length`) or at the call's time limit (a
/// slow stream, kept) rather than where the model ended it.
pub(super) fn truncation(answer: &ChatAnswer) -> Option<Truncation> {
    let message = match (answer.finish_reason.as_deref(), answer.usage.output) {
        (Some("length"), Some(tokens)) => {
            format!("your answer was cut at {tokens} tokens (the limit)")
        }
        (Some("length"), None) => "your answer was cut at the token limit".to_owned(),
        (Some(autopilot_llm::TIME_LIMIT), _) => format!(
            "your answer was cut after {:.0} s (the call's time limit)",
            answer.latency.as_secs_f64()
        ),
        _ => return None,
    };
    Some(Truncation { message })
}

/// The earlier attempt that sent these same messages, when sampling is deterministic (a fixed
/// seed, or temperature 0): the answer would be the same again.
pub(super) fn repeated_request(
    sent: &[(u32, Vec<ChatMessage>)],
    messages: &[ChatMessage],
    sampling: &SamplingParams,
) -> Option<u32> {
    let deterministic = sampling.seed.is_some() || sampling.temperature == Some(0.0);
    if !deterministic {
        return None;
    }
    sent.iter()
        .find(|(_, earlier)| earlier.as_slice() == messages)
        .map(|(attempt, _)| *attempt)
}

/// `seed 7, temperature 0` (what makes the sampling deterministic).
pub(super) fn describe_sampling(sampling: &SamplingParams) -> String {
    let mut parts = Vec::new();
    if let Some(seed) = sampling.seed {
        parts.push(format!("seed {seed}"));
    }
    if let Some(temperature) = sampling.temperature {
        parts.push(format!("temperature {temperature}"));
    }
    parts.join(", ")
}

/// Adds an answer's calls, tokens and cost to a session's totals. Saturating: a provider
/// reporting absurd counts must not wrap a budget back to zero. A count no answer reported
/// stays unknown (`None`), never 0; one unpriced answer makes the cost unknown.
pub(crate) fn account(
    totals: &mut autopilot_trace::SessionTotals,
    cost: &mut f64,
    all_priced: &mut bool,
    answer: &ChatAnswer,
) {
    totals.llm_calls += answer.tries;
    let add = |total: Option<u64>, n: Option<u64>| match n {
        Some(n) => Some(total.unwrap_or(0).saturating_add(n)),
        None => total,
    };
    totals.input_tokens = add(totals.input_tokens, answer.usage.input);
    totals.output_tokens = add(totals.output_tokens, answer.usage.output);
    match answer.cost_usd {
        Some(c) => *cost += c,
        None => *all_priced = false,
    }
}

/// A session's cost from what [`account`] added up: unknown (`None`) when an answer was unpriced
/// or no call was made, never 0 for "not known".
pub(crate) fn known_cost(
    totals: &autopilot_trace::SessionTotals,
    cost: f64,
    all_priced: bool,
) -> Option<f64> {
    (all_priced && totals.llm_calls > 0).then_some(cost)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use autopilot_trace::{AnswerSource, Role, TokenUsage};

    use super::*;

    fn answer(finish: Option<&str>, output: Option<u64>) -> ChatAnswer {
        ChatAnswer {
            text: "{\"application\": {".into(),
            reasoning: None,
            finish_reason: finish.map(str::to_owned),
            response_model: None,
            usage: TokenUsage {
                input: Some(900),
                output,
            },
            latency: Duration::from_secs(42),
            elapsed: Duration::from_secs(42),
            time_to_first_token: None,
            cost_usd: None,
            source: AnswerSource::Live,
            tries: 1,
            request_hash: String::new(),
            repeat: 0,
        }
    }

    #[test]
    fn a_cut_answer_is_its_own_verdict_with_the_cap_in_its_message() {
        let cut = truncation(&answer(Some("length"), Some(192))).unwrap();
        assert_eq!(cut.message, "your answer was cut at 192 tokens (the limit)");
        let verdict = cut.verdict(Stage::Sketch, 3);
        assert_eq!(
            (verdict.check.as_str(), verdict.passed, verdict.attempt),
            ("answer.truncated", false, 3)
        );
        let slow = truncation(&answer(Some(autopilot_llm::TIME_LIMIT), None)).unwrap();
        assert!(slow.message.contains("after 42 s"), "{}", slow.message);
        assert!(truncation(&answer(Some("stop"), Some(192))).is_none());
        assert!(truncation(&answer(None, None)).is_none());
    }

    #[test]
    fn an_identical_request_counts_only_under_deterministic_sampling() {
        let messages = vec![ChatMessage {
            role: Role::User,
            content: "fill the spec".into(),
        }];
        let sent = vec![(2, messages.clone())];
        let seeded = SamplingParams {
            seed: Some(7),
            ..SamplingParams::default()
        };
        assert_eq!(repeated_request(&sent, &messages, &seeded), Some(2));
        let greedy = SamplingParams {
            temperature: Some(0.0),
            ..SamplingParams::default()
        };
        assert_eq!(repeated_request(&sent, &messages, &greedy), Some(2));
        assert_eq!(
            repeated_request(&sent, &messages, &SamplingParams::default()),
            None,
            "random sampling may answer differently"
        );
        let other = vec![ChatMessage {
            role: Role::User,
            content: "fill the spec again".into(),
        }];
        assert_eq!(repeated_request(&sent, &other, &seeded), None);
        assert_eq!(describe_sampling(&seeded), "seed 7");
    }
}
