//! One sketch attempt: extraction, the identical-code parachute, prechecks, the sketch folder,
//! compile (with library resolution), then the checks of a successful build (size, simulation,
//! host check). It returns an [`AttemptReport`] value; an `Err` is only an [`Ending`] of the
//! whole session (infrastructure), never a failed attempt.

use std::path::{Path, PathBuf};

use autopilot_steps::{PrecheckInput, RepairTracker, extract_code, run_prechecks};
use autopilot_toolchain::environment::LookupLimits;
use autopilot_toolchain::{CompileOutcome, CompileResult, Compiler, Sketch, library};
use autopilot_trace::{
    AttemptFinished, AttemptOutcome, Diagnostic, Event, FallbackApplied, Note, SizeReport, Stage,
    emit,
};

use super::checks::HostResult;
use super::engine::{Run, first_line};
use super::setup::{Ending, infra, infrastructure, local};
use super::sketch_dir::copy_sketch;

/// What one sketch attempt came to.
pub(super) struct AttemptReport {
    /// The extracted code, when extraction succeeded: what the next repair prompt shows.
    pub(super) code: Option<String>,
    /// Set when the compile succeeded, whatever the checks after it said.
    pub(super) compiled: Option<Compiled>,
    pub(super) verdict: AttemptVerdict,
}

/// What a successful compile leaves for the repair prompt's environment block.
pub(super) struct Compiled {
    /// Its size report, when the compiler gave one.
    pub(super) size: Option<SizeReport>,
}

/// Whether the attempt passed.
pub(super) enum AttemptVerdict {
    /// Every check passed; the sketch was copied to the final folder.
    Passed {
        final_dir: PathBuf,
    },
    Failed(FailedAttempt),
}

impl AttemptReport {
    pub(super) fn failed(code: Option<String>, failed: FailedAttempt) -> AttemptReport {
        AttemptReport {
            code,
            compiled: None,
            verdict: AttemptVerdict::Failed(failed),
        }
    }
}

/// What a failed attempt leaves for the next repair prompt.
pub(super) struct FailedAttempt {
    pub(super) outcome: AttemptOutcome,
    pub(super) message: String,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) problems: Vec<String>,
    pub(super) identical_to: Option<u32>,
    pub(super) declarations: Vec<autopilot_trace::Declaration>,
}

impl FailedAttempt {
    pub(super) fn new(outcome: AttemptOutcome, message: String) -> Self {
        let problems = if matches!(outcome, AttemptOutcome::CompileFailed) {
            Vec::new()
        } else {
            vec![message.clone()]
        };
        FailedAttempt {
            outcome,
            message,
            diagnostics: Vec::new(),
            problems,
            identical_to: None,
            declarations: Vec::new(),
        }
    }
}

