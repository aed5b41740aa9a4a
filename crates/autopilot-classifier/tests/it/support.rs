//! Helpers: the published corpus and its logs, from the workspace's shared test support (which
//! fails a test under `CI=true` when the corpus is missing and records a skip elsewhere).

pub use autopilot_testkit::{corpus, corpus_logs};
