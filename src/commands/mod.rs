//! One module per command; `run` dispatches.

mod chat;
mod trace;

use crate::cli::{Cli, Command};
use crate::exit::{CliResult, ExitStatus};

pub fn run(cli: Cli) -> CliResult<ExitStatus> {
    match cli.command {
        Command::Trace(command) => {
            crate::logging::install(&cli.global, None);
            trace::run(&command)
        }
        Command::Chat(args) => chat::run(&cli.global, &args),
    }
}
