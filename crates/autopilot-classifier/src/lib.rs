//! Failure classification: why sessions fail, per model, board, prompt variant and stage.
//!
//! This crate reads; it never runs anything. It takes session traces (written by `autopilot
//! run`) and the original Python system's text logs, and labels every failure with the
//! taxonomy in `data/taxonomy.toml` (group, category, stage, symptom, root cause). Legacy logs
//! go through the [importer](import_legacy) first, in memory, so every tool reads legacy runs
//! the same way as new ones. [`legacy`], the legacy-log reader, also reproduces the published
//! classifier exactly, quirks included, so results stay comparable with the paper.
//!
//! It depends on `autopilot-trace` and `autopilot-diagnostics` only among the workspace crates:
//! no async runtime, no network, no processes. Inputs are streamed and files read in parallel
//! ([`classify_inputs`]); memory is bounded by a few sessions per thread.

mod cascade;
mod classify;
mod input;
mod keyed;
pub mod legacy;
mod parallel;
mod pipeline;
mod summary;
mod taxonomy;

pub use cascade::{CascadeLinker, DiagnosticView, Link, declaration, quoted_identifiers};
pub use classify::{
    ClassifiedSession, FailureRecord, SessionInfo, SessionVerdict, classify_events,
    write_jsonl_records,
};
pub use input::{InputError, InputFile, collect_inputs};
pub use legacy::import::{
    ImportError, ImportRow, LEGACY_APP, LEGACY_FQBN, LEGACY_TARGET, LegacyImporter, LegacySession,
    TimedEvent, import_legacy, import_legacy_all, provider_and_model,
};
pub use legacy::lines::LineReader;
pub use legacy::logline::{Header, Level, parse_header};
pub use legacy::staged::StagedImport;
pub use parallel::for_each_ordered;
pub use pipeline::{
    ClassifyError, ClassifyOptions, LegacyRecord, classify_inputs, classify_paths, import_inputs,
    legacy_classify_inputs, map_classified_inputs,
};
pub use summary::{
    CategoryCount, LegacySummary, ModelSummary, Recurring, SessionTally, Summary, Unit,
};
pub use taxonomy::{
    Category, DEFAULT_TAXONOMY, Evidence, FailureSource, FailureStage, Group, Label, Named,
    Taxonomy, TaxonomyError, default_stage,
};
