//! Test support shared by every test binary of the workspace: the one corpus finder, the one
//! "required under `CI=true`, skipped (and recorded) elsewhere" rule, the scripted
//! OpenAI-compatible server, the trace writer and the snapshot redactions.
//!
//! A dev-dependency only: the architecture test fails if a crate depends on it normally.

pub mod corpus;
pub mod openai;
pub mod skip;
pub mod snapshot;
pub mod tools;
pub mod trace;

use std::path::{Path, PathBuf};

pub use corpus::{corpus, corpus_logs};
pub use skip::{on_ci, require};

/// The workspace root (this crate lives two levels below it).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}
