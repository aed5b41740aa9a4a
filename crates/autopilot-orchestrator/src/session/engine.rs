//! The session loop: starts the session (compiler versions, `session_started`), checks that
//! the target can be built, fills the spec, runs the sketch rounds and the fallback variant, and
//! always ends with `session_finished`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use autopilot_llm::LlmClient;
use autopilot_steps::PromptFacts;
use autopilot_toolchain::Compiler;
use autopilot_trace::{
    Event, FallbackApplied, Note, PipelineStage, PipelineStageEnded, PipelineStageStarted,
    SessionFinished, SessionOutcome, SessionStarted, SessionTotals, Stage, TraceOrigin, emit,
    session_span,
};
use tracing::Instrument;

use super::checks;
use super::setup::{Ending, SessionReport, SessionSetup, infra, infrastructure, local};
use super::target::TargetView;

/// Files and folders a session has written (see [`Run::make_dir`]).
#[derive(Debug, Default)]
pub(super) struct Written {
    dirs: HashSet<PathBuf>,
    model_header: Option<PathBuf>,
    /// Prompt and answer files not written yet (see [`Run::write_prompt_file`]).
    pending: Vec<(String, String)>,
}

/// Mutable state of a running session.
pub(super) struct Run<'a> {
    pub(super) setup: &'a SessionSetup,
    pub(super) start: Instant,
    pub(super) totals: SessionTotals,
    pub(super) all_priced: bool,
    pub(super) cost: f64,
    /// The client in use (the fallback after a switch).
    pub(super) llm: LlmClient,
    pub(super) switched_model: bool,
    pub(super) artifacts: PathBuf,
    /// Artifact folders made so far, and the model header written first (later sketch folders
    /// link to it): fewer files and failing `mkdir`s per session.
    pub(super) written: Mutex<Written>,
    /// What the prompts see: the app, and the target as projected once ([`TargetView`]).
    pub(super) facts: PromptFacts,
}

/// Runs one session in its own span ([`autopilot_trace::session_span`], so its events go to its
/// trace file). It always ends with a `session_finished` event, and returns how it ended.
pub async fn run_session(setup: &SessionSetup) -> SessionReport {
    run_session_until(setup, std::future::pending()).await
}

/// [`run_session`] that also ends when `stop` resolves (the CLI passes SIGINT/SIGTERM): the
/// step under way is dropped, which kills its tool's process group, and the session ends
/// `aborted` with the reason `stop` gives — still with its `session_finished` event.
pub async fn run_session_until(
    setup: &SessionSetup,
    stop: impl Future<Output = String>,
) -> SessionReport {
    // The span is made here, on the first poll, so it belongs to the subscriber the caller
    // runs the future under; no caller can forget it.
    session_inner(setup, stop)
        .instrument(session_span(&setup.id))
        .await
}

