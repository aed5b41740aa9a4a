//! The command-line interface: clap types only. Behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

/// From a TinyML application description, a dataset and a model to a compiled Arduino sketch,
/// with an LLM — assuming failure at every step.
#[derive(Debug, Parser)]
#[command(name = "autopilot", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments; `--help` ends with the exit-code table of
    /// `src/exit.rs`, the one copy.
    pub fn parse_with_exit_codes() -> Cli {
        let matches = Cli::command()
            .after_help(crate::exit::ExitStatus::help_table())
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
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
    /// Run one session: from an app file to a sketch that compiles (and, on AVR, predicts in
    /// simavr). Exit 0 success, 1 generation failed, 2 bad input or a rejected LLM request,
    /// 3 LLM backend or toolchain unavailable. With --stages: `autopilot pipeline` (its exit
    /// codes).
    Run(Box<RunArgs>),
    /// Run the lifecycle pipeline of an app file's `[pipeline]` section: data processing (raw
    /// CSV → dataset), model conversion (Keras → checked .tflite and header), sketch generation
    /// with the converted model. Each stage is one session trace in one run folder; run it
    /// again with the same --out to resume after the last finished stage. LLM-written Python
    /// runs only in the sandbox. Exit 0 every stage succeeded, 1 a stage failed, 2 bad input or
    /// a rejected LLM request, 3 LLM backend, Python environment or toolchain unavailable.
    Pipeline(Box<PipelineArgs>),
    /// Run an experiment's matrix of sessions (models × targets × variants × sampling × runs)
    /// concurrently; run it again to resume. Exit 0 when every session finished, 3 when some
    /// ended on an infrastructure error (re-run transient ones with --retry-failed), 2 bad input.
    Batch(Box<BatchArgs>),
    /// Join the run directories of shards (or of several batches of one experiment).
    Merge(MergeArgs),
    /// List the boards autopilot knows (`targets/*.toml`), or show one.
    Targets(TargetsArgs),
    /// Compile a sketch for a target and print its diagnostics and size.
    /// Exit 0 compiled, 1 compile failed or timed out, 2 bad input, 3 toolchain missing.
    Compile(CompileArgs),
    /// Send one prompt to an LLM: the answer on stdout; tokens, latency and cost on stderr.
    /// Exit 3 when the backend stays unreachable after retries, 2 for a rejected request.
    Chat(Box<ChatArgs>),
    /// Turn the original system's text logs into session traces, one file per session.
    /// Exit 2 on unreadable input or when a session file exists (unless --force).
    Import(ImportArgs),
    /// Label every failure of session traces, run directories or legacy logs with the
    /// taxonomy. Exit 2 on unreadable input or an invalid taxonomy file.
    Classify(ClassifyArgs),
    /// Check toolchains, cores, libraries, LLM endpoints and keys, and say what to fix.
    /// Exit 0 when the target (default `uno`) can compile and simulate, 3 when its toolchain
    /// is missing (or, with --require-llm, when no LLM is usable).
    Doctor(DoctorArgs),
    /// Write a report (Markdown, CSV, SVG charts, one HTML page) over runs and legacy logs:
    /// success rates with 95% intervals, attempts to success, time and cost per outcome,
    /// failure categories per model. Prints the report folder on stdout. Exit 2 on
    /// unreadable input, an invalid taxonomy file, or an output folder holding other files.
    Report(ReportArgs),
    /// Run every session of a run directory again with its recorded LLM answers and today's
    /// prompts, checks, compiler and classifier (no network, no LLM cost); print the sessions
    /// whose outcome changed and why. Exit 0 when the replay ran (changes are results), 2 bad
    /// input.
    Replay(Box<ReplayArgs>),
    /// The host TinyML check: build the host TFLM library (`setup`), or build, run and judge one
    /// TFLM sketch natively against an app's dataset (`check`). `check` exits 0 on a pass, 1 on
    /// any other verdict, 2 bad input, 3 when the library cannot be built.
    Host(HostArgs),
    /// Send session traces (run directories, trace files, legacy logs) to an OpenTelemetry
    /// collector over OTLP/HTTP, one trace per session (GenAI semantic conventions). Prints
    /// `<session>\t<trace id>` per session. Exit 0 all sent, 2 bad input, 3 spans dropped.
    Export(ExportArgs),
}

