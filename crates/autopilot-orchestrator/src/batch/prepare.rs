//! A batch invocation's run directory made ready: the manifest checked (the same experiment
//! resumes, another one is refused) and written, then what runs decided — finished sessions
//! kept, interrupted ones (and, with `retry_failed`, those that ended on infrastructure errors)
//! set aside to run again.

use std::path::{Path, PathBuf};

use autopilot_toolchain::{Compiler, Target, ToolchainConfig};
use autopilot_trace::{ComponentVersion, PipelineStage, RunDirSink, format_timestamp};

use super::experiment::Experiment;
use super::plan::SessionPlan;
use super::resume::{
    Manifest, ManifestError, PlannedAction, pipeline_action, planned_action, read_manifest,
    set_aside, write_manifest,
};

/// What this invocation records in the manifest besides the experiment, and how it resumes.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The shard (`K/N`) this invocation runs, if any.
    pub shard: Option<String>,
    /// The version of the program that runs the batch.
    pub autopilot_version: String,
    pub git_revision: Option<String>,
    /// Also run again the sessions that ended on an infrastructure error.
    pub retry_failed: bool,
}

/// How many sessions this invocation runs ([`pending_sessions`] yields them) and how many
/// finished before.
#[derive(Debug)]
pub struct PreparedRun {
    pub pending: usize,
    pub kept: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The run directory holds a run of another experiment, or of an edited experiment file.
    #[error("{} holds {what}; choose another --out, or restore the file to resume that run", dir.display())]
    OtherExperiment { dir: PathBuf, what: String },
    /// A session's files could not be read or set aside.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Checks and writes the manifest of `out` and decides what runs. The tool versions of the
/// experiment's `targets` are read only once the manifest allows the run.
pub async fn prepare_run_dir(
    out: &Path,
    experiment: &Experiment,
    plans: impl IntoIterator<Item = SessionPlan>,
    invocation: &Invocation,
    targets: &[Target],
    toolchain: &ToolchainConfig,
) -> Result<PreparedRun, PrepareError> {
    let hash = Manifest::hash_experiment(experiment);
    let now = format_timestamp(jiff::Timestamp::now());
    let previous = read_manifest(out)?;
    if let Some(previous) = &previous
        && previous.experiment_hash != hash
    {
        // The same name with another hash: the experiment file was edited since that run.
        let what = if previous.experiment.name == experiment.name {
            format!(
                "a run of experiment `{}` made from a different version of its file (it was edited since)",
                previous.experiment.name
            )
        } else {
            format!(
                "a run of another experiment, `{}`",
                previous.experiment.name
            )
        };
        return Err(PrepareError::OtherExperiment {
            dir: out.to_owned(),
            what,
        });
    }
    let manifest = Manifest {
        format: 1,
        experiment: experiment.clone(),
        experiment_hash: hash,
        shard: invocation.shard.clone(),
        autopilot_version: invocation.autopilot_version.clone(),
        git_revision: invocation.git_revision.clone(),
        tool_versions: tool_versions(targets, toolchain).await,
        created: previous
            .as_ref()
            .map_or_else(|| now.clone(), |p| p.created.clone()),
        updated: now,
        invocations: previous.as_ref().map_or(1, |p| p.invocations + 1),
    };
    write_manifest(out, &manifest)?;

    // What runs: finished sessions are kept; interrupted ones are set aside and run again.
    let mut pending = 0usize;
    let mut kept = 0usize;
    // A pipeline's unit of resume is its first unfinished stage session.
    for plan in plans {
        let (action, session) = if experiment.stages.is_empty() {
            let action = planned_action(&plan, out, invocation.retry_failed)?;
            (action, Some(plan.id.clone()))
        } else {
            pipeline_action(&plan, &experiment.stages, out, invocation.retry_failed)?
        };
        match (action, session) {
            (PlannedAction::Keep, _) => kept += 1,
            (PlannedAction::Rerun { reason }, Some(session)) => {
                tracing::info!(session = %session, reason, "running again");
                set_aside(out, &session)?;
                pending += 1;
            }
            (PlannedAction::Run | PlannedAction::Rerun { .. }, _) => pending += 1,
        }
    }
    Ok(PreparedRun { pending, kept })
}

/// The sessions of `plans` that run, after [`prepare_run_dir`] has set aside the ones that run
/// again: those without a trace file, in plan order, found one at a time as they are asked
/// for (the batch holds the running sessions, not the plan).
pub fn pending_sessions(
    out: &Path,
    plans: impl IntoIterator<Item = SessionPlan>,
) -> impl Iterator<Item = SessionPlan> {
    let out = out.to_owned();
    plans
        .into_iter()
        .filter(move |plan| !RunDirSink::session_path(&out, &plan.id).exists())
}

/// [`pending_sessions`] for an experiment of pipelines (`stages`; empty: sessions): the
/// planned pipelines not finished, after [`prepare_run_dir`].
pub fn pending_plans(
    out: &Path,
    stages: &[PipelineStage],
    plans: impl IntoIterator<Item = SessionPlan>,
) -> impl Iterator<Item = SessionPlan> {
    let out = out.to_owned();
    let stages = stages.to_vec();
    plans.into_iter().filter(move |plan| {
        if stages.is_empty() {
            return !RunDirSink::session_path(&out, &plan.id).exists();
        }
        // An unreadable trace: run it, and let the run say what is wrong.
        !matches!(
            pipeline_action(plan, &stages, &out, false),
            Ok((PlannedAction::Keep, _))
        )
    })
}

/// Tool, core and library versions of every target the experiment uses.
async fn tool_versions(targets: &[Target], toolchain: &ToolchainConfig) -> Vec<ComponentVersion> {
    let mut versions: Vec<ComponentVersion> = Vec::new();
    for target in targets {
        if let Ok(compiler) = Compiler::new(target, toolchain.clone()).await {
            for version in compiler.versions() {
                if !versions.contains(version) {
                    versions.push(version.clone());
                }
            }
        }
    }
    versions
}
