//! One module per command; `run` dispatches.

mod batch;
mod chat;
mod classify;
mod compile;
mod doctor;
mod export;
mod host;
mod import;
mod pipeline;
mod replay;
mod report;
mod run;
mod targets;
mod trace;

use std::io::Write as _;
use std::path::Path;

use autopilot_orchestrator::batch::RunDirLock;

use crate::cli::{Cli, Command};
use crate::exit::{CliResult, ErrorKind, ExitStatus};

/// Locks a run directory for this process (`batch`, `replay`): a second writer is an input
/// error (exit 2) naming the holder; a lock left by a dead process is taken over with a note.
fn lock_run_dir(dir: &Path) -> CliResult<RunDirLock> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let now = autopilot_trace::format_timestamp(jiff::Timestamp::now());
    let (lock, stale) = RunDirLock::acquire(dir, &command, &now).input_error()?;
    if let Some(stale) = stale {
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(
            stderr,
            "note: took over the lock of {} left by {stale}, which is no longer running",
            dir.display()
        );
    }
    Ok(lock)
}

pub fn run(cli: Cli) -> CliResult<ExitStatus> {
    crate::logging::install(&cli.global);
    match cli.command {
        Command::Trace(command) => trace::run(&command),
        Command::Targets(args) => targets::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Chat(args) => chat::run(&args),
        Command::Run(args) => run::run(&cli.global, &args),
        Command::Pipeline(args) => pipeline::run(&cli.global, &args),
        Command::Batch(args) => batch::run(&cli.global, &args),
        Command::Merge(args) => batch::merge(&args),
        Command::Import(args) => import::run(&args),
        Command::Classify(args) => classify::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Replay(args) => replay::run(&cli.global, &args),
        Command::Host(args) => host::run(&args),
        Command::Export(args) => export::run(&args),
    }
}
