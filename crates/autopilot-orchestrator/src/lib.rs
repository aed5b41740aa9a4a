//! The session engine and the experiments around it: one session from app file to compiled,
//! checked sketch ([`session`]: the loop that composes the pure steps of `autopilot-steps` with
//! the LLM client, the compilers and the simulators, every decision a trace event), batches of
//! sessions ([`batch`]: the experiment file, its matrix and shards, resume, merge, the
//! concurrent executor, the run-directory lock), and the comparison of a replayed session with
//! its recording ([`replay`]).

#![warn(unreachable_pub)]

pub mod batch;
pub mod pipeline;
pub mod replay;
pub mod session;
