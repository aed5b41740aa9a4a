//! Running one recorded stage again (for `autopilot replay`): the stage engine as the pipeline
//! runs it, started from the outputs of the stages before it (replayed, or as recorded), once
//! the files it reads are checked against the ones the recording started from.

use std::path::Path;

use autopilot_steps::App;
use autopilot_trace::{PipelineStage, SessionId, SessionOutcome, SessionTotals, StageFile};

use super::runner::{PipelineReport, run_stage, stage_inputs};
use super::setup::PipelineSetup;
use super::stage::{StageResult, stage_file};

/// A file a recorded stage started from that is not there as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its {role} input {path} {problem}")]
pub struct InputProblem {
    pub role: String,
    pub path: String,
    /// `is missing (…)`, `changed since the recording (…)`.
    pub problem: String,
}

/// `path`, to be read as the file of `recorded.role`, checked against the recording: its
/// `StageFile` when it holds the recorded content.
pub fn check_input(recorded: &StageFile, path: &Path) -> Result<StageFile, InputProblem> {
    let problem = |problem: String| InputProblem {
        role: recorded.role.clone(),
        path: path.display().to_string(),
        problem,
    };
    if !path.is_file() {
        return Err(problem("is missing".to_owned()));
    }
    let file = stage_file(&recorded.role, path).map_err(|ending| {
        problem(match ending {
            SessionOutcome::InfrastructureError { message, .. } => {
                format!("is unreadable ({message})")
            }
            _ => "is unreadable".to_owned(),
        })
    })?;
    if file.sha256 != recorded.sha256 {
        return Err(problem(format!(
            "changed since the recording (sha256 {}…, {} bytes recorded; now {}…, {} bytes)",
            short(&recorded.sha256),
            recorded.bytes,
            short(&file.sha256),
            file.bytes
        )));
    }
    Ok(file)
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// The data files a Python stage reads from today's app file (`raw` for DP; `keras` and
/// `held_out` for MC), each checked against the file of that role the recording started
/// from. Roles the recording does not name are not checked; the app file itself is today's
/// (as for every replayed session).
pub fn check_stage_inputs(
    app: &App,
    stage: PipelineStage,
    recorded: &[StageFile],
) -> Vec<InputProblem> {
    let Some(pipeline) = &app.pipeline else {
        return Vec::new();
    };
    let reads: &[(&str, &Path)] = match stage {
        PipelineStage::Dp => &[("raw", pipeline.raw.as_path())],
        PipelineStage::Mc => &[
            ("keras", pipeline.keras.as_path()),
            ("held_out", pipeline.held_out.as_path()),
        ],
        PipelineStage::Sg => &[],
    };
    reads
        .iter()
        .filter_map(|(role, path)| {
            let recorded = recorded.iter().find(|f| f.role == *role)?;
            check_input(recorded, path).err()
        })
        .collect()
}

/// A stage's recorded outputs standing in for a run of it (for the stage after it when it is
/// not run again).
pub fn recorded_result(
    stage: PipelineStage,
    session: SessionId,
    outputs: Vec<StageFile>,
) -> StageResult {
    StageResult {
        stage,
        session,
        outcome: SessionOutcome::Success { attempt: 0 },
        totals: SessionTotals::default(),
        outputs,
        resumed: true,
    }
}

/// Runs `stage` once more as session `id` into `setup.run_dir`, starting from `earlier` (the
/// results of the stages before it, in order: MC reads DP's `dataset`, SG uses MC's `tflite`).
/// Nothing is resumed and no manifest is written: a replay is compared, not continued.
pub async fn run_stage_again(
    setup: &PipelineSetup,
    stage: PipelineStage,
    id: SessionId,
    earlier: Vec<StageResult>,
    stop: impl Future<Output = String>,
) -> StageResult {
    let done = PipelineReport {
        pipeline: setup.pipeline.clone(),
        stages: earlier,
    };
    let inputs = stage_inputs(setup, stage, &done);
    run_stage(setup, stage, id, &done, inputs, stop).await
}
