//! What a session is given ([`SessionSetup`], resolved by the caller) and what it returns
//! ([`SessionReport`]); the infrastructure kinds a session can end on.

use std::path::PathBuf;
use std::sync::Arc;

use autopilot_llm::LlmClient;
use autopilot_steps::{App, Policies, PromptSet};
use autopilot_toolchain::{LibraryCatalog, Target, TinyMlApi, ToolchainConfig};
use autopilot_trace::{
    BatchCell, ComponentVersion, SamplingParams, SessionId, SessionOutcome, SessionTotals,
};

/// Everything one session needs, resolved by the caller.
#[derive(Debug, Clone)]
pub struct SessionSetup {
    pub id: SessionId,
    pub app: App,
    pub target: Target,
    pub prompts: Arc<PromptSet>,
    pub variant: String,
    pub policies: Policies,
    /// The primary model's client.
    pub llm: LlmClient,
    /// The client to switch to when the primary stays unreachable after retries.
    pub fallback_llm: Option<LlmClient>,
    pub sampling: SamplingParams,
    pub stream: bool,
    pub toolchain: ToolchainConfig,
    pub catalog: Arc<LibraryCatalog>,
    pub tinyml_api: Arc<TinyMlApi>,
    /// The simavr program.
    pub simavr: PathBuf,
    /// The host TinyML check (build and run TFLM sketches natively) for TinyML targets: it
    /// replaces the compile where arduino-cli is missing and follows it where it exists.
    pub host_check: Option<autopilot_hostrun::check::HostCheckConfig>,
    /// Where the session's artifacts go: `<run-dir>/artifacts/<id>/`, its build folder
    /// `<run-dir>/build/<id>/`.
    pub run_dir: PathBuf,
    /// Where the final sketch folder is copied (default: `<artifacts>/final`).
    pub final_dir: Option<PathBuf>,
    pub batch: Option<BatchCell>,
    /// Versions of the tools around the session (recorded in `session_started`).
    pub tool_versions: Vec<ComponentVersion>,
    /// A note for the trace's first lines (e.g. that answers are hand-written demo answers).
    pub note: Option<String>,
    /// The pipeline this session is the sketch-generation stage of (`autopilot pipeline`):
    /// its trace then has `pipeline_stage_started` and `pipeline_stage_ended`.
    pub pipeline: Option<String>,
}

/// How a session ended, for the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport {
    pub outcome: SessionOutcome,
    pub totals: SessionTotals,
    /// The final sketch folder, on success.
    pub sketch_dir: Option<PathBuf>,
}

/// Short names of the infrastructure kinds of [`SessionOutcome::InfrastructureError`]: the
/// variants of [`autopilot_trace::InfraErrorKind`], which documents them.
pub mod infra {
    use autopilot_trace::InfraErrorKind;

    pub const LLM_UNREACHABLE: InfraErrorKind = InfraErrorKind::LlmUnreachable;
    pub const LLM_TIMED_OUT: InfraErrorKind = InfraErrorKind::LlmTimedOut;
    pub const LLM_REJECTED: InfraErrorKind = InfraErrorKind::LlmRejected;
    pub const REPLAY_MISS: InfraErrorKind = InfraErrorKind::ReplayMiss;
    pub const TOOLCHAIN_MISSING: InfraErrorKind = InfraErrorKind::ToolchainMissing;
    pub const TOOLCHAIN_FAILED: InfraErrorKind = InfraErrorKind::ToolchainFailed;
    pub const LOCAL: InfraErrorKind = InfraErrorKind::Local;
}

/// Why the session stops early, as its outcome.
pub(super) type Ending = SessionOutcome;

pub(super) fn infrastructure(
    kind: autopilot_trace::InfraErrorKind,
    message: impl Into<String>,
) -> Ending {
    SessionOutcome::InfrastructureError {
        kind,
        message: message.into(),
    }
}

pub(super) fn local(context: &str, error: impl std::fmt::Display) -> Ending {
    infrastructure(infra::LOCAL, format!("{context}: {error}"))
}
