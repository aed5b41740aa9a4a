//! What a pipeline is given, resolved by the caller (the CLI): the app with its `[pipeline]`
//! section, the stages to run, the LLM, the Python environment and sandbox, and how to make the
//! sketch-generation session's setup.

use std::path::PathBuf;
use std::sync::Arc;

use autopilot_llm::LlmClient;
use autopilot_steps::{App, Policies};
use autopilot_toolchain::{PythonEnv, SandboxConfig, Target};
use autopilot_trace::{BatchCell, PipelineStage, SamplingParams, SessionId};

use crate::session::SessionSetup;

/// Makes the SG session's setup from the app whose model is the MC stage's output.
pub type SgSetup = Arc<dyn Fn(App, SessionId) -> SessionSetup + Send + Sync>;

/// Everything one pipeline run needs.
#[derive(Clone)]
pub struct PipelineSetup {
    /// Shared by every stage session of the run (`pipeline_stage_started.pipeline`).
    pub pipeline: String,
    /// The run directory: `sessions/` (traces), `artifacts/<session>/` (work folders).
    pub run_dir: PathBuf,
    /// Where `<stage>/` folders go (validated outputs and the manifest that makes a stage
    /// resumable): `<run_dir>/stages` for one pipeline, `<run_dir>/stages/<pipeline>` for one of
    /// a batch's pipelines.
    pub stages_dir: PathBuf,
    /// Where the pipeline sits in a batch experiment (each stage's `session_started.batch`).
    pub batch: Option<BatchCell>,
    pub app: App,
    pub target: Target,
    /// The stages to run, in order.
    pub stages: Vec<PipelineStage>,
    pub llm: LlmClient,
    pub sampling: SamplingParams,
    pub stream: bool,
    pub policies: Policies,
    /// The project's Python environment, or why there is none (with the fix).
    pub python: Result<PythonEnv, String>,
    /// The sandbox Python runs in. Python stages have no unsandboxed mode.
    pub sandbox: SandboxConfig,
    /// autopilot's model-evaluation script (`python/autopilot_eval.py`).
    pub eval_script: PathBuf,
    /// A note for each stage trace's first lines (e.g. hand-written demo answers).
    pub note: Option<String>,
    pub sg: SgSetup,
}

impl PipelineSetup {
    /// A stage's folder of validated outputs and its manifest.
    pub fn stage_dir(&self, stage: PipelineStage) -> PathBuf {
        self.stages_dir.join(stage.as_str())
    }
}

impl std::fmt::Debug for PipelineSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineSetup")
            .field("pipeline", &self.pipeline)
            .field("run_dir", &self.run_dir)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}
