//! The pipeline runner: the stages in order, each its own session (DP and MC here, SG through
//! the session engine), stopping at the first that fails. A stage that finished with valid
//! outputs is not run again: its manifest (`stages/<stage>/stage.json`) names its outputs by
//! content, and a later run of the pipeline into the same folder reuses them while they match.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::{
    PipelineStage, RunDirSink, SessionId, SessionOutcome, SessionTotals, StageFile,
};
use serde::{Deserialize, Serialize};

use super::setup::PipelineSetup;
pub use super::stage::StageResult;
use super::stage::{Ending, run_stage_session, stage_file};
use super::{dp, mc};
use crate::session::{infra, run_session_until};

/// The manifest file of a finished stage.
pub const MANIFEST: &str = "stage.json";

/// What a finished stage left: enough to resume after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageManifest {
    pub pipeline: String,
    pub stage: PipelineStage,
    pub session: String,
    /// What the stage started from (app file, data, models), by content.
    #[serde(default)]
    pub inputs: Vec<StageFile>,
    pub outputs: Vec<StageFile>,
}

/// How a pipeline run ended: one result per stage that ran or was resumed, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineReport {
    pub pipeline: String,
    pub stages: Vec<StageResult>,
}

impl PipelineReport {
    /// Every requested stage succeeded.
    pub fn succeeded(&self, requested: usize) -> bool {
        self.stages.len() == requested && self.stages.iter().all(StageResult::succeeded)
    }

    /// The first stage that did not succeed.
    pub fn failed(&self) -> Option<&StageResult> {
        self.stages.iter().find(|s| !s.succeeded())
    }

    /// The pipeline's outcome as one session's (a batch counts pipelines by it): the first
    /// failed stage's; success when all `requested` stages succeeded.
    pub fn outcome(&self, requested: usize) -> SessionOutcome {
        match self.failed() {
            Some(stage) => stage.outcome.clone(),
            None if self.stages.len() == requested => SessionOutcome::Success {
                attempt: self.stages.last().map_or(0, |s| match s.outcome {
                    SessionOutcome::Success { attempt } => attempt,
                    _ => 0,
                }),
            },
            // The runner stops early only at a failed stage; said all the same.
            None => SessionOutcome::Aborted {
                reason: "the pipeline stopped before its last stage".to_owned(),
            },
        }
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the pipeline's stages in order until one fails or `stop` resolves (the step under way
/// is dropped, its process group killed; the stage ends `aborted`, with its `session_finished`).
pub async fn run_pipeline(
    setup: &PipelineSetup,
    stop: impl Future<Output = String>,
) -> PipelineReport {
    let mut stop = std::pin::pin!(stop);
    let mut report = PipelineReport {
        pipeline: setup.pipeline.clone(),
        stages: Vec::new(),
    };
    for &stage in &setup.stages {
        let inputs = stage_inputs(setup, stage, &report);
        if let Some(resumed) = resumable(setup, stage, &inputs) {
            report.stages.push(resumed);
            continue;
        }
        let id = session_id(&setup.run_dir, &setup.pipeline, stage);
        let result = run_stage(setup, stage, id, &report, inputs.clone(), &mut stop).await;
        let ok = result.succeeded();
        if ok {
            write_manifest(setup, &result, inputs);
        }
        report.stages.push(result);
        if !ok {
            break;
        }
    }
    report
}

/// An output of an earlier stage of this run (or of a resumed one).
fn earlier(done: &PipelineReport, role: &str) -> Option<PathBuf> {
    done.stages
        .iter()
        .find_map(|s| s.output(role))
        .map(|f| PathBuf::from(&f.path))
}

/// What a stage starts from, by content: the app file, and the files its `[pipeline]` section
/// and the earlier stages give it. A stage is resumed only when these are unchanged too.
fn stage_inputs(
    setup: &PipelineSetup,
    stage: PipelineStage,
    done: &PipelineReport,
) -> Vec<StageFile> {
    let mut files = vec![file_or_skip("app", &setup.app.path)];
    if let Some(inputs) = &setup.app.pipeline {
        if stage == PipelineStage::Dp {
            files.push(file_or_skip("raw", &inputs.raw));
        }
        if stage == PipelineStage::Mc {
            // Representative data: DP's dataset when DP ran, else the held-out rows.
            let data = earlier(done, "dataset").unwrap_or_else(|| inputs.held_out.clone());
            files.push(file_or_skip("keras", &inputs.keras));
            files.push(file_or_skip("dataset", &data));
            files.push(file_or_skip("held_out", &inputs.held_out));
        }
    }
    if stage == PipelineStage::Sg
        && let Some(tflite) = earlier(done, "tflite")
    {
        files.push(file_or_skip("tflite", &tflite));
    }
    files.into_iter().flatten().collect()
}

async fn run_stage(
    setup: &PipelineSetup,
    stage: PipelineStage,
    id: SessionId,
    done: &PipelineReport,
    files: Vec<StageFile>,
    stop: impl Future<Output = String>,
) -> StageResult {
    let pipeline = setup.app.pipeline.clone();
    match stage {
        PipelineStage::Dp | PipelineStage::Mc => {
            let Some(inputs) = pipeline else {
                return not_started(setup, stage, id, "the app file has no [pipeline] section")
                    .await;
            };
            let data = earlier(done, "dataset").unwrap_or_else(|| inputs.held_out.clone());
            run_stage_session(setup, stage, id, files, stop, async |run| {
                if stage == PipelineStage::Dp {
                    dp::run(run, &inputs).await
                } else {
                    mc::run(run, &inputs, &data).await
                }
            })
            .await
        }
        PipelineStage::Sg => {
            // SG uses MC's model when MC ran, else the app file's own model.
            let app = match earlier(done, "tflite") {
                Some(tflite) => match setup.app.with_tflite(&tflite) {
                    Ok(app) => app,
                    Err(error) => {
                        return not_started(setup, stage, id, &error.to_string()).await;
                    }
                },
                None => setup.app.clone(),
            };
            let mut session = (setup.sg)(app, id.clone());
            session.pipeline = Some(setup.pipeline.clone());
            let sketch_dir = setup.stage_dir(PipelineStage::Sg).join("sketch");
            session.final_dir = Some(sketch_dir);
            let ended = run_session_until(&session, stop).await;
            let outputs = ended
                .sketch_dir
                .as_deref()
                .map(sketch_outputs)
                .unwrap_or_default();
            StageResult {
                stage,
                session: id,
                outcome: ended.outcome,
                totals: ended.totals,
                outputs,
                resumed: false,
            }
        }
    }
}

/// A stage that cannot start still gets a trace that says why.
async fn not_started(
    setup: &PipelineSetup,
    stage: PipelineStage,
    id: SessionId,
    why: &str,
) -> StageResult {
    let ending: Ending = SessionOutcome::InfrastructureError {
        kind: infra::LOCAL,
        message: why.to_owned(),
    };
    run_stage_session(
        setup,
        stage,
        id,
        Vec::new(),
        std::future::pending(),
        async move |_| Err(ending),
    )
    .await
}

fn file_or_skip(role: &str, path: &Path) -> Option<StageFile> {
    stage_file(role, path).ok()
}

fn sketch_outputs(dir: &Path) -> Vec<StageFile> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let role = if p.extension().is_some_and(|e| e == "ino") {
                "sketch"
            } else {
                "sketch_file"
            };
            stage_file(role, p).ok()
        })
        .collect()
}

