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
}

/// How a session ended, for the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport {
    pub outcome: SessionOutcome,
    pub totals: SessionTotals,
    /// The final sketch folder, on success.
    pub sketch_dir: Option<PathBuf>,
}

/// Infrastructure kinds of [`SessionOutcome::InfrastructureError`].
pub mod infra {
    /// The LLM backend stayed unreachable after retries (and the fallback model, if any).
    pub const LLM_UNREACHABLE: &str = "llm_unreachable";
    /// The LLM backend refused the request for good (401, unknown model, …): a configuration error.
    pub const LLM_REJECTED: &str = "llm_rejected";
    /// The replay backend has no recorded answer for a request.
    pub const REPLAY_MISS: &str = "replay_miss";
    /// No compiler for the target is installed.
    pub const TOOLCHAIN_MISSING: &str = "toolchain_missing";
    /// The compiler or simulator could not be run, or its output could not be understood.
    pub const TOOLCHAIN_FAILED: &str = "toolchain_failed";
    /// Prompts could not be rendered or artifacts could not be written.
    pub const LOCAL: &str = "local";
}

/// Why the session stops early, as its outcome.
pub(super) type Ending = SessionOutcome;

pub(super) fn infrastructure(kind: &str, message: impl Into<String>) -> Ending {
    SessionOutcome::InfrastructureError {
        kind: kind.to_owned(),
        message: message.into(),
    }
}

pub(super) fn local(context: &str, error: impl std::fmt::Display) -> Ending {
    infrastructure(infra::LOCAL, format!("{context}: {error}"))
}
