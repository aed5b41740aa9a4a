//! The spec stage: the app's spec template filled by the LLM, validated, and repaired with the
//! exact problems until it is valid or the spec attempts are used up. An answer cut at the
//! token limit is its own verdict; a byte-identical request under deterministic sampling is not
//! sent again.

use std::time::Instant;

use autopilot_steps::{SpecCheck, SpecProblem, SpecRules, Task, spec_template_for, validate_spec};
use autopilot_trace::{
    AttemptFinished, AttemptOutcome, ChatMessage, Event, FallbackApplied, Note, SessionOutcome,
    Stage, StageFinished, StageStarted, emit,
};
use serde_json::Value;

use super::ask::{describe_sampling, repeated_request, truncation};
use super::engine::{Run, millis};
use super::setup::Ending;

impl Run<'_> {
    /// Spec filling with validation and repair; the validated spec's JSON.
    pub(super) async fn fill_spec(&mut self) -> Result<Value, Ending> {
        let setup = self.setup;
        let app = &setup.app;
        // The session's target, which may not be the app's (`run --target`, experiments).
        let template = spec_template_for(app, &setup.target.name);
        let target = self.facts.target.clone();
        let rules = SpecRules {
            target: &target.name,
            classes: &app.classes,
            allowed_libraries: &target.allowed_libraries,
            model_kind: app.model.as_ref().map(|m| m.kind),
            ram_bytes: target.ram_bytes,
        };
        let variant = setup.variant.clone();
        let mut previous: Option<(String, Vec<SpecProblem>)> = None;
        // Requests already sent, to spot a repeat that cannot help.
        let mut sent: Vec<(u32, Vec<ChatMessage>)> = Vec::new();
        for attempt in 1..=setup.policies.attempts.spec {
            let started = Instant::now();
            emit(&Event::StageStarted(StageStarted {
                stage: Stage::Spec,
                attempt: Some(attempt),
            }));
            let task = match &previous {
                Some((answer, problems)) => Task::SpecRepair {
                    template: &template,
                    previous_answer: answer,
                    problems,
                },
                None => Task::SpecFill {
                    template: &template,
                },
            };
            let messages = self.render(&variant, &task)?;
            if let Some(earlier) = repeated_request(&sent, &messages, &setup.sampling) {
                // A fixed seed (or greedy sampling) answers a byte-identical request the same
                // way: sending it again spends time for a known answer.
                let reason = format!(
                    "spec attempt {attempt} would send the same request as attempt {earlier} with \
                     deterministic sampling ({}): the answer would be the same; stopped early",
                    describe_sampling(&setup.sampling)
                );
                emit(&Event::FallbackApplied(FallbackApplied {
                    policy: "identical_request".into(),
                    from: String::new(),
                    to: String::new(),
                    reason: reason.clone(),
                }));
                emit(&Event::Note(Note {
                    kind: "identical_request".into(),
                    message: reason,
                }));
                return Err(SessionOutcome::Exhausted { stage: Stage::Spec });
            }
            sent.push((attempt, messages.clone()));
            self.write_prompt_file(
                &format!("spec-{attempt}/prompt.md"),
                &Self::prompt_text(&messages),
            );
            let answer = self.ask(Stage::Spec, attempt, messages).await?;
            self.write_prompt_file(&format!("spec-{attempt}/answer.md"), &answer.text);
            if let Some(cut) = truncation(&answer) {
                // Cut JSON is not invalid JSON: the repair asks for a shorter answer.
                emit(&Event::CheckVerdict(cut.verdict(Stage::Spec, attempt)));
                emit(&Event::StageFinished(StageFinished {
                    stage: Stage::Spec,
                    attempt: Some(attempt),
                    succeeded: false,
                    duration_ms: millis(started.elapsed()),
                }));
                emit(&Event::AttemptFinished(AttemptFinished {
                    stage: Stage::Spec,
                    attempt,
                    outcome: AttemptOutcome::AnswerTruncated,
                    message: cut.message.clone(),
                }));
                let problem = SpecProblem {
                    check: SpecCheck::Json,
                    path: "$".to_owned(),
                    message: format!("{}: shorter: the JSON object only, no prose", cut.message),
                };
                previous = Some((answer.text, vec![problem]));
                continue;
            }
            let validation = validate_spec(&answer.text, &template, &rules);
            for verdict in validation.verdicts(attempt) {
                emit(&Event::CheckVerdict(verdict));
            }
            let valid = validation.is_valid();
            emit(&Event::StageFinished(StageFinished {
                stage: Stage::Spec,
                attempt: Some(attempt),
                succeeded: valid,
                duration_ms: millis(started.elapsed()),
            }));
            if let (true, Some(spec)) = (valid, validation.spec) {
                emit(&Event::AttemptFinished(AttemptFinished {
                    stage: Stage::Spec,
                    attempt,
                    outcome: AttemptOutcome::Succeeded,
                    message: String::new(),
                }));
                return Ok(spec.json);
            }
            let summary = validation
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            emit(&Event::AttemptFinished(AttemptFinished {
                stage: Stage::Spec,
                attempt,
                outcome: AttemptOutcome::SpecInvalid,
                message: summary,
            }));
            previous = Some((answer.text, validation.problems));
        }
        Err(SessionOutcome::Exhausted { stage: Stage::Spec })
    }
}
