//! A session summarised from its events: what `autopilot trace show` prints and reports count.

use crate::event::{
    AttemptOutcome, CompileStatus, Event, LlmCallResult, SessionOutcome, Stage, TraceOrigin,
};
use crate::reader::NumberedRecord;
use crate::record::parse_timestamp;

/// One finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLine {
    pub stage: Stage,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    pub message: String,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCheck {
    pub stage: Stage,
    pub attempt: u32,
    pub check: String,
    pub message: String,
}

/// Totals and highlights of one session, computed from its events only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSummary {
    pub session: String,
    pub app: String,
    pub target: String,
    pub provider: String,
    pub model: String,
    pub prompt_variant: String,
    pub legacy_file: Option<String>,
    pub events: usize,
    pub stages: Vec<(Stage, Option<u32>, bool, u64)>,
    pub attempts: Vec<AttemptLine>,
    pub failed_checks: Vec<FailedCheck>,
    pub llm_calls: u32,
    pub llm_failures: u32,
    /// `None` when no answer reported the count (legacy imports, providers without usage).
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// `None` when no call was priced or any call had an unknown price.
    pub cost_usd: Option<f64>,
    pub compiles: u32,
    pub compile_failures: u32,
    pub cache_hits: u32,
    pub compile_ms: u64,
    pub diagnostics: u32,
    pub fallbacks: Vec<String>,
    /// `None`: the session has no `session_finished` (interrupted or truncated).
    pub outcome: Option<SessionOutcome>,
    /// From the first to the last timestamp.
    pub wall_ms: u64,
}

impl SessionSummary {
    pub fn from_records(records: &[NumberedRecord]) -> Self {
        let mut s = SessionSummary::default();
        let mut all_priced = true;
        let mut cost = 0.0;
        s.events = records.len();
        if let Some(first) = records.first() {
            s.session = first.record.session.to_string();
        }
        let first_ts = records.first().and_then(|r| parse_timestamp(&r.record.ts));
        let last_ts = records.last().and_then(|r| parse_timestamp(&r.record.ts));
        if let (Some(a), Some(b)) = (first_ts, last_ts) {
            s.wall_ms = u64::try_from(b.duration_since(a).as_millis()).unwrap_or(0);
        }
        for NumberedRecord { record, .. } in records {
            match &record.event {
                Event::SessionStarted(e) => {
                    s.app.clone_from(&e.app);
                    s.target.clone_from(&e.target);
                    s.provider.clone_from(&e.provider);
                    s.model.clone_from(&e.model);
                    s.prompt_variant.clone_from(&e.prompt_variant);
                    if let TraceOrigin::LegacyImport { file, .. } = &e.origin {
                        s.legacy_file = Some(file.clone());
                    }
                }
                Event::StageFinished(e) => {
                    s.stages
                        .push((e.stage, e.attempt, e.succeeded, e.duration_ms));
                }
                Event::LlmCall(e) => {
                    s.llm_calls += 1;
                    match &e.result {
                        LlmCallResult::Answered(answer) => {
                            // Saturating: absurd counts must not wrap around to small ones.
                            let add = |total: Option<u64>, n: Option<u64>| match n {
                                Some(n) => Some(total.unwrap_or(0).saturating_add(n)),
                                None => total,
                            };
                            s.input_tokens = add(s.input_tokens, answer.usage.input);
                            s.output_tokens = add(s.output_tokens, answer.usage.output);
                        }
                        LlmCallResult::Failed(_) => s.llm_failures += 1,
                    }
                    match e.cost_usd {
                        Some(c) => cost += c,
                        None => all_priced = false,
                    }
                }
                Event::CheckVerdict(e) if !e.passed => s.failed_checks.push(FailedCheck {
                    stage: e.stage,
                    attempt: e.attempt,
                    check: e.check.clone(),
                    message: e.message.clone(),
                }),
                Event::CompileFinished(e) => {
                    s.compiles += 1;
                    if e.status != CompileStatus::Succeeded {
                        s.compile_failures += 1;
                    }
                    if e.cache_hit {
                        s.cache_hits += 1;
                    }
                    s.compile_ms += e.duration_ms;
                    s.diagnostics += u32::try_from(e.diagnostics.len()).unwrap_or(u32::MAX);
                }
                Event::FallbackApplied(e) => {
                    s.fallbacks.push(format!("{}: {}", e.policy, e.reason));
                }
                Event::AttemptFinished(e) => s.attempts.push(AttemptLine {
                    stage: e.stage,
                    attempt: e.attempt,
                    outcome: e.outcome,
                    message: e.message.clone(),
                }),
                Event::SessionFinished(e) => s.outcome = Some(e.outcome.clone()),
                _ => {}
            }
        }
        s.cost_usd = (all_priced && s.llm_calls > 0).then_some(cost);
        s
    }

    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, or `unfinished`.
    pub fn outcome_name(&self) -> &'static str {
        self.outcome
            .as_ref()
            .map_or("unfinished", SessionOutcome::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SessionId, TraceRecord};

    fn call(seq: u64, usage: &str) -> NumberedRecord {
        let event: Event = serde_json::from_str(&format!(
            r#"{{"type":"llm_call","stage":"sketch","attempt":1,"retry":0,"provider":"p","model":"m","request_hash":"h","messages":[],"result":{{"status":"answered","text":"x","usage":{usage}}},"latency_ms":1}}"#
        ))
        .unwrap();
        NumberedRecord {
            line: seq + 1,
            record: TraceRecord {
                v: 1,
                session: SessionId::new("s").unwrap(),
                seq,
                ts: "2026-01-01T00:00:00.000Z".into(),
                event,
            },
        }
    }

    #[test]
    fn token_counts_saturate_and_unreported_ones_are_unknown() {
        let huge = r#"{"input":9223372036854775808,"output":1}"#;
        let s = SessionSummary::from_records(&[call(0, huge), call(1, huge)]);
        assert_eq!(s.input_tokens, Some(u64::MAX));
        assert_eq!(s.output_tokens, Some(2));
        let s = SessionSummary::from_records(&[call(0, "{}")]);
        assert_eq!((s.input_tokens, s.output_tokens), (None, None));
    }
}
