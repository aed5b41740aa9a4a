//! The orchestrator: one session from app file to compiled, checked sketch, and batches of them.

pub mod batch;
