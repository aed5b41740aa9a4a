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
    /// Turn the original system's text logs into session traces, one file per session.
    /// Exit 2 on unreadable input or when a session file exists (unless --force).
    Import(ImportArgs),
    /// Label every failure of session traces, run directories or legacy logs with the
    /// taxonomy. Exit 2 on unreadable input or an invalid taxonomy file.
    Classify(ClassifyArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Legacy `.log` files, or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The run directory to write `sessions/<id>.jsonl` into.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite session files that exist.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t = ImportFormat::Table)]
    pub format: ImportFormat,
    /// Files read at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

/// What `autopilot import` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// Per-log counts of sessions and outcomes.
    Table,
    /// One row per session: file,model,batch,session,outcome,attempts,success_attempt,compile_attempts,llm_calls,start,end.
    Csv,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Trace files, run directories, legacy `.log` files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// `default` (data/taxonomy.toml, built in), `legacy` (the published classifier, exactly)
    /// or the path of a taxonomy file.
    #[arg(long, default_value = "default")]
    pub taxonomy: String,
    #[arg(long, value_enum, default_value_t = ClassifyFormat::Table)]
    pub format: ClassifyFormat,
    /// Files read at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

/// What `autopilot classify` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassifyFormat {
    /// Counts per category and model, for people.
    Table,
    /// One row per failure (legacy: file,index,category).
    Csv,
    /// One JSON object per failure (legacy: per entry).
    Jsonl,
    /// The summary: counts per category, model × category, stage, root cause, outcome.
    Json,
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
