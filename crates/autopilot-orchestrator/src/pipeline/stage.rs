//! One Python stage as a session: its span and trace (`session_started`,
//! `pipeline_stage_started` … `pipeline_stage_ended`, `session_finished`, always), its LLM calls
//! with their accounting, and its sandboxed Python runs with their `python_run` events.

use std::path::{Path, PathBuf};
use std::time::Instant;

use autopilot_llm::{CallContext, ChatRequest, LlmErrorKind};
use autopilot_steps::{StagePrompts, tail};
use autopilot_toolchain::{ProcessError, ProcessOutput, PythonEnv, PythonJob, Termination};
use autopilot_trace::{
    AttemptFinished, AttemptOutcome, ChatMessage, Event, Note, PipelineStage, PipelineStageEnded,
    PipelineStageStarted, PythonRun, PythonTermination, SessionFinished, SessionId, SessionOutcome,
    SessionStarted, SessionTotals, Stage, StageFile, TraceOrigin, emit, session_span,
};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::setup::PipelineSetup;
use crate::session::infra;

/// Why a stage stops early, as its session's outcome.
pub(super) type Ending = SessionOutcome;

/// Lines and bytes of a run's output kept in `python_run` and quoted in repair prompts.
const TAIL_LINES: usize = 30;
const TAIL_BYTES: usize = 4000;

/// How one stage session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StageResult {
    pub stage: PipelineStage,
    pub session: SessionId,
    pub outcome: SessionOutcome,
    pub totals: SessionTotals,
    /// The validated outputs (empty unless it succeeded).
    pub outputs: Vec<StageFile>,
    /// Taken from an earlier run's manifest: nothing was run again.
    pub resumed: bool,
}

impl StageResult {
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, SessionOutcome::Success { .. })
    }

    /// The output of a role (`dataset`, `tflite`, `header`, `sketch`).
    pub fn output(&self, role: &str) -> Option<&StageFile> {
        self.outputs.iter().find(|f| f.role == role)
    }
}

/// The state of a running Python stage.
pub(super) struct StageRun<'a> {
    pub(super) setup: &'a PipelineSetup,
    pub(super) python: PythonEnv,
    pub(super) prompts: StagePrompts,
    /// The work folder (`artifacts/<session>/`), the only place its Python may write.
    pub(super) work: PathBuf,
    /// Where validated outputs go (`stages/<stage>/`).
    pub(super) out: PathBuf,
    pub(super) totals: SessionTotals,
    cost: f64,
    all_priced: bool,
}

