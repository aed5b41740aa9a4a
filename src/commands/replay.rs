//! `autopilot replay <run-dir>`: runs every recorded session again with its recorded LLM
//! answers and today's prompts, checks, compiler and classifier, and reports the sessions whose
//! outcome changed and why.
//!
//! Every trace is checked before anything runs (bad input stops the whole replay). Sessions
//! are then built one at a time as slots free up — the recording re-read, its replay backend
//! and clients made — and each replayed trace is read back and compared as soon as its session
//! ends, so memory holds a few sessions whatever the size of the run.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use autopilot_classifier::{Taxonomy, classify_events};
use autopilot_llm::{ChatBackend, ModelRef, Provider, ReplayBackend, ReplayMatch};
use autopilot_orchestrator::batch::{BatchObserver, ConcurrencyLimits, Job, run_concurrently};
use autopilot_orchestrator::replay::{RecordedSession, SessionView, compare};
use autopilot_orchestrator::session::{SessionReport, SessionSetup, infra, run_session};
use autopilot_steps::App;
use autopilot_toolchain::Target;
use autopilot_trace::{
    AnswerSource, Event, JsonlLayer, LlmCallResult, RunDirSink, SessionOutcome, TraceFile,
    collect_trace_files,
};

use crate::cli::{GlobalArgs, ReplayArgs};
use crate::exit::{CliError, CliResult, ErrorKind, ExitStatus, OutputError};
use crate::setup::SessionEnvironment;

/// A recorded session, checked and ready to run again.
struct Planned {
    /// The recorded trace.
    file: PathBuf,
    recorded: RecordedSession,
    /// The key of its app in the loaded apps.
    app_path: PathBuf,
    target: Target,
    primary: ModelRef,
    /// Where the replayed trace goes.
    replayed_trace: PathBuf,
}

/// What the replay of one session came to.
struct Examined {
    /// The stdout line of a changed session.
    change: Option<String>,
    outcome: String,
    replay_miss: bool,
    calls: CallCount,
}

/// LLM calls of replayed traces, by where their answers came from.
#[derive(Debug, Clone, Copy)]
struct CallCount {
    calls: usize,
    answered: usize,
    live: usize,
    /// What the calls would have cost at today's prices (`None` when any is unpriced).
    as_if_cost: Option<f64>,
}

impl Default for CallCount {
    fn default() -> Self {
        CallCount {
            calls: 0,
            answered: 0,
            live: 0,
            as_if_cost: Some(0.0),
        }
    }
}

impl CallCount {
    fn add(&mut self, other: CallCount) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.live += other.live;
        self.as_if_cost = self.as_if_cost.zip(other.as_if_cost).map(|(a, b)| a + b);
    }
}

