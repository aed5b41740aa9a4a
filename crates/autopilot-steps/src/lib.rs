//! The pure steps of a session: everything between the LLM and the compiler that needs neither.
//!
//! This crate reads app files ([`App`]) and policies ([`Policies`]), renders prompts from the
//! templates in `prompts/` ([`PromptSet`]), validates filled specs ([`validate_spec`]), pulls
//! code out of answers ([`extract_code`]), runs the static prechecks that must pass before any
//! compile ([`run_prechecks`]), and builds the grounded repair context ([`RepairTracker`],
//! [`build_repair`]). It spawns no process, opens no socket, awaits nothing and prints nothing —
//! by construction: it depends on no async runtime, no network crate and no crate that runs
//! processes (`tests/it/architecture.rs` checks it). The session engine
//! (`autopilot-orchestrator`) composes these functions with the LLM and the compiler and emits
//! the trace events they describe.
//!
//! Where the inputs come from: target facts, allowed libraries and the TFLM API facts of the
//! pinned library are the toolchain's, projected by the session engine into [`TargetFacts`] and
//! [`ForbiddenApi`]; diagnostics, size reports and real declarations are found by the toolchain
//! and passed in as the trace's types ([`BuildEnvironment`]).

#![warn(unreachable_pub)]

mod app;
mod config;
mod cpp;
mod dataset;
mod extract;
mod header;
mod model_check;
mod policy;
mod precheck;
mod prompts;
mod repair;
mod sensor;
mod spec;
mod stage;
mod tflite;

pub use app::{
    App, DEFAULT_MAX_OPERATIONS, DType, DatasetFile, GENERATED_HEADER_NAME, ModelInfo, ModelKind,
    ModelSource, PipelineInputs, SensorHints, TensorSpec,
};
pub use config::{ConfigError, KeyProblem};
pub use dataset::{
    ColumnKind, ColumnSummary, DatasetError, DatasetSummary, FileSummary, MAX_CELL_BYTES,
    format_number, summarize_csv,
};
pub use extract::{
    CHECK_COMPETING_SKETCHES, CHECK_NO_CODE, Extraction, ExtractionFailure, FencedBlock,
    extract_code, fenced_blocks, strip_reasoning,
};
pub use header::{HeaderScan, HeaderSymbol, SymbolKind, scan_header};
pub use model_check::{
    ModelFailure, ModelReport, ModelRequirements, ModelVerdict, Quantization, TensorInfo, judge,
    parse_dtype,
};
pub use policy::{
    ArtifactPolicy, AttemptBudgets, Fallbacks, LibraryPolicy, LlmLimits, MAX_ATTEMPTS, ModelRef,
    Policies, RetryPolicy, SandboxMode, SessionBudget, SimulationPolicy, Timeouts,
};
pub use precheck::{
    CHECK_FORBIDDEN_API, CHECK_INCBIN, CHECK_INCLUDE_PATH, CHECK_INFERENCE_CALL,
    CHECK_MODEL_INCLUDE, CHECK_MODEL_SYMBOL_CLASH, CHECK_PLACEHOLDERS, CHECK_SETUP_LOOP,
    CHECK_SIMAVR_SECTION, ForbiddenApi, PrecheckInput, PrecheckReport, PrecheckVerdict,
    run_prechecks, warm_up_prechecks,
};
pub use prompts::{
    AppFacts, DatasetFacts, Flow, MANIFEST, ModelFacts, PromptError, PromptFacts, PromptSet,
    RenderedPrompt, TargetFacts, Task, Template, TinymlLibrary, UserFormat, VariantInfo,
    sample_facts,
};
pub use repair::{
    BoardFacts, BuildEnvironment, MAX_DIAGNOSTIC_MESSAGE_BYTES, Recurrence, RepairInput,
    RepairLimits, RepairMaterial, RepairTracker, build_repair, display_path, error_signature,
    normalize_message, render_diagnostic, symbols_in_diagnostics,
};
pub use sensor::{HostSensor, Presentation, SensorMapping};
pub use spec::{
    FILL_MARKER, Spec, SpecCheck, SpecProblem, SpecRules, SpecValidation, extract_json,
    spec_template, spec_template_for, validate_spec,
};
pub use stage::{
    CHECK_PLAN_EMPTY, CHECK_PLAN_JSON, CHECK_PLAN_KIND, CHECK_PLAN_SHAPE, CHECK_PLAN_TOO_MANY,
    CsvExpectation, FileStamp, MODEL_FLASH_SHARE, OPERATION_KINDS, Operation, OutputReport, Plan,
    PlanProblem, RowBounds, StagePromptError, StagePrompts, StageTemplate, check_csv_output,
    check_written, model_budget, model_requirements, python_code, tail, tflm_supported,
    validate_plan,
};
pub use tflite::{
    TensorFacts, TfliteError, TfliteFacts, inspect_tflite, resolver_method, tflite_to_header,
};