/// Where live OTLP export goes (`run`, `batch`); off unless an endpoint is given.
#[derive(Debug, Clone, Args)]
pub struct OtlpArgs {
    /// Also send each session to this OpenTelemetry collector (OTLP/HTTP base URL, e.g.
    /// http://127.0.0.1:6006); headers from OTEL_EXPORTER_OTLP_HEADERS. A collector that is
    /// down never slows or fails a session: what cannot be sent is counted at the end.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Include prompts and answers (gen_ai.input.messages / gen_ai.output.messages).
    #[arg(long)]
    pub otlp_content: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run directories, trace files, legacy `.log` files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The collector's OTLP/HTTP base URL (`/v1/traces` is appended unless present).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub endpoint: String,
    /// An HTTP header `name=value` (repeatable), added to OTEL_EXPORTER_OTLP_HEADERS.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Include prompts and answers (gen_ai.input.messages / gen_ai.output.messages).
    #[arg(long)]
    pub content: bool,
    /// Seconds one request to the collector may take.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(subcommand)]
    pub command: HostCommand,
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Fetch tfmicro 0.1.0 through cargo, check it, build the host TFLM library (cached).
    /// Prints the library's path.
    Setup(HostSetupArgs),
    /// Build a sketch on the host, run it with the app's dataset presented, print the verdict.
    Check(HostCheckArgs),
}

#[derive(Debug, Args)]
pub struct HostSetupArgs {
    /// Cache folder. Default: `$XDG_CACHE_HOME/autopilot` or `~/.cache/autopilot`.
    #[arg(long, env = "AUTOPILOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The host C++ compiler.
    #[arg(long, default_value = "g++", value_name = "PROGRAM")]
    pub cxx: PathBuf,
    /// cargo, used to fetch the TFLM sources from crates.io.
    #[arg(long, env = "CARGO", default_value = "cargo", value_name = "PROGRAM")]
    pub cargo: PathBuf,
    /// Parallel compiles.
    #[arg(long, short, default_value_t = 2)]
    pub jobs: usize,
}

#[derive(Debug, Args)]
pub struct HostCheckArgs {
    /// A `.ino` file or a sketch folder.
    pub sketch: PathBuf,
    /// The app file whose dataset is presented to the sensor.
    #[arg(long)]
    pub app: PathBuf,
    /// The target (default: the app's).
    #[arg(long, short)]
    pub target: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Build folder. Default: under the cache folder.
    #[arg(long, value_name = "DIR")]
    pub build_dir: Option<PathBuf>,
    #[arg(long, env = "AUTOPILOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Wall-time budget of the run, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub budget: u64,
    /// The stand-ins and profiles (`data/host` of the checkout).
    #[arg(long, default_value_os_t = crate::settings::default_host_data(), value_name = "DIR")]
    pub host_data: PathBuf,
    #[arg(long, default_value = "g++", value_name = "PROGRAM")]
    pub cxx: PathBuf,
    #[arg(long, env = "CARGO", default_value = "cargo", value_name = "PROGRAM")]
    pub cargo: PathBuf,
    #[arg(long, default_value = "arduino-ctags", value_name = "PROGRAM")]
    pub ctags: PathBuf,
    /// Build and run the sketch without the bubblewrap sandbox (it then sees the whole file
    /// system). Without this flag, a missing `bwrap` stops the check.
    #[arg(long, env = "AUTOPILOT_NO_SANDBOX")]
    pub no_sandbox: bool,
    #[command(flatten)]
    pub targets: TargetsDirArg,
}

