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

/// mimalloc rather than glibc's allocator: the classifier allocates and frees small strings
/// for every record, and glibc's `malloc` (with its fastbin consolidation on every larger
/// request) was a fifth of `classify`'s CPU time. `.cargo/config.toml` builds it without eager
/// arena commits, which would otherwise raise peak RSS at two threads to ~53 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_with_exit_codes();
    terminal::add_environment_secrets();
    let status = match commands::run(cli) {
        Ok(status) => status,
        Err(error) => error.report(),
    };
    status.into()
}
