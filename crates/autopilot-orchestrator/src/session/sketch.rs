//! The sketch rounds: for each attempt of a round, the prompt (first sketch, or repair grounded
//! in the last attempt's diagnostics and build environment), the answer, the attempt itself
//! (`AttemptReport`), and the repair material for the next one.
//! Staged prompt variants get an outline and a design first.

use std::path::PathBuf;
use std::time::Instant;

use autopilot_steps::{
    BuildEnvironment, Flow, RepairInput, RepairLimits, RepairMaterial, RepairTracker, Task,
    build_repair,
};
use autopilot_toolchain::Compiler;
use autopilot_trace::{
    AttemptFinished, AttemptOutcome, ChatMessage, Event, SizeReport, Stage, StageFinished,
    StageStarted, emit,
};
use serde_json::Value;

use super::ask::truncation;
use super::attempt::{AttemptReport, AttemptVerdict, FailedAttempt};
use super::engine::{Run, millis};
use super::setup::{Ending, local};
use super::sketch_dir::sketch_name;

impl Run<'_> {
    pub(super) fn render(
        &self,
        variant: &str,
        task: &Task<'_>,
    ) -> Result<Vec<ChatMessage>, Ending> {
        self.setup
            .prompts
            .render(variant, &self.facts, task)
            .map(|p| p.messages())
            .map_err(|e| local("cannot render a prompt", e))
    }

    pub(super) fn prompt_text(messages: &[ChatMessage]) -> String {
        messages
            .iter()
            .map(|m| format!("## {:?}\n\n{}\n", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The outline and design of the staged flow (one call each).
    pub(super) async fn staged_context(
        &mut self,
        spec: &Value,
        variant: &str,
        attempt: u32,
    ) -> Result<(String, String), Ending> {
        let messages = self.render(variant, &Task::Outline { spec })?;
        let outline = self.ask(Stage::Outline, attempt, messages).await?.text;
        self.write_artifact(&format!("outline-{attempt}.md"), &outline)?;
        let messages = self.render(
            variant,
            &Task::Design {
                spec,
                outline: &outline,
            },
        )?;
        let design = self.ask(Stage::Design, attempt, messages).await?.text;
        self.write_artifact(&format!("design-{attempt}.md"), &design)?;
        Ok((outline, design))
    }

    /// Sketch attempts `first..first+budget`; `Some(final folder)` on success, `None` when
    /// the attempts are used up.
    pub(super) async fn sketch_rounds(
        &mut self,
        compiler: &mut Compiler,
        spec: &Value,
        variant: &str,
        first: u32,
        budget: u32,
    ) -> Result<Option<PathBuf>, Ending> {
        let setup = self.setup;
        let staged = setup
            .prompts
            .variant(variant)
            .is_ok_and(|v| v.flow == Flow::Staged);
        let (outline, design) = if staged {
            self.staged_context(spec, variant, first)
                .await
                .map(|(o, d)| (Some(o), Some(d)))?
        } else {
            (None, None)
        };
        let build_dir = setup.run_dir.join("build").join(setup.id.as_str());
        let name = sketch_name(&setup.app.name);
        let model = setup.app.model.as_ref();
        let mut tracker = RepairTracker::new();
        let mut last_code = String::new();
        let mut repair: Option<RepairMaterial> = None;
        let mut last_size: Option<SizeReport> = None;
        for attempt in first..first + budget {
            self.totals.attempts = attempt;
            let started = Instant::now();
            emit(&Event::StageStarted(StageStarted {
                stage: Stage::Sketch,
                attempt: Some(attempt),
            }));
            let messages = match &repair {
                Some(material) => {
                    emit(&Event::RepairContext(material.context.clone()));
                    self.render(
                        variant,
                        &Task::SketchRepair {
                            spec,
                            attempt,
                            code: &last_code,
                            repair: material,
                        },
                    )?
                }
                None => self.render(
                    variant,
                    &Task::Sketch {
                        spec,
                        outline: outline.as_deref(),
                        design: design.as_deref(),
                    },
                )?,
            };
            let dir = format!("sketch-{attempt}");
            self.write_prompt_file(&format!("{dir}/prompt.md"), &Self::prompt_text(&messages));
            let answer = self.ask(Stage::Sketch, attempt, messages).await?;
            self.write_prompt_file(&format!("{dir}/answer.md"), &answer.text);
            let report = match truncation(&answer) {
                // A cut answer holds incomplete code by the cap's doing: not compiled, and the
                // repair asks for a shorter sketch instead of quoting compile errors.
                Some(cut) => {
                    emit(&Event::CheckVerdict(cut.verdict(Stage::Sketch, attempt)));
                    AttemptReport::failed(
                        None,
                        FailedAttempt::new(
                            AttemptOutcome::AnswerTruncated,
                            format!(
                                "{}: write a shorter sketch: the code only, no explanation, \
                                 no comments",
                                cut.message
                            ),
                        ),
                    )
                }
                None => {
                    self.one_attempt(compiler, &build_dir, &name, attempt, &answer.text, &tracker)
                        .await?
                }
            };
            if let Some(code) = report.code {
                last_code = code;
            }
            if let Some(compiled) = report.compiled {
                last_size = compiled.size;
            }
            emit(&Event::StageFinished(StageFinished {
                stage: Stage::Sketch,
                attempt: Some(attempt),
                succeeded: matches!(report.verdict, AttemptVerdict::Passed { .. }),
                duration_ms: millis(started.elapsed()),
            }));
            match report.verdict {
                AttemptVerdict::Passed { final_dir } => return Ok(Some(final_dir)),
                AttemptVerdict::Failed(failed) => {
                    emit(&Event::AttemptFinished(AttemptFinished {
                        stage: Stage::Sketch,
                        attempt,
                        outcome: failed.outcome,
                        message: failed.message.clone(),
                    }));
                    let environment = BuildEnvironment {
                        declarations: failed.declarations,
                        versions: compiler.versions().to_vec(),
                        board: Some(self.facts.target.board()),
                        last_size,
                    };
                    let material = build_repair(
                        &RepairInput {
                            attempt: attempt + 1,
                            code: &last_code,
                            diagnostics: &failed.diagnostics,
                            problems: &failed.problems,
                            identical_to: failed.identical_to,
                            environment: &environment,
                            model,
                        },
                        &tracker,
                        &RepairLimits::default(),
                    );
                    tracker.record(
                        attempt,
                        &autopilot_trace::sha256_hex(last_code.as_bytes()),
                        &failed.diagnostics,
                    );
                    repair = Some(material);
                }
            }
        }
        Ok(None)
    }
}
