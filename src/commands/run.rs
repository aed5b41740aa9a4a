//! `autopilot run <app.toml>`: one session from an app file to a compiled, checked sketch.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use autopilot_llm::{ChatBackend, LlmClient, ModelRef, Provider, ReplayMatch};
use autopilot_orchestrator::session::{SessionReport, infra, run_session_until, sketch_name};
use autopilot_otel::{Exporter, ExportingSink};
use autopilot_steps::App;
use autopilot_trace::{JsonlLayer, RunDirSink, SamplingParams, SessionId, SessionOutcome};

use crate::cli::{GlobalArgs, RunArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};
use crate::setup::{
    DEMO_ANSWERS, SessionEnvironment, SessionParts, answers_backend, traces_backend,
};

/// The model used when the OpenAI key (`OPENAI_API_KEY`, or the `api_key_env` of the LLM
/// config) is set and no model is named.
pub const DEFAULT_OPENAI_MODEL: &str = "openai:gpt-4o-mini";

/// Which model answers, and from where.
pub(super) struct ModelChoice {
    pub(super) model: ModelRef,
    pub(super) recorded: Option<Arc<dyn ChatBackend>>,
    /// Said on stderr and recorded in the trace.
    pub(super) note: Option<String>,
}

impl ModelChoice {
    /// The chosen model's client (on its recorded answers, if any) and the policies' fallback;
    /// the choice's note said on stderr.
    pub(super) fn clients(
        &self,
        environment: &SessionEnvironment,
    ) -> CliResult<(LlmClient, Option<LlmClient>)> {
        let llm = environment.client(&self.model, self.recorded.clone())?;
        let fallback_llm = environment.fallback_client()?;
        if let Some(note) = &self.note {
            let mut stderr = crate::terminal::stderr();
            let _ = writeln!(stderr, "note: {note}");
        }
        Ok((llm, fallback_llm))
    }
}

/// The local models of a reachable Ollama, a coder model first.
fn ollama_models(
    environment: &SessionEnvironment,
    runtime: &tokio::runtime::Runtime,
) -> Vec<String> {
    let probe = runtime.block_on(autopilot_llm::probe(
        Provider::Ollama,
        &environment.llm_settings.ollama,
        std::time::Duration::from_secs(2),
    ));
    let mut models = match probe {
        Ok(result) if result.is_ok() => result.models,
        _ => Vec::new(),
    };
    models.sort_by_key(|m| !m.contains("coder"));
    models
}

pub(super) fn choose_model(
    args: &RunArgs,
    app: &App,
    environment: &SessionEnvironment,
    runtime: &tokio::runtime::Runtime,
) -> CliResult<ModelChoice> {
    let recorded = if let Some(path) = &args.answers {
        Some(answers_backend(path)?)
    } else if args.replay.is_empty() {
        None
    } else {
        Some(traces_backend(&args.replay, ReplayMatch::Exact)?)
    };
    if let Some(text) = &args.model {
        let model = ModelRef::parse(text)
            .with_context(|| format!("--model {text}"))
            .input_error()?;
        return Ok(ModelChoice {
            model,
            recorded,
            note: None,
        });
    }
    if let Some(recorded) = recorded {
        let name = if args.answers.is_some() {
            "answers"
        } else {
            "recorded"
        };
        return Ok(ModelChoice {
            model: ModelRef::new(Provider::Replay, name),
            recorded: Some(recorded),
            note: None,
        });
    }
    // The key of the resolved settings: the variable `api_key_env` of --config names, by
    // default OPENAI_API_KEY.
    if environment
        .llm_settings
        .openai
        .api_key
        .as_ref()
        .is_some_and(|key| !key.is_empty())
    {
        let model = ModelRef::parse(DEFAULT_OPENAI_MODEL).input_error()?;
        return Ok(ModelChoice {
            model,
            recorded: None,
            note: None,
        });
    }
    if let Some(first) = ollama_models(environment, runtime).first() {
        let model = ModelRef::new(Provider::Ollama, first.clone());
        let note = format!(
            "no model named: using {model}, a model of the Ollama server at {}",
            environment.llm_settings.ollama.redacted_url()
        );
        return Ok(ModelChoice {
            model,
            recorded: None,
            note: Some(note),
        });
    }
    let demo = app.dir.join(DEMO_ANSWERS);
    if demo.is_file() {
        let note = format!(
            "no LLM configured (no --model, no OPENAI_API_KEY, no reachable Ollama with a model): answering with the HAND-WRITTEN DEMO ANSWERS of {} \
             through the replay backend; they are not model output. The compile and the simulation are real.",
            demo.display()
        );
        return Ok(ModelChoice {
            model: ModelRef::new(Provider::Replay, "demo-answers"),
            recorded: Some(answers_backend(&demo)?),
            note: Some(note),
        });
    }
    Err(anyhow!(
        "no LLM configured: pass --model provider:model (e.g. ollama:qwen2.5-coder:14b), set OPENAI_API_KEY, start Ollama, or give --answers <file>"
    ))
    .input_error()
}

