//! One module per command; `run` dispatches.

mod classify;
mod import;
mod trace;

use crate::cli::{Cli, Command};
use crate::exit::{CliResult, ExitStatus};

pub fn run(cli: Cli) -> CliResult<ExitStatus> {
    match cli.command {
        Command::Trace(command) => {
            crate::logging::install(&cli.global, None);
            trace::run(&command)
        }
        Command::Import(args) => {
            crate::logging::install(&cli.global, None);
            import::run(&args)
        }
        Command::Classify(args) => {
            crate::logging::install(&cli.global, None);
            classify::run(&args)
        }
    }
}
