//! The typed events of one session's life, from `session_started` to `session_finished`.
//!
//! Every enum is internally tagged (`"type"`, `"status"`, `"kind"` …) and every name is
//! `snake_case` on the wire. Optional fields are omitted when empty so lines stay short, and
//! readers accept them missing. Adding a variant or an optional field is an additive change
//! (minor); renaming or removing one needs a new [`crate::FORMAT_VERSION`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One thing that happened in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    SessionStarted(SessionStarted),
    StageStarted(StageStarted),
    StageFinished(StageFinished),
    LlmCall(LlmCall),
    CodeExtracted(CodeExtracted),
    CheckVerdict(CheckVerdict),
    CompileFinished(CompileFinished),
    LibraryResolved(LibraryResolved),
    LibraryInstalled(LibraryInstalled),
    RepairContext(RepairContext),
    SimulationFinished(SimulationFinished),
    HostCheckFinished(HostCheckFinished),
    FallbackApplied(FallbackApplied),
    AttemptFinished(AttemptFinished),
    Note(Note),
    PipelineStageStarted(PipelineStageStarted),
    PipelineStageEnded(PipelineStageEnded),
    DpOperation(DpOperation),
    PythonRun(PythonRun),
    OutputCheck(OutputCheck),
    ModelCheck(ModelCheck),
    SessionFinished(SessionFinished),
}

impl Event {
    /// The wire name of the event (`"llm_call"`, …), also used as the tracing message.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SessionStarted(_) => "session_started",
            Event::StageStarted(_) => "stage_started",
            Event::StageFinished(_) => "stage_finished",
            Event::LlmCall(_) => "llm_call",
            Event::CodeExtracted(_) => "code_extracted",
            Event::CheckVerdict(_) => "check_verdict",
            Event::CompileFinished(_) => "compile_finished",
            Event::LibraryResolved(_) => "library_resolved",
            Event::LibraryInstalled(_) => "library_installed",
            Event::RepairContext(_) => "repair_context",
            Event::SimulationFinished(_) => "simulation_finished",
            Event::HostCheckFinished(_) => "host_check_finished",
            Event::FallbackApplied(_) => "fallback_applied",
            Event::AttemptFinished(_) => "attempt_finished",
            Event::Note(_) => "note",
            Event::PipelineStageStarted(_) => "pipeline_stage_started",
            Event::PipelineStageEnded(_) => "pipeline_stage_ended",
            Event::DpOperation(_) => "dp_operation",
            Event::PythonRun(_) => "python_run",
            Event::OutputCheck(_) => "output_check",
            Event::ModelCheck(_) => "model_check",
            Event::SessionFinished(_) => "session_finished",
        }
    }
}

/// The phases of a session. `Outline` and `Design` are the first two steps of the staged
/// (outline → design → code) prompt variant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Filling the application specification (JSON) with the LLM.
    Spec,
    Outline,
    Design,
    /// Generating or repairing the sketch with the LLM.
    Sketch,
    /// Pulling code out of an LLM answer.
    Extract,
    /// Static prechecks before any compile.
    Check,
    Compile,
    /// Resolving or installing a library for a missing header.
    Library,
    /// Flash/RAM check against the target.
    Size,
    /// Running the firmware in a simulator and reading its serial output.
    Simulate,
    /// Data processing: the LLM proposes the list of operations (JSON).
    Operations,
    /// Data processing: the LLM writes (or repairs) the Python code of one operation.
    Operation,
    /// Model conversion: the LLM writes (or repairs) the conversion script.
    Conversion,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Spec => "spec",
            Stage::Outline => "outline",
            Stage::Design => "design",
            Stage::Sketch => "sketch",
            Stage::Extract => "extract",
            Stage::Check => "check",
            Stage::Compile => "compile",
            Stage::Library => "library",
            Stage::Size => "size",
            Stage::Simulate => "simulate",
            Stage::Operations => "operations",
            Stage::Operation => "operation",
            Stage::Conversion => "conversion",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool or library and its version (`arduino-builder 1.3.25`, `arduino:avr 1.8.7`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
}

