//! Integration tests of the `autopilot` binary and of the workspace's architecture invariants.

mod architecture;
mod chat_cli;
mod classify_cli;
mod replay_cli;
mod support;
mod toolchain_cli;
mod trace_cli;
