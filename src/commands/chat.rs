//! `autopilot chat`: one prompt to one model; the answer on stdout, the accounting on stderr.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use autopilot_llm::{
    CallContext, ChatAnswer, ChatBackend, ChatRequest, LlmClient, LlmConfigFile, LlmOverrides,
    ModelRef, PriceTable, Provider, ReplayBackend, ReplayMatch, ScriptedAnswers, TextSink,
    display_model_name, live_backend, pricing_model, resolve_settings,
};
use autopilot_trace::{
    Event, JsonlLayer, RunDirSink, SamplingParams, SessionFinished, SessionId, SessionOutcome,
    SessionStarted, SessionTotals, TraceFile, TraceOrigin, collect_trace_files,
};
use tracing::Instrument;

use crate::cli::ChatArgs;
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

pub fn run(args: &ChatArgs) -> CliResult<ExitStatus> {
    let layer = args
        .trace_dir
        .as_ref()
        .map(|dir| JsonlLayer::new(RunDirSink::new(dir)));
    let write_errors = layer.as_ref().map(JsonlLayer::errors);
    if let Some(layer) = layer {
        crate::logging::attach_sessions(layer, false);
    }
    let file = match &args.config {
        Some(path) => LlmConfigFile::load(path).input_error()?,
        None => LlmConfigFile::default(),
    };
    let model = match args.model.as_deref().or(file.model.as_deref()) {
        Some(text) => ModelRef::parse(text)
            .with_context(|| format!("--model {text}"))
            .input_error()?,
        None => {
            return Err(anyhow!(
                "no model: give --model provider:model or set model in a config file"
            ))
            .input_error();
        }
    };
    let overrides = overrides(args, model.provider)?;
    let env = |name: &str| std::env::var(name).ok();
    let settings = resolve_settings(&file, &env, &overrides).input_error()?;
    crate::terminal::add_secrets(&settings.redactor());
    let prices = match &settings.prices {
        Some(path) => PriceTable::load(path).input_error()?,
        None => PriceTable::builtin(),
    };
    let backend = backend(args, &model, &settings)?;
    let client = LlmClient::new(model, backend)
        .with_retry(settings.retry.clone())
        .with_prices(Arc::new(prices));
    let request = ChatRequest {
        sampling: SamplingParams {
            temperature: args.temperature,
            top_p: args.top_p,
            seed: args.seed,
            max_tokens: args.max_tokens,
            num_ctx: args.num_ctx,
        },
        stream: args.stream,
        ..ChatRequest::prompt(args.system.as_deref(), &prompt(args)?)
    };
    let runtime = crate::setup::current_thread_runtime()?;
    let context = CallContext::new(args.stage, args.attempt);
    let session = args.trace_dir.as_ref().map(|_| chat_session_id());
    let span = session
        .as_ref()
        .map_or_else(tracing::Span::none, autopilot_trace::session_span);
    let traced = session.is_some();
    let result = runtime.block_on(
        async {
            let started = std::time::Instant::now();
            if traced {
                autopilot_trace::emit(&session_started(&client, &request));
            }
            // `--stream` prints the answer as it arrives; the full text is not printed again.
            let printer = request.stream.then(|| {
                TextSink::new(|piece| {
                    let mut stdout = crate::terminal::stdout_data();
                    let _ = write!(stdout, "{piece}");
                    let _ = stdout.flush();
                })
            });
            let result = client
                .chat_streamed(&context, &request, printer.as_ref())
                .await;
            if traced {
                autopilot_trace::emit(&session_finished(&result, started.elapsed()));
            }
            result
        }
        .instrument(span),
    );
    if let (Some(dir), Some(session)) = (&args.trace_dir, &session) {
        let mut stderr = crate::terminal::stderr();
        for problem in write_errors.map(|e| e.snapshot()).unwrap_or_default() {
            let _ = writeln!(stderr, "warning: {problem}");
        }
        let path = RunDirSink::session_path(dir, session);
        let _ = writeln!(stderr, "trace: {}", path.display());
    }
    match result {
        Ok(answer) => {
            let mut stdout = crate::terminal::stdout_data();
            if request.stream {
                writeln!(stdout).output_error()?;
            } else {
                writeln!(stdout, "{}", answer.text).output_error()?;
            }
            report(&answer, &client.model().model, args.show_reasoning);
            Ok(ExitStatus::Success)
        }
        // Transient (unavailable) or not (rejected): `CliError::from` decides.
        Err(error) => Err(error.into()),
    }
}

/// `chat-<unix milliseconds>`: a new file per call.
fn chat_session_id() -> SessionId {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    SessionId::sanitized(&format!("chat-{millis}"))
}

fn session_started(client: &LlmClient, request: &ChatRequest) -> Event {
    Event::SessionStarted(SessionStarted {
        app: "chat".to_owned(),
        app_path: None,
        target: "none".to_owned(),
        fqbn: None,
        provider: client.model().provider.to_string(),
        model: client.model().model.clone(),
        endpoint: client.backend().endpoint(),
        prompt_variant: "chat".to_owned(),
        sampling: request.sampling.clone(),
        seed: request.sampling.seed,
        tool_versions: Vec::new(),
        autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
        batch: None,
        origin: TraceOrigin::Native,
    })
}