impl Run<'_> {
    /// Extraction → prechecks → compile (with library resolution) → size → simulation.
    pub(super) async fn one_attempt(
        &mut self,
        compiler: &mut Compiler,
        build_dir: &Path,
        name: &str,
        attempt: u32,
        answer: &str,
        tracker: &RepairTracker,
    ) -> Result<AttemptReport, Ending> {
        let setup = self.setup;
        let extraction = match extract_code(answer) {
            Ok(extraction) => extraction,
            Err(failure) => {
                emit(&Event::CheckVerdict(failure.verdict(attempt)));
                return Ok(AttemptReport::failed(
                    None,
                    FailedAttempt::new(AttemptOutcome::ExtractionFailed, failure.message()),
                ));
            }
        };
        let sha = autopilot_trace::sha256_hex(extraction.code.as_bytes());
        let identical = tracker.identical_code(&sha);
        emit(&Event::CodeExtracted(extraction.event(attempt, identical)));
        let code = Some(extraction.code.clone());
        if let Some(earlier) = identical {
            emit(&Event::FallbackApplied(FallbackApplied {
                policy: "identical_code".into(),
                from: String::new(),
                to: String::new(),
                reason: format!(
                    "the code is byte-identical to attempt {earlier}: not compiled again"
                ),
            }));
            let mut failed = FailedAttempt::new(
                AttemptOutcome::IdenticalCode,
                format!("identical to attempt {earlier}, which failed; nothing was compiled"),
            );
            failed.identical_to = Some(earlier);
            failed.diagnostics = tracker
                .diagnostics_of(earlier)
                .map(<[Diagnostic]>::to_vec)
                .unwrap_or_default();
            return Ok(AttemptReport::failed(code, failed));
        }
        let report = run_prechecks(
            &extraction.code,
            &PrecheckInput {
                model: setup.app.model.as_ref(),
                forbidden: &self.facts.forbidden,
            },
        );
        for verdict in report.events(attempt) {
            emit(&Event::CheckVerdict(verdict));
        }
        if !report.passed() {
            let problems: Vec<String> = report
                .failures()
                .map(|f| format!("{}: {}", f.check, f.message))
                .collect();
            let mut failed =
                FailedAttempt::new(AttemptOutcome::PrecheckFailed, problems.join("; "));
            failed.problems = problems;
            return Ok(AttemptReport::failed(code, failed));
        }
        let sketch_dir = self.write_sketch(name, attempt, &extraction.code)?;
        let sketch = Sketch::open(&sketch_dir).map_err(|e| local("cannot open the sketch", e))?;
        let result = self.compile(compiler, &sketch, build_dir, attempt).await?;
        let result = self
            .resolve_libraries(compiler, &sketch, build_dir, attempt, result)
            .await?;
        let diagnostics = result.outcome.diagnostics().to_vec();
        self.write_artifact(
            &format!("sketch-{attempt}/diagnostics.txt"),
            &diagnostics
                .iter()
                .map(autopilot_toolchain::diagnostics::render)
                .collect::<Vec<_>>()
                .join("\n"),
        )?;
        let succeeded = match &result.outcome {
            CompileOutcome::Succeeded { size, .. } => Some(Compiled { size: *size }),
            _ => None,
        };
        let verdict = self
            .judge_build(
                compiler,
                &sketch,
                &sketch_dir,
                build_dir,
                name,
                attempt,
                &result,
            )
            .await?;
        Ok(AttemptReport {
            code,
            compiled: succeeded,
            verdict,
        })
    }

    /// The sketch folder of an attempt: the code and the model header.
    fn write_sketch(&self, name: &str, attempt: u32, code: &str) -> Result<PathBuf, Ending> {
        let sketch_dir = self.artifacts.join(format!("sketch-{attempt}")).join(name);
        self.make_dir(&sketch_dir)
            .map_err(|e| local("cannot write the sketch", e))?;
        fs_err::write(sketch_dir.join(format!("{name}.ino")), code)
            .map_err(|e| local("cannot write the sketch", e))?;
        if let Some(model) = &self.setup.app.model {
            self.place_model_header(&sketch_dir.join(&model.header_name), &model.header_text)
                .map_err(|e| local("cannot write the model header", e))?;
        }
        Ok(sketch_dir)
    }

    /// A missing header: resolve it to a library (allow-listed), install when allowed, and
    /// compile once more in the same attempt.
    async fn resolve_libraries(
        &mut self,
        compiler: &mut Compiler,
        sketch: &Sketch,
        build_dir: &Path,
        attempt: u32,
        mut result: CompileResult,
    ) -> Result<CompileResult, Ending> {
        let setup = self.setup;
        if let CompileOutcome::Failed { diagnostics } = &result.outcome {
            let mut installed_any = false;
            for header in library::missing_headers(diagnostics) {
                let resolved = library::resolve(
                    &setup.catalog,
                    compiler,
                    Some(&setup.tinyml_api),
                    attempt,
                    &header,
                )
                .await
                .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
                emit(&Event::LibraryResolved(resolved.clone()));
                if let (Some(name), true) = (&resolved.library, resolved.allowed) {
                    let install = library::install(
                        &setup.catalog,
                        compiler,
                        attempt,
                        name,
                        setup.policies.libraries.allow_install,
                    )
                    .await
                    .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
                    // "Already installed" succeeds but changes nothing: no second compile.
                    installed_any |= install.changed;
                    emit(&Event::LibraryInstalled(install.event));
                }
            }
            if installed_any {
                result = self.compile(compiler, sketch, build_dir, attempt).await?;
            }
        }
        Ok(result)
    }

    /// What the build of an attempt says: a failed compile comes back with its diagnostics
    /// and the real declarations they name; a successful one goes through the size check, the
    /// simulation and, for boards without a simulator, the host check.
    #[expect(
        clippy::too_many_arguments,
        reason = "the attempt's sketch, folders and build, borrowed for one judgement"
    )]
    async fn judge_build(
        &mut self,
        compiler: &Compiler,
        sketch: &Sketch,
        sketch_dir: &Path,
        build_dir: &Path,
        name: &str,
        attempt: u32,
        result: &CompileResult,
    ) -> Result<AttemptVerdict, Ending> {
        let setup = self.setup;
        match &result.outcome {
            CompileOutcome::ToolchainMissing { detail } => {
                // No compiler for this board: for a TinyML target the host build replaces the
                // compile (clearly marked as such), and only its verdict can pass the attempt.
                if !self.host_check_applies() {
                    return Err(infrastructure(infra::TOOLCHAIN_MISSING, detail.clone()));
                }
                emit(&Event::Note(Note {
                    kind: "host_build".into(),
                    message: format!(
                        "{detail}: a host build (native g++, API profile, stand-ins) replaces the compile"
                    ),
                }));
                match self.host_check(sketch_dir, build_dir, attempt).await? {
                    HostResult::Passed => self.succeed(sketch_dir, name, attempt),
                    HostResult::Failed(failed) => Ok(AttemptVerdict::Failed(failed)),
                    HostResult::NotJudged(why) => Err(infrastructure(
                        infra::TOOLCHAIN_MISSING,
                        format!("{detail}; the host check could not judge the sketch: {why}"),
                    )),
                }
            }
            CompileOutcome::TimedOut { after_ms } => {
                Ok(AttemptVerdict::Failed(FailedAttempt::new(
                    AttemptOutcome::CompileTimedOut,
                    format!(
                        "the compiler did not finish within {} s and was stopped",
                        after_ms / 1000
                    ),
                )))
            }
            CompileOutcome::Failed { diagnostics } => {
                let symbols = autopilot_toolchain::symbols_from_diagnostics(diagnostics);
                let dirs = if result.include_dirs.is_empty() {
                    compiler.include_dirs(sketch)
                } else {
                    result.include_dirs.clone()
                };
                let declarations = autopilot_toolchain::find_declarations(
                    &symbols,
                    &dirs,
                    LookupLimits::default(),
                );
                let first = result
                    .outcome
                    .errors()
                    .next()
                    .map(|d| first_line(&d.message))
                    .unwrap_or_default();
                let mut failed = FailedAttempt::new(AttemptOutcome::CompileFailed, first);
                failed.diagnostics.clone_from(diagnostics);
                failed.declarations = declarations;
                Ok(AttemptVerdict::Failed(failed))
            }
            CompileOutcome::Succeeded { size, .. } => {
                if let Some(failed) = self.check_size(*size, attempt) {
                    return Ok(AttemptVerdict::Failed(failed));
                }
                if let Some(failed) = self.simulate(result, attempt).await? {
                    return Ok(AttemptVerdict::Failed(failed));
                }
                // A board without a simulator: the host check judges the behaviour after the
                // real compile. A check that cannot judge leaves the real compile's success.
                if setup.target.simulator.is_none()
                    && self.host_check_applies()
                    && let HostResult::Failed(failed) =
                        self.host_check(sketch_dir, build_dir, attempt).await?
                {
                    return Ok(AttemptVerdict::Failed(failed));
                }
                self.succeed(sketch_dir, name, attempt)
            }
        }
    }

    /// The end of a successful attempt: the sketch is copied to the final folder.
    fn succeed(
        &mut self,
        sketch_dir: &Path,
        name: &str,
        attempt: u32,
    ) -> Result<AttemptVerdict, Ending> {
        let final_dir = self
            .setup
            .final_dir
            .clone()
            .unwrap_or_else(|| self.artifacts.join("final"))
            .join(name);
        if let Some(parent) = final_dir.parent()
            && final_dir.starts_with(&self.artifacts)
        {
            self.make_dir(parent)
                .map_err(|e| local("cannot copy the final sketch", e))?;
        }
        let header = self
            .setup
            .app
            .model
            .as_ref()
            .map(|m| m.header_name.as_str());
        copy_sketch(sketch_dir, &final_dir, header)
            .map_err(|e| local("cannot copy the final sketch", e))?;
        emit(&Event::AttemptFinished(AttemptFinished {
            stage: Stage::Sketch,
            attempt,
            outcome: AttemptOutcome::Succeeded,
            message: format!("sketch written to {}", final_dir.display()),
        }));
        Ok(AttemptVerdict::Passed { final_dir })
    }
}
