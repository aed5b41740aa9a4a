//! `autopilot replay <run-dir>`: runs every recorded session again with its recorded LLM
//! answers and today's prompts, checks, compiler and classifier, and reports the sessions whose
//! outcome changed and why.
//!
//! Every trace is checked before anything runs (bad input stops the whole replay). Sessions
//! are then built one at a time as slots free up — the recording re-read, its replay backend
//! and clients made — and each replayed trace is read back and compared as soon as its session
//! ends, so memory holds a few sessions whatever the size of the run.
//!
//! The stage sessions of a pipeline (`autopilot pipeline`) replay as one job, in the order
//! they ran: DP and MC through the pipeline's own stage engine (the recorded Python runs
//! again in the sandbox, outputs and the model are checked again), each stage from the replay
//! of the stage before it, or from that stage's recorded outputs when it is not replayed. A
//! stage whose data files are missing or changed is not replayed (the file and the problem are
//! said); without the Python environment DP and MC are not replayable and the replay exits 3.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use autopilot_classifier::{Taxonomy, classify_events};
use autopilot_llm::{ChatBackend, ModelRef, Provider, ReplayBackend, ReplayMatch};
use autopilot_orchestrator::batch::{BatchObserver, ConcurrencyLimits, Job, run_concurrently};
use autopilot_orchestrator::pipeline::{
    PipelineSetup, StageResult, check_input, check_stage_inputs, recorded_result, run_stage_again,
};
use autopilot_orchestrator::replay::{RecordedSession, RecordedStage, SessionView, compare};
use autopilot_orchestrator::session::{SessionSetup, infra, run_session};
use autopilot_steps::App;
use autopilot_toolchain::{PythonEnv, Target};
use autopilot_trace::{
    AnswerSource, Event, JsonlLayer, LlmCallResult, PipelineStage, RunDirSink, SessionId,
    SessionOutcome, TraceFile, collect_trace_files,
};

use crate::cli::{GlobalArgs, ReplayArgs};
use crate::exit::{CliError, CliResult, ErrorKind, ExitStatus, OutputError};
use crate::setup::SessionEnvironment;

/// A recorded session, checked and ready to run again.
struct Planned {
    /// The recorded trace.
    file: PathBuf,
    /// Its place among the run's traces (the order of the output).
    index: usize,
    recorded: RecordedSession,
    /// What it recorded as a stage of a pipeline (`None`: a session of `run` or `batch`).
    stage: Option<RecordedStage>,
    /// The key of its app in the loaded apps.
    app_path: PathBuf,
    target: Target,
    primary: ModelRef,
    /// Where the replayed trace goes.
    replayed_trace: PathBuf,
}

/// Why a trace is not replayed.
struct Skip {
    reason: String,
    /// A tool the replay needs is missing (the Python environment): the replay exits 3.
    unavailable: bool,
}

impl Skip {
    fn because(reason: impl Into<String>) -> Skip {
        Skip {
            reason: reason.into(),
            unavailable: false,
        }
    }
}

/// A stage session of a pipeline in the recording, replayed or not: the stages after it read
/// its outputs.
struct StageTrace {
    id: SessionId,
    /// The `ts` of its first line, which orders the sessions of one stage.
    started_at: String,
    recorded: RecordedStage,
    /// Its index in the planned sessions when it is replayed.
    planned: Option<usize>,
}

/// The stage sessions of one pipeline, in the order they ran: by stage (DP, MC, SG), then by
/// start. A pipeline replays as one job, its stages one after the other.
struct PipelinePlan {
    stages: Vec<StageTrace>,
}

/// How one planned session ended in this replay.
enum Ended {
    Replayed(Examined),
    /// Not run: what it starts from is not there (the stage before it failed in this replay).
    Skipped {
        index: usize,
        file: PathBuf,
        reason: String,
    },
}

impl Ended {
    fn index(&self) -> usize {
        match self {
            Ended::Replayed(examined) => examined.index,
            Ended::Skipped { index, .. } => *index,
        }
    }
}