/// What every session of the replay shares: the machine, the loaded apps, how answers are
/// matched, where traces go, the taxonomy.
struct Replay {
    environment: SessionEnvironment,
    apps: HashMap<PathBuf, App>,
    matching: ReplayMatch,
    out: PathBuf,
    taxonomy: Taxonomy,
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
    let mut context = Replay {
        environment: SessionEnvironment::resolve(&args.env)?,
        apps: HashMap::new(),
        matching: if args.exact {
            ReplayMatch::Exact
        } else {
            ReplayMatch::InOrder
        },
        out,
        taxonomy: Taxonomy::builtin()
            .context("the built-in taxonomy")
            .internal_error()?,
    };
    let mut planned = Vec::new();
    let mut skipped = 0usize;
    let mut problems = 0usize;
    {
        let mut stderr = crate::terminal::stderr();
        for file in &files {
            match plan(&mut context, args.app.as_deref(), file) {
                Ok(Ok(one)) => planned.push(one),
                Ok(Err(reason)) => {
                    skipped += 1;
                    let _ = writeln!(stderr, "note: skipped {}: {reason}", file.display());
                }
                Err(problem) => {
                    problems += 1;
                    let _ = writeln!(stderr, "{}: {:#}", file.display(), problem);
                }
            }
        }
    }
    if problems > 0 {
        return Err(anyhow!(
            "{problems} of {} session traces cannot be replayed (listed above); nothing was run",
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
    // Taken once there is something to replay, so a refused replay leaves no folder behind.
    let _lock = super::lock_run_dir(&context.out)?;
    let layer = JsonlLayer::new(RunDirSink::new(&context.out));
    let write_errors = layer.errors();
    crate::logging::attach_sessions(layer, false);
    let runtime = crate::setup::session_runtime()?;
    let out = context.out.clone();
    let examined = runtime.block_on(run_all(
        Arc::new(context),
        Arc::new(planned),
        usize::from(args.jobs),
        global.quiet > 0,
    ))?;
    summarize(&examined, &out, skipped, &write_errors.snapshot())
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

/// Checks that the session of one recorded trace can run again: `Ok(Err(reason))` when there
/// is nothing to replay in it, `Err` when it or what it names is bad input.
fn plan(
    context: &mut Replay,
    app_override: Option<&Path>,
    file: &Path,
) -> CliResult<Result<Planned, String>> {
    let trace = TraceFile::read(file).context("cannot read").input_error()?;
    // A lifecycle stage other than sketch generation is no session this command can run; the
    // pipeline replays its own recordings.
    let stage = trace.events().find_map(|e| match e {
        Event::PipelineStageStarted(s) => Some(s.stage),
        _ => None,
    });
    if let Some(stage) = stage.filter(|s| *s != autopilot_trace::PipelineStage::Sg) {
        return Ok(Err(format!(
            "a {stage} stage of a pipeline; replay it with `autopilot pipeline <app> --model <its model> --replay <run dir>`"
        )));
    }
    let recorded = match RecordedSession::from_trace(&trace) {
        Ok(recorded) => recorded,
        Err(not) if not.is_broken() => return Err(anyhow!("{not}")).input_error(),
        Err(not) => return Ok(Err(not.to_string())),
    };
    let replayed_trace = RunDirSink::session_path(&context.out, &recorded.id);
    if replayed_trace.exists() {
        return Err(anyhow!(
            "{} exists already; a replay never overwrites one: choose another --out",
            replayed_trace.display()
        ))
        .input_error();
    }
    let started = &recorded.started;
    let app_path = app_override.unwrap_or(&recorded.app_path).to_owned();
    if !context.apps.contains_key(&app_path) {
        let app = App::load(&app_path)
            .with_context(|| format!("the app file of session {}", recorded.id))
            .input_error()?;
        context.apps.insert(app_path.clone(), app);
    }
    let app = &context.apps[&app_path];
    let environment = &context.environment;
    let target = environment.target(app, Some(&started.target))?;
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
    Ok(Ok(Planned {
        file: file.to_owned(),
        recorded,
        app_path,
        target,
        primary,
        replayed_trace,
    }))
}

/// The session of a planned replay: the recording read again into a replay backend that
/// answers its model (and a fallback model) with no network.
fn setup(context: &Replay, planned: &Planned) -> CliResult<SessionSetup> {
    let environment = &context.environment;
    let trace = TraceFile::read(&planned.file)
        .with_context(|| format!("cannot read {}", planned.file.display()))
        .input_error()?;
    let backend =
        ReplayBackend::from_traces(std::slice::from_ref(&trace), context.matching).input_error()?;
    drop(trace);
    // A fallback model recorded in the trace answers from the recording too; without one,
    // today's fallback policy gets a replay client with no answers (a replay miss if used).
    let fallback_model = match backend
        .recorded_models()
        .iter()
        .find(|m| **m != planned.primary)
    {
        Some(model) => Some(model.clone()),
        None => environment.policies.fallback.model.clone(),
    };
    let backend: Arc<dyn ChatBackend> = Arc::new(backend);
    let llm = environment.client(&planned.primary, Some(backend.clone()))?;
    let fallback_llm = fallback_model.map(|model| llm.for_model(model, backend.clone()));
    let recorded = &planned.recorded;
    let started = &recorded.started;
    let mut note = format!(
        "replay of {}: LLM answers from the recording ({}), prompts, checks, compiler and simulator of today; no network",
        fs_err::canonicalize(&planned.file)
            .unwrap_or_else(|_| planned.file.clone())
            .display(),
        match context.matching {
            ReplayMatch::Exact => "identical requests only",
            ReplayMatch::InOrder => "in recorded order per stage attempt",
        }
    );
    for recorded_note in &recorded.notes {
        note.push_str("; the recording said: ");
        note.push_str(recorded_note);
    }
    Ok(SessionSetup {
        id: recorded.id.clone(),
        app: context.apps[&planned.app_path].clone(),
        target: planned.target.clone(),
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
        host_check: environment.host_check.clone(),
        run_dir: context.out.clone(),
        final_dir: None,
        batch: started.batch.clone(),
        tool_versions: Vec::new(),
        note: Some(note),
        pipeline: None,
    })
}

/// One recorded session to replay: its index in the planned sessions.
#[derive(Debug, Clone, Copy)]
struct ReplayJob(usize);

impl Job for ReplayJob {
    /// Recorded answers reach no provider: one group, bounded by `-j` alone.
    fn group(&self) -> &'static str {
        "replay"
    }
}

/// Says each session's outcome as it ends (`[k/total] id: outcome`); the first error stops
/// the replay.
struct ReplayProgress {
    planned: Arc<Vec<Planned>>,
    finished: std::sync::atomic::AtomicUsize,
    quiet: bool,
}

impl BatchObserver<ReplayJob, CliResult<Examined>> for ReplayProgress {
    fn started(&self, _job: &ReplayJob) {}

    fn finished(&self, job: &ReplayJob, result: &CliResult<Examined>) {
        let Ok(examined) = result else {
            return;
        };
        let finished = self
            .finished
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if !self.quiet {
            let mut stderr = crate::terminal::stderr();
            let _ = writeln!(
                stderr,
                "[{finished}/{}] {}: {}",
                self.planned.len(),
                self.planned[job.0].recorded.id,
                examined.outcome
            );
        }
    }

    fn stops(&self, result: &CliResult<Examined>) -> bool {
        result.is_err()
    }
}

/// Runs the sessions, at most `jobs` at once (the batch executor), and examines each as it
/// ends; the results in input order.
async fn run_all(
    context: Arc<Replay>,
    planned: Arc<Vec<Planned>>,
    jobs: usize,
    quiet: bool,
) -> CliResult<Vec<Examined>> {
    let total = planned.len();
    let limits = ConcurrencyLimits {
        total: jobs.max(1),
        ..ConcurrencyLimits::default()
    };
    let progress = Arc::new(ReplayProgress {
        planned: planned.clone(),
        finished: std::sync::atomic::AtomicUsize::new(0),
        quiet,
    });
    let sessions = planned.clone();
    let ended = run_concurrently(
        (0..total).map(ReplayJob).collect(),
        &limits,
        move |job: ReplayJob| {
            let context = context.clone();
            let planned = sessions.clone();
            async move {
                // The session is built when it starts: memory follows `-j`, not the run.
                let one = &planned[job.0];
                let setup = setup(&context, one)?;
                let report = run_session(&setup).await;
                examine(&context, one, &report)
            }
        },
        progress,
    )
    .await;
    let mut results: Vec<Option<Examined>> = (0..total).map(|_| None).collect();
    for end in ended {
        match end {
            Ok((job, examined)) => results[job.0] = Some(examined?),
            // A panicking session is a bug; let it surface as one.
            Err(job) => panic!("the replay of {} panicked", planned[job.0].recorded.id),
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// Reads the replayed trace back and compares it with the recording.
fn examine(context: &Replay, planned: &Planned, report: &SessionReport) -> CliResult<Examined> {
    let trace = TraceFile::read(&planned.replayed_trace)
        .with_context(|| {
            format!(
                "cannot read the replayed trace {}",
                planned.replayed_trace.display()
            )
        })
        .map_err(CliError::Storage)?;
    let mut view = SessionView::from_events(trace.events());
    // The trace is written as events happen; the returned outcome stands in if its last line
    // could not be written.
    view.outcome.get_or_insert_with(|| report.outcome.clone());
    let replay_miss = matches!(
        &view.outcome,
        Some(SessionOutcome::InfrastructureError { kind, .. }) if *kind == infra::REPLAY_MISS
    );
    let change = compare(&planned.recorded.view, &view).map(|change| {
        // The classifier's name for the failure the session ended on; a replay miss is the
        // replay's own limit, not a failure of the session.
        let failed = !replay_miss && !matches!(view.outcome, Some(SessionOutcome::Success { .. }));
        let category = failed
            .then(|| final_failure(&context.taxonomy, planned, &trace))
            .flatten()
            .map(|category| format!(" [final failure: {category}]"))
            .unwrap_or_default();
        format!("{}: {change}{category}", planned.recorded.id)
    });
    Ok(Examined {
        change,
        outcome: view.outcome_label(),
        replay_miss,
        calls: count_calls(trace.events()),
    })
}

fn count_calls<'e>(events: impl Iterator<Item = &'e Event>) -> CallCount {
    let mut count = CallCount::default();
    for event in events {
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
        count.as_if_cost = count.as_if_cost.zip(call.cost_usd).map(|(a, b)| a + b);
    }
    count
}

/// The category the classifier gives the failure the replayed session ended on.
fn final_failure(taxonomy: &Taxonomy, planned: &Planned, trace: &TraceFile) -> Option<String> {
    classify_events(
        taxonomy,
        planned.recorded.id.as_str(),
        &planned.replayed_trace.display().to_string(),
        trace.records.iter().map(|r| &r.record.event),
    )
    .verdict
    .final_failure
    .map(|label| label.category.clone())
}

/// Changed sessions on stdout, one line each in input order; the summary on stderr.
fn summarize(
    examined: &[Examined],
    out: &Path,
    skipped: usize,
    write_errors: &[String],
) -> CliResult<ExitStatus> {
    let mut stdout = crate::terminal::stdout_human();
    let mut calls = CallCount::default();
    for one in examined {
        if let Some(line) = &one.change {
            writeln!(stdout, "{line}").output_error()?;
        }
        calls.add(one.calls);
    }
    drop(stdout);
    let changed = examined.iter().filter(|e| e.change.is_some()).count();
    let misses = examined.iter().filter(|e| e.replay_miss).count();
    let mut stderr = crate::terminal::stderr();
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
        examined.len(),
        examined.len() - changed,
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
