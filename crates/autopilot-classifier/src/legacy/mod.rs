//! The legacy-log reader: the original system's text logs, read three ways. `lines` splits them
//! into physical lines as Python does, `logline` parses a record's header, `import` turns the
//! records into our session traces (what `autopilot import`, and every default-mode reading of
//! a log, goes through; `staged` writes them into a run directory, all or nothing), and
//! `published` reproduces the published jsonizer and classifier exactly (legacy mode; its names
//! are re-exported here, as `autopilot_classifier::legacy`).
//!
//! A folder of the classifier rather than a crate: its only readers are the classifier's
//! pipeline and the report loader through it, and the importer's build output goes through
//! `autopilot-diagnostics`, so a crate would add a boundary no second user needs.

pub(crate) mod import;
pub(crate) mod lines;
pub(crate) mod logline;
mod published;
pub(crate) mod staged;

pub use published::{LegacyCategory, LegacyEntries, LegacyEntry, legacy_category};
