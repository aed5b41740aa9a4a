//! `autopilot replay <run-dir>`: runs every recorded session again with its recorded LLM
//! answers and today's prompts, checks, compiler and classifier, and reports the sessions whose
//! outcome changed and why.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use autopilot_classifier::{Taxonomy, classify_events};
use autopilot_llm::{ChatBackend, ModelRef, Provider, ReplayBackend, ReplayMatch};
use autopilot_orchestrator::App;
use autopilot_orchestrator::replay::{RecordedSession, SessionView, compare};
use autopilot_orchestrator::session::{SessionReport, SessionSetup, infra, run_session};
use autopilot_trace::{
    AnswerSource, Event, JsonlLayer, LlmCallResult, RunDirSink, SessionOutcome, TraceFile,
    collect_trace_files, session_span,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::cli::{GlobalArgs, ReplayArgs};
use crate::exit::{CliResult, ExitStatus, WithStatus};
use crate::setup::SessionEnvironment;

/// A recorded session, ready to run again.
struct Planned {
    recorded: RecordedSession,
    setup: SessionSetup,
    replayed_trace: PathBuf,
}

/// What became of one session.
struct Replayed {
    planned: Planned,
    view: SessionView,
    events: Vec<Event>,
}

/// LLM calls of the replayed traces, by where their answers came from.
#[derive(Default)]
struct CallCount {
    calls: usize,
    answered: usize,
    live: usize,
    /// What the answered calls would have cost at today's prices (`None` when any is unpriced).
    as_if_cost: Option<f64>,
}

pub fn run(global: &GlobalArgs, args: &ReplayArgs) -> CliResult<ExitStatus> {
    if !args.run_dir.is_dir() {
        return Err(anyhow!(
            "{} is not a run directory (a folder with sessions/*.jsonl)",
            args.run_dir.display()
        ))
        .input_error();
    }
    let files = collect_trace_files(&args.run_dir)
        .with_context(|| format!("cannot list {}", args.run_dir.display()))
        .input_error()?;
    if files.is_empty() {
        return Err(anyhow!(
            "{} holds no session traces (sessions/*.jsonl)",
            args.run_dir.display()
        ))
        .input_error();
    }
    let out = match &args.out {
        Some(out) => out.clone(),
        None => default_out(&args.run_dir)?,
    };
    let environment = SessionEnvironment::resolve(&args.env)?;
    let matching = if args.exact {
        ReplayMatch::Exact
    } else {
        ReplayMatch::InOrder
    };
    let mut planned = Vec::new();
    let mut skipped = 0usize;
    let mut problems = Vec::new();
    {
        let mut stderr = anstream::stderr().lock();
        for file in &files {
            match plan(&environment, args, file, &out, matching) {
                Ok(Ok(one)) => planned.push(one),
                Ok(Err(reason)) => {
                    skipped += 1;
                    let _ = writeln!(stderr, "note: skipped {}: {reason}", file.display());
                }
                Err(problem) => problems.push(format!("{}: {:#}", file.display(), problem.error)),
            }
        }
        for problem in &problems {
            let _ = writeln!(stderr, "{problem}");
        }
    }
    if !problems.is_empty() {
        return Err(anyhow!(
            "{} of {} session traces cannot be replayed (listed above); nothing was run",
            problems.len(),
            files.len()
        ))
        .input_error();
    }
    if planned.is_empty() {
        return Err(anyhow!(
            "nothing to replay in {}: every trace was skipped",
            args.run_dir.display()
        ))
        .input_error();
    }
    let layer = JsonlLayer::new(RunDirSink::new(&out));
    let write_errors = layer.errors();
    crate::logging::install(global, Some(layer));
    let runtime = crate::setup::session_runtime()?;
    let total = planned.len();
    let quiet = global.quiet > 0;
    let reports = runtime.block_on(run_all(planned, usize::from(args.jobs), total, quiet));
    let taxonomy = Taxonomy::builtin()
        .context("the built-in taxonomy")
        .unavailable()?;
    let mut replayed = Vec::with_capacity(reports.len());
    for (planned, report) in reports {
        replayed.push(read_replay(planned, &report)?);
    }
    report(
        &replayed,
        &taxonomy,
        &out,
        skipped,
        &write_errors.snapshot(),
    )
}

/// `<run-dir>-replay`, next to the run directory.
fn default_out(run_dir: &Path) -> CliResult<PathBuf> {
    let dir = if run_dir.file_name().is_some() {
        run_dir.to_owned()
    } else {
        fs_err::canonicalize(run_dir).input_error()?
    };
    let name = dir
        .file_name()
        .map_or_else(|| "run".to_owned(), |n| n.to_string_lossy().into_owned());
    Ok(dir.with_file_name(format!("{name}-replay")))
}

/// Rebuilds the session of one recorded trace: `Ok(Err(reason))` when there is nothing to
/// replay in it, `Err` when it or what it names is bad input.
fn plan(
    environment: &SessionEnvironment,
    args: &ReplayArgs,
    file: &Path,
    out: &Path,
    matching: ReplayMatch,
) -> CliResult<Result<Planned, String>> {
    let trace = TraceFile::read(file).context("cannot read").input_error()?;
    let recorded = match RecordedSession::from_trace(&trace) {
        Ok(recorded) => recorded,
        Err(not) if not.is_broken() => return Err(anyhow!("{not}")).input_error(),
        Err(not) => return Ok(Err(not.to_string())),
    };
    let replayed_trace = RunDirSink::session_path(out, &recorded.id);
    if replayed_trace.exists() {
        return Err(anyhow!(
            "{} exists already; a replay never overwrites one: choose another --out",
            replayed_trace.display()
        ))
        .input_error();
    }
    let started = &recorded.started;
    let app_path = args.app.as_ref().unwrap_or(&recorded.app_path);
    let app = App::load(app_path)
        .with_context(|| format!("the app file of session {}", recorded.id))
        .input_error()?;
    let target = environment.target(&app, Some(&started.target))?;
    environment
        .prompts
        .variant(&started.prompt_variant)
        .input_error()?;
    let provider: Provider = started
        .provider
        .parse()
        .with_context(|| format!("the recorded model {}:{}", started.provider, started.model))
        .input_error()?;
    let primary = ModelRef::new(provider, started.model.clone());
    let backend =
        ReplayBackend::from_traces(std::slice::from_ref(&trace), matching).input_error()?;
    // A fallback model recorded in the trace answers from the recording too; without one,
    // today's fallback policy gets a replay client that has no answers (a replay miss if used).
    let fallback_model = match backend.recorded_models().iter().find(|m| **m != primary) {
        Some(model) => Some(model.clone()),
        None => match &environment.policies.fallback.model {
            Some(model) => Some(ModelRef::parse(&model.to_string()).input_error()?),
            None => None,
        },
    };
    let backend: Arc<dyn ChatBackend> = Arc::new(backend);
    let llm = environment.client(&primary, Some(backend.clone()))?;
    let fallback_llm = fallback_model.map(|model| llm.for_model(model, backend.clone()));
    let mut note = format!(
        "replay of {}: LLM answers from the recording ({}), prompts, checks, compiler and simulator of today; no network",
        fs_err::canonicalize(file)
            .unwrap_or_else(|_| file.to_owned())
            .display(),
        match matching {
            ReplayMatch::Exact => "identical requests only",
            ReplayMatch::InOrder => "in recorded order per stage attempt",
        }
    );
    for recorded_note in &recorded.notes {
        note.push_str("; the recording said: ");
        note.push_str(recorded_note);
    }
    let setup = SessionSetup {
        id: recorded.id.clone(),
        app,
        target,
        prompts: environment.prompts.clone(),
        variant: started.prompt_variant.clone(),
        policies: environment.policies.clone(),
        llm,
        fallback_llm,
        sampling: started.sampling.clone(),
        stream: recorded.stream,
        toolchain: environment.toolchain.clone(),
        catalog: environment.catalog.clone(),
        tinyml_api: environment.tinyml_api.clone(),
        simavr: environment.simavr.clone(),
        run_dir: out.to_owned(),
        final_dir: None,
        batch: started.batch.clone(),
        tool_versions: Vec::new(),
        note: Some(note),
    };
    Ok(Ok(Planned {
        recorded,
        setup,
        replayed_trace,
    }))
}

/// Runs the sessions, `jobs` at a time, each in its session span; results in input order.
async fn run_all(
    planned: Vec<Planned>,
    jobs: usize,
    total: usize,
    quiet: bool,
) -> Vec<(Planned, SessionReport)> {
    let slots = Arc::new(Semaphore::new(jobs.max(1)));
    let mut tasks = JoinSet::new();
    let mut waiting: Vec<Option<Planned>> = Vec::with_capacity(planned.len());
    for (index, one) in planned.into_iter().enumerate() {
        let setup = one.setup.clone();
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let span = session_span(&setup.id);
            let report = run_session(&setup).instrument(span).await;
            (index, report)
        });
        waiting.push(Some(one));
    }
    let mut done: Vec<Option<(Planned, SessionReport)>> = (0..total).map(|_| None).collect();
    let mut finished = 0usize;
    while let Some(joined) = tasks.join_next().await {
        let (index, report) = match joined {
            Ok(result) => result,
            // A panicking session is a bug; let it surface as one.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        finished += 1;
        let one = waiting[index].take().expect("each session finishes once");
        if !quiet {
            let mut stderr = anstream::stderr().lock();
            let _ = writeln!(
                stderr,
                "[{finished}/{total}] {}: {}",
                one.recorded.id,
                SessionView {
                    outcome: Some(report.outcome.clone()),
                    attempts: Vec::new(),
                }
                .outcome_label()
            );
        }
        done[index] = Some((one, report));
    }
    done.into_iter().flatten().collect()
}