async fn session_inner(setup: &SessionSetup, stop: impl Future<Output = String>) -> SessionReport {
    let start = Instant::now();
    let artifacts = setup.run_dir.join("artifacts").join(setup.id.as_str());
    let target = TargetView::new(&setup.target, &setup.catalog, &setup.tinyml_api);
    let facts = PromptFacts::new(&setup.app, target.facts, target.forbidden);
    // The compiler first: its tool, core and library versions belong in session_started.
    let compiler = Compiler::new(&setup.target, setup.toolchain.clone()).await;
    let mut tool_versions = setup.tool_versions.clone();
    if let Ok(compiler) = &compiler {
        for version in compiler.versions() {
            if !tool_versions.contains(version) {
                tool_versions.push(version.clone());
            }
        }
    }
    let mut run = Run {
        setup,
        start,
        totals: SessionTotals::default(),
        all_priced: true,
        cost: 0.0,
        llm: setup.llm.clone(),
        switched_model: false,
        artifacts,
        written: Mutex::default(),
        facts,
    };
    emit(&Event::SessionStarted(SessionStarted {
        app: setup.app.name.clone(),
        app_path: Some(setup.app.path.display().to_string()),
        target: setup.target.name.clone(),
        fqbn: Some(setup.target.fqbn.clone()),
        provider: setup.llm.model().provider.as_str().to_owned(),
        model: setup.llm.model().model.clone(),
        endpoint: setup.llm.backend().endpoint(),
        prompt_variant: setup.variant.clone(),
        sampling: setup.sampling.clone(),
        seed: setup.sampling.seed,
        tool_versions,
        autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
        batch: setup.batch.clone(),
        origin: TraceOrigin::Native,
    }));
    if setup.toolchain.sandbox.is_none() {
        // The user opted out: generated code compiles and runs with the host's full view.
        emit(&Event::Note(Note {
            kind: "sandbox_off".into(),
            message: "the sandbox is off (opted out): the compiler and simavr ran generated code \
                      unconfined"
                .into(),
        }));
    }
    if let Some(note) = &setup.note {
        emit(&Event::Note(Note {
            kind: "session_note".into(),
            message: note.clone(),
        }));
    }
    if let Some(pipeline) = &setup.pipeline {
        emit(&Event::PipelineStageStarted(PipelineStageStarted {
            pipeline: pipeline.clone(),
            stage: PipelineStage::Sg,
            inputs: Vec::new(),
        }));
    }
    let driven = match compiler {
        Ok(mut compiler) => match checks::buildable(setup, compiler.capability()) {
            // `stop` first: the CLI installs its signal handlers on stop's first poll, which
            // must come before the drive's first poll can start a compiler.
            Ok(()) => tokio::select! {
                biased;
                reason = stop => Err(SessionOutcome::Aborted { reason }),
                driven = run.drive(&mut compiler) => driven,
            },
            Err(ending) => Err(ending),
        },
        Err(error) => Err(infrastructure(infra::TOOLCHAIN_FAILED, error.to_string())),
    };
    // The last answer's file: no request followed it.
    let driven = match (driven, run.write_pending()) {
        (Ok(_), Err(ending)) => Err(ending),
        (driven, _) => driven,
    };
    let (outcome, sketch_dir) = match driven {
        Ok(dir) => (
            SessionOutcome::Success {
                attempt: run.totals.attempts,
            },
            Some(dir),
        ),
        Err(ending) => (ending, None),
    };
    run.totals.wall_ms = millis(run.start.elapsed());
    if let Some(pipeline) = &setup.pipeline {
        emit(&Event::PipelineStageEnded(PipelineStageEnded {
            pipeline: pipeline.clone(),
            stage: PipelineStage::Sg,
            succeeded: sketch_dir.is_some(),
            outputs: Vec::new(),
            message: String::new(),
            duration_ms: run.totals.wall_ms,
        }));
    }
    run.totals.cost_usd = super::ask::known_cost(&run.totals, run.cost, run.all_priced);
    emit(&Event::SessionFinished(SessionFinished {
        outcome: outcome.clone(),
        totals: run.totals.clone(),
    }));
    SessionReport {
        outcome,
        totals: run.totals,
        sketch_dir,
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

impl Run<'_> {
    pub(super) fn write_artifact(&self, relative: &str, content: &str) -> Result<(), Ending> {
        let path = self.artifacts.join(relative);
        if let Some(parent) = path.parent() {
            self.make_dir(parent)
                .map_err(|e| local("cannot write artifacts", e))?;
        }
        fs_err::write(&path, content).map_err(|e| local("cannot write artifacts", e))
    }

    /// A prompt or answer file, when the policies want them (they repeat what the trace's
    /// `llm_call` events hold). Written while the session's next request is out, or when the
    /// session ends ([`Run::write_pending`]): files between an answer and the next request
    /// were most of what many sessions answered at once queue for on the cores.
    pub(super) fn write_prompt_file(&self, relative: &str, content: &str) {
        if self.setup.policies.artifacts.prompt_files {
            self.written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending
                .push((relative.to_owned(), content.to_owned()));
        }
    }

    /// Writes the prompt and answer files not written yet.
    pub(super) fn write_pending(&self) -> Result<(), Ending> {
        let pending = std::mem::take(
            &mut self
                .written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending,
        );
        for (relative, content) in pending {
            self.write_artifact(&relative, &content)?;
        }
        Ok(())
    }

    /// Makes an artifact folder once per session, parents first (`create_dir_all` on an
    /// existing folder is a failing `mkdir` and a `stat`, on a folder whose parent is missing a
    /// failing `mkdir` before the parent's).
    pub(super) fn make_dir(&self, dir: &Path) -> std::io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        self.make_dir_in(&mut written, dir)
    }

    fn make_dir_in(&self, written: &mut Written, dir: &Path) -> std::io::Result<()> {
        if written.dirs.contains(dir) {
            return Ok(());
        }
        match dir.parent() {
            // Inside the session's folder: its parent first, then this one alone.
            Some(parent) if dir != self.artifacts && dir.starts_with(&self.artifacts) => {
                self.make_dir_in(written, parent)?;
                match fs_err::create_dir(dir) {
                    Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                        return Err(error);
                    }
                    _ => {}
                }
            }
            _ => fs_err::create_dir_all(dir)?,
        }
        written.dirs.insert(dir.to_owned());
        Ok(())
    }

    /// Puts the model header in a sketch folder: the first time written, then a hard link to
    /// that file (the same bytes, one file on disk instead of one per attempt), written again
    /// only where a link cannot be made.
    pub(super) fn place_model_header(&self, to: &Path, text: &str) -> std::io::Result<()> {
        let first = self
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .model_header
            .clone();
        if let Some(first) = first
            && fs_err::hard_link(&first, to).is_ok()
        {
            return Ok(());
        }
        fs_err::write(to, text)?;
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .model_header
            .get_or_insert_with(|| to.to_owned());
        Ok(())
    }

    async fn drive(&mut self, compiler: &mut Compiler) -> Result<PathBuf, Ending> {
        let spec = self.fill_spec().await?;
        let variant = self.setup.variant.clone();
        let budget = self.setup.policies.attempts.sketch;
        if let Some(dir) = self
            .sketch_rounds(compiler, &spec, &variant, 1, budget)
            .await?
        {
            return Ok(dir);
        }
        let exhausted = SessionOutcome::Exhausted {
            stage: Stage::Sketch,
        };
        let Some(fallback) = self
            .setup
            .policies
            .fallback
            .variant
            .clone()
            .filter(|v| v != &variant)
        else {
            return Err(exhausted);
        };
        emit(&Event::FallbackApplied(FallbackApplied {
            policy: "fallback_variant".into(),
            from: variant,
            to: fallback.clone(),
            reason: format!(
                "{budget} sketch attempts exhausted; one more round with prompt variant {fallback}"
            ),
        }));
        self.sketch_rounds(compiler, &spec, &fallback, budget + 1, budget)
            .await?
            .ok_or(exhausted)
    }
}
