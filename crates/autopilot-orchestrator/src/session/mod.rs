//! One session, from a loaded app to a compiled, checked sketch: the engine that composes the
//! pure steps (`autopilot-steps`) with the LLM (`autopilot-llm`) and the compiler and simulators
//! (`autopilot-toolchain`, `autopilot-hostrun`). Every decision is a trace event; the session
//! always ends with `session_finished`, whatever happened.
//!
//! Where things are: `setup.rs` what a session is given and what it returns; `engine.rs` the
//! loop (start, spec, sketch rounds, fallback variant, finish); `ask.rs` one LLM request with its
//! parachutes (budgets, fallback model); `spec.rs` the spec stage; `sketch.rs` the sketch
//! rounds and their repair prompts; `attempt.rs` one sketch attempt as an `AttemptReport`
//! value; `checks.rs` the toolchain steps of an attempt (compile, size, simulation, host
//! check); `target.rs` the one projection of the toolchain's target for the pure steps;
//! `sketch_dir.rs` sketch folder names and copies.

pub(crate) mod ask;
mod attempt;
mod checks;
mod engine;
mod setup;
mod sketch;
mod sketch_dir;
mod spec;
mod target;

pub use engine::{run_session, run_session_until};
pub use setup::{SessionReport, SessionSetup, infra};
pub use sketch_dir::sketch_name;
pub use target::TargetView;
