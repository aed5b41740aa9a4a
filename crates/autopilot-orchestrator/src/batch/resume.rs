//! Resuming a run directory: its manifest, the state of each planned session, what to run
//! again, and setting aside the files of sessions that run again (never deleting them).
//!
//! Layout: `<run>/manifest.json`, `<run>/sessions/<id>.jsonl`, `<run>/artifacts/<id>/`, and
//! `<run>/superseded/` for the files of sessions that were run again.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use autopilot_trace::{
    ComponentVersion, Event, PipelineStage, RunDirSink, SessionId, SessionOutcome, TraceRecord,
};
use serde::{Deserialize, Serialize};

use super::experiment::Experiment;
use super::plan::SessionPlan;

/// What a run directory says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    pub experiment: Experiment,
    /// SHA-256 of the experiment without its concurrency limits (those may change between
    /// invocations without changing the results).
    pub experiment_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub autopilot_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_revision: Option<String>,
    #[serde(default)]
    pub tool_versions: Vec<ComponentVersion>,
    pub created: String,
    pub updated: String,
    /// How many times a batch command ran in this directory.
    pub invocations: u32,
}

impl Manifest {
    /// The hash that decides whether a run directory holds the same experiment.
    pub(crate) fn hash_experiment(experiment: &Experiment) -> String {
        let mut canonical = experiment.clone();
        canonical.concurrency = super::experiment::ConcurrencyLimits::default();
        let json = serde_json::to_vec(&canonical).unwrap_or_default();
        autopilot_trace::sha256_hex(&json)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable manifest: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn manifest_path(run_dir: &Path) -> PathBuf {
    run_dir.join("manifest.json")
}

/// Reads `<run>/manifest.json`; `None` when there is none.
pub(crate) fn read_manifest(run_dir: &Path) -> Result<Option<Manifest>, ManifestError> {
    let path = manifest_path(run_dir);
    match fs_err::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ManifestError::Invalid {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ManifestError::Io { path, source }),
    }
}

/// Writes the manifest atomically (a temporary file renamed over the old one).
pub(crate) fn write_manifest(run_dir: &Path, manifest: &Manifest) -> Result<(), ManifestError> {
    let path = manifest_path(run_dir);
    let io = |source| ManifestError::Io {
        path: path.clone(),
        source,
    };
    fs_err::create_dir_all(run_dir).map_err(io)?;
    let tmp = run_dir.join(".manifest.json.tmp");
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| ManifestError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs_err::write(&tmp, json).map_err(io)?;
    fs_err::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

/// What the run directory holds for one planned session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SessionState {
    /// No trace yet.
    Missing,
    /// The trace ends with `session_finished`.
    Finished(SessionOutcome),
    /// A trace without `session_finished`: the process died mid-session.
    Interrupted,
}

/// How much of a trace's end is read to find `session_finished` (a few hundred bytes long).
const SCAN_TAIL_BYTES: u64 = 64 * 1024;

/// Reads only the end of a session's trace to find its `session_finished`.
pub(crate) fn scan_session(run_dir: &Path, id: &SessionId) -> std::io::Result<SessionState> {
    let path = RunDirSink::session_path(run_dir, id);
    let mut file = match fs_err::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SessionState::Missing),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(SCAN_TAIL_BYTES)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    // The last complete line: a finished session's file ends with "}\n".
    let Some(body) = tail.strip_suffix(b"\n") else {
        return Ok(SessionState::Interrupted);
    };
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
    match serde_json::from_slice::<TraceRecord>(last) {
        Ok(TraceRecord {
            event: Event::SessionFinished(finished),
            ..
        }) => Ok(SessionState::Finished(finished.outcome)),
        _ => Ok(SessionState::Interrupted),
    }
}

/// What a batch invocation does with a planned session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlannedAction {
    /// Finished before: kept as it is.
    Keep,
    /// Never started.
    Run,
    /// Started before and runs again; its old files are set aside first.
    Rerun { reason: String },
}