/// Sampling parameters sent with an LLM request. `None` means "provider default".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SamplingParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Ollama's context window (`num_ctx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
}

/// Where a trace came from: written by autopilot itself, or imported from a legacy text log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceOrigin {
    Native,
    /// Converted by `autopilot import` from the original system's logs.
    LegacyImport {
        /// The log file name (no directory).
        file: String,
        /// The batch id of the log prefix (`7677`).
        batch: String,
        /// The session id of the log prefix (`63d0`).
        session: String,
    },
}

/// Where a session sits in a batch experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchCell {
    pub experiment: String,
    /// A stable key of the matrix cell (model × target × variant × sampling).
    pub cell: String,
    /// 0-based repeat index within the cell.
    pub repeat: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionStarted {
    /// Application name (from the app file).
    pub app: String,
    /// Path of the app file, if any: canonical and absolute in traces of `autopilot run` (so
    /// `autopilot replay` finds it from any folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_path: Option<String>,
    /// Target name (`uno`, `nano33ble_sense`).
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqbn: Option<String>,
    /// `openai`, `ollama`, `replay`.
    pub provider: String,
    pub model: String,
    /// Endpoint host, with any credentials removed (see [`crate::redact_url`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub prompt_variant: String,
    #[serde(default)]
    pub sampling: SamplingParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_versions: Vec<ComponentVersion>,
    /// The autopilot version that wrote the trace.
    pub autopilot_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchCell>,
    pub origin: TraceOrigin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageStarted {
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageFinished {
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    pub succeeded: bool,
    pub duration_ms: u64,
}

/// A chat role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// Token counts as the provider reported them (`None`: not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
}

/// Whether an answer came from the network or from a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    #[default]
    Live,
    Replay,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmAnswer {
    /// The answer text, reasoning removed.
    pub text: String,
    /// Reasoning split out (`<think>…</think>` or the provider's reasoning field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// The model the provider says answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
    #[serde(default)]
    pub usage: TokenUsage,
    /// Time to the first streamed chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
}

/// The typed reason an LLM call failed. [`LlmErrorKind::is_transient`] is the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LlmErrorKind {
    ConnectionRefused,
    ConnectionReset,
    Timeout,
    RateLimited,
    ServerError,
    MalformedBody,
    TruncatedStream,
    EmptyAnswer,
    Unauthorized,
    Forbidden,
    UnknownModel,
    ContextTooLong,
    BadRequest,
    /// The replay backend has no recorded answer for the request.
    ReplayMiss,
    /// A session budget (tokens, cost, time) forbade the call.
    BudgetExceeded,
    /// The response body or the answer was larger than its cap (never retried: a server that
    /// sends too much once will again).
    BodyTooLarge,
    Other,
}

impl LlmErrorKind {
    /// Transient faults may succeed if retried; fatal ones never will.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            LlmErrorKind::ConnectionRefused
                | LlmErrorKind::ConnectionReset
                | LlmErrorKind::Timeout
                | LlmErrorKind::RateLimited
                | LlmErrorKind::ServerError
                | LlmErrorKind::MalformedBody
                | LlmErrorKind::TruncatedStream
                | LlmErrorKind::EmptyAnswer
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmFailure {
    pub kind: LlmErrorKind,
    pub transient: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Human message, without secrets.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// What one LLM request returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LlmCallResult {
    Answered(LlmAnswer),
    Failed(LlmFailure),
}

/// One request to an LLM, including each retry (one event per try).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmCall {
    pub stage: Stage,
    /// The stage attempt this call belongs to (1-based).
    pub attempt: u32,
    /// 0 for the first try, n for the n-th retry of the same request.
    pub retry: u32,
    /// How many identical requests came before in this session (replay key).
    #[serde(default)]
    pub repeat: u32,
    pub provider: String,
    pub model: String,
    /// SHA-256 of the canonical request (model, messages, sampling), hex.
    pub request_hash: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub sampling: SamplingParams,
    #[serde(default)]
    pub stream: bool,
    pub result: LlmCallResult,
    pub latency_ms: u64,
    /// Cost in US dollars; `None` when the model's price is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub source: AnswerSource,
    /// Set when the retry policy decided to try again, with the delay it chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
}

