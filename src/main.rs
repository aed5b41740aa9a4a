//! The `autopilot` binary: parses arguments, runs one command, maps its result to an exit code.
//! Everything else lives in the modules below and in the `crates/autopilot-*` libraries.

mod cli;
mod commands;
mod exit;
mod logging;
mod progress;
mod settings;
mod setup;
mod terminal;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_with_exit_codes();
    terminal::add_environment_secrets();
    let status = match commands::run(cli) {
        Ok(status) => status,
        Err(error) => error.report(),
    };
    status.into()
}
