//! `autopilot batch <experiment.toml>`: the matrix of an experiment, run concurrently under
//! limits, resumable; and `autopilot merge`, which joins shard run directories.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use autopilot_llm::{ChatBackend, LlmClient, ModelRef, Provider, ReplayBackend, ScriptedAnswers};
use autopilot_orchestrator::batch::{
    BatchObserver, Experiment, Invocation, PreparedRun, SessionPlan, check_unique_ids,
    merge_run_dirs, pending_plans, prepare_run_dir, run_each, sessions,
};
use autopilot_orchestrator::pipeline::{PipelineSetup, run_pipeline};
use autopilot_orchestrator::session::{SessionSetup, run_session};
use autopilot_steps::App;
use autopilot_toolchain::{PythonEnv, SandboxConfig, Target};
use autopilot_trace::{JsonlLayer, PipelineStage, RunDirSink, SessionId, SessionOutcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{BatchArgs, GlobalArgs, MergeArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};
use crate::setup::{SessionEnvironment, SessionParts};

/// Live success counts per model, drawn on the progress bar.
struct Progress {
    bar: ProgressBar,
    counts: Mutex<BTreeMap<String, (u32, u32)>>,
}

impl Progress {
    fn message(&self) -> String {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts
            .iter()
            .map(|(model, (ok, done))| format!("{model} {ok}/{done} ok"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A planned item ends as one outcome: its session's, or its pipeline's (the first failed
/// stage's).
impl BatchObserver<SessionPlan, SessionOutcome> for Progress {
    fn started(&self, _plan: &SessionPlan) {}

    fn finished(&self, plan: &SessionPlan, outcome: &SessionOutcome) {
        {
            let mut counts = self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = counts.entry(plan.model.clone()).or_default();
            entry.1 += 1;
            if matches!(outcome, SessionOutcome::Success { .. }) {
                entry.0 += 1;
            }
        }
        self.bar.set_message(self.message());
        self.bar.inc(1);
    }
}

/// What every session of a batch shares.
struct BatchContext {
    environment: SessionEnvironment,
    app: App,
    targets: BTreeMap<String, Target>,
    models: BTreeMap<String, ModelRef>,
    /// Live backends by model text.
    backends: BTreeMap<String, Arc<dyn ChatBackend>>,
    answers: Option<ScriptedAnswers>,
    fallback: Option<(ModelRef, Arc<dyn ChatBackend>)>,
    out: PathBuf,
    experiment: String,
    /// The experiment's stages (empty: one SG session per item) and what their Python runs
    /// with (the environment or why there is none, the sandbox, the evaluation script).
    stages: Vec<PipelineStage>,
    python: (Result<PythonEnv, String>, SandboxConfig, PathBuf),
}

impl BatchContext {
    /// The item's LLM client and the policies' fallback.
    fn clients(&self, plan: &SessionPlan) -> (LlmClient, Option<LlmClient>) {
        let model = &self.models[&plan.model];
        let backend: Arc<dyn ChatBackend> = match (&self.answers, self.backends.get(&plan.model)) {
            (_, Some(live)) => live.clone(),
            (Some(answers), None) => Arc::new(ReplayBackend::from_scripted(answers.clone())),
            // Checked before the batch starts: replay models have answers.
            (None, None) => Arc::new(ReplayBackend::from_scripted(ScriptedAnswers {
                answers: vec![],
                origin: "none".into(),
            })),
        };
        let llm = self.environment.client_on(model, backend);
        let fallback = self
            .fallback
            .as_ref()
            .map(|(m, b)| self.environment.client_on(m, b.clone()));
        (llm, fallback)
    }

    fn target(&self, plan: &SessionPlan) -> Target {
        self.targets[plan.target.as_deref().unwrap_or("app")].clone()
    }

    /// A sketch-generation session of the item: the item itself, or its pipeline's SG stage.
    fn session(
        &self,
        plan: &SessionPlan,
        app: App,
        id: SessionId,
        (llm, fallback): (LlmClient, Option<LlmClient>),
    ) -> SessionSetup {
        let parts = SessionParts {
            id,
            app,
            target: self.target(plan),
            variant: plan.variant.clone(),
            llm,
            sampling: plan.sampling.clone(),
            stream: false,
            run_dir: self.out.clone(),
            final_dir: None,
            batch: Some(plan.batch_cell(&self.experiment)),
            note: None,
        };
        self.environment.setup(parts, fallback)
    }

    fn setup(&self, plan: &SessionPlan) -> SessionSetup {
        self.session(plan, self.app.clone(), plan.id.clone(), self.clients(plan))
    }

    /// The item as a pipeline: its id is the pipeline id, its stages' sessions are
    /// `<id>-<stage>`, their outputs under `stages/<id>/`; one LLM client for all its stages,
    /// as `autopilot pipeline` has.
    fn pipeline(self: &Arc<Self>, plan: &SessionPlan) -> PipelineSetup {
        let clients = self.clients(plan);
        let (python, sandbox, eval_script) = self.python.clone();
        let mut sampling = plan.sampling.clone();
        sampling
            .max_tokens
            .get_or_insert(self.environment.policies.llm.max_tokens);
        let sg = {
            let context = self.clone();
            let plan = plan.clone();
            let clients = clients.clone();
            Arc::new(move |app: App, id| context.session(&plan, app, id, clients.clone()))
        };
        PipelineSetup {
            pipeline: plan.id.as_str().to_owned(),
            run_dir: self.out.clone(),
            stages_dir: self.out.join("stages").join(plan.id.as_str()),
            batch: Some(plan.batch_cell(&self.experiment)),
            app: self.app.clone(),
            target: self.target(plan),
            stages: self.stages.clone(),
            llm: clients.0,
            sampling,
            stream: false,
            policies: self.environment.policies.clone(),
            python,
            sandbox,
            eval_script,
            note: None,
            sg,
        }
    }

    /// Runs one planned item to its outcome.
    async fn run(self: Arc<Self>, plan: SessionPlan) -> SessionOutcome {
        if self.stages.is_empty() {
            // Boxed: a session future is large, and the task need only hold a pointer.
            let setup = Box::new(self.setup(&plan));
            return Box::pin(run_session(&setup)).await.outcome;
        }
        let setup = Box::new(self.pipeline(&plan));
        let report = Box::pin(run_pipeline(&setup, std::future::pending())).await;
        report.outcome(setup.stages.len())
    }
}

/// The git revision of the checkout around the current folder, read from `.git` (no process).
fn git_revision() -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let git = cwd
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git = if git.is_file() {
        // A worktree: `.git` is a file naming the real git dir.
        let text = fs_err::read_to_string(&git).ok()?;
        PathBuf::from(text.strip_prefix("gitdir:")?.trim())
    } else {
        git
    };
    let head = fs_err::read_to_string(git.join("HEAD")).ok()?;
    let Some(reference) = head.trim().strip_prefix("ref: ") else {
        return Some(head.trim().to_owned());
    };
    let common = fs_err::read_to_string(git.join("commondir"))
        .ok()
        .map_or_else(|| git.clone(), |c| git.join(c.trim()));
    for dir in [&git, &common] {
        if let Ok(id) = fs_err::read_to_string(dir.join(reference)) {
            return Some(id.trim().to_owned());
        }
        if let Ok(packed) = fs_err::read_to_string(dir.join("packed-refs"))
            && let Some(line) = packed.lines().find(|l| l.ends_with(reference))
        {
            return line.split_whitespace().next().map(str::to_owned);
        }
    }
    None
}

pub fn run(global: &GlobalArgs, args: &BatchArgs) -> CliResult<ExitStatus> {
    let experiment = Experiment::load(&args.experiment).input_error()?;
    let mut env_args = args.env.clone();
    // The old `--config policies.toml` must count as given before the experiment's default.
    crate::setup::settle_config_flags(&mut env_args);
    if env_args.policies.is_none() {
        env_args.policies.clone_from(&experiment.policies);
    }
    let environment = SessionEnvironment::resolve(&env_args)?;
    let pipelines = !experiment.stages.is_empty();
    let app = if pipelines {
        // Absolute paths: a stage's Python runs in its work folder.
        App::load(&fs_err::canonicalize(&experiment.app).input_error()?).input_error()?
    } else {
        App::load(&experiment.app).input_error()?
    };
    // What the Python stages need, checked before anything runs.
    super::pipeline::check_pipeline_section(&app, &experiment.stages)?;
    let unit = if pipelines {
        "pipeline(s)"
    } else {
        "session(s)"
    };
    // SG alone runs no Python: only the dp and mc stages need the environment.
    let python = super::pipeline::python_setup(&environment);
    if let Err(fix) = &python.0
        && super::pipeline::python_stages(&experiment.stages)
    {
        return Err(anyhow!(
            "{}: stages {}: the dp and mc stages run LLM-written Python in the project's environment: {fix}",
            args.experiment.display(),
            experiment
                .stages
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ))
        .tool_unavailable();
    }
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    let target_names: Vec<Option<String>> = if experiment.targets.is_empty() {
        vec![None]
    } else {
        experiment.targets.iter().cloned().map(Some).collect()
    };
    for name in &target_names {
        let target = environment.target(&app, name.as_deref())?;
        targets.insert(name.clone().unwrap_or_else(|| "app".into()), target);
    }
    for variant in &experiment.variants {
        environment
            .prompts
            .variant(variant)
            .with_context(|| format!("{}: variants", args.experiment.display()))
            .input_error()?;
    }
    // Scripted answers are served in order per stage attempt: each session gets its own copy.
    let answers: Option<ScriptedAnswers> = experiment
        .answers
        .as_deref()
        .map(ScriptedAnswers::load)
        .transpose()
        .input_error()?;
    let mut models: BTreeMap<String, ModelRef> = BTreeMap::new();
    for text in &experiment.models {
        let model = ModelRef::parse(text)
            .with_context(|| format!("{}: models", args.experiment.display()))
            .input_error()?;
        if model.provider == Provider::Replay && answers.is_none() {
            return Err(anyhow!(
                "{}: model {text} needs `answers = \"<file>\"` in the experiment",
                args.experiment.display()
            ))
            .input_error();
        }
        models.insert(text.clone(), model);
    }

    // The plan is never held whole: it is made again, session by session, where it is read
    // (memory follows the concurrency, not the number of sessions).
    check_unique_ids(&experiment)
        .with_context(|| args.experiment.display().to_string())
        .input_error()?;
    let shard = args.shard;
    let plans = sessions(&experiment).filter(move |p| shard.is_none_or(|s| s.contains(p)));
    let out = args.out.clone().unwrap_or_else(|| {
        let name = SessionId::sanitized(&experiment.name).to_string();
        let name = args
            .shard
            .map_or(name.clone(), |s| format!("{name}-shard-{}-of-{}", s.k, s.n));
        PathBuf::from("runs").join(name)
    });
    // A stage's Python runs in its work folder, where a relative path means nothing.
    let out = if pipelines {
        std::path::absolute(&out).input_error()?
    } else {
        out
    };
    let mut limits = experiment.concurrency.clone();
    if let Some(n) = args.concurrency {
        if n == 0 {
            return Err(anyhow!("--concurrency must be at least 1")).input_error();
        }
        limits.total = n;
    }

    let runtime = crate::setup::build_runtime(&mut tokio::runtime::Builder::new_multi_thread())?;

    let _lock = super::lock_run_dir(&out)?;
    let invocation = Invocation {
        shard: args.shard.map(|s| s.to_string()),
        autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
        git_revision: git_revision(),
        retry_failed: args.retry_failed,
    };
    let target_list: Vec<Target> = targets.values().cloned().collect();
    let PreparedRun { pending, kept } = runtime
        .block_on(prepare_run_dir(
            &out,
            &experiment,
            plans.clone(),
            &invocation,
            &target_list,
            &environment.toolchain,
        ))
        .input_error()?;

    let exporter = super::export::start_live(&args.otlp)?;
    let layer = JsonlLayer::new(autopilot_otel::ExportingSink::new(
        RunDirSink::new(&out),
        exporter.as_ref().map(autopilot_otel::Exporter::handle),
    ));
    let write_errors = layer.errors();
    crate::logging::attach_sessions(layer, false);
    if global.quiet == 0 {
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(
            stderr,
            "batch {}: {} {unit} to run, {kept} already finished, in {}",
            experiment.name,
            pending,
            out.display()
        );
    }
    let bar = ProgressBar::with_draw_target(
        Some(pending as u64),
        if global.quiet > 0 {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = Arc::new(Progress {
        bar,
        counts: Mutex::new(BTreeMap::new()),
    });

    // One backend per model, shared by its sessions (HTTP connections are pooled); each session
    // gets its own client (repeat counters are per session) and, for scripted answers, its own
    // replay backend (answers are served in order per stage attempt).
    let mut backends: BTreeMap<String, Arc<dyn ChatBackend>> = BTreeMap::new();
    for (text, model) in &models {
        if model.provider != Provider::Replay {
            backends.insert(
                text.clone(),
                environment.client(model, None)?.backend().clone(),
            );
        }
    }
    let fallback = environment
        .fallback_client()?
        .map(|c| (c.model().clone(), c.backend().clone()));
    let context = Arc::new(BatchContext {
        environment,
        app,
        targets,
        models,
        backends,
        answers,
        fallback,
        out: out.clone(),
        experiment: experiment.name.clone(),
        stages: experiment.stages.clone(),
        python,
    });
    // Setups are built when a session starts and ends are counted as they come: memory follows
    // the concurrency, not the batch size.
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut crashed = 0usize;
    let mut ran = 0usize;
    // Infrastructure errors by kind, split by whether running again can help.
    let (mut transient, mut repeating) = (BTreeMap::new(), BTreeMap::new());
    runtime.block_on(run_each(
        pending_plans(&out, &experiment.stages, plans),
        &limits,
        move |plan| context.clone().run(plan),
        progress.clone(),
        |result| {
            ran += 1;
            match result {
                Ok((_, outcome)) => {
                    *outcomes.entry(outcome.as_str()).or_default() += 1;
                    if let SessionOutcome::InfrastructureError { kind, .. } = &outcome {
                        let by_kind = if repeats_on_rerun(*kind) {
                            &mut repeating
                        } else {
                            &mut transient
                        };
                        *by_kind.entry(kind.to_string()).or_insert(0usize) += 1;
                    }
                }
                Err(_) => crashed += 1,
            }
        },
    ));
    progress.bar.finish_and_clear();
    super::export::finish_live(global, exporter, args.otlp.otlp_endpoint.as_deref());

    if crashed > 0 {
        transient.insert("crashed".to_owned(), crashed);
    }
    let mut stderr = crate::terminal::stderr();
    for problem in write_errors.snapshot() {
        let _ = writeln!(stderr, "warning: {problem}");
    }
    let summary: Vec<String> = outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
    if global.quiet == 0 {
        if ran == 0 {
            let _ = writeln!(
                stderr,
                "nothing to run: all {kept} {unit} of the plan had already finished in {}",
                out.display()
            );
        } else {
            let _ = writeln!(
                stderr,
                "ran {} {unit}: {}{}; {}",
                ran,
                summary.join(", "),
                if crashed > 0 {
                    format!(", {crashed} crashed")
                } else {
                    String::new()
                },
                progress.message()
            );
        }
    }
    let mut stdout = crate::terminal::stdout_data();
    writeln!(stdout, "{}", out.display()).output_error()?;
    let kinds = |by_kind: &BTreeMap<String, usize>| {
        by_kind
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !repeating.is_empty() {
        let _ = writeln!(
            stderr,
            "{} {unit} ended on infrastructure errors that running again would repeat ({}): fix the cause first (each session's trace says it; `autopilot doctor` checks the setup)",
            repeating.values().sum::<usize>(),
            kinds(&repeating)
        );
    }
    if !transient.is_empty() {
        let _ = writeln!(
            stderr,
            "{} {unit} ended on infrastructure errors that may pass another time ({}): run again with --retry-failed",
            transient.values().sum::<usize>(),
            kinds(&transient)
        );
    }
    if !repeating.is_empty() || !transient.is_empty() {
        return Ok(ExitStatus::Unavailable);
    }
    Ok(ExitStatus::Success)
}

/// Whether an infrastructure error of this kind comes back on every run until someone changes
/// something (a replay without that answer, a rejected key or model, a missing toolchain).
fn repeats_on_rerun(kind: autopilot_trace::InfraErrorKind) -> bool {
    !kind.is_transient()
}

pub fn merge(args: &MergeArgs) -> CliResult<ExitStatus> {
    let report = merge_run_dirs(&args.dirs, &args.out).input_error()?;
    let mut stderr = crate::terminal::stderr();
    let _ = writeln!(
        stderr,
        "merged {} run dir(s) into {}: {} copied, {} already there, {} unfinished replaced",
        args.dirs.len(),
        args.out.display(),
        report.copied,
        report.identical,
        report.replaced
    );
    let mut stdout = crate::terminal::stdout_data();
    writeln!(stdout, "{}", display(&args.out)).output_error()?;
    Ok(ExitStatus::Success)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
