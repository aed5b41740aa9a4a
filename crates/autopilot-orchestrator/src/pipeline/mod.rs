//! The lifecycle pipeline: data processing (DP) → model conversion (MC) → sketch generation
//! (SG), each stage one session with its own trace in one run directory, linked by a pipeline
//! id, each resumable.
//!
//! A stage is inputs → LLM calls (prompts of `autopilot_steps::StagePrompts`) → LLM-written
//! Python run in the sandbox (`autopilot_toolchain::run_python`, never unsandboxed) → declared
//! outputs validated → typed trace events. Where things are: `setup.rs` what a pipeline is
//! given; `stage.rs` one stage session (its span, its first and last events, the LLM calls
//! with their accounting, the sandboxed runs); `dp.rs` and `mc.rs` the two Python stages;
//! `runner.rs` the stages in order, resume, and SG through the session engine.

mod dp;
mod mc;
mod runner;
mod setup;
mod stage;

pub use runner::{
    MANIFEST, PipelineReport, StageManifest, StageResult, run_pipeline, stage_session_id,
};
pub use setup::{PipelineSetup, SgSetup};