/// Code pulled out of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeExtracted {
    pub attempt: u32,
    /// SHA-256 of the code, hex.
    pub sha256: String,
    pub lines: u32,
    /// Fenced blocks found in the answer.
    pub blocks: u32,
    /// 0-based index of the block chosen.
    pub chosen_block: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_tag: Option<String>,
    /// The earlier attempt whose code was byte-identical, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identical_to_attempt: Option<u32>,
}

/// A check's verdict: extraction, spec validation, static prechecks, size, simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckVerdict {
    pub stage: Stage,
    pub attempt: u32,
    /// Stable id, e.g. `precheck.model_symbol_clash`.
    pub check: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompileStatus {
    Succeeded,
    Failed,
    TimedOut,
    ToolchainMissing,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Note,
}

/// Which program produced a diagnostic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticOrigin {
    #[default]
    Compiler,
    Linker,
    /// The build tool itself (arduino-cli, arduino-builder).
    Tool,
}

/// A note attached to a diagnostic (`note: candidate is …`, `suggested alternative`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiagnosticNote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
}

/// One structured compiler or linker diagnostic. Paths are relative to the sketch folder when
/// they are inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub severity: Severity,
    pub message: String,
    #[serde(default)]
    pub origin: DiagnosticOrigin,
    /// `In function 'void setup()':` frames and the `In file included from` chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<DiagnosticNote>,
    /// The source line the compiler echoed under the diagnostic (leading blanks removed), when
    /// it printed one. Added in format 1 (additive): older traces read as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// The source text of a line GCC prints under a diagnostic, if `line` is its source echo:
    /// gcc 5/7 indent the line by one space, gcc 9 and later print an `N | ` gutter. Caret,
    /// fix-it and empty gutter lines are not echoes. Both build-output parsers use this to fill
    /// [`Diagnostic::source_line`] from the first echo after a diagnostic.
    pub fn source_echo(line: &str) -> Option<&str> {
        let text = match line.split_once('|') {
            // `   12 | code`: a gutter with a line number.
            Some((gutter, code))
                if !gutter.trim().is_empty()
                    && gutter.trim().bytes().all(|b| b.is_ascii_digit()) =>
            {
                code.strip_prefix(' ').unwrap_or(code)
            }
            _ if line.starts_with([' ', '\t']) => line,
            _ => return None,
        };
        let code = text.trim();
        // Caret lines (`   ^~~~`) and empty gutters carry no source.
        let caret = code
            .bytes()
            .all(|b| matches!(b, b'^' | b'~' | b' ' | b'|' | b'+'));
        (!code.is_empty() && !caret).then_some(code)
    }
}

/// Flash and RAM use as the build tool reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SizeReport {
    pub flash_used: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_max: Option<u64>,
}

impl SizeReport {
    /// Flash use in percent of the maximum, when known.
    pub fn flash_percent(&self) -> Option<f64> {
        self.flash_max
            .filter(|max| *max > 0)
            .map(|max| self.flash_used as f64 * 100.0 / max as f64)
    }

