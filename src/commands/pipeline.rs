//! `autopilot pipeline <app.toml>` (and `autopilot run --stages`): the lifecycle stages (data processing, model conversion,
//! sketch generation) in order, each one session trace in one run folder, resumable.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use autopilot_orchestrator::pipeline::{PipelineReport, PipelineSetup, run_pipeline};
use autopilot_steps::App;
use autopilot_toolchain::{PythonEnv, SandboxConfig};
use autopilot_trace::{JsonlLayer, PipelineStage, RunDirSink, SamplingParams, SessionOutcome};

use super::run::{choose_model, exit_status, session_id};
use crate::cli::{GlobalArgs, PipelineArgs, RunArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};
use crate::setup::SessionParts;

/// autopilot's model-evaluation script, run in the sandbox on every converted model.
fn eval_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/autopilot_eval.py")
}

pub fn run(global: &GlobalArgs, args: &PipelineArgs) -> CliResult<ExitStatus> {
    let stages = args
        .run
        .stages
        .clone()
        .unwrap_or_else(|| vec![PipelineStage::Dp, PipelineStage::Mc, PipelineStage::Sg]);
    run_stages(global, &args.run, &stages)
}

/// Whether any of `stages` runs LLM-written Python (data processing, model conversion).
pub(super) fn python_stages(stages: &[PipelineStage]) -> bool {
    stages
        .iter()
        .any(|s| matches!(s, PipelineStage::Dp | PipelineStage::Mc))
}

/// The app file gives what the Python stages start from, or the run is bad input.
pub(super) fn check_pipeline_section(app: &App, stages: &[PipelineStage]) -> CliResult<()> {
    if python_stages(stages) && app.pipeline.is_none() {
        return Err(anyhow!(
            "{}: no [pipeline] section (goal, raw, keras, held_out, features): the dp and mc \
             stages start from it; run `--stages sg` for the sketch alone",
            app.path.display()
        ))
        .input_error();
    }
    Ok(())
}

/// What every pipeline gets from the environment: the Python environment (or why there is
/// none, with the fix), the sandbox, the model-evaluation script.
pub(super) fn python_setup(
    environment: &crate::setup::SessionEnvironment,
) -> (Result<PythonEnv, String>, SandboxConfig, PathBuf) {
    (
        PythonEnv::discover().map_err(|e| e.to_string()),
        // Python stages have no unsandboxed mode: the toolchain's sandbox settings when they
        // exist, bubblewrap's defaults when the compile sandbox was turned off.
        environment.toolchain.sandbox.clone().unwrap_or_default(),
        eval_script(),
    )
}

