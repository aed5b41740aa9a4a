//! The toolchain steps of a sketch attempt, each with its trace events: the compile, the size
//! check against the board, the simulation in simavr, and the host check (a native build and
//! run for TinyML boards nothing here can emulate); and whether the target can be built at all.

use std::path::Path;
use std::time::Instant;

use autopilot_toolchain::{
    BuildCapability, CompileOutcome, CompileResult, Compiler, SimulateRequest, Sketch,
};
use autopilot_trace::{
    AttemptOutcome, CheckVerdict, Event, HostVerdictKind, Note, SessionOutcome, SimulationStatus,
    SizeReport, Stage, StageFinished, StageStarted, emit,
};

use super::attempt::FailedAttempt;
use super::engine::{Run, first_line, millis};
use super::setup::{Ending, SessionSetup, infra, infrastructure};

impl Run<'_> {
    pub(super) async fn compile(
        &mut self,
        compiler: &Compiler,
        sketch: &Sketch,
        build_dir: &Path,
        attempt: u32,
    ) -> Result<CompileResult, Ending> {
        let started = Instant::now();
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Compile,
            attempt: Some(attempt),
        }));
        let result = compiler
            .compile(sketch, build_dir)
            .await
            .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
        self.totals.compiles += 1;
        if result.cache_hit {
            self.totals.cache_hits += 1;
        }
        emit(&Event::CompileFinished(result.to_trace_event(attempt)));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Compile,
            attempt: Some(attempt),
            succeeded: matches!(result.outcome, CompileOutcome::Succeeded { .. }),
            duration_ms: millis(started.elapsed()),
        }));
        Ok(result)
    }

    /// Flash and RAM against the target's limits.
    pub(super) fn check_size(
        &self,
        size: Option<SizeReport>,
        attempt: u32,
    ) -> Option<FailedAttempt> {
        let size = size?;
        let target = &self.setup.target;
        let mut problems = Vec::new();
        if size.flash_used > target.flash_bytes {
            problems.push(format!(
                "flash use {} B exceeds the board's {} B",
                size.flash_used, target.flash_bytes
            ));
        }
        if let Some(ram) = size.ram_used
            && ram > target.ram_bytes
        {
            problems.push(format!(
                "RAM use {ram} B exceeds the board's {} B",
                target.ram_bytes
            ));
        }
        emit(&Event::CheckVerdict(CheckVerdict {
            stage: Stage::Size,
            attempt,
            check: "size.fits".into(),
            passed: problems.is_empty(),
            message: problems.join("; "),
        }));
        if problems.is_empty() {
            None
        } else {
            let mut failed = FailedAttempt::new(AttemptOutcome::SizeExceeded, problems.join("; "));
            failed.problems = problems;
            Some(failed)
        }
    }

    /// Whether the host TinyML check is configured and the target pins a TinyML library.
    pub(super) fn host_check_applies(&self) -> bool {
        self.setup.host_check.is_some() && self.setup.target.tinyml.is_some()
    }

    /// Builds and runs the sketch on the host with the app's dataset; emits the verdict event.
    pub(super) async fn host_check(
        &mut self,
        sketch_dir: &Path,
        build_dir: &Path,
        attempt: u32,
    ) -> Result<HostResult, Ending> {
        let setup = self.setup;
        let (Some(config), Some(tinyml)) = (&setup.host_check, &setup.target.tinyml) else {
            return Ok(HostResult::NotJudged("no host check configured".into()));
        };
        let app = &setup.app;
        let dataset = app.host_dataset();
        let input = autopilot_hostrun::check::HostCheckInput {
            core: &setup.target.core,
            library: &tinyml.library,
            version: &tinyml.version,
            sketch_dir: sketch_dir.to_owned(),
            build_dir: build_dir.join("host"),
            dataset,
            classes: app.classes.clone(),
            mapping: app.host.clone(),
            extra_files: Vec::new(),
        };
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Simulate,
            attempt: Some(attempt),
        }));
        let started = Instant::now();
        let event = match autopilot_hostrun::check::run_host_check(config, &input, attempt).await {
            Ok(event) => event,
            Err(e) => {
                emit(&Event::Note(Note {
                    kind: "host_check_skipped".into(),
                    message: e.to_string(),
                }));
                return Ok(HostResult::NotJudged(e.to_string()));
            }
        };
        emit(&Event::HostCheckFinished(event.clone()));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Simulate,
            attempt: Some(attempt),
            succeeded: event.verdict == HostVerdictKind::Pass,
            duration_ms: millis(started.elapsed()),
        }));
        Ok(match event.verdict {
            HostVerdictKind::Pass => HostResult::Passed,
            HostVerdictKind::SkippedNoProfile | HostVerdictKind::UnsupportedOp => {
                HostResult::NotJudged(event.summary)
            }
            HostVerdictKind::BuildFailed => {
                let first = event
                    .diagnostics
                    .iter()
                    .find(|d| {
                        matches!(
                            d.severity,
                            autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
                        )
                    })
                    .map_or_else(|| event.summary.clone(), |d| first_line(&d.message));
                let mut failed = FailedAttempt::new(AttemptOutcome::CompileFailed, first);
                failed.diagnostics = event.diagnostics;
                HostResult::Failed(failed)
            }
            _ => {
                let problem = format!(
                    "host run of the sketch with the app's dataset: {}",
                    event.summary
                );
                let mut failed =
                    FailedAttempt::new(AttemptOutcome::SimulationFailed, problem.clone());
                failed.problems = vec![problem];
                HostResult::Failed(failed)
            }
        })
    }

    /// Runs the firmware in the target's simulator, when it has one; the serial output must
    /// show one of the expected tokens.
    pub(super) async fn simulate(
        &mut self,
        result: &CompileResult,
        attempt: u32,
    ) -> Result<Option<FailedAttempt>, Ending> {
        let setup = self.setup;
        let (Some(simulator), Some(elf)) = (&setup.target.simulator, &result.elf) else {
            return Ok(None);
        };
        if !setup.policies.simulation.enabled {
            emit(&Event::Note(Note {
                kind: "simulation_skipped".into(),
                message: "simulation.enabled = false in the policies: the firmware was not run"
                    .into(),
            }));
            return Ok(None);
        }
        let mut request = SimulateRequest::new(
            elf,
            &simulator.mcu,
            simulator.clock_hz,
            setup.policies.simulation.time_budget(),
            setup.app.expected_output.clone(),
        );
        request.simavr.clone_from(&setup.simavr);
        request.sandbox.clone_from(&setup.toolchain.sandbox);
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Simulate,
            attempt: Some(attempt),
        }));
        let simulation = autopilot_toolchain::simulate(&request)
            .await
            .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
        if let Some(refusal) = &simulation.refused {
            // The firmware never reached simavr: the verdict names the check that refused it.
            emit(&Event::CheckVerdict(CheckVerdict {
                stage: Stage::Simulate,
                attempt,
                check: refusal.check_id().into(),
                passed: false,
                message: refusal.to_string(),
            }));
        }
        emit(&Event::SimulationFinished(
            simulation.to_trace_event(attempt),
        ));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Simulate,
            attempt: Some(attempt),
            succeeded: simulation.status == SimulationStatus::Predicted,
            duration_ms: millis(simulation.duration),
        }));
        let serial_tail = simulation
            .serial
            .iter()
            .rev()
            .take(5)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        let problem = match simulation.status {
            SimulationStatus::Predicted => return Ok(None),
            SimulationStatus::SimulatorMissing => {
                emit(&Event::Note(Note {
                    kind: "simulation_skipped".into(),
                    message: "simavr is not installed: the sketch compiles, but was not run".into(),
                }));
                return Ok(None);
            }
            SimulationStatus::NoPrediction => format!(
                "the firmware ran for {} s in simavr and printed none of {:?} on Serial; last lines: {}",
                setup.policies.simulation.time_budget().as_secs(),
                setup.app.expected_output,
                if serial_tail.is_empty() {
                    "(nothing)".to_owned()
                } else {
                    serial_tail
                }
            ),
            SimulationStatus::Failed => {
                format!(
                    "the firmware could not run in simavr: {}",
                    simulation.detail.clone().unwrap_or_default()
                )
            }
        };
        let mut failed = FailedAttempt::new(AttemptOutcome::SimulationFailed, problem.clone());
        failed.problems = vec![problem];
        Ok(Some(failed))
    }
}