/// The session id a stage of a pipeline first gets: `<pipeline>-<stage>`.
pub fn stage_session_id(pipeline: &str, stage: PipelineStage) -> SessionId {
    SessionId::sanitized(&format!("{pipeline}-{stage}"))
}

/// [`stage_session_id`], then `-2`, `-3` … when a trace of that id exists (an earlier try of
/// the stage in this run folder): one session per trace file.
fn session_id(run_dir: &Path, pipeline: &str, stage: PipelineStage) -> SessionId {
    let base = format!("{pipeline}-{stage}");
    let mut id = stage_session_id(pipeline, stage);
    let mut n = 1;
    while RunDirSink::session_path(run_dir, &id).exists() {
        n += 1;
        id = SessionId::sanitized(&format!("{base}-{n}"));
    }
    id
}

fn manifest_path(setup: &PipelineSetup, stage: PipelineStage) -> PathBuf {
    setup.stage_dir(stage).join(MANIFEST)
}

fn write_manifest(setup: &PipelineSetup, result: &StageResult, inputs: Vec<StageFile>) {
    let manifest = StageManifest {
        pipeline: setup.pipeline.clone(),
        stage: result.stage,
        session: result.session.as_str().to_owned(),
        inputs,
        outputs: result.outputs.clone(),
    };
    let path = manifest_path(setup, result.stage);
    if let Ok(text) = serde_json::to_string_pretty(&manifest) {
        // Without a manifest the stage only runs again next time: not worth failing for.
        let _ = fs_err::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .and_then(|()| fs_err::write(&path, text));
    }
}

/// The stage's earlier result when it started from the same inputs and its outputs are all
/// still there, unchanged.
fn resumable(
    setup: &PipelineSetup,
    stage: PipelineStage,
    inputs: &[StageFile],
) -> Option<StageResult> {
    let text = fs_err::read_to_string(manifest_path(setup, stage)).ok()?;
    let manifest: StageManifest = serde_json::from_str(&text).ok()?;
    let digests = |files: &[StageFile]| -> Vec<(String, String)> {
        files
            .iter()
            .map(|f| (f.role.clone(), f.sha256.clone()))
            .collect()
    };
    let same_inputs = digests(&manifest.inputs) == digests(inputs);
    let unchanged = !manifest.outputs.is_empty()
        && manifest.outputs.iter().all(|file| {
            stage_file(&file.role, Path::new(&file.path)).is_ok_and(|now| now.sha256 == file.sha256)
        });
    if !same_inputs || !unchanged || manifest.stage != stage {
        return None;
    }
    Some(StageResult {
        stage,
        session: SessionId::sanitized(&manifest.session),
        outcome: SessionOutcome::Success { attempt: 0 },
        totals: SessionTotals::default(),
        outputs: manifest.outputs,
        resumed: true,
    })
}