/// Where board definitions come from.
#[derive(Debug, Clone, Args)]
pub struct TargetsDirArg {
    /// Read board definitions from this folder instead of the built-in copies of `targets/`.
    #[arg(long, env = "AUTOPILOT_TARGETS_DIR", value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// A target name (`uno`, `nano33ble_sense`); all targets when omitted.
    pub name: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub targets: TargetsDirArg,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// A `.ino` file or a sketch folder.
    pub sketch: PathBuf,
    /// The target board (see `autopilot targets`).
    #[arg(long, short)]
    pub target: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Build folder, reused across runs. Default: under the cache folder, per target and sketch.
    #[arg(long, value_name = "DIR")]
    pub build_dir: Option<PathBuf>,
    /// Time limit of the compile, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Cache folder: shared build cache, compile cache, default build folders.
    /// Default: `$XDG_CACHE_HOME/autopilot` or `~/.cache/autopilot`.
    #[arg(long, env = "AUTOPILOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Always run the compiler (no compile-cache lookup or store).
    #[arg(long)]
    pub no_cache: bool,
    /// User libraries folder passed to the compiler.
    #[arg(long, env = "AUTOPILOT_LIBRARIES_DIR", value_name = "DIR")]
    pub libraries_dir: Option<PathBuf>,
    /// Use this backend instead of the target's preferred one.
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    #[command(flatten)]
    pub programs: ToolProgramsArgs,
    #[command(flatten)]
    pub targets: TargetsDirArg,
}

/// The compiler programs (names looked up on PATH, or paths).
#[derive(Debug, Clone, Args)]
pub struct ToolProgramsArgs {
    /// The arduino-cli program.
    #[arg(
        long,
        env = "AUTOPILOT_ARDUINO_CLI",
        default_value = "arduino-cli",
        value_name = "PROGRAM"
    )]
    pub arduino_cli: PathBuf,
    /// The arduino-builder program.
    #[arg(
        long,
        env = "AUTOPILOT_ARDUINO_BUILDER",
        default_value = "arduino-builder",
        value_name = "PROGRAM"
    )]
    pub arduino_builder: PathBuf,
    /// Run the compiler and simavr on generated code without the bubblewrap sandbox (they
    /// then see the whole file system; the trace notes it). Without this flag, a missing
    /// `bwrap` stops the run.
    #[arg(long, env = "AUTOPILOT_NO_SANDBOX")]
    pub no_sandbox: bool,
}

/// `autopilot doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The target that must be ready for exit 0 (the default example's board).
    #[arg(long, short, default_value = "uno")]
    pub target: String,
    /// Exit 3 when no LLM is usable (otherwise LLM problems are warnings: sessions fall back
    /// to the example's hand-written demo answers).
    #[arg(long)]
    pub require_llm: bool,
    /// LLM config file (as for `autopilot chat`): endpoints, key variable, model.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The model sessions will ask for (provider:model; overrides the config file's): doctor
    /// says when its endpoint does not serve it.
    #[arg(long, value_name = "PROVIDER:MODEL")]
    pub model: Option<String>,
    /// Base URL of the model's endpoint (as for `autopilot chat`).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Limit of each endpoint probe, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// User libraries folder (where arduino-builder finds installed libraries).
    #[arg(long, env = "AUTOPILOT_LIBRARIES_DIR", value_name = "DIR")]
    pub libraries_dir: Option<PathBuf>,
    #[command(flatten)]
    pub programs: ToolProgramsArgs,
    #[command(flatten)]
    pub targets: TargetsDirArg,
}

/// A compiler backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    ArduinoBuilder,
    ArduinoCli,
}

/// `autopilot chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt; `-` reads it from stdin.
    pub prompt: String,
    /// The model as provider:model: openai:gpt-4o, ollama:qwen2.5-coder:32b, replay:demo.
    /// Defaults to `model` in the config file.
    #[arg(long, short)]
    pub model: Option<String>,
    /// A system message before the prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Stream the answer: printed as it arrives (and the time to the first token measured).
    #[arg(long)]
    pub stream: bool,
    /// Config file: [providers.openai|ollama] base_url, api_key_env, timeout_secs; [retry].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Endpoint of the model's provider; overrides the config file, OPENAI_BASE_URL and
    /// OLLAMA_HOST.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Limit for one try, in seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Tries in all, the first included (1 = no retries).
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Sampling temperature (0 = most deterministic); default: the provider's.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Nucleus sampling: sample from the tokens holding this much probability mass (0-1).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Sampling seed, for providers that honour one (repeatable answers).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Most tokens one answer may have; default: the provider's.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Ollama's context window.
    #[arg(long)]
    pub num_ctx: Option<u32>,
    /// Answer from a scripted answers file instead of the network.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub answers: Option<PathBuf>,
    /// Answer from recorded session traces (files or run directories) instead of the network.
    #[arg(long, value_name = "PATH")]
    pub replay: Vec<PathBuf>,
    /// The stage the call is made for (replay keys on it).
    #[arg(long, default_value = "sketch", value_parser = parse_stage)]
    pub stage: autopilot_trace::Stage,
    /// The stage attempt the call is made for (replay keys on it).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: u32,
    /// Also print the model's reasoning (on stderr).
    #[arg(long)]
    pub show_reasoning: bool,
    /// Record the call as a session trace in this run directory
    /// (`<dir>/sessions/chat-<time>.jsonl`), replayable with --replay.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
}