/// A file as a trace names it: role, path, SHA-256, size.
pub(super) fn stage_file(role: &str, path: &Path) -> Result<StageFile, Ending> {
    let bytes = fs_err::read(path).map_err(|e| local("cannot read a stage file", e))?;
    Ok(StageFile {
        role: role.to_owned(),
        path: path.display().to_string(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes: bytes.len() as u64,
    })
}

pub(super) fn local(context: &str, error: impl std::fmt::Display) -> Ending {
    SessionOutcome::InfrastructureError {
        kind: infra::LOCAL,
        message: format!("{context}: {error}"),
    }
}

/// Runs one Python stage as its own session, in its own span (so its events go to its trace
/// file), ending with `session_finished` whatever happened, also when `stop` resolves.
pub(super) async fn run_stage_session(
    setup: &PipelineSetup,
    stage: PipelineStage,
    id: SessionId,
    inputs: Vec<StageFile>,
    stop: impl Future<Output = String>,
    body: impl AsyncFnOnce(&mut StageRun<'_>) -> Result<Vec<StageFile>, Ending>,
) -> StageResult {
    let span = session_span(&id);
    async move {
        let start = Instant::now();
        emit(&Event::SessionStarted(SessionStarted {
            app: setup.app.name.clone(),
            app_path: Some(setup.app.path.display().to_string()),
            target: setup.target.name.clone(),
            fqbn: Some(setup.target.fqbn.clone()),
            provider: setup.llm.model().provider.as_str().to_owned(),
            model: setup.llm.model().model.clone(),
            endpoint: setup.llm.backend().endpoint(),
            prompt_variant: "lifecycle".to_owned(),
            sampling: setup.sampling.clone(),
            seed: setup.sampling.seed,
            tool_versions: Vec::new(),
            autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
            batch: setup.batch.clone(),
            origin: TraceOrigin::Native,
        }));
        if let Some(note) = &setup.note {
            emit(&Event::Note(Note {
                kind: "session_note".into(),
                message: note.clone(),
            }));
        }
        emit(&Event::PipelineStageStarted(PipelineStageStarted {
            pipeline: setup.pipeline.clone(),
            stage,
            inputs,
        }));
        let mut totals = SessionTotals::default();
        let result = match &setup.python {
            // No environment: the stage refuses to run, with the fix; nothing runs unsandboxed.
            Err(fix) => Err(SessionOutcome::InfrastructureError {
                kind: infra::TOOLCHAIN_MISSING,
                message: fix.clone(),
            }),
            Ok(python) => {
                let mut run = StageRun {
                    setup,
                    python: python.clone(),
                    prompts: StagePrompts::new(),
                    work: setup.run_dir.join("artifacts").join(id.as_str()),
                    out: setup.stage_dir(stage),
                    totals: SessionTotals::default(),
                    cost: 0.0,
                    all_priced: true,
                };
                let result = match prepare(&run.work, &run.out) {
                    // Stopped (SIGINT/SIGTERM): the step under way is dropped, which kills
                    // its sandbox; the session still ends with its last events.
                    Ok(()) => tokio::select! {
                        result = body(&mut run) => result,
                        reason = stop => Err(SessionOutcome::Aborted { reason }),
                    },
                    Err(ending) => Err(ending),
                };
                run.totals.cost_usd =
                    (run.all_priced && run.totals.llm_calls > 0).then_some(run.cost);
                totals = run.totals;
                result
            }
        };
        totals.wall_ms = super::runner::millis(start.elapsed());
        let (outcome, outputs, message) = match result {
            Ok(outputs) => (
                SessionOutcome::Success {
                    attempt: totals.attempts.max(1),
                },
                outputs,
                String::new(),
            ),
            Err(ending) => {
                let message = describe(&ending);
                (ending, Vec::new(), message)
            }
        };
        emit(&Event::PipelineStageEnded(PipelineStageEnded {
            pipeline: setup.pipeline.clone(),
            stage,
            succeeded: matches!(outcome, SessionOutcome::Success { .. }),
            outputs: outputs.clone(),
            message,
            duration_ms: totals.wall_ms,
        }));
        emit(&Event::SessionFinished(SessionFinished {
            outcome: outcome.clone(),
            totals: totals.clone(),
        }));
        StageResult {
            stage,
            session: id.clone(),
            outcome,
            totals,
            outputs,
            resumed: false,
        }
    }
    .instrument(span)
    .await
}

fn prepare(work: &Path, out: &Path) -> Result<(), Ending> {
    fs_err::create_dir_all(work).map_err(|e| local("cannot make the work folder", e))?;
    // The stage's earlier outputs (of a failed or changed run) must not pass for this run's.
    if out.exists() {
        fs_err::remove_dir_all(out).map_err(|e| local("cannot clear the stage folder", e))?;
    }
    fs_err::create_dir_all(out).map_err(|e| local("cannot make the stage folder", e))
}

fn describe(outcome: &SessionOutcome) -> String {
    match outcome {
        SessionOutcome::Success { .. } => String::new(),
        SessionOutcome::Exhausted { stage } => format!("{stage} attempts exhausted"),
        SessionOutcome::Aborted { reason } => reason.clone(),
        SessionOutcome::InfrastructureError { kind, message } => format!("{kind}: {message}"),
    }
}

impl StageRun<'_> {
    /// One LLM request; its calls, tokens and cost go to the stage's totals. A stage has no
    /// fallback model: a failure that outlasts the client's retries ends the stage.
    pub(super) async fn ask(
        &mut self,
        stage: Stage,
        attempt: u32,
        messages: Vec<ChatMessage>,
    ) -> Result<String, Ending> {
        let request = ChatRequest {
            messages,
            sampling: self.setup.sampling.clone(),
            stream: self.setup.stream,
            timeout: Some(self.setup.policies.timeouts.llm_call()),
        };
        match self
            .setup
            .llm
            .chat(&CallContext::new(stage, attempt), &request)
            .await
        {
            Ok(answer) => {
                crate::session::ask::account(
                    &mut self.totals,
                    &mut self.cost,
                    &mut self.all_priced,
                    &answer,
                );
                Ok(answer.text)
            }
            Err(error) => {
                self.totals.llm_calls += error.tries();
                let message = format!(
                    "{} after {} tries: {}",
                    autopilot_llm::describe(error.kind()),
                    error.tries(),
                    error.detail()
                );
                let kind = match error.kind() {
                    LlmErrorKind::ReplayMiss => infra::REPLAY_MISS,
                    LlmErrorKind::Timeout => infra::LLM_TIMED_OUT,
                    _ if !error.is_transient() => infra::LLM_REJECTED,
                    _ => infra::LLM_UNREACHABLE,
                };
                Err(SessionOutcome::InfrastructureError { kind, message })
            }
        }
    }

    /// Writes `code` into the work folder as `name`.
    pub(super) fn write_script(&self, name: &str, code: &str) -> Result<PathBuf, Ending> {
        let path = self.work.join(name);
        fs_err::write(&path, code).map_err(|e| local("cannot write a script", e))?;
        Ok(path)
    }

    /// Runs a job in the sandbox and records it as `python_run`. A script that fails is an
    /// `Ok` output; a sandbox that cannot run is the stage's infrastructure error.
    pub(super) async fn run_python(
        &mut self,
        job: &PythonJob,
        purpose: &str,
        attempt: u32,
    ) -> Result<ProcessOutput, Ending> {
        let script = fs_err::read(&job.script).map_err(|e| local("cannot read a script", e))?;
        let output = autopilot_toolchain::run_python(&self.setup.sandbox, &self.python, job)
            .await
            .map_err(|error| SessionOutcome::InfrastructureError {
                kind: match error {
                    ProcessError::SandboxMissing { .. } | ProcessError::NotFound { .. } => {
                        infra::TOOLCHAIN_MISSING
                    }
                    _ => infra::TOOLCHAIN_FAILED,
                },
                message: error.to_string(),
            })?;
        let (termination, signal) = match output.termination {
            Termination::Exited { .. } => (PythonTermination::Exited, None),
            Termination::Signaled { signal } => (PythonTermination::Signaled, Some(signal)),
            Termination::TimedOut => (PythonTermination::TimedOut, None),
            Termination::Stopped => (PythonTermination::Stopped, None),
        };
        emit(&Event::PythonRun(PythonRun {
            purpose: purpose.to_owned(),
            attempt,
            script_sha256: hex::encode(Sha256::digest(&script)),
            termination,
            exit_code: output.exit_code(),
            signal,
            duration_ms: super::runner::millis(output.duration),
            stdout_tail: tail(&output.stdout.text(), TAIL_LINES, TAIL_BYTES),
            stderr_tail: tail(&output.stderr.text(), TAIL_LINES, TAIL_BYTES),
        }));
        Ok(output)
    }
}

/// Records how an attempt of a stage ended.
pub(super) fn attempt_finished(
    stage: Stage,
    attempt: u32,
    outcome: AttemptOutcome,
    message: String,
) {
    emit(&Event::AttemptFinished(AttemptFinished {
        stage,
        attempt,
        outcome,
        message,
    }));
}

/// Why a run failed, in words, and the error output a repair prompt quotes.
fn run_failure(output: &ProcessOutput) -> Option<(String, String)> {
    let problem = match output.termination {
        Termination::Exited { code: 0 } => return None,
        Termination::Exited { code } => format!("the script exited with status {code}"),
        Termination::Signaled { signal } => {
            format!("the script was killed by signal {signal} (a resource limit or a crash)")
        }
        Termination::TimedOut => "the script ran out of time and was killed".to_owned(),
        Termination::Stopped => "the script was stopped".to_owned(),
    };
    Some((problem, tail(&output.stderr.text(), TAIL_LINES, TAIL_BYTES)))
}

impl StageRun<'_> {
    /// [`run_failure`] with this machine's folders taken out of the error output (the work
    /// folder becomes `.`, the environment `<venv>`): the repair prompt then does not depend on
    /// where the run happened, so a recorded run replays request for request.
    pub(super) fn failure(&self, output: &ProcessOutput) -> Option<(String, String)> {
        let (problem, traceback) = run_failure(output)?;
        let work = format!("{}/", self.work.display());
        let venv = self.python.root().display().to_string();
        Some((
            problem,
            traceback.replace(&work, "").replace(&venv, "<venv>"),
        ))
    }
}
