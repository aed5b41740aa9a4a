//! The command-line interface: clap types only. Behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// From a TinyML application description, a dataset and a model to a compiled Arduino sketch,
/// with an LLM — assuming failure at every step.
///
/// Exit codes: 0 success; 1 the job ran and failed (e.g. generation exhausted, compile failed);
/// 2 usage, input or configuration error; 3 infrastructure unavailable (LLM backend or
/// toolchain).
#[derive(Debug, Parser)]
#[command(name = "autopilot", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// More messages on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Fewer messages on stderr (-q errors only, -qq nothing).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect session traces.
    #[command(subcommand)]
    Trace(TraceCommand),
}

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Check trace files or run directories; report every problem with file and line.
    /// Exit 2 when any file is invalid.
    Validate {
        /// Trace files (`*.jsonl`) or run directories (their `sessions/*.jsonl`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Summarise one session: stages, attempts, verdicts, tokens, time.
    Show {
        /// A trace file.
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// Output format of data on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// Machine-readable JSON.
    Json,
}