fn session_finished(result: &Result<ChatAnswer, autopilot_llm::LlmError>, wall: Duration) -> Event {
    let wall_ms = u64::try_from(wall.as_millis()).unwrap_or(u64::MAX);
    let (outcome, totals) = match result {
        Ok(answer) => (
            SessionOutcome::Success { attempt: 1 },
            SessionTotals {
                attempts: 1,
                llm_calls: answer.tries,
                input_tokens: answer.usage.input,
                output_tokens: answer.usage.output,
                cost_usd: answer.cost_usd,
                wall_ms,
                ..SessionTotals::default()
            },
        ),
        Err(error) => {
            let outcome = if error.is_transient() {
                SessionOutcome::InfrastructureError {
                    // As a session's: the backend stayed unreachable (the message says how).
                    kind: autopilot_trace::InfraErrorKind::LlmUnreachable,
                    message: error.to_string(),
                }
            } else {
                SessionOutcome::Aborted {
                    reason: error.to_string(),
                }
            };
            let totals = SessionTotals {
                attempts: 1,
                llm_calls: error.tries(),
                wall_ms,
                ..SessionTotals::default()
            };
            (outcome, totals)
        }
    };
    Event::SessionFinished(SessionFinished { outcome, totals })
}

/// The wire name of a kind (`connection_refused`).
fn overrides(args: &ChatArgs, provider: Provider) -> CliResult<LlmOverrides> {
    let mut overrides = LlmOverrides {
        max_attempts: args.max_attempts,
        ..LlmOverrides::default()
    };
    let timeout = args
        .timeout
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow!("--timeout {secs}: not a positive number of seconds"))
        })
        .transpose()
        .input_error()?;
    match overrides.endpoint_mut(provider) {
        Some(endpoint) => {
            endpoint.base_url.clone_from(&args.base_url);
            endpoint.timeout = timeout;
        }
        None if args.base_url.is_some() => {
            return Err(anyhow!("--base-url: replay models have no endpoint")).input_error();
        }
        None => {}
    }
    Ok(overrides)
}

/// Recordings when asked for (any model can be answered from them), else the live endpoint.
fn backend(
    args: &ChatArgs,
    model: &ModelRef,
    settings: &autopilot_llm::LlmSettings,
) -> CliResult<Arc<dyn ChatBackend>> {
    if let Some(path) = &args.answers {
        let answers = ScriptedAnswers::load(path).input_error()?;
        return Ok(Arc::new(ReplayBackend::from_scripted(answers)));
    }
    if !args.replay.is_empty() {
        let mut traces = Vec::new();
        for path in &args.replay {
            let files: Vec<PathBuf> = collect_trace_files(path)
                .with_context(|| format!("cannot list {}", path.display()))
                .input_error()?;
            for file in files {
                let trace = TraceFile::read(&file)
                    .with_context(|| format!("cannot read {}", file.display()))
                    .input_error()?;
                traces.push(trace);
            }
        }
        let backend = ReplayBackend::from_traces(&traces, ReplayMatch::Exact).input_error()?;
        return Ok(Arc::new(backend));
    }
    if model.provider == Provider::Replay {
        return Err(anyhow!(
            "model {model} answers from recordings: give --answers <file> or --replay <trace>"
        ))
        .input_error();
    }
    live_backend(model.provider, settings).input_error()
}

fn prompt(args: &ChatArgs) -> CliResult<String> {
    if args.prompt != "-" {
        return Ok(args.prompt.clone());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the prompt from stdin")
        .input_error()?;
    Ok(text)
}

/// Tokens, latency, cost and provenance, on stderr.
fn report(answer: &ChatAnswer, requested: &str, show_reasoning: bool) {
    let tokens = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut parts = vec![
        format!(
            "tokens {} in, {} out",
            tokens(answer.usage.input),
            tokens(answer.usage.output)
        ),
        format!("latency {:.2} s", answer.latency.as_secs_f64()),
    ];
    if let Some(ttft) = answer.time_to_first_token {
        parts.push(format!("first token {:.2} s", ttft.as_secs_f64()));
    }
    parts.push(match answer.cost_usd {
        Some(cost) => format!("cost ${cost:.6}"),
        None => "cost unknown".to_owned(),
    });
    if let Some(model) = &answer.response_model {
        let shown = display_model_name(model);
        if pricing_model(requested, Some(model)) == requested {
            parts.push(format!("model {shown}"));
        } else {
            // Another model answered (a local server behind the name): the cost is its own.
            parts.push(format!("model {shown} (requested {requested})"));
        }
    }
    if let Some(reason) = &answer.finish_reason {
        match (reason.as_str(), answer.usage.output) {
            ("length", Some(n)) => parts.push(format!("finish length (cut at {n} tokens)")),
            _ => parts.push(format!("finish {reason}")),
        }
    }
    parts.push(match answer.tries {
        1 => "1 try".to_owned(),
        n => format!("{n} tries"),
    });
    if answer.source == autopilot_trace::AnswerSource::Replay {
        parts.push("replayed".to_owned());
    }
    let mut stderr = crate::terminal::stderr();
    if let Some(reasoning) = &answer.reasoning {
        if show_reasoning {
            let _ = writeln!(stderr, "reasoning:\n{reasoning}\n");
        } else {
            parts.push(format!(
                "{} characters of reasoning (--show-reasoning)",
                reasoning.len()
            ));
        }
    }
    let _ = writeln!(stderr, "{}", parts.join(" · "));
}