/// Decides, per planned session, whether it runs. Finished sessions are kept — a session
/// that exhausted its budget is a result — except those that ended on an infrastructure
/// error when `retry_failed` is set.
pub(crate) fn planned_action(
    plan: &SessionPlan,
    run_dir: &Path,
    retry_failed: bool,
) -> std::io::Result<PlannedAction> {
    Ok(match scan_session(run_dir, &plan.id)? {
        SessionState::Missing => PlannedAction::Run,
        SessionState::Interrupted => PlannedAction::Rerun {
            reason: "interrupted".into(),
        },
        SessionState::Finished(SessionOutcome::InfrastructureError { kind, .. })
            if retry_failed =>
        {
            PlannedAction::Rerun {
                reason: format!("infrastructure error ({kind})"),
            }
        }
        SessionState::Finished(_) => PlannedAction::Keep,
    })
}

/// [`planned_action`] for a planned pipeline: its stage sessions (`<id>-<stage>`) read in
/// order. The pipeline is kept when every stage succeeded or one ended (a failed stage is a
/// result, as a session is); otherwise it runs from its first unfinished stage — the earlier
/// ones are resumed by the pipeline runner from their manifests, never run again. Returns the
/// stage session whose files are set aside when the action is a re-run.
pub(crate) fn pipeline_action(
    plan: &SessionPlan,
    stages: &[PipelineStage],
    run_dir: &Path,
    retry_failed: bool,
) -> std::io::Result<(PlannedAction, Option<SessionId>)> {
    for &stage in stages {
        let id = crate::pipeline::stage_session_id(plan.id.as_str(), stage);
        let action = match scan_session(run_dir, &id)? {
            SessionState::Finished(SessionOutcome::Success { .. }) => continue,
            SessionState::Missing => PlannedAction::Run,
            SessionState::Interrupted => PlannedAction::Rerun {
                reason: format!("{stage} stage interrupted"),
            },
            SessionState::Finished(SessionOutcome::InfrastructureError { kind, .. })
                if retry_failed =>
            {
                PlannedAction::Rerun {
                    reason: format!("{stage} stage: infrastructure error ({kind})"),
                }
            }
            SessionState::Finished(_) => PlannedAction::Keep,
        };
        return Ok((action, Some(id)));
    }
    Ok((PlannedAction::Keep, None))
}