    /// RAM use in percent of the maximum, when known.
    pub fn ram_percent(&self) -> Option<f64> {
        match (self.ram_used, self.ram_max) {
            (Some(used), Some(max)) if max > 0 => Some(used as f64 * 100.0 / max as f64),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompileFinished {
    pub attempt: u32,
    /// `arduino-cli`, `arduino-builder`, `replay`.
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_version: Option<String>,
    pub fqbn: String,
    pub status: CompileStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<SizeReport>,
    pub duration_ms: u64,
    #[serde(default)]
    pub cache_hit: bool,
    /// Hash of everything the compile depended on (the compile-cache key), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
    /// Free text for statuses without diagnostics (timeout, missing toolchain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a library name was found for a missing header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionSource {
    /// The curated header map in `data/`.
    CuratedMap,
    /// `arduino-cli lib search provides:<header>`.
    LibSearch,
    /// The header is part of the project (model header, sketch file), not a library.
    ProjectFile,
    /// Nothing found.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibraryResolved {
    pub attempt: u32,
    pub header: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    pub source: ResolutionSource,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// Whether `library` passed the allow-list.
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibraryInstalled {
    pub attempt: u32,
    pub library: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub succeeded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A real declaration from an installed header, quoted in a repair prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Declaration {
    pub symbol: String,
    pub file: String,
    pub line: u32,
    pub text: String,
}

/// What a repair prompt told the model beyond the diagnostics: the build-environment block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepairContext {
    /// The attempt the repair prompt is for.
    pub attempt: u32,
    /// Diagnostics quoted (after trimming to the first errors).
    pub diagnostics_shown: u32,
    pub diagnostics_total: u32,
    /// Error signatures that also occurred in earlier attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurring: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identical_to_attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declarations: Vec<Declaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ComponentVersion>,
    /// The block as rendered into the prompt.
    pub block: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimulationStatus {
    /// The serial output showed one of the expected lines.
    Predicted,
    /// It ran for the whole time budget without an expected line.
    NoPrediction,
    /// The simulator could not run the firmware (bad MCU, crash).
    Failed,
    SimulatorMissing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulationFinished {
    pub attempt: u32,
    pub simulator: String,
    pub mcu: String,
    pub status: SimulationStatus,
    /// The expected token seen first (a class name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Serial lines read (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serial: Vec<String>,
    pub duration_ms: u64,
}

/// What the host TinyML check concluded about a sketch (snake_case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostVerdictKind {
    /// Built, invoked, printed accuracy close to the model's own, nothing printed without inference.
    Pass,
    BuildFailed,
    /// `AllocateTensors()` failed (arena too small, bad model).
    AllocateFailed,
    /// An operator the model needs was not registered.
    OpMissing,
    /// The sketch printed, but never called `Invoke()` while objects were presented.
    NoInvoke,
    /// Printed accuracy far below the model's own on the same inputs.
    WrongOutput,
    /// The inputs given to the model deviate from the dataset's.
    WrongInput,
    /// Inferences while nothing was in front of the sensor.
    PredictsWithoutObject,
    /// The sketch never returned from `setup()`.
    BlockedInSetup,
    /// The sketch needs an operator or a header the host cannot provide: not judged.
    UnsupportedOp,
    /// No API profile for the pinned library version: not judged.
    SkippedNoProfile,
}

/// The host TinyML check of one attempt: the sketch built natively against an API profile of the
/// target's TinyML library, run on a simulated clock with the sensor fed from the app's dataset.
/// Unknown figures (nothing to measure) are omitted, never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostCheckFinished {
    pub attempt: u32,
    pub verdict: HostVerdictKind,
    /// The verdict in plain words, as repair prompts quote it.
    pub summary: String,
    /// `library@version` of the API profile used.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// Where the host TFLM came from (`crates.io tfmicro 0.1.0`, or a library folder).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tflm_source: String,
    /// Build diagnostics, parsed by the same GCC parser as real compiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arena_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects_presented: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invokes: Option<u32>,
    /// Invokes while nothing was presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invokes_without_object: Option<u32>,
    /// Largest absolute difference between an input given to the model and the dataset's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_deviation: Option<f64>,
    /// Share of presented objects whose printed class was the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printed_accuracy: Option<f64>,
    /// Share of presented objects the model itself classified right, on the inputs it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked_in_setup: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Serial lines (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serial: Vec<String>,
    pub build_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_ms: Option<u64>,
}

/// A parachute that opened: a fallback model, a fallback prompt variant, a skipped compile …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FallbackApplied {
    /// Stable policy id, e.g. `fallback_model`, `identical_code`, `fallback_variant`.
    pub policy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    pub reason: String,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Succeeded,
    /// The answer held no usable code (no block, several competing sketches).
    ExtractionFailed,
    /// The spec answer failed validation.
    SpecInvalid,
    PrecheckFailed,
    /// Same code as an earlier attempt: not recompiled.
    IdenticalCode,
    CompileFailed,
    CompileTimedOut,
    SizeExceeded,
    SimulationFailed,
    LlmFailed,
    /// The answer stopped at the token limit (`finish_reason: length`) or at the call's time
    /// limit: cut, not wrong.
    AnswerTruncated,
    /// A lifecycle stage's plan answer failed validation.
    PlanInvalid,
    /// A lifecycle stage's Python run failed (exit status, signal, timeout).
    RunFailed,
    /// A lifecycle stage's run succeeded but a declared output or the model check failed.
    OutputInvalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttemptFinished {
    pub stage: Stage,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Free-form information that fits no other event (legacy import keeps unmodelled lines here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    /// A stable short id (`latency_probe`, `legacy_record`).
    pub kind: String,
    pub message: String,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SessionOutcome {
    /// A sketch passed every check.
    Success { attempt: u32 },
    /// A phase used its whole attempt budget.
    Exhausted { stage: Stage },
    /// A budget or a fatal error ended the session early.
    Aborted { reason: String },
    /// The LLM backend or the toolchain was unavailable.
    InfrastructureError {
        kind: InfraErrorKind,
        message: String,
    },
}

/// Why a session ended on its infrastructure, not on the model's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InfraErrorKind {
    /// The LLM backend stayed unreachable after retries (and the fallback model, if any).
    LlmUnreachable,
    /// The LLM backend was up but gave no whole answer within the call's time limit, after
    /// retries (and the fallback model, if any): slow, not unreachable.
    LlmTimedOut,
    /// The LLM backend refused the request for good (401, unknown model, …): a configuration
    /// error.
    LlmRejected,
    /// The replay backend has no recorded answer for a request.
    ReplayMiss,
    /// No compiler for the target is installed.
    ToolchainMissing,
    /// The compiler or simulator could not be run, or its output could not be understood.
    ToolchainFailed,
    /// Prompts could not be rendered or artifacts could not be written.
    Local,
    /// The original system's backend crashed (legacy imports).
    BackendCrash,
    /// A kind this version does not know (a trace of another version); written as `unknown`.
    #[serde(other)]
    Unknown,
}

impl InfraErrorKind {
    /// The wire name (`llm_unreachable`, `toolchain_missing`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            InfraErrorKind::LlmUnreachable => "llm_unreachable",
            InfraErrorKind::LlmTimedOut => "llm_timed_out",
            InfraErrorKind::LlmRejected => "llm_rejected",
            InfraErrorKind::ReplayMiss => "replay_miss",
            InfraErrorKind::ToolchainMissing => "toolchain_missing",
            InfraErrorKind::ToolchainFailed => "toolchain_failed",
            InfraErrorKind::Local => "local",
            InfraErrorKind::BackendCrash => "backend_crash",
            InfraErrorKind::Unknown => "unknown",
        }
    }

    /// Whether running the session again can end differently without fixing anything first
    /// (an unreachable backend, a crash); a replay miss, a rejected request or a missing
    /// toolchain need their cause fixed.
    pub fn is_transient(self) -> bool {
        match self {
            InfraErrorKind::LlmUnreachable
            | InfraErrorKind::LlmTimedOut
            | InfraErrorKind::ToolchainFailed
            | InfraErrorKind::Local
            | InfraErrorKind::BackendCrash
            | InfraErrorKind::Unknown => true,
            InfraErrorKind::LlmRejected
            | InfraErrorKind::ReplayMiss
            | InfraErrorKind::ToolchainMissing => false,
        }
    }
}

impl std::fmt::Display for InfraErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SessionOutcome {
    /// Short wire name (`success`, `exhausted`, `aborted`, `infrastructure_error`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionOutcome::Success { .. } => "success",
            SessionOutcome::Exhausted { .. } => "exhausted",
            SessionOutcome::Aborted { .. } => "aborted",
            SessionOutcome::InfrastructureError { .. } => "infrastructure_error",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionTotals {
    pub attempts: u32,
    pub llm_calls: u32,
    /// Tokens the calls reported; `None` (absent on the wire) when no call reported a count,
    /// so unknown is never written as 0. Older files always hold numbers (0 in legacy imports,
    /// where it meant unknown) and still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// `None` when any call had an unknown price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub wall_ms: u64,
    #[serde(default)]
    pub compiles: u32,
    #[serde(default)]
    pub cache_hits: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionFinished {
    pub outcome: SessionOutcome,
    pub totals: SessionTotals,
}

/// The stages of the lifecycle pipeline (`autopilot pipeline`): data processing, model
/// conversion, sketch generation. Each stage is one session; its trace opens with
/// `pipeline_stage_started` right after `session_started`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PipelineStage {
    /// Data processing: raw data to the dataset the model is trained and checked on.
    Dp,
    /// Model conversion: a trained Keras model to a checked `.tflite` and its C header.
    Mc,
    /// Sketch generation: the firmware (the classic session).
    Sg,
}

impl PipelineStage {
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineStage::Dp => "dp",
            PipelineStage::Mc => "mc",
            PipelineStage::Sg => "sg",
        }
    }
}

impl std::fmt::Display for PipelineStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file a stage read or wrote, by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StageFile {
    /// The file's role in the stage (`raw`, `dataset`, `keras`, `tflite`, `header`).
    pub role: String,
    pub path: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub bytes: u64,
}

/// A session that is one stage of a pipeline: which pipeline, which stage, what it starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineStageStarted {
    /// The pipeline id every stage session of one `autopilot pipeline` run shares.
    pub pipeline: String,
    pub stage: PipelineStage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<StageFile>,
}

/// How a pipeline stage ended; the session's own `session_finished` follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineStageEnded {
    pub pipeline: String,
    pub stage: PipelineStage,
    pub succeeded: bool,
    /// The validated outputs (empty when the stage failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<StageFile>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub duration_ms: u64,
}