/// What the replay of one session came to.
struct Examined {
    index: usize,
    id: SessionId,
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
    /// The project's Python environment for DP and MC stages, or why there is none (with the
    /// fix).
    python: Result<PythonEnv, String>,
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
        python: PythonEnv::discover().map_err(|e| e.to_string()),
    };
    let Planning {
        planned,
        pipelines,
        mut skipped,
        unavailable,
        problems,
    } = plan_all(&mut context, args.app.as_deref(), &files);
    if problems > 0 {
        return Err(anyhow!(
            "{problems} of {} session traces cannot be replayed (listed above); nothing was run",
            files.len()
        ))
        .input_error();
    }
    if planned.is_empty() {
        let nothing = anyhow!(
            "nothing to replay in {}: every trace was skipped",
            args.run_dir.display()
        );
        // Skipped for a missing tool (the Python environment): that tool is what is missing.
        return if unavailable > 0 {
            Err(nothing).tool_unavailable()
        } else {
            Err(nothing).input_error()
        };
    }
    // Taken once there is something to replay, so a refused replay leaves no folder behind.
    let _lock = super::lock_run_dir(&context.out)?;
    let layer = JsonlLayer::new(RunDirSink::new(&context.out));
    let write_errors = layer.errors();
    crate::logging::attach_sessions(layer, false);
    let runtime = crate::setup::session_runtime()?;
    let out = context.out.clone();
    let ended = runtime.block_on(run_all(
        Arc::new(context),
        Arc::new(planned),
        Arc::new(pipelines),
        usize::from(args.jobs),
        global.quiet > 0,
    ))?;
    let mut examined = Vec::new();
    for end in ended {
        match end {
            Ended::Replayed(one) => examined.push(one),
            Ended::Skipped { .. } => skipped += 1,
        }
    }
    let status = summarize(&examined, &out, skipped, &write_errors.snapshot())?;
    if unavailable > 0 && status == ExitStatus::Success {
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(
            stderr,
            "error: {unavailable} trace(s) not replayed for want of the Python environment (listed above)"
        );
        return Ok(ExitStatus::Unavailable);
    }
    Ok(status)
}

/// What the traces of a run came to before anything runs.
struct Planning {
    planned: Vec<Planned>,
    pipelines: Vec<PipelinePlan>,
    /// Traces with nothing to replay (said on stderr).
    skipped: usize,
    /// Of those, the ones skipped for want of the Python environment.
    unavailable: usize,
    /// Traces that are bad input (said on stderr).
    problems: usize,
}

