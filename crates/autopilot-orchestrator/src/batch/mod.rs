//! Batch experiments: the experiment file, its matrix of sessions, shards, resuming a run
//! directory, merging shard directories, and running sessions concurrently under limits.

mod executor;
mod experiment;
mod merge;
mod plan;
mod resume;

pub use executor::{BatchObserver, run_concurrently};
pub use experiment::{ConcurrencyLimits, Experiment, ExperimentError, SamplingSetting};
pub use merge::{MergeError, MergeReport, merge_run_dirs};
pub use plan::{SessionPlan, Shard, ShardError, expand};
pub use resume::{
    Manifest, ManifestError, PlannedAction, SessionState, plan_actions, read_manifest,
    scan_session, set_aside, write_manifest,
};