/// How a data-processing operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Its code ran and every declared output passed its checks.
    Done,
    /// Every attempt failed (the run or the output checks).
    Failed,
}

/// One operation of a data-processing plan, when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DpOperation {
    /// 1-based position in the plan.
    pub index: u32,
    /// Operations in the plan.
    pub total: u32,
    /// The operation kind (`drop_rows`, `normalize_label`, …).
    pub kind: String,
    pub description: String,
    pub status: OperationStatus,
    /// Code attempts used.
    pub attempts: u32,
    /// The declared output files, relative to the stage's work folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// Rows of the dataset after the operation, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// How a sandboxed Python run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PythonTermination {
    Exited,
    /// Killed by a signal (a resource limit, a crash).
    Signaled,
    /// The wall timeout fired; the process group was killed.
    TimedOut,
    /// Stopped by autopilot.
    Stopped,
}

/// One run of Python in the sandbox: LLM-written code, or autopilot's own evaluation script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PythonRun {
    /// What ran: `operation`, `conversion`, `evaluation`.
    pub purpose: String,
    /// The stage attempt (for `operation`: the running number of code attempts).
    pub attempt: u32,
    /// SHA-256 of the script, hex.
    pub script_sha256: String,
    pub termination: PythonTermination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub duration_ms: u64,
    /// The last lines of stdout and stderr (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout_tail: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr_tail: String,
}

/// One check of a declared output of a Python run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OutputCheck {
    pub attempt: u32,
    /// Stable id: `output.exists`, `output.fresh`, `output.nonempty`, `output.csv`,
    /// `output.columns`, `output.rows`, `output.tflite`.
    pub check: String,
    /// The output, relative to the stage's work folder.
    pub file: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One failed requirement of a converted model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelCheckFailure {
    /// Stable id: `not_loaded`, `wrong_input_dtype`, `not_quantized`, `unsupported_op`, …
    pub check: String,
    pub message: String,
}

/// The judgement of a converted model (its evaluation report against the target's requirements).
/// Figures not measured are omitted, never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelCheck {
    pub attempt: u32,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<ModelCheckFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_dtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dtype: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tflite_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keras_accuracy: Option<f64>,
}