/// `<app>-<date>-<time>-<milliseconds>`, with `-2`, `-3`, … when a run into the same `--out`
/// already took that id (two runs within one millisecond).
pub(super) fn session_id(app: &App, out: Option<&Path>) -> SessionId {
    let now = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S-%3f").to_string();
    let base = format!("{}-{now}", sketch_name(&app.name));
    let mut id = SessionId::sanitized(&base);
    let mut n = 1;
    while let Some(out) = out
        && RunDirSink::session_path(out, &id).exists()
    {
        n += 1;
        id = SessionId::sanitized(&format!("{base}-{n}"));
    }
    id
}

/// Exit status of a finished session.
pub fn exit_status(outcome: &SessionOutcome) -> ExitStatus {
    match outcome {
        SessionOutcome::Success { .. } => ExitStatus::Success,
        SessionOutcome::Exhausted { .. } | SessionOutcome::Aborted { .. } => ExitStatus::Failure,
        SessionOutcome::InfrastructureError { kind, .. }
            if *kind == infra::LLM_REJECTED || *kind == infra::REPLAY_MISS =>
        {
            ExitStatus::InputError
        }
        SessionOutcome::InfrastructureError { .. } => ExitStatus::Unavailable,
    }
}

pub fn run(global: &GlobalArgs, args: &RunArgs) -> CliResult<ExitStatus> {
    // `run --stages` is `autopilot pipeline`: the same code path and exit codes.
    if let Some(stages) = &args.stages {
        return super::pipeline::run_stages(global, args, stages);
    }
    let mut app = App::load(&args.app).input_error()?;
    // The trace records the app file's canonical path, so `autopilot replay` finds it from
    // any folder.
    app.path = fs_err::canonicalize(&app.path).input_error()?;
    let environment = SessionEnvironment::resolve(&args.env)?;
    let target = environment.target(&app, args.target.as_deref())?;
    environment.prompts.variant(&args.variant).input_error()?;
    let runtime = crate::setup::session_runtime()?;
    let choice = choose_model(args, &app, &environment, &runtime)?;
    let id = session_id(&app, args.out.as_deref());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(id.as_str()));
    let trace_path = RunDirSink::session_path(&out, &id);
    if trace_path.exists() {
        return Err(anyhow!(
            "{} exists already; choose another --out",
            trace_path.display()
        ))
        .input_error();
    }
    let exporter = super::export::start_live(&args.otlp)?;
    let layer = JsonlLayer::new(ExportingSink::new(
        RunDirSink::new(&out),
        exporter.as_ref().map(Exporter::handle),
    ));
    let write_errors = layer.errors();
    crate::logging::attach_sessions(layer, true);
    let (llm, fallback_llm) = choice.clients(&environment)?;
    let parts = SessionParts {
        id: id.clone(),
        app,
        target,
        variant: args.variant.clone(),
        llm,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_p: args.top_p,
            seed: args.seed,
            max_tokens: args.max_tokens,
            num_ctx: None,
        },
        stream: args.stream,
        run_dir: out.clone(),
        final_dir: Some(out.join("sketch")),
        batch: None,
        note: choice.note,
    };
    let setup = environment.setup(parts, fallback_llm);
    let report: SessionReport = runtime.block_on(run_session_until(
        &setup,
        crate::setup::termination_signal(),
    ));
    super::export::finish_live(global, exporter, args.otlp.otlp_endpoint.as_deref());
    finish(global, &out, &trace_path, &report, &write_errors.snapshot())
}

fn finish(
    global: &GlobalArgs,
    out: &Path,
    trace_path: &Path,
    report: &SessionReport,
    write_errors: &[String],
) -> CliResult<ExitStatus> {
    let mut stderr = crate::terminal::stderr();
    for problem in write_errors {
        let _ = writeln!(stderr, "warning: {problem}");
    }
    if let SessionOutcome::InfrastructureError { kind, message } = &report.outcome
        && *kind == infra::TOOLCHAIN_MISSING
    {
        // The message carries the fix (the one `autopilot doctor` prints).
        let _ = writeln!(stderr, "error: {message}");
    }
    // `-q` is errors only: where things went is information.
    if global.quiet == 0 {
        let _ = writeln!(stderr, "trace: {}", trace_path.display());
        let _ = writeln!(stderr, "artifacts: {}", out.join("artifacts").display());
    }
    if let Some(dir) = &report.sketch_dir {
        let mut stdout = crate::terminal::stdout_data();
        writeln!(stdout, "{}", dir.display()).output_error()?;
    }
    if !write_errors.is_empty() {
        return Ok(ExitStatus::Unavailable);
    }
    Ok(exit_status(&report.outcome))
}
