//! Integration tests of the diagnostics crate, one module per parser.

mod build_log;
mod gcc;
mod size;

use std::path::PathBuf;

/// The repository's `data/fixtures` folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fixtures"))
}