/// Reads the replayed trace back.
fn read_replay(planned: Planned, report: &SessionReport) -> CliResult<Replayed> {
    let trace = TraceFile::read(&planned.replayed_trace)
        .with_context(|| {
            format!(
                "cannot read the replayed trace {}",
                planned.replayed_trace.display()
            )
        })
        .unavailable()?;
    let events: Vec<Event> = trace.events().cloned().collect();
    let mut view = SessionView::from_events(&events);
    // The file is written as events happen; the returned outcome is the authority if the
    // last line could not be written.
    view.outcome.get_or_insert_with(|| report.outcome.clone());
    Ok(Replayed {
        planned,
        view,
        events,
    })
}

fn count_calls(replayed: &[Replayed]) -> CallCount {
    let mut count = CallCount {
        as_if_cost: Some(0.0),
        ..CallCount::default()
    };
    for event in replayed.iter().flat_map(|r| &r.events) {
        let Event::LlmCall(call) = event else {
            continue;
        };
        count.calls += 1;
        if matches!(call.result, LlmCallResult::Answered(_)) {
            count.answered += 1;
        }
        if call.source == AnswerSource::Live {
            count.live += 1;
        }
        count.as_if_cost = match (count.as_if_cost, call.cost_usd) {
            (Some(sum), Some(cost)) => Some(sum + cost),
            _ => None,
        };
    }
    count
}

