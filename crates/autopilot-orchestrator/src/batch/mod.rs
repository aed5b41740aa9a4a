//! Batch experiments: the experiment file, its matrix of sessions, shards, preparing a run
//! directory (manifest, resume), merging shard directories, and running sessions concurrently
//! under limits; the lock that keeps two writers out of one run directory.

mod executor;
mod experiment;
mod lock;
mod merge;
mod plan;
mod prepare;
mod resume;

pub use executor::{BatchObserver, Job, run_concurrently, run_each};
pub use experiment::{ConcurrencyLimits, Experiment, ExperimentError, SamplingSetting};
pub use lock::{LockError, LockHolder, RunDirLock};
pub use merge::{MergeError, MergeReport, merge_run_dirs};
pub use plan::{
    DuplicateSessionId, SessionPlan, Shard, ShardError, check_unique_ids, expand, sessions,
};
pub use prepare::{
    Invocation, PrepareError, PreparedRun, pending_plans, pending_sessions, prepare_run_dir,
};
pub use resume::ManifestError;