/// Checked before the first LLM call, so a session that cannot build spends nothing: a real
/// compiler, or — for a TinyML board without one — the host check standing in (the host build
/// then replaces the compile, marked as such per attempt).
pub(super) fn buildable(
    setup: &SessionSetup,
    capability: BuildCapability,
) -> Result<(), SessionOutcome> {
    let BuildCapability::Missing { detail, fix } = capability else {
        return Ok(());
    };
    let host = match host_readiness(setup) {
        Some(Ok(())) => return Ok(()),
        Some(Err(why)) => format!("; no host build either: {why}"),
        None => String::new(),
    };
    Err(infrastructure(
        infra::TOOLCHAIN_MISSING,
        format!(
            "cannot build for {} ({}): {detail}; fix: {fix}{host}",
            setup.target.name, setup.target.fqbn
        ),
    ))
}

/// Whether the host check can stand in for the compiler of this session's target: `None` when
/// it does not apply (no host check configured, or the target pins no TinyML library).
fn host_readiness(setup: &SessionSetup) -> Option<Result<(), String>> {
    let (Some(config), Some(tinyml)) = (&setup.host_check, &setup.target.tinyml) else {
        return None;
    };
    Some(autopilot_hostrun::check::readiness(
        config,
        &setup.target.core,
        &tinyml.library,
        &tinyml.version,
    ))
}

/// What the host check made of an attempt.
pub(super) enum HostResult {
    Passed,
    Failed(FailedAttempt),
    /// Skipped (no profile, no library) or unsupported: neither a pass nor the sketch's fault.
    NotJudged(String),
}