/// Moves a session's trace and artifacts to `<run>/superseded/<id>.<n>…` so it can run again.
pub(crate) fn set_aside(run_dir: &Path, id: &SessionId) -> std::io::Result<()> {
    let superseded = run_dir.join("superseded");
    let trace = RunDirSink::session_path(run_dir, id);
    let artifacts = run_dir.join("artifacts").join(id.as_str());
    if !trace.exists() && !artifacts.exists() {
        return Ok(());
    }
    fs_err::create_dir_all(&superseded)?;
    let mut n = 1u32;
    while superseded.join(format!("{id}.{n}.jsonl")).exists()
        || superseded.join(format!("{id}.{n}")).exists()
    {
        n += 1;
    }
    if trace.exists() {
        fs_err::rename(&trace, superseded.join(format!("{id}.{n}.jsonl")))?;
    }
    if artifacts.exists() {
        fs_err::rename(&artifacts, superseded.join(format!("{id}.{n}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, event: &str) -> String {
        format!(
            "{{\"v\":1,\"session\":\"s\",\"seq\":{seq},\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":{event}}}\n"
        )
    }

    const FINISHED: &str = r#"{"type":"session_finished","outcome":{"status":"infrastructure_error","kind":"llm_unreachable","message":"x"},"totals":{"attempts":1,"llm_calls":3,"input_tokens":0,"output_tokens":0,"wall_ms":5}}"#;
    const NOTE: &str = r#"{"type":"note","kind":"k","message":"m"}"#;

    #[test]
    fn states_come_from_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let id = SessionId::new("s").unwrap();
        assert_eq!(
            scan_session(dir.path(), &id).unwrap(),
            SessionState::Missing
        );
        let path = RunDirSink::session_path(dir.path(), &id);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, line(0, NOTE)).unwrap();
        assert_eq!(
            scan_session(dir.path(), &id).unwrap(),
            SessionState::Interrupted
        );
        fs_err::write(&path, line(0, NOTE) + &line(1, FINISHED)[..40]).unwrap();
        assert_eq!(
            scan_session(dir.path(), &id).unwrap(),
            SessionState::Interrupted
        );
        fs_err::write(&path, line(0, NOTE) + &line(1, FINISHED)).unwrap();
        assert!(matches!(
            scan_session(dir.path(), &id).unwrap(),
            SessionState::Finished(SessionOutcome::InfrastructureError { .. })
        ));
    }

    /// A pipeline resumes at its first unfinished stage; a failed stage ends it as a result.
    #[test]
    fn a_pipeline_runs_from_its_first_unfinished_stage() {
        use crate::batch::{Experiment, expand};
        let exp = Experiment::parse(
            "name='e'\napp='a.toml'\nmodels=['replay:x']\nstages=['dp','mc','sg']\n",
            Path::new("e.toml"),
        )
        .unwrap();
        let plan = &expand(&exp).unwrap()[0];
        let dir = tempfile::tempdir().unwrap();
        let action = |retry| pipeline_action(plan, &exp.stages, dir.path(), retry).unwrap();
        let stage_id = |stage| crate::pipeline::stage_session_id(plan.id.as_str(), stage);
        let write = |stage, text: String| {
            let path = RunDirSink::session_path(dir.path(), &stage_id(stage));
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        };
        let success = r#"{"type":"session_finished","outcome":{"status":"success","attempt":1},"totals":{"attempts":1,"llm_calls":1,"wall_ms":5}}"#;
        let exhausted = r#"{"type":"session_finished","outcome":{"status":"exhausted","stage":"operation"},"totals":{"attempts":5,"llm_calls":5,"wall_ms":5}}"#;
        assert_eq!(
            action(false),
            (PlannedAction::Run, Some(stage_id(PipelineStage::Dp)))
        );
        write(PipelineStage::Dp, line(0, NOTE) + &line(1, success));
        write(PipelineStage::Mc, line(0, NOTE));
        assert_eq!(
            action(false),
            (
                PlannedAction::Rerun {
                    reason: "mc stage interrupted".into()
                },
                Some(stage_id(PipelineStage::Mc))
            )
        );
        write(PipelineStage::Mc, line(0, NOTE) + &line(1, FINISHED));
        assert_eq!(action(false).0, PlannedAction::Keep);
        assert!(matches!(action(true).0, PlannedAction::Rerun { .. }));
        write(PipelineStage::Mc, line(0, NOTE) + &line(1, exhausted));
        assert_eq!(
            action(true).0,
            PlannedAction::Keep,
            "a failed stage is a result"
        );
        write(PipelineStage::Mc, line(0, NOTE) + &line(1, success));
        assert_eq!(
            action(false),
            (PlannedAction::Run, Some(stage_id(PipelineStage::Sg)))
        );
        write(PipelineStage::Sg, line(0, NOTE) + &line(1, success));
        assert_eq!(action(false), (PlannedAction::Keep, None));
    }

    #[test]
    fn set_aside_keeps_every_generation() {
        let dir = tempfile::tempdir().unwrap();
        let id = SessionId::new("s").unwrap();
        let path = RunDirSink::session_path(dir.path(), &id);
        for generation in 1..=2 {
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, format!("gen {generation}")).unwrap();
            fs_err::create_dir_all(dir.path().join("artifacts/s")).unwrap();
            set_aside(dir.path(), &id).unwrap();
            assert!(!path.exists());
        }
        assert_eq!(
            fs_err::read_to_string(dir.path().join("superseded/s.1.jsonl")).unwrap(),
            "gen 1"
        );
        assert_eq!(
            fs_err::read_to_string(dir.path().join("superseded/s.2.jsonl")).unwrap(),
            "gen 2"
        );
        assert!(dir.path().join("superseded/s.2").is_dir());
    }
}