fn parse_stage(text: &str) -> Result<autopilot_trace::Stage, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        "expected one of spec, outline, design, sketch, extract, check, compile, library, size, \
         simulate"
            .to_owned()
    })
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
    /// What to count: `root` (distinct root defects per compile; cascades counted under their
    /// root), `diagnostic` (every failure record, the raw evidence) or `session` (sessions a
    /// category touches). With csv/jsonl, `root` writes root records only, the others every
    /// record. Not for `--taxonomy legacy`.
    #[arg(long, value_enum, default_value_t = CountUnit::Root)]
    pub unit: CountUnit,
    /// Files read at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

/// `--unit`: what failure counts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CountUnit {
    /// Every failure record (every diagnostic of every compile).
    Diagnostic,
    /// Distinct root defects per compile.
    Root,
    /// Sessions a category touches.
    Session,
}

impl From<CountUnit> for autopilot_classifier::Unit {
    fn from(unit: CountUnit) -> Self {
        match unit {
            CountUnit::Diagnostic => autopilot_classifier::Unit::Diagnostic,
            CountUnit::Root => autopilot_classifier::Unit::Root,
            CountUnit::Session => autopilot_classifier::Unit::Session,
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories, trace files, legacy `.log` files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The folder to write into: new, empty, or holding an earlier report.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// `default` (data/taxonomy.toml, built in), `legacy` (the published classifier, legacy
    /// logs only; the paper's per-model figure) or the path of a taxonomy file.
    #[arg(long, default_value = "default")]
    pub taxonomy: String,
    /// The report's title (default: names the inputs and the taxonomy).
    #[arg(long)]
    pub title: Option<String>,
    /// What the failure tables, CSV and Pareto panels count: `root`, `diagnostic` or
    /// `session` (as `autopilot classify --unit`). Legacy mode counts entries.
    #[arg(long, value_enum, default_value_t = CountUnit::Root)]
    pub unit: CountUnit,
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
    /// Summarise sessions: stages, attempts, verdicts, tokens, time.
    Show {
        /// A trace file, or a run directory (every trace in its `sessions/`).
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

/// The machine a session runs on: prompts, boards, toolchain, caches, policies, LLM endpoints.
#[derive(Debug, Clone, Args)]
pub struct SessionEnvArgs {
    /// Policies file (attempt budgets, timeouts, session budgets, fallbacks); defaults apply
    /// to what it does not set.
    #[arg(long, value_name = "FILE")]
    pub policies: Option<PathBuf>,
    /// LLM config file, as for `autopilot chat` and `doctor`: [providers.openai|ollama]
    /// base_url, api_key_env, timeout_secs; [retry]. (A policies file given here is still read
    /// as policies, with a deprecation warning: use --policies.)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Deprecated spelling of --config (the LLM config).
    #[arg(long, value_name = "FILE", hide = true)]
    pub llm_config: Option<PathBuf>,
    /// Endpoint of the model's provider; overrides the LLM config, OPENAI_BASE_URL and OLLAMA_HOST.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Prompt templates folder. Default: `prompts/` here or in a parent folder.
    #[arg(long, env = "AUTOPILOT_PROMPTS_DIR", value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,
    #[command(flatten)]
    pub targets: TargetsDirArg,
    /// Cache folder (build cache, compile cache). Default: `$XDG_CACHE_HOME/autopilot` or `~/.cache/autopilot`.
    #[arg(long, env = "AUTOPILOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// User libraries folder passed to the compiler.
    #[arg(long, env = "AUTOPILOT_LIBRARIES_DIR", value_name = "DIR")]
    pub libraries_dir: Option<PathBuf>,
    #[command(flatten)]
    pub programs: ToolProgramsArgs,
    /// The simavr program.
    #[arg(
        long,
        env = "AUTOPILOT_SIMAVR",
        default_value = "simavr",
        value_name = "PROGRAM"
    )]
    pub simavr: PathBuf,
}

/// `autopilot run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The app file (TOML): description, target, classes, model, dataset.
    pub app: PathBuf,
    #[command(flatten)]
    pub otlp: OtlpArgs,
    /// The board (see `autopilot targets`); default: the app's.
    #[arg(long, short)]
    pub target: Option<String>,
    /// The model as provider:model (openai:gpt-4o, ollama:qwen2.5-coder:32b). Default: openai:gpt-4o-mini
    /// when the OpenAI key is set (OPENAI_API_KEY, or the variable `api_key_env` of --llm-config
    /// names), else a reachable Ollama's first model, else the example's
    /// hand-written demo answers (`demo-answers.toml` next to the app file).
    #[arg(long, short)]
    pub model: Option<String>,
    /// Prompt variant (see prompts/variants.toml).
    #[arg(long, default_value = "default")]
    pub variant: String,
    /// Run directory: the session trace, per-attempt prompts, answers, sketches and diagnostics,
    /// and the final sketch folder. Default: `runs/<app>-<time>`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Answer from a scripted answers file instead of a live model.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub answers: Option<PathBuf>,
    /// Answer from recorded session traces (files or run directories) instead of a live model.
    #[arg(long, value_name = "PATH")]
    pub replay: Vec<PathBuf>,
    /// Stream answers (measures the time to the first token).
    #[arg(long)]
    pub stream: bool,
    /// Sampling temperature (0 = most deterministic); default: the provider's.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Nucleus sampling: sample from the tokens holding this much probability mass (0-1).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Sampling seed, for providers that honour one (repeatable answers).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Most tokens one answer may have; default: the provider's.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Run the lifecycle stages, in order, as `autopilot pipeline` does (dp: data processing,
    /// mc: model conversion, sg: sketch generation), e.g. `dp,mc,sg`. `pipeline` runs all three
    /// by default; `run` without it runs one sketch-generation session.
    #[arg(long, value_delimiter = ',', value_name = "STAGES", value_parser = parse_pipeline_stage)]
    pub stages: Option<Vec<autopilot_trace::PipelineStage>>,
    #[command(flatten)]
    pub env: SessionEnvArgs,
}

/// `autopilot pipeline`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

fn parse_pipeline_stage(text: &str) -> Result<autopilot_trace::PipelineStage, String> {
    use autopilot_trace::PipelineStage;
    match text {
        "dp" => Ok(PipelineStage::Dp),
        "mc" => Ok(PipelineStage::Mc),
        "sg" => Ok(PipelineStage::Sg),
        other => Err(format!("`{other}` is not a stage (dp, mc, sg)")),
    }
}

/// `autopilot batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    #[command(flatten)]
    pub otlp: OtlpArgs,
    /// Run directory. Default: `runs/<experiment name>` (`…-shard-K-of-N` for a shard).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sessions at once in all (per-provider limits still apply). Default: the experiment's.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Run only shard K of N (a deterministic slice of the matrix), e.g. `--shard 2/8`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<autopilot_orchestrator::batch::Shard>,
    /// Also re-run sessions that ended on an infrastructure error.
    #[arg(long)]
    pub retry_failed: bool,
    #[command(flatten)]
    pub env: SessionEnvArgs,
}

/// `autopilot merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run directories to join (shards of one experiment).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The joined run directory (created, or completed when it exists).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
/// `autopilot replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A run directory of `autopilot run` or `autopilot batch`: its `sessions/*.jsonl` are
    /// replayed.
    pub run_dir: PathBuf,
    /// Where the replayed sessions go (same session ids). Default: `<run-dir>-replay`. Existing
    /// session files there are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Answer only requests identical to the recorded ones (stage, attempt, request hash);
    /// default: the recorded answers of each stage attempt in order, whatever today's prompts
    /// say.
    #[arg(long)]
    pub exact: bool,
    /// Use this app file for every session instead of the one recorded in its trace.
    #[arg(long, value_name = "FILE")]
    pub app: Option<PathBuf>,
    /// Sessions replayed at once.
    #[arg(short = 'j', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    #[command(flatten)]
    pub env: SessionEnvArgs,
}