/// `autopilot pipeline`, and `autopilot run --stages`: the same code path.
pub(super) fn run_stages(
    global: &GlobalArgs,
    run_args: &RunArgs,
    stages: &[PipelineStage],
) -> CliResult<ExitStatus> {
    // Absolute paths throughout: the stages' Python runs in its work folder, where a path
    // relative to here means nothing.
    let app_path = fs_err::canonicalize(&run_args.app).input_error()?;
    let app = App::load(&app_path).input_error()?;
    check_pipeline_section(&app, stages)?;
    if stages.is_empty() {
        return Err(anyhow!("--stages names no stage")).input_error();
    }
    let environment = crate::setup::SessionEnvironment::resolve(&run_args.env)?;
    let target = environment.target(&app, run_args.target.as_deref())?;
    environment
        .prompts
        .variant(&run_args.variant)
        .input_error()?;
    let runtime = crate::setup::session_runtime()?;
    let choice = choose_model(run_args, &app, &environment, &runtime)?;
    let pipeline = session_id(&app, None).as_str().to_owned();
    let out = run_args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&pipeline));
    let out = std::path::absolute(&out).input_error()?;
    // Resuming: the pipeline id of the run folder's finished stages is kept.
    let pipeline = earlier_pipeline(&out).unwrap_or(pipeline);
    let layer = JsonlLayer::new(RunDirSink::new(&out));
    let write_errors = layer.errors();
    crate::logging::attach_sessions(layer, true);
    let (llm, fallback_llm) = choice.clients(&environment)?;
    let sampling = SamplingParams {
        temperature: run_args.temperature,
        top_p: run_args.top_p,
        seed: run_args.seed,
        max_tokens: run_args.max_tokens,
        num_ctx: None,
    };
    let sg = {
        let environment = environment.clone();
        let target = target.clone();
        let llm = llm.clone();
        let sampling = sampling.clone();
        let variant = run_args.variant.clone();
        let stream = run_args.stream;
        let out = out.clone();
        let note = choice.note.clone();
        Arc::new(move |app: App, id| {
            let parts = SessionParts {
                id,
                app,
                target: target.clone(),
                variant: variant.clone(),
                llm: llm.clone(),
                sampling: sampling.clone(),
                stream,
                run_dir: out.clone(),
                final_dir: None,
                batch: None,
                note: note.clone(),
            };
            environment.setup(parts, fallback_llm.clone())
        })
    };
    let mut sampling = sampling;
    sampling
        .max_tokens
        .get_or_insert(environment.policies.llm.max_tokens);
    let (python, sandbox, eval_script) = python_setup(&environment);
    let setup = PipelineSetup {
        pipeline,
        run_dir: out.clone(),
        stages_dir: out.join("stages"),
        batch: None,
        app,
        target,
        stages: stages.to_vec(),
        llm,
        sampling,
        stream: run_args.stream,
        policies: environment.policies.clone(),
        python,
        sandbox,
        eval_script,
        note: choice.note,
        sg,
    };
    let report = runtime.block_on(run_pipeline(&setup, crate::setup::termination_signal()));
    finish(global, &setup, &report, &write_errors.snapshot())
}

/// The pipeline id of a run folder's finished stages (their manifests), to resume under it.
fn earlier_pipeline(out: &std::path::Path) -> Option<String> {
    ["dp", "mc", "sg"].iter().find_map(|stage| {
        let path = out
            .join("stages")
            .join(stage)
            .join(autopilot_orchestrator::pipeline::MANIFEST);
        let text = fs_err::read_to_string(path).ok()?;
        serde_json::from_str::<autopilot_orchestrator::pipeline::StageManifest>(&text)
            .ok()
            .map(|m| m.pipeline)
    })
}

fn finish(
    global: &GlobalArgs,
    setup: &PipelineSetup,
    report: &PipelineReport,
    write_errors: &[String],
) -> CliResult<ExitStatus> {
    let mut stderr = crate::terminal::stderr();
    for problem in write_errors {
        let _ = writeln!(stderr, "warning: {problem}");
    }
    for stage in &report.stages {
        let how = if stage.resumed {
            "done earlier (resumed, not run again)".to_owned()
        } else {
            match &stage.outcome {
                SessionOutcome::Success { .. } => "succeeded".to_owned(),
                SessionOutcome::Exhausted { stage } => {
                    format!("failed: {stage} attempts exhausted")
                }
                SessionOutcome::Aborted { reason } => format!("aborted: {reason}"),
                SessionOutcome::InfrastructureError { kind, message } => {
                    format!("infrastructure error ({kind}): {message}")
                }
            }
        };
        if global.quiet == 0 || !stage.succeeded() {
            let _ = writeln!(stderr, "{}: {how} (session {})", stage.stage, stage.session);
        }
    }
    if global.quiet == 0 {
        let _ = writeln!(
            stderr,
            "pipeline {} in {}",
            report.pipeline,
            setup.run_dir.display()
        );
    }
    let mut stdout = crate::terminal::stdout_data();
    for stage in &report.stages {
        for file in &stage.outputs {
            writeln!(stdout, "{}\t{}\t{}", stage.stage, file.role, file.path).output_error()?;
        }
    }
    if !write_errors.is_empty() {
        return Ok(ExitStatus::Unavailable);
    }
    match report.failed() {
        Some(stage) => Ok(exit_status(&stage.outcome)),
        None if report.stages.len() == setup.stages.len() => Ok(ExitStatus::Success),
        None => Ok(ExitStatus::Failure),
    }
}
