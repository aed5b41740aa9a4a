//! The `autopilot` binary: parses arguments, runs one command, maps its result to an exit code.
//! Everything else lives in the modules below and in the `crates/autopilot-*` libraries.

mod cli;
mod commands;
mod exit;
mod logging;
mod progress;
mod setup;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    terminal::add_environment_secrets();
    match commands::run(cli) {
        Ok(status) => status.into(),
        Err(error) => error.report(),
    }
}