/// The category the classifier gives the session's final failure, if it failed.
fn final_failure(taxonomy: &Taxonomy, id: &str, source: &Path, events: &[Event]) -> Option<String> {
    let classified = classify_events(taxonomy, id, &source.display().to_string(), events);
    classified
        .verdict
        .final_failure
        .map(|label| label.category.clone())
}

/// Changed sessions on stdout, one line each; the summary on stderr.
fn report(
    replayed: &[Replayed],
    taxonomy: &Taxonomy,
    out: &Path,
    skipped: usize,
    write_errors: &[String],
) -> CliResult<ExitStatus> {
    let mut stdout = std::io::stdout().lock();
    let mut changed = 0usize;
    let mut misses = 0usize;
    for one in replayed {
        if let Some(SessionOutcome::InfrastructureError { kind, .. }) = &one.view.outcome
            && kind == infra::REPLAY_MISS
        {
            misses += 1;
        }
        let Some(change) = compare(&one.planned.recorded.view, &one.view) else {
            continue;
        };
        changed += 1;
        // The classifier's name for the failure the session ended on; a replay miss is the
        // replay's own limit, not a failure of the session.
        let failed = match &one.view.outcome {
            Some(SessionOutcome::Success { .. }) => false,
            Some(SessionOutcome::InfrastructureError { kind, .. }) => kind != infra::REPLAY_MISS,
            _ => true,
        };
        let category = failed
            .then(|| {
                final_failure(
                    taxonomy,
                    one.planned.recorded.id.as_str(),
                    &one.planned.replayed_trace,
                    &one.events,
                )
            })
            .flatten()
            .map(|category| format!(" [final failure: {category}]"))
            .unwrap_or_default();
        writeln!(stdout, "{}: {change}{category}", one.planned.recorded.id).input_error()?;
    }
    drop(stdout);
    let calls = count_calls(replayed);
    let mut stderr = anstream::stderr().lock();
    for problem in write_errors {
        let _ = writeln!(stderr, "warning: {problem}");
    }
    let misses = if misses > 0 {
        format!(" ({misses} with a replay miss)")
    } else {
        String::new()
    };
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    let _ = writeln!(
        stderr,
        "replay: {} replayed, {} unchanged, {changed} changed{misses}{skipped}",
        replayed.len(),
        replayed.len() - changed,
    );
    let as_if = calls
        .as_if_cost
        .filter(|cost| *cost > 0.0)
        .map(|cost| format!("; live they would cost ${cost:.4} at today's prices"))
        .unwrap_or_default();
    if calls.live == 0 {
        let _ = writeln!(
            stderr,
            "LLM cost $0: {} call{} served from the recordings ({} answered), no network{as_if}",
            calls.calls,
            if calls.calls == 1 { "" } else { "s" },
            calls.answered
        );
    } else {
        let _ = writeln!(
            stderr,
            "warning: {} of {} LLM calls were not answered from the recordings",
            calls.live, calls.calls
        );
    }
    let _ = writeln!(stderr, "traces: {}", out.join("sessions").display());
    if !write_errors.is_empty() {
        return Ok(ExitStatus::Unavailable);
    }
    Ok(ExitStatus::Success)
}
