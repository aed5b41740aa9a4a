//! Integration tests of the `autopilot` binary and of the workspace's architecture invariants.

mod architecture;
mod classify_cli;
mod support;
mod trace_cli;
