//! Integration tests of the `autopilot` binary and of the workspace's architecture invariants.

mod architecture;
mod batch_cli;
mod chat_cli;
mod classify_cli;
mod doctor_cli;
mod export_cli;
mod hostile_cli;
mod llama;
mod pipeline_batch_cli;
mod pipeline_cli;
mod replay_cli;
mod report_cli;
mod run_cli;
mod signals_cli;
mod support;
mod tidy;
mod toolchain_cli;
mod trace_cli;
