//! Human progress on stderr for `autopilot run`: a tracing layer that turns the session's
//! typed trace events into one short line each (stage, attempt, verdict, elapsed time, tokens).

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use autopilot_trace::{
    AttemptOutcome, CompileStatus, Event, LlmCallResult, SessionOutcome, SimulationStatus,
    TRACE_TARGET,
};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Writes one line per interesting trace event to stderr.
pub struct ProgressLayer {
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl ProgressLayer {
    pub fn stderr() -> Self {
        ProgressLayer {
            start: Instant::now(),
            out: Mutex::new(Box::new(crate::terminal::SafeWriter::new(
                anstream::stderr(),
                true,
            ))),
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TRACE_TARGET {
            return;
        }
        // The typed event `emit` is dispatching: no JSON parsed back from the event's field.
        if let Some(line) = autopilot_trace::with_emitted_event(describe).flatten() {
            let elapsed = self.start.elapsed().as_secs_f64();
            if let Ok(mut out) = self.out.lock() {
                // anstream buffers: flush so each step shows as it happens.
                let _ = writeln!(out, "[{elapsed:6.1}s] {line}").and_then(|()| out.flush());
            }
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// One human line for an event, or `None` for events not worth a line.
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        // The LLM client already logs each retry once (a warning with its delay).
        Event::LlmCall(e) if e.retry_in_ms.is_some() => return None,
        Event::SessionStarted(e) => format!(
            "session started: {} for {} with {}:{} (prompt variant {})",
            e.app, e.target, e.provider, e.model, e.prompt_variant
        ),
        Event::LlmCall(e) => {
            let what = match &e.result {
                LlmCallResult::Answered(a) => format!(
                    "answered ({} in / {} out tokens)",
                    a.usage.input.map_or_else(|| "?".into(), |n| n.to_string()),
                    a.usage.output.map_or_else(|| "?".into(), |n| n.to_string())
                ),
                LlmCallResult::Failed(f) => format!("failed: {}", first_line(&f.message)),
            };
            let source = if e.source == autopilot_trace::AnswerSource::Replay {
                " [recorded answer]"
            } else {
                ""
            };
            format!(
                "{} #{}: {}:{} {what} in {:.1} s{source}",
                e.stage,
                e.attempt,
                e.provider,
                e.model,
                e.latency_ms as f64 / 1000.0
            )
        }
        Event::CheckVerdict(e) if !e.passed => format!(
            "{} #{}: check {} failed: {}",
            e.stage,
            e.attempt,
            e.check,
            first_line(&e.message)
        ),
        Event::CompileFinished(e) => {
            let cache = if e.cache_hit { " (cache hit)" } else { "" };
            let took = format!("{:.1} s{cache}", e.duration_ms as f64 / 1000.0);
            match e.status {
                CompileStatus::Succeeded => {
                    let size = e
                        .size
                        .map(|s| {
                            let flash = s.flash_max.map(|m| format!("/{m}")).unwrap_or_default();
                            let ram = match (s.ram_used, s.ram_max) {
                                (Some(u), Some(m)) => format!(", RAM {u}/{m} B"),
                                (Some(u), None) => format!(", RAM {u} B"),
                                _ => String::new(),
                            };
                            format!(": flash {}{flash} B{ram}", s.flash_used)
                        })
                        .unwrap_or_default();
                    format!(
                        "compile #{}: succeeded with {}{size} in {took}",
                        e.attempt, e.backend
                    )
                }
                CompileStatus::Failed => {
                    let errors = e
                        .diagnostics
                        .iter()
                        .filter(|d| {
                            matches!(
                                d.severity,
                                autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
                            )
                        })
                        .count();
                    let first = e
                        .diagnostics
                        .iter()
                        .find(|d| {
                            matches!(
                                d.severity,
                                autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
                            )
                        })
                        .map(|d| {
                            let place = match (&d.file, d.line) {
                                (Some(f), Some(l)) => format!("{f}:{l}: "),
                                (Some(f), None) => format!("{f}: "),
                                _ => String::new(),
                            };
                            format!("; first: {place}{}", first_line(&d.message))
                        })
                        .unwrap_or_default();
                    format!(
                        "compile #{}: failed with {errors} error(s){first} in {took}",
                        e.attempt
                    )
                }
                CompileStatus::TimedOut => {
                    format!("compile #{}: timed out after {took}", e.attempt)
                }
                CompileStatus::ToolchainMissing => {
                    format!(
                        "compile #{}: toolchain missing: {}",
                        e.attempt,
                        e.detail.as_deref().unwrap_or("")
                    )
                }
            }
        }
        Event::LibraryResolved(e) => format!(
            "library #{}: {} -> {} ({:?}{})",
            e.attempt,
            e.header,
            e.library.as_deref().unwrap_or("nothing"),
            e.source,
            if e.allowed { "" } else { ", not allowed" }
        ),
        Event::LibraryInstalled(e) => {
            format!(
                "library #{}: install {} {}",
                e.attempt,
                e.library,
                if e.succeeded { "succeeded" } else { "failed" }
            )
        }
        Event::Note(e) if e.kind == "host_build" => format!("HOST BUILD: {}", e.message),
        Event::PipelineStageStarted(e) => format!("pipeline {}: stage {}", e.pipeline, e.stage),
        Event::DpOperation(e) => format!(
            "operation {}/{} {}: {}{}",
            e.index,
            e.total,
            e.kind,
            match e.status {
                autopilot_trace::OperationStatus::Done => "done",
                autopilot_trace::OperationStatus::Failed => "failed",
            },
            e.rows.map(|r| format!(", {r} rows")).unwrap_or_default()
        ),
        Event::ModelCheck(e) => {
            let accuracy =
                |a: Option<f64>| a.map_or_else(|| "unknown".to_owned(), |a| format!("{a:.3}"));
            let failures: Vec<&str> = e.failures.iter().map(|f| f.message.as_str()).collect();
            format!(
                "model check #{}: {} (accuracy {} TFLite, {} Keras){}",
                e.attempt,
                if e.passed { "passed" } else { "failed" },
                accuracy(e.tflite_accuracy),
                accuracy(e.keras_accuracy),
                if failures.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", failures.join("; "))
                }
            )
        }
        Event::HostCheckFinished(e) => format!(
            "host check #{} (host build, {}): {} — {} [build {:.1} s{}]",
            e.attempt,
            e.profile,
            serde_json::to_value(e.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            e.summary,
            e.build_ms as f64 / 1000.0,
            e.run_ms
                .map(|m| format!(", run {:.2} s", m as f64 / 1000.0))
                .unwrap_or_default()
        ),
        Event::SimulationFinished(e) => match e.status {
            SimulationStatus::Predicted => format!(
                "simulate #{}: {} printed {:?} in {:.1} s",
                e.attempt,
                e.simulator,
                e.matched.as_deref().unwrap_or(""),
                e.duration_ms as f64 / 1000.0
            ),
            SimulationStatus::NoPrediction => format!(
                "simulate #{}: no class name on serial within {:.1} s ({} line(s) read)",
                e.attempt,
                e.duration_ms as f64 / 1000.0,
                e.serial.len()
            ),
            SimulationStatus::Failed => format!("simulate #{}: the simulator failed", e.attempt),
            SimulationStatus::SimulatorMissing => {
                format!("simulate #{}: simulator missing, check skipped", e.attempt)
            }
        },
        Event::FallbackApplied(e) => format!("parachute {}: {}", e.policy, e.reason),
        Event::AttemptFinished(e) if e.outcome != AttemptOutcome::Succeeded => {
            let outcome = serde_json::to_value(e.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{} #{}: {outcome}", e.stage, e.attempt)
        }
        Event::SessionFinished(e) => {
            let t = &e.totals;
            let cost = t
                .cost_usd
                .map_or_else(|| "unknown cost".to_owned(), |c| format!("${c:.4}"));
            let outcome = match &e.outcome {
                SessionOutcome::Success { attempt } => format!("success at attempt {attempt}"),
                SessionOutcome::Exhausted { stage } => {
                    format!("gave up: {stage} attempts exhausted")
                }
                SessionOutcome::Aborted { reason } => format!("aborted: {reason}"),
                SessionOutcome::InfrastructureError { kind, message } => {
                    format!("infrastructure error ({kind}): {message}")
                }
            };
            // Counts no answer reported are `None`; older traces wrote 0 for them, and LLM
            // calls never cost zero tokens.
            let sum = match (t.input_tokens, t.output_tokens) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            };
            let tokens = match sum {
                Some(n) if n > 0 => n.to_string(),
                // No LLM call: nothing was spent.
                _ if t.llm_calls == 0 => "0".to_owned(),
                _ => "unknown".to_owned(),
            };
            format!(
                "{outcome} — {} attempt(s), {} LLM call(s), {tokens} tokens, {cost}, {:.1} s",
                t.attempts,
                t.llm_calls,
                t.wall_ms as f64 / 1000.0
            )
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use autopilot_trace::{
        AnswerSource, Event, LlmCall, LlmCallResult, LlmErrorKind, LlmFailure, SamplingParams,
        Stage,
    };

    fn refused(retry_in_ms: Option<u64>) -> Event {
        Event::LlmCall(LlmCall {
            stage: Stage::Sketch,
            attempt: 1,
            retry: 0,
            repeat: 0,
            provider: "ollama".into(),
            model: "m".into(),
            request_hash: "00".into(),
            messages: vec![],
            sampling: SamplingParams::default(),
            stream: false,
            result: LlmCallResult::Failed(LlmFailure {
                kind: LlmErrorKind::ConnectionRefused,
                transient: true,
                http_status: None,
                message: "connection refused".into(),
                retry_after_ms: None,
            }),
            latency_ms: 1,
            cost_usd: None,
            source: AnswerSource::Live,
            retry_in_ms,
        })
    }

    /// A retried call gets no progress line (the client's warning says it once); the last
    /// failure gets one, without a retry clause.
    #[test]
    fn a_retry_is_described_once_and_the_last_failure_plainly() {
        assert_eq!(super::describe(&refused(Some(900))), None);
        assert_eq!(
            super::describe(&refused(None)).as_deref(),
            Some("sketch #1: ollama:m failed: connection refused in 0.0 s")
        );
    }
}
