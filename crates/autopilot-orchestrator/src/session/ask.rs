//! One LLM request with the parachutes: the session's budgets are checked before it, its
//! tokens and cost are accounted after it, and when the model stays unreachable after the
//! client's retries the fallback model takes over for the rest of the session.

use autopilot_llm::{CallContext, ChatAnswer, ChatRequest, LlmError, LlmErrorKind};
use autopilot_trace::{ChatMessage, Event, FallbackApplied, SessionOutcome, Stage, emit};

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
        self.totals.llm_calls += answer.tries;
        // Saturating: a provider reporting absurd counts must not wrap the budget back to zero.
        // A count no answer reported stays unknown (`None`), never 0.
        let add = |total: Option<u64>, n: Option<u64>| match n {
            Some(n) => Some(total.unwrap_or(0).saturating_add(n)),
            None => total,
        };
        self.totals.input_tokens = add(self.totals.input_tokens, answer.usage.input);
        self.totals.output_tokens = add(self.totals.output_tokens, answer.usage.output);
        match answer.cost_usd {
            Some(cost) => self.cost += cost,
            None => self.all_priced = false,
        }
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
            match self.llm.chat(&context, &request).await {
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
            _ => Some(infrastructure(infra::LLM_UNREACHABLE, message)),
        }
    }
}