/// Plans every trace ([`plan`]), saying on stderr why one is skipped or bad, and gathers the
/// stage sessions of each pipeline — the skipped ones too, whose recorded outputs the stages
/// after them read — in the order they ran.
fn plan_all(context: &mut Replay, app_override: Option<&Path>, files: &[PathBuf]) -> Planning {
    let mut planning = Planning {
        planned: Vec::new(),
        pipelines: Vec::new(),
        skipped: 0,
        unavailable: 0,
        problems: 0,
    };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut stderr = crate::terminal::stderr();
    for (index, file) in files.iter().enumerate() {
        let trace = match TraceFile::read(file).context("cannot read") {
            Ok(trace) => trace,
            Err(problem) => {
                planning.problems += 1;
                let _ = writeln!(stderr, "{}: {:#}", file.display(), problem);
                continue;
            }
        };
        let stage = RecordedStage::from_events(trace.events());
        let (started_at, id) = trace.records.first().map_or_else(
            || (String::new(), SessionId::sanitized("unknown")),
            |r| (r.record.ts.clone(), r.record.session.clone()),
        );
        let planned = plan(context, app_override, file, &trace, stage.as_ref());
        drop(trace);
        let replayed = match planned {
            Ok(Ok(mut one)) => {
                one.index = index;
                planning.planned.push(one);
                true
            }
            Ok(Err(skip)) => {
                planning.skipped += 1;
                planning.unavailable += usize::from(skip.unavailable);
                let _ = writeln!(stderr, "note: skipped {}: {}", file.display(), skip.reason);
                false
            }
            Err(problem) => {
                planning.problems += 1;
                let _ = writeln!(stderr, "{}: {:#}", file.display(), problem);
                continue;
            }
        };
        let Some(recorded) = stage else {
            continue;
        };
        let at = *by_id.entry(recorded.pipeline.clone()).or_insert_with(|| {
            planning.pipelines.push(PipelinePlan { stages: Vec::new() });
            planning.pipelines.len() - 1
        });
        planning.pipelines[at].stages.push(StageTrace {
            id,
            started_at,
            planned: replayed.then(|| planning.planned.len() - 1),
            recorded,
        });
    }
    for pipeline in &mut planning.pipelines {
        pipeline.stages.sort_by(|a, b| {
            (a.recorded.stage, &a.started_at).cmp(&(b.recorded.stage, &b.started_at))
        });
    }
    planning
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

/// Checks that the session of one recorded trace can run again: `Ok(Err(skip))` when there
/// is nothing to replay in it (or a stage's inputs or the Python environment are missing),
/// `Err` when it or what it names is bad input.
fn plan(
    context: &mut Replay,
    app_override: Option<&Path>,
    file: &Path,
    trace: &TraceFile,
    stage: Option<&RecordedStage>,
) -> CliResult<Result<Planned, Skip>> {
    let recorded = match RecordedSession::from_trace(trace) {
        Ok(recorded) => recorded,
        Err(not) if not.is_broken() => return Err(anyhow!("{not}")).input_error(),
        Err(not) => return Ok(Err(Skip::because(not.to_string()))),
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
    let mut app_path = app_override.unwrap_or(&recorded.app_path).to_owned();
    if stage.is_some() {
        // A stage's Python runs in its work folder: the app's data paths must be absolute,
        // as `autopilot pipeline` makes them.
        app_path = fs_err::canonicalize(&app_path)
            .with_context(|| format!("the app file of session {}", recorded.id))
            .input_error()?;
    }
    if !context.apps.contains_key(&app_path) {
        let app = App::load(&app_path)
            .with_context(|| format!("the app file of session {}", recorded.id))
            .input_error()?;
        context.apps.insert(app_path.clone(), app);
    }
    let app = &context.apps[&app_path];
    if let Some(stage) = stage.filter(|s| s.stage != PipelineStage::Sg) {
        let what = format!("a {} stage of pipeline {}", stage.stage, stage.pipeline);
        if let Err(fix) = &context.python {
            return Ok(Err(Skip {
                reason: format!("{what}, whose Python cannot run here: {fix}"),
                unavailable: true,
            }));
        }
        if app.pipeline.is_none() {
            return Ok(Err(Skip::because(format!(
                "{what}: {} has no [pipeline] section now",
                app.path.display()
            ))));
        }
        let problems = check_stage_inputs(app, stage.stage, &stage.inputs);
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Ok(Err(Skip::because(format!(
                "{what}: {}",
                problems.join("; ")
            ))));
        }
    }
    let environment = &context.environment;
    let target = environment.target(app, Some(&started.target))?;
    if stage.is_none_or(|s| s.stage == PipelineStage::Sg) {
        environment
            .prompts
            .variant(&started.prompt_variant)
            .input_error()?;
    }
    let provider: Provider = started
        .provider
        .parse()
        .with_context(|| format!("the recorded model {}:{}", started.provider, started.model))
        .input_error()?;
    let primary = ModelRef::new(provider, started.model.clone());
    Ok(Ok(Planned {
        file: file.to_owned(),
        index: 0,
        recorded,
        stage: stage.cloned(),
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

/// What one job of the replay runs: a session alone, or the stages of one pipeline in order.
#[derive(Debug, Clone, Copy)]
enum ReplayJob {
    /// An index in the planned sessions.
    Session(usize),
    /// An index in the pipelines.
    Pipeline(usize),
}

impl Job for ReplayJob {
    /// Recorded answers reach no provider: one group, bounded by `-j` alone.
    fn group(&self) -> &'static str {
        "replay"
    }
}

/// Says each session's outcome as it ends (`[k/total] id: outcome`); the first error stops
/// the replay.
struct ReplayProgress {
    total: usize,
    finished: std::sync::atomic::AtomicUsize,
    quiet: bool,
}

impl BatchObserver<ReplayJob, CliResult<Vec<Ended>>> for ReplayProgress {
    fn started(&self, _job: &ReplayJob) {}

    fn finished(&self, _job: &ReplayJob, result: &CliResult<Vec<Ended>>) {
        let Ok(ended) = result else {
            return;
        };
        let mut stderr = crate::terminal::stderr();
        for end in ended {
            let finished = self
                .finished
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            match end {
                Ended::Replayed(examined) if !self.quiet => {
                    let _ = writeln!(
                        stderr,
                        "[{finished}/{}] {}: {}",
                        self.total, examined.id, examined.outcome
                    );
                }
                Ended::Replayed(_) => {}
                Ended::Skipped { file, reason, .. } => {
                    let _ = writeln!(stderr, "note: skipped {}: {reason}", file.display());
                }
            }
        }
    }

    fn stops(&self, result: &CliResult<Vec<Ended>>) -> bool {
        result.is_err()
    }
}

/// Runs the sessions and pipelines, at most `jobs` at once (the batch executor), and examines
/// each session as it ends; the results in input order.
async fn run_all(
    context: Arc<Replay>,
    planned: Arc<Vec<Planned>>,
    pipelines: Arc<Vec<PipelinePlan>>,
    jobs: usize,
    quiet: bool,
) -> CliResult<Vec<Ended>> {
    let limits = ConcurrencyLimits {
        total: jobs.max(1),
        ..ConcurrencyLimits::default()
    };
    let progress = Arc::new(ReplayProgress {
        total: planned.len(),
        finished: std::sync::atomic::AtomicUsize::new(0),
        quiet,
    });
    // In input order: each pipeline where its first trace is.
    let mut order: Vec<(usize, ReplayJob)> = planned
        .iter()
        .enumerate()
        .filter(|(_, one)| one.stage.is_none())
        .map(|(i, one)| (one.index, ReplayJob::Session(i)))
        .collect();
    for (i, pipeline) in pipelines.iter().enumerate() {
        if let Some(first) = pipeline
            .stages
            .iter()
            .filter_map(|s| s.planned)
            .map(|p| planned[p].index)
            .min()
        {
            order.push((first, ReplayJob::Pipeline(i)));
        }
    }
    order.sort_by_key(|(index, _)| *index);
    let names = planned.clone();
    let ended = run_concurrently(
        order.into_iter().map(|(_, job)| job).collect(),
        &limits,
        move |job: ReplayJob| {
            let context = context.clone();
            let planned = planned.clone();
            let pipelines = pipelines.clone();
            async move {
                match job {
                    ReplayJob::Session(i) => {
                        // The session is built when it starts: memory follows `-j`, not the run.
                        let one = &planned[i];
                        let setup = setup(&context, one)?;
                        let report = run_session(&setup).await;
                        Ok(vec![Ended::Replayed(examine(
                            &context,
                            one,
                            &report.outcome,
                        )?)])
                    }
                    ReplayJob::Pipeline(i) => {
                        replay_pipeline(&context, &planned, &pipelines[i]).await
                    }
                }
            }
        },
        progress,
    )
    .await;
    let mut results = Vec::new();
    for end in ended {
        match end {
            Ok((_, ended)) => results.extend(ended?),
            // A panicking session is a bug; let it surface as one.
            Err(ReplayJob::Session(i)) => {
                panic!("the replay of {} panicked", names[i].recorded.id)
            }
            Err(ReplayJob::Pipeline(_)) => panic!("the replay of a pipeline panicked"),
        }
    }
    results.sort_by_key(Ended::index);
    Ok(results)
}

/// Replays the stages of one pipeline in order, each from the outputs of the stage before it
/// (its replay, or its recorded outputs when it is not replayed).
async fn replay_pipeline(
    context: &Replay,
    planned: &[Planned],
    pipeline: &PipelinePlan,
) -> CliResult<Vec<Ended>> {
    let mut replayed: HashMap<SessionId, StageResult> = HashMap::new();
    let mut not_run: HashSet<SessionId> = HashSet::new();
    let mut ended = Vec::new();
    for (position, trace) in pipeline.stages.iter().enumerate() {
        let Some(index) = trace.planned else {
            continue;
        };
        let one = &planned[index];
        let earlier = match earlier_results(pipeline, position, &replayed, &not_run) {
            Ok(earlier) => earlier,
            Err(reason) => {
                not_run.insert(trace.id.clone());
                ended.push(Ended::Skipped {
                    index: one.index,
                    file: one.file.clone(),
                    reason,
                });
                continue;
            }
        };
        let session = setup(context, one)?;
        let stage_setup = stage_setup(context, &trace.recorded, session);
        let result = run_stage_again(
            &stage_setup,
            trace.recorded.stage,
            one.recorded.id.clone(),
            earlier,
            std::future::pending(),
        )
        .await;
        ended.push(Ended::Replayed(examine(context, one, &result.outcome)?));
        replayed.insert(trace.id.clone(), result);
    }
    Ok(ended)
}

/// What the stage at `position` starts from: the output of the stage before it (MC reads DP's
/// `dataset`, SG uses MC's `tflite`) — that stage's replay when it was replayed, else its
/// recorded file, unchanged. `Err` says why the stage cannot run (a file missing or changed,
/// or the stage before it failed in this replay).
fn earlier_results(
    pipeline: &PipelinePlan,
    position: usize,
    replayed: &HashMap<SessionId, StageResult>,
    not_run: &HashSet<SessionId>,
) -> Result<Vec<StageResult>, String> {
    let this = &pipeline.stages[position];
    let (before, role) = match this.recorded.stage {
        PipelineStage::Dp => return Ok(Vec::new()),
        PipelineStage::Mc => (PipelineStage::Dp, "dataset"),
        PipelineStage::Sg => (PipelineStage::Mc, "tflite"),
    };
    let read = this.recorded.input(role);
    // The session that made the file: the one whose recorded output is the file this stage
    // recorded reading (MC), else the last one before it that left one (SG records no inputs).
    let producer = pipeline.stages[..position]
        .iter()
        .rev()
        .filter(|t| t.recorded.stage == before && t.started_at <= this.started_at)
        .find(|t| match (read, t.recorded.output(role)) {
            (Some(read), Some(made)) => read.sha256 == made.sha256,
            (None, Some(_)) => true,
            (_, None) => false,
        });
    let what = format!(
        "a {} stage of pipeline {}",
        this.recorded.stage, this.recorded.pipeline
    );
    let Some(producer) = producer else {
        // Made elsewhere (or the app's own file): the recorded file, unchanged.
        return match read {
            Some(read) => check_input(read, Path::new(&read.path))
                .map(|file| vec![recorded_result(before, this.id.clone(), vec![file])])
                .map_err(|problem| format!("{what}: {problem}")),
            None => Ok(Vec::new()),
        };
    };
    if let Some(result) = replayed.get(&producer.id) {
        if !result.succeeded() {
            let label = SessionView {
                outcome: Some(result.outcome.clone()),
                attempts: Vec::new(),
            }
            .outcome_label();
            return Err(format!(
                "{what}: its {role} comes from {} session {}, which ends {label} in this replay",
                before, producer.id
            ));
        }
        // Still the file that replay made (a later session of that stage may have replaced it).
        let made = result
            .output(role)
            .ok_or_else(|| format!("{what}: the replay of {} left no {role}", producer.id))?;
        check_input(made, Path::new(&made.path)).map_err(|problem| format!("{what}: {problem}"))?;
        return Ok(vec![result.clone()]);
    }
    if not_run.contains(&producer.id) {
        return Err(format!(
            "{what}: its {role} comes from {before} session {}, which was not replayed (above)",
            producer.id
        ));
    }
    // Not replayed (skipped when planned): its recorded outputs, unchanged.
    let mut files = Vec::new();
    for made in &producer.recorded.outputs {
        files.push(
            check_input(made, Path::new(&made.path))
                .map_err(|problem| format!("{what}: {problem}"))?,
        );
    }
    Ok(vec![recorded_result(before, producer.id.clone(), files)])
}

/// The pipeline around one stage session's replay: today's app, target, policies, Python
/// environment and sandbox; the session's replay client; SG made from the session's setup.
fn stage_setup(context: &Replay, stage: &RecordedStage, session: SessionSetup) -> PipelineSetup {
    let environment = &context.environment;
    let sg = {
        let session = session.clone();
        Arc::new(move |app: App, id: SessionId| SessionSetup {
            app,
            id,
            ..session.clone()
        })
    };
    // A batch's pipelines keep their stage folders apart (as `autopilot batch` lays them out).
    let stages_dir = match &session.batch {
        Some(_) => context.out.join("stages").join(&stage.pipeline),
        None => context.out.join("stages"),
    };
    PipelineSetup {
        pipeline: stage.pipeline.clone(),
        run_dir: context.out.clone(),
        stages_dir,
        batch: session.batch.clone(),
        app: session.app,
        target: session.target,
        stages: vec![stage.stage],
        llm: session.llm,
        sampling: session.sampling,
        stream: session.stream,
        policies: environment.policies.clone(),
        python: context.python.clone(),
        // Python stages have no unsandboxed mode (as in `autopilot pipeline`).
        sandbox: environment.toolchain.sandbox.clone().unwrap_or_default(),
        eval_script: super::pipeline::eval_script(),
        note: session.note,
        sg,
    }
}

/// Reads the replayed trace back and compares it with the recording.
fn examine(context: &Replay, planned: &Planned, outcome: &SessionOutcome) -> CliResult<Examined> {
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
    view.outcome.get_or_insert_with(|| outcome.clone());
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
        index: planned.index,
        id: planned.recorded.id.clone(),
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
