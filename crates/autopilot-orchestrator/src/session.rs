//! One session, from a loaded app to a compiled, checked sketch: spec filling, sketch
//! attempts, extraction, prechecks, compile, library resolution, size and simulation checks,
//! grounded repair prompts and the parachutes (budgets, identical-code skip, fallback model,
//! fallback variant). Every decision is a trace event; the session always ends with
//! `session_finished`, whatever happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autopilot_llm::{CallContext, ChatAnswer, ChatRequest, LlmClient, LlmError, LlmErrorKind};
use autopilot_toolchain::environment::LookupLimits;
use autopilot_toolchain::{
    BuildCapability, CompileOutcome, Compiler, LibraryCatalog, SimulateRequest, Sketch, Target,
    TinyMlApi, ToolchainConfig, library,
};
use autopilot_trace::{
    AttemptFinished, AttemptOutcome, BatchCell, ChatMessage, CheckVerdict, ComponentVersion,
    Diagnostic, Event, FallbackApplied, HostVerdictKind, Note, SamplingParams, SessionFinished,
    SessionId, SessionOutcome, SessionStarted, SessionTotals, SimulationStatus, SizeReport, Stage,
    StageFinished, StageStarted, TraceOrigin, emit,
};
use serde_json::Value;

use crate::policy::Policies;
use crate::prompts::Flow;
use crate::{
    App, BoardFacts, BuildEnvironment, ForbiddenApi, PrecheckInput, PromptFacts, PromptSet,
    RepairInput, RepairLimits, RepairMaterial, RepairTracker, SpecRules, TargetFacts, Task,
    TinymlLibrary, build_repair, extract_code, run_prechecks, spec_template_for, validate_spec,
};

/// Everything one session needs, resolved by the caller.
#[derive(Debug, Clone)]
pub struct SessionSetup {
    pub id: SessionId,
    pub app: App,
    pub target: Target,
    pub prompts: Arc<PromptSet>,
    pub variant: String,
    pub policies: Policies,
    /// The primary model's client.
    pub llm: LlmClient,
    /// The client to switch to when the primary stays unreachable after retries.
    pub fallback_llm: Option<LlmClient>,
    pub sampling: SamplingParams,
    pub stream: bool,
    pub toolchain: ToolchainConfig,
    pub catalog: Arc<LibraryCatalog>,
    pub tinyml_api: Arc<TinyMlApi>,
    /// The simavr program.
    pub simavr: PathBuf,
    /// The host TinyML check (build and run TFLM sketches natively) for TinyML targets: it
    /// replaces the compile where arduino-cli is missing and follows it where it exists.
    pub host_check: Option<autopilot_hostrun::check::HostCheckConfig>,
    /// Where the session's artifacts go: `<run-dir>/artifacts/<id>/`, its build folder
    /// `<run-dir>/build/<id>/`.
    pub run_dir: PathBuf,
    /// Where the final sketch folder is copied (default: `<artifacts>/final`).
    pub final_dir: Option<PathBuf>,
    pub batch: Option<BatchCell>,
    /// Versions of the tools around the session (recorded in `session_started`).
    pub tool_versions: Vec<ComponentVersion>,
    /// A note for the trace's first lines (e.g. that answers are hand-written demo answers).
    pub note: Option<String>,
}

/// How a session ended, for the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport {
    pub outcome: SessionOutcome,
    pub totals: SessionTotals,
    /// The final sketch folder, on success.
    pub sketch_dir: Option<PathBuf>,
}

/// Infrastructure kinds of [`SessionOutcome::InfrastructureError`].
pub mod infra {
    /// The LLM backend stayed unreachable after retries (and the fallback model, if any).
    pub const LLM_UNREACHABLE: &str = "llm_unreachable";
    /// The LLM backend refused the request for good (401, unknown model, …): a configuration error.
    pub const LLM_REJECTED: &str = "llm_rejected";
    /// The replay backend has no recorded answer for a request.
    pub const REPLAY_MISS: &str = "replay_miss";
    /// No compiler for the target is installed.
    pub const TOOLCHAIN_MISSING: &str = "toolchain_missing";
    /// The compiler or simulator could not be run, or its output could not be understood.
    pub const TOOLCHAIN_FAILED: &str = "toolchain_failed";
    /// Prompts could not be rendered or artifacts could not be written.
    pub const LOCAL: &str = "local";
}

/// Why the session stops early, as its outcome.
type Ending = SessionOutcome;

fn infrastructure(kind: &str, message: impl Into<String>) -> Ending {
    SessionOutcome::InfrastructureError {
        kind: kind.to_owned(),
        message: message.into(),
    }
}

fn local(context: &str, error: impl std::fmt::Display) -> Ending {
    infrastructure(infra::LOCAL, format!("{context}: {error}"))
}

/// Mutable state of a running session.
struct Run<'a> {
    setup: &'a SessionSetup,
    start: Instant,
    totals: SessionTotals,
    all_priced: bool,
    cost: f64,
    /// The client in use (the fallback after a switch).
    llm: LlmClient,
    switched_model: bool,
    artifacts: PathBuf,
    facts: PromptFacts,
    forbidden: Vec<ForbiddenApi>,
    allowed_libraries: Vec<String>,
}

/// Runs one session. It always ends with a `session_finished` event, and returns how it ended;
/// run it inside the session's span ([`autopilot_trace::session_span`]).
pub async fn run_session(setup: &SessionSetup) -> SessionReport {
    run_session_until(setup, std::future::pending()).await
}

/// [`run_session`] that also ends when `stop` resolves (the CLI passes SIGINT/SIGTERM): the
/// step under way is dropped, which kills its tool's process group, and the session ends
/// `aborted` with the reason `stop` gives — still with its `session_finished` event.
pub async fn run_session_until(
    setup: &SessionSetup,
    stop: impl Future<Output = String>,
) -> SessionReport {
    let start = Instant::now();
    let artifacts = setup.run_dir.join("artifacts").join(setup.id.as_str());
    let forbidden = forbidden_apis(&setup.target, &setup.tinyml_api);
    let allowed_libraries = allowed_libraries(&setup.catalog, &setup.target);
    let facts = PromptFacts::new(
        &setup.app,
        target_facts(&setup.target, &allowed_libraries),
        forbidden.clone(),
    );
    // The compiler first: its tool, core and library versions belong in session_started.
    let compiler = Compiler::new(&setup.target, setup.toolchain.clone()).await;
    let mut tool_versions = setup.tool_versions.clone();
    if let Ok(compiler) = &compiler {
        for version in compiler.versions() {
            if !tool_versions.contains(version) {
                tool_versions.push(version.clone());
            }
        }
    }
    let mut run = Run {
        setup,
        start,
        totals: SessionTotals::default(),
        all_priced: true,
        cost: 0.0,
        llm: setup.llm.clone(),
        switched_model: false,
        artifacts,
        facts,
        forbidden,
        allowed_libraries,
    };
    emit(&Event::SessionStarted(SessionStarted {
        app: setup.app.name.clone(),
        app_path: Some(setup.app.path.display().to_string()),
        target: setup.target.name.clone(),
        fqbn: Some(setup.target.fqbn.clone()),
        provider: setup.llm.model().provider.as_str().to_owned(),
        model: setup.llm.model().model.clone(),
        endpoint: setup.llm.backend().endpoint(),
        prompt_variant: setup.variant.clone(),
        sampling: setup.sampling.clone(),
        seed: setup.sampling.seed,
        tool_versions,
        autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
        batch: setup.batch.clone(),
        origin: TraceOrigin::Native,
    }));
    if setup.toolchain.sandbox.is_none() {
        // The user opted out: generated code compiles and runs with the host's full view.
        emit(&Event::Note(Note {
            kind: "sandbox_off".into(),
            message: "the sandbox is off (opted out): the compiler and simavr ran generated code \
                      unconfined"
                .into(),
        }));
    }
    if let Some(note) = &setup.note {
        emit(&Event::Note(Note {
            kind: "session_note".into(),
            message: note.clone(),
        }));
    }
    let driven = match compiler {
        Ok(mut compiler) => match buildable(setup, compiler.capability()) {
            Ok(()) => tokio::select! {
                driven = run.drive(&mut compiler) => driven,
                reason = stop => Err(SessionOutcome::Aborted { reason }),
            },
            Err(ending) => Err(ending),
        },
        Err(error) => Err(infrastructure(infra::TOOLCHAIN_FAILED, error.to_string())),
    };
    let (outcome, sketch_dir) = match driven {
        Ok(dir) => (
            SessionOutcome::Success {
                attempt: run.totals.attempts,
            },
            Some(dir),
        ),
        Err(ending) => (ending, None),
    };
    run.totals.wall_ms = millis(run.start.elapsed());
    run.totals.cost_usd = (run.all_priced && run.totals.llm_calls > 0).then_some(run.cost);
    emit(&Event::SessionFinished(SessionFinished {
        outcome: outcome.clone(),
        totals: run.totals.clone(),
    }));
    SessionReport {
        outcome,
        totals: run.totals,
        sketch_dir,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The APIs the target's pinned TinyML library lacks, for prechecks and prompts.
pub fn forbidden_apis(target: &Target, api: &TinyMlApi) -> Vec<ForbiddenApi> {
    let Some(pinned) = &target.tinyml else {
        return Vec::new();
    };
    let Some(facts) = api.facts(&pinned.library, &pinned.version) else {
        return Vec::new();
    };
    facts
        .forbidden_headers
        .iter()
        .chain(&facts.forbidden_symbols)
        .map(|item| ForbiddenApi {
            symbol_or_header: item.name.clone(),
            reason: item.describe(),
        })
        .collect()
}

/// Library names a spec may name for the target: allow-listed libraries for its architecture,
/// its pinned TinyML and sensor libraries, and the libraries its core ships.
pub fn allowed_libraries(catalog: &LibraryCatalog, target: &Target) -> Vec<String> {
    let arch = target.architecture();
    let mut names: Vec<String> = catalog
        .libraries
        .iter()
        .filter(|l| {
            l.architectures.is_empty() || l.architectures.iter().any(|a| a == &arch || a == "*")
        })
        .map(|l| l.name.clone())
        .collect();
    names.extend(target.tinyml.iter().map(|t| t.library.clone()));
    names.extend(target.sensors.iter().filter_map(|s| s.library.clone()));
    for core in catalog.cores.iter().filter(|c| c.architecture == arch) {
        names.extend(
            core.headers
                .iter()
                .map(|h| h.trim_end_matches(".h").to_owned()),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The target as prompts see it.
pub fn target_facts(target: &Target, allowed_libraries: &[String]) -> TargetFacts {
    TargetFacts {
        name: target.name.clone(),
        board: target.display_name.clone(),
        fqbn: target.fqbn.clone(),
        flash_bytes: Some(target.flash_bytes),
        ram_bytes: Some(target.ram_bytes),
        tinyml: target.tinyml.as_ref().map(|t| TinymlLibrary {
            name: t.library.clone(),
            version: t.version.clone(),
            header: t.header.clone(),
        }),
        simulator: target.simulator.as_ref().map(|s| s.kind.clone()),
        allowed_libraries: allowed_libraries.to_vec(),
    }
}

/// A sketch (folder and `.ino`) name from an app name: letters, digits and `_`, starting with a
/// letter (arduino-cli requires the folder and the `.ino` to share it).
pub fn sketch_name(app_name: &str) -> String {
    let mut name: String = app_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "sketch_");
    }
    name
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

impl Run<'_> {
    fn write_artifact(&self, relative: &str, content: &str) -> Result<(), Ending> {
        let path = self.artifacts.join(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|e| local("cannot write artifacts", e))?;
        }
        fs_err::write(&path, content).map_err(|e| local("cannot write artifacts", e))
    }

    /// Ends the session when a budget is spent; called before every LLM call.
    fn check_budgets(&self) -> Result<(), Ending> {
        let budget = &self.setup.policies.budget;
        if let Some(limit) = budget.wall_time()
            && self.start.elapsed() >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("wall-time budget of {} s spent", limit.as_secs()),
            });
        }
        let tokens = self
            .totals
            .input_tokens
            .unwrap_or(0)
            .saturating_add(self.totals.output_tokens.unwrap_or(0));
        if let Some(limit) = budget.tokens
            && tokens >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("token budget of {limit} spent ({tokens} used)"),
            });
        }
        if let Some(limit) = budget.cost_usd
            && self.cost >= limit
        {
            return Err(SessionOutcome::Aborted {
                reason: format!("cost budget of ${limit:.4} spent (${:.4} used)", self.cost),
            });
        }
        Ok(())
    }

    fn account(&mut self, answer: &ChatAnswer) {
        self.totals.llm_calls += answer.tries;
        // Saturating: a provider reporting absurd counts must not wrap the budget back to zero.
        // A count no answer reported stays unknown (`None`), never 0.
        let add = |total: Option<u64>, n: Option<u64>| match n {
            Some(n) => Some(total.unwrap_or(0).saturating_add(n)),
            None => total,
        };
        self.totals.input_tokens = add(self.totals.input_tokens, answer.usage.input);
        self.totals.output_tokens = add(self.totals.output_tokens, answer.usage.output);
        match answer.cost_usd {
            Some(cost) => self.cost += cost,
            None => self.all_priced = false,
        }
    }

    /// One LLM request with the parachutes: the client retries transient faults; when they
    /// outlast the retries, the fallback model takes over for the rest of the session.
    async fn ask(
        &mut self,
        stage: Stage,
        attempt: u32,
        messages: Vec<ChatMessage>,
    ) -> Result<ChatAnswer, Ending> {
        self.check_budgets()?;
        let request = ChatRequest {
            messages,
            sampling: self.setup.sampling.clone(),
            stream: self.setup.stream,
            timeout: Some(self.setup.policies.timeouts.llm_call()),
        };
        let context = CallContext::new(stage, attempt);
        loop {
            match self.llm.chat(&context, &request).await {
                Ok(answer) => {
                    self.account(&answer);
                    return Ok(answer);
                }
                Err(error) => {
                    self.totals.llm_calls += error.tries();
                    if let Some(ending) = self.after_llm_error(&error) {
                        return Err(ending);
                    }
                }
            }
        }
    }

    /// Switches to the fallback model (and returns `None` to try again) or says how to end.
    fn after_llm_error(&mut self, error: &LlmError) -> Option<Ending> {
        let message = format!(
            "{} after {} tr{}: {}",
            autopilot_llm::describe(error.kind()),
            error.tries(),
            if error.tries() == 1 { "y" } else { "ies" },
            error.detail()
        );
        if error.kind() == LlmErrorKind::ReplayMiss {
            return Some(infrastructure(infra::REPLAY_MISS, message));
        }
        if !error.is_transient() {
            return Some(infrastructure(infra::LLM_REJECTED, message));
        }
        match (&self.setup.fallback_llm, self.switched_model) {
            (Some(fallback), false) => {
                emit(&Event::FallbackApplied(FallbackApplied {
                    policy: "fallback_model".into(),
                    from: self.llm.model().to_string(),
                    to: fallback.model().to_string(),
                    reason: format!("{} stayed unreachable: {message}", self.llm.model()),
                }));
                self.llm = fallback.clone();
                self.switched_model = true;
                None
            }
            _ => Some(infrastructure(infra::LLM_UNREACHABLE, message)),
        }
    }

    async fn drive(&mut self, compiler: &mut Compiler) -> Result<PathBuf, Ending> {
        let spec = self.fill_spec().await?;
        let variant = self.setup.variant.clone();
        let budget = self.setup.policies.attempts.sketch;
        if let Some(dir) = self
            .sketch_rounds(compiler, &spec, &variant, 1, budget)
            .await?
        {
            return Ok(dir);
        }
        let exhausted = SessionOutcome::Exhausted {
            stage: Stage::Sketch,
        };
        let Some(fallback) = self
            .setup
            .policies
            .fallback
            .variant
            .clone()
            .filter(|v| v != &variant)
        else {
            return Err(exhausted);
        };
        emit(&Event::FallbackApplied(FallbackApplied {
            policy: "fallback_variant".into(),
            from: variant,
            to: fallback.clone(),
            reason: format!(
                "{budget} sketch attempts exhausted; one more round with prompt variant {fallback}"
            ),
        }));
        self.sketch_rounds(compiler, &spec, &fallback, budget + 1, budget)
            .await?
            .ok_or(exhausted)
    }

    fn render(&self, variant: &str, task: &Task<'_>) -> Result<Vec<ChatMessage>, Ending> {
        self.setup
            .prompts
            .render(variant, &self.facts, task)
            .map(|p| p.messages())
            .map_err(|e| local("cannot render a prompt", e))
    }

    fn prompt_text(messages: &[ChatMessage]) -> String {
        messages
            .iter()
            .map(|m| format!("## {:?}\n\n{}\n", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Spec filling with validation and repair; the validated spec's JSON.
    async fn fill_spec(&mut self) -> Result<Value, Ending> {
        let setup = self.setup;
        let app = &setup.app;
        // The session's target, which may not be the app's (`run --target`, experiments).
        let template = spec_template_for(app, &setup.target.name);
        let allowed_libraries = self.allowed_libraries.clone();
        let rules = SpecRules {
            target: &setup.target.name,
            classes: &app.classes,
            allowed_libraries: &allowed_libraries,
            model_kind: app.model.as_ref().map(|m| m.kind),
            ram_bytes: Some(setup.target.ram_bytes),
        };
        let variant = setup.variant.clone();
        let mut previous: Option<(String, Vec<crate::SpecProblem>)> = None;
        for attempt in 1..=setup.policies.attempts.spec {
            let started = Instant::now();
            emit(&Event::StageStarted(StageStarted {
                stage: Stage::Spec,
                attempt: Some(attempt),
            }));
            let task = match &previous {
                Some((answer, problems)) => Task::SpecRepair {
                    template: &template,
                    previous_answer: answer,
                    problems,
                },
                None => Task::SpecFill {
                    template: &template,
                },
            };
            let messages = self.render(&variant, &task)?;
            self.write_artifact(
                &format!("spec-{attempt}/prompt.md"),
                &Self::prompt_text(&messages),
            )?;
            let answer = self.ask(Stage::Spec, attempt, messages).await?;
            self.write_artifact(&format!("spec-{attempt}/answer.md"), &answer.text)?;
            let validation = validate_spec(&answer.text, &template, &rules);
            for verdict in validation.verdicts(attempt) {
                emit(&Event::CheckVerdict(verdict));
            }
            let valid = validation.is_valid();
            emit(&Event::StageFinished(StageFinished {
                stage: Stage::Spec,
                attempt: Some(attempt),
                succeeded: valid,
                duration_ms: millis(started.elapsed()),
            }));
            if let (true, Some(spec)) = (valid, validation.spec) {
                emit(&Event::AttemptFinished(AttemptFinished {
                    stage: Stage::Spec,
                    attempt,
                    outcome: AttemptOutcome::Succeeded,
                    message: String::new(),
                }));
                return Ok(spec.json);
            }
            let summary = validation
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            emit(&Event::AttemptFinished(AttemptFinished {
                stage: Stage::Spec,
                attempt,
                outcome: AttemptOutcome::SpecInvalid,
                message: summary,
            }));
            previous = Some((answer.text, validation.problems));
        }
        Err(SessionOutcome::Exhausted { stage: Stage::Spec })
    }

    /// The outline and design of the staged flow (one call each).
    async fn staged_context(
        &mut self,
        spec: &Value,
        variant: &str,
        attempt: u32,
    ) -> Result<(String, String), Ending> {
        let messages = self.render(variant, &Task::Outline { spec })?;
        let outline = self.ask(Stage::Outline, attempt, messages).await?.text;
        self.write_artifact(&format!("outline-{attempt}.md"), &outline)?;
        let messages = self.render(
            variant,
            &Task::Design {
                spec,
                outline: &outline,
            },
        )?;
        let design = self.ask(Stage::Design, attempt, messages).await?.text;
        self.write_artifact(&format!("design-{attempt}.md"), &design)?;
        Ok((outline, design))
    }

    /// Sketch attempts `first..first+budget`; `Some(final folder)` on success, `None` when
    /// the attempts are used up.
    async fn sketch_rounds(
        &mut self,
        compiler: &mut Compiler,
        spec: &Value,
        variant: &str,
        first: u32,
        budget: u32,
    ) -> Result<Option<PathBuf>, Ending> {
        let setup = self.setup;
        let staged = setup
            .prompts
            .variant(variant)
            .is_ok_and(|v| v.flow == Flow::Staged);
        let (outline, design) = if staged {
            self.staged_context(spec, variant, first)
                .await
                .map(|(o, d)| (Some(o), Some(d)))?
        } else {
            (None, None)
        };
        let build_dir = setup.run_dir.join("build").join(setup.id.as_str());
        let name = sketch_name(&setup.app.name);
        let model = setup.app.model.as_ref();
        let mut tracker = RepairTracker::new();
        let mut last_code = String::new();
        let mut repair: Option<RepairMaterial> = None;
        let mut last_size: Option<SizeReport> = None;
        for attempt in first..first + budget {
            self.totals.attempts = attempt;
            let started = Instant::now();
            emit(&Event::StageStarted(StageStarted {
                stage: Stage::Sketch,
                attempt: Some(attempt),
            }));
            let messages = match &repair {
                Some(material) => {
                    emit(&Event::RepairContext(material.context.clone()));
                    self.render(
                        variant,
                        &Task::SketchRepair {
                            spec,
                            attempt,
                            code: &last_code,
                            repair: material,
                        },
                    )?
                }
                None => self.render(
                    variant,
                    &Task::Sketch {
                        spec,
                        outline: outline.as_deref(),
                        design: design.as_deref(),
                    },
                )?,
            };
            let dir = format!("sketch-{attempt}");
            self.write_artifact(&format!("{dir}/prompt.md"), &Self::prompt_text(&messages))?;
            let answer = self.ask(Stage::Sketch, attempt, messages).await?;
            self.write_artifact(&format!("{dir}/answer.md"), &answer.text)?;
            let step = self
                .one_attempt(
                    compiler,
                    &build_dir,
                    &name,
                    attempt,
                    &answer.text,
                    &mut tracker,
                    &mut last_code,
                    &mut last_size,
                )
                .await?;
            emit(&Event::StageFinished(StageFinished {
                stage: Stage::Sketch,
                attempt: Some(attempt),
                succeeded: step.is_ok(),
                duration_ms: millis(started.elapsed()),
            }));
            match step {
                Ok(final_dir) => return Ok(Some(final_dir)),
                Err(failed) => {
                    emit(&Event::AttemptFinished(AttemptFinished {
                        stage: Stage::Sketch,
                        attempt,
                        outcome: failed.outcome,
                        message: failed.message.clone(),
                    }));
                    let environment = BuildEnvironment {
                        declarations: failed.declarations,
                        versions: compiler.versions().to_vec(),
                        board: Some(BoardFacts {
                            name: setup.target.display_name.clone(),
                            fqbn: setup.target.fqbn.clone(),
                            flash_bytes: Some(setup.target.flash_bytes),
                            ram_bytes: Some(setup.target.ram_bytes),
                        }),
                        last_size,
                    };
                    let material = build_repair(
                        &RepairInput {
                            attempt: attempt + 1,
                            code: &last_code,
                            diagnostics: &failed.diagnostics,
                            problems: &failed.problems,
                            identical_to: failed.identical_to,
                            environment: &environment,
                            model,
                        },
                        &tracker,
                        &RepairLimits::default(),
                    );
                    tracker.record(
                        attempt,
                        &autopilot_trace::sha256_hex(last_code.as_bytes()),
                        &failed.diagnostics,
                    );
                    repair = Some(material);
                }
            }
        }
        Ok(None)
    }

    /// Extraction → prechecks → compile (with library resolution) → size → simulation.
    #[expect(
        clippy::too_many_arguments,
        reason = "the loop's state, borrowed for one attempt"
    )]
    async fn one_attempt(
        &mut self,
        compiler: &mut Compiler,
        build_dir: &Path,
        name: &str,
        attempt: u32,
        answer: &str,
        tracker: &mut RepairTracker,
        last_code: &mut String,
        last_size: &mut Option<SizeReport>,
    ) -> Result<Result<PathBuf, FailedAttempt>, Ending> {
        let setup = self.setup;
        let extraction = match extract_code(answer) {
            Ok(extraction) => extraction,
            Err(failure) => {
                emit(&Event::CheckVerdict(failure.verdict(attempt)));
                return Ok(Err(FailedAttempt::new(
                    AttemptOutcome::ExtractionFailed,
                    failure.message(),
                )));
            }
        };
        let sha = autopilot_trace::sha256_hex(extraction.code.as_bytes());
        let identical = tracker.identical_code(&sha);
        emit(&Event::CodeExtracted(extraction.event(attempt, identical)));
        last_code.clone_from(&extraction.code);
        if let Some(earlier) = identical {
            emit(&Event::FallbackApplied(FallbackApplied {
                policy: "identical_code".into(),
                from: String::new(),
                to: String::new(),
                reason: format!(
                    "the code is byte-identical to attempt {earlier}: not compiled again"
                ),
            }));
            let mut failed = FailedAttempt::new(
                AttemptOutcome::IdenticalCode,
                format!("identical to attempt {earlier}, which failed; nothing was compiled"),
            );
            failed.identical_to = Some(earlier);
            failed.diagnostics = tracker
                .diagnostics_of(earlier)
                .map(<[Diagnostic]>::to_vec)
                .unwrap_or_default();
            return Ok(Err(failed));
        }
        let report = run_prechecks(
            &extraction.code,
            &PrecheckInput {
                model: setup.app.model.as_ref(),
                forbidden: &self.forbidden,
            },
        );
        for verdict in report.events(attempt) {
            emit(&Event::CheckVerdict(verdict));
        }
        if !report.passed() {
            let problems: Vec<String> = report
                .failures()
                .map(|f| format!("{}: {}", f.check, f.message))
                .collect();
            let mut failed =
                FailedAttempt::new(AttemptOutcome::PrecheckFailed, problems.join("; "));
            failed.problems = problems;
            return Ok(Err(failed));
        }
        // The sketch folder of this attempt: the code and the model header.
        let sketch_dir = self.artifacts.join(format!("sketch-{attempt}")).join(name);
        fs_err::create_dir_all(&sketch_dir).map_err(|e| local("cannot write the sketch", e))?;
        fs_err::write(sketch_dir.join(format!("{name}.ino")), &extraction.code)
            .map_err(|e| local("cannot write the sketch", e))?;
        if let Some(model) = &setup.app.model {
            fs_err::write(sketch_dir.join(&model.header_name), &model.header_text)
                .map_err(|e| local("cannot write the model header", e))?;
        }
        let sketch = Sketch::open(&sketch_dir).map_err(|e| local("cannot open the sketch", e))?;
        let mut result = self.compile(compiler, &sketch, build_dir, attempt).await?;
        // A missing header: resolve it to a library (allow-listed), install when allowed, and
        // compile once more in the same attempt.
        if let CompileOutcome::Failed { diagnostics } = &result.outcome {
            let mut installed_any = false;
            for header in library::missing_headers(diagnostics) {
                let resolved = library::resolve(
                    &setup.catalog,
                    compiler,
                    Some(&setup.tinyml_api),
                    attempt,
                    &header,
                )
                .await
                .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
                emit(&Event::LibraryResolved(resolved.clone()));
                if let (Some(name), true) = (&resolved.library, resolved.allowed) {
                    let install = library::install(
                        &setup.catalog,
                        compiler,
                        attempt,
                        name,
                        setup.policies.libraries.allow_install,
                    )
                    .await
                    .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
                    // "Already installed" succeeds but changes nothing: no second compile.
                    installed_any |= install.changed;
                    emit(&Event::LibraryInstalled(install.event));
                }
            }
            if installed_any {
                result = self.compile(compiler, &sketch, build_dir, attempt).await?;
            }
        }
        let diagnostics = result.outcome.diagnostics().to_vec();
        self.write_artifact(
            &format!("sketch-{attempt}/diagnostics.txt"),
            &diagnostics
                .iter()
                .map(autopilot_toolchain::diagnostics::render)
                .collect::<Vec<_>>()
                .join("\n"),
        )?;
        match &result.outcome {
            CompileOutcome::ToolchainMissing { detail } => {
                // No compiler for this board: for a TinyML target the host build replaces the
                // compile (clearly marked as such), and only its verdict can pass the attempt.
                if !self.host_check_applies() {
                    return Err(infrastructure(infra::TOOLCHAIN_MISSING, detail.clone()));
                }
                emit(&Event::Note(Note {
                    kind: "host_build".into(),
                    message: format!(
                        "{detail}: a host build (native g++, API profile, stand-ins) replaces the compile"
                    ),
                }));
                match self.host_check(&sketch_dir, build_dir, attempt).await? {
                    HostResult::Passed => self.succeed(&sketch_dir, name, attempt),
                    HostResult::Failed(failed) => Ok(Err(failed)),
                    HostResult::NotJudged(why) => Err(infrastructure(
                        infra::TOOLCHAIN_MISSING,
                        format!("{detail}; the host check could not judge the sketch: {why}"),
                    )),
                }
            }
            CompileOutcome::TimedOut { after_ms } => Ok(Err(FailedAttempt::new(
                AttemptOutcome::CompileTimedOut,
                format!(
                    "the compiler did not finish within {} s and was stopped",
                    after_ms / 1000
                ),
            ))),
            CompileOutcome::Failed { diagnostics } => {
                let symbols = autopilot_toolchain::symbols_from_diagnostics(diagnostics);
                let dirs = if result.include_dirs.is_empty() {
                    compiler.include_dirs(&sketch)
                } else {
                    result.include_dirs.clone()
                };
                let declarations = autopilot_toolchain::find_declarations(
                    &symbols,
                    &dirs,
                    LookupLimits::default(),
                );
                let first = result
                    .outcome
                    .errors()
                    .next()
                    .map(|d| first_line(&d.message))
                    .unwrap_or_default();
                let mut failed = FailedAttempt::new(AttemptOutcome::CompileFailed, first);
                failed.diagnostics.clone_from(diagnostics);
                failed.declarations = declarations;
                Ok(Err(failed))
            }
            CompileOutcome::Succeeded { size, .. } => {
                *last_size = *size;
                if let Some(failed) = self.check_size(*size, attempt) {
                    return Ok(Err(failed));
                }
                if let Some(failed) = self.simulate(&result, attempt).await? {
                    return Ok(Err(failed));
                }
                // A board without a simulator: the host check judges the behaviour after the
                // real compile. A check that cannot judge leaves the real compile's success.
                if setup.target.simulator.is_none()
                    && self.host_check_applies()
                    && let HostResult::Failed(failed) =
                        self.host_check(&sketch_dir, build_dir, attempt).await?
                {
                    return Ok(Err(failed));
                }
                self.succeed(&sketch_dir, name, attempt)
            }
        }
    }

    /// The end of a successful attempt: the sketch is copied to the final folder.
    fn succeed(
        &mut self,
        sketch_dir: &Path,
        name: &str,
        attempt: u32,
    ) -> Result<Result<PathBuf, FailedAttempt>, Ending> {
        let setup = self.setup;
        {
            {
                let final_dir = setup
                    .final_dir
                    .clone()
                    .unwrap_or_else(|| self.artifacts.join("final"))
                    .join(name);
                copy_sketch(sketch_dir, &final_dir)
                    .map_err(|e| local("cannot copy the final sketch", e))?;
                emit(&Event::AttemptFinished(AttemptFinished {
                    stage: Stage::Sketch,
                    attempt,
                    outcome: AttemptOutcome::Succeeded,
                    message: format!("sketch written to {}", final_dir.display()),
                }));
                Ok(Ok(final_dir))
            }
        }
    }

    async fn compile(
        &mut self,
        compiler: &Compiler,
        sketch: &Sketch,
        build_dir: &Path,
        attempt: u32,
    ) -> Result<autopilot_toolchain::CompileResult, Ending> {
        let started = Instant::now();
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Compile,
            attempt: Some(attempt),
        }));
        let result = compiler
            .compile(sketch, build_dir)
            .await
            .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
        self.totals.compiles += 1;
        if result.cache_hit {
            self.totals.cache_hits += 1;
        }
        emit(&Event::CompileFinished(result.to_trace_event(attempt)));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Compile,
            attempt: Some(attempt),
            succeeded: matches!(result.outcome, CompileOutcome::Succeeded { .. }),
            duration_ms: millis(started.elapsed()),
        }));
        Ok(result)
    }

    /// Flash and RAM against the target's limits.
    fn check_size(&self, size: Option<SizeReport>, attempt: u32) -> Option<FailedAttempt> {
        let size = size?;
        let target = &self.setup.target;
        let mut problems = Vec::new();
        if size.flash_used > target.flash_bytes {
            problems.push(format!(
                "flash use {} B exceeds the board's {} B",
                size.flash_used, target.flash_bytes
            ));
        }
        if let Some(ram) = size.ram_used
            && ram > target.ram_bytes
        {
            problems.push(format!(
                "RAM use {ram} B exceeds the board's {} B",
                target.ram_bytes
            ));
        }
        emit(&Event::CheckVerdict(CheckVerdict {
            stage: Stage::Size,
            attempt,
            check: "size.fits".into(),
            passed: problems.is_empty(),
            message: problems.join("; "),
        }));
        if problems.is_empty() {
            None
        } else {
            let mut failed = FailedAttempt::new(AttemptOutcome::SizeExceeded, problems.join("; "));
            failed.problems = problems;
            Some(failed)
        }
    }

    /// Whether the host TinyML check is configured and the target pins a TinyML library.
    fn host_check_applies(&self) -> bool {
        self.setup.host_check.is_some() && self.setup.target.tinyml.is_some()
    }

    /// Builds and runs the sketch on the host with the app's dataset; emits the verdict event.
    async fn host_check(
        &mut self,
        sketch_dir: &Path,
        build_dir: &Path,
        attempt: u32,
    ) -> Result<HostResult, Ending> {
        let setup = self.setup;
        let (Some(config), Some(tinyml)) = (&setup.host_check, &setup.target.tinyml) else {
            return Ok(HostResult::NotJudged("no host check configured".into()));
        };
        let app = &setup.app;
        let dataset = app.host_dataset();
        let input = autopilot_hostrun::check::HostCheckInput {
            core: &setup.target.core,
            library: &tinyml.library,
            version: &tinyml.version,
            sketch_dir: sketch_dir.to_owned(),
            build_dir: build_dir.join("host"),
            dataset,
            classes: app.classes.clone(),
            mapping: app.host.clone(),
            extra_files: Vec::new(),
        };
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Simulate,
            attempt: Some(attempt),
        }));
        let started = Instant::now();
        let event = match autopilot_hostrun::check::run_host_check(config, &input, attempt).await {
            Ok(event) => event,
            Err(e) => {
                emit(&Event::Note(Note {
                    kind: "host_check_skipped".into(),
                    message: e.to_string(),
                }));
                return Ok(HostResult::NotJudged(e.to_string()));
            }
        };
        emit(&Event::HostCheckFinished(event.clone()));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Simulate,
            attempt: Some(attempt),
            succeeded: event.verdict == HostVerdictKind::Pass,
            duration_ms: millis(started.elapsed()),
        }));
        Ok(match event.verdict {
            HostVerdictKind::Pass => HostResult::Passed,
            HostVerdictKind::SkippedNoProfile | HostVerdictKind::UnsupportedOp => {
                HostResult::NotJudged(event.summary)
            }
            HostVerdictKind::BuildFailed => {
                let first = event
                    .diagnostics
                    .iter()
                    .find(|d| {
                        matches!(
                            d.severity,
                            autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
                        )
                    })
                    .map_or_else(|| event.summary.clone(), |d| first_line(&d.message));
                let mut failed = FailedAttempt::new(AttemptOutcome::CompileFailed, first);
                failed.diagnostics = event.diagnostics;
                HostResult::Failed(failed)
            }
            _ => {
                let problem = format!(
                    "host run of the sketch with the app's dataset: {}",
                    event.summary
                );
                let mut failed =
                    FailedAttempt::new(AttemptOutcome::SimulationFailed, problem.clone());
                failed.problems = vec![problem];
                HostResult::Failed(failed)
            }
        })
    }

    /// Runs the firmware in the target's simulator, when it has one; the serial output must
    /// show one of the expected tokens.
    async fn simulate(
        &mut self,
        result: &autopilot_toolchain::CompileResult,
        attempt: u32,
    ) -> Result<Option<FailedAttempt>, Ending> {
        let setup = self.setup;
        let (Some(simulator), Some(elf)) = (&setup.target.simulator, &result.elf) else {
            return Ok(None);
        };
        if !setup.policies.simulation.enabled {
            emit(&Event::Note(Note {
                kind: "simulation_skipped".into(),
                message: "simulation.enabled = false in the policies: the firmware was not run"
                    .into(),
            }));
            return Ok(None);
        }
        let mut request = SimulateRequest::new(
            elf,
            &simulator.mcu,
            simulator.clock_hz,
            setup.policies.simulation.time_budget(),
            setup.app.expected_output.clone(),
        );
        request.simavr.clone_from(&setup.simavr);
        request.sandbox.clone_from(&setup.toolchain.sandbox);
        emit(&Event::StageStarted(StageStarted {
            stage: Stage::Simulate,
            attempt: Some(attempt),
        }));
        let simulation = autopilot_toolchain::simulate(&request)
            .await
            .map_err(|e| infrastructure(infra::TOOLCHAIN_FAILED, e.to_string()))?;
        if let Some(refusal) = &simulation.refused {
            // The firmware never reached simavr: the verdict names the check that refused it.
            emit(&Event::CheckVerdict(CheckVerdict {
                stage: Stage::Simulate,
                attempt,
                check: refusal.check_id().into(),
                passed: false,
                message: refusal.to_string(),
            }));
        }
        emit(&Event::SimulationFinished(
            simulation.to_trace_event(attempt),
        ));
        emit(&Event::StageFinished(StageFinished {
            stage: Stage::Simulate,
            attempt: Some(attempt),
            succeeded: simulation.status == SimulationStatus::Predicted,
            duration_ms: millis(simulation.duration),
        }));
        let serial_tail = simulation
            .serial
            .iter()
            .rev()
            .take(5)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        let problem = match simulation.status {
            SimulationStatus::Predicted => return Ok(None),
            SimulationStatus::SimulatorMissing => {
                emit(&Event::Note(Note {
                    kind: "simulation_skipped".into(),
                    message: "simavr is not installed: the sketch compiles, but was not run".into(),
                }));
                return Ok(None);
            }
            SimulationStatus::NoPrediction => format!(
                "the firmware ran for {} s in simavr and printed none of {:?} on Serial; last lines: {}",
                setup.policies.simulation.time_budget().as_secs(),
                setup.app.expected_output,
                if serial_tail.is_empty() {
                    "(nothing)".to_owned()
                } else {
                    serial_tail
                }
            ),
            SimulationStatus::Failed => {
                format!(
                    "the firmware could not run in simavr: {}",
                    simulation.detail.clone().unwrap_or_default()
                )
            }
        };
        let mut failed = FailedAttempt::new(AttemptOutcome::SimulationFailed, problem.clone());
        failed.problems = vec![problem];
        Ok(Some(failed))
    }
}

/// Checked before the first LLM call, so a session that cannot build spends nothing: a real
/// compiler, or — for a TinyML board without one — the host check standing in (the host build
/// then replaces the compile, marked as such per attempt).
fn buildable(setup: &SessionSetup, capability: BuildCapability) -> Result<(), SessionOutcome> {
    let BuildCapability::Missing { detail, fix } = capability else {
        return Ok(());
    };
    let host = match host_readiness(setup) {
        Some(Ok(())) => return Ok(()),
        Some(Err(why)) => format!("; no host build either: {why}"),
        None => String::new(),
    };
    Err(infrastructure(
        infra::TOOLCHAIN_MISSING,
        format!(
            "cannot build for {} ({}): {detail}; fix: {fix}{host}",
            setup.target.name, setup.target.fqbn
        ),
    ))
}

/// Whether the host check can stand in for the compiler of this session's target: `None` when
/// it does not apply (no host check configured, or the target pins no TinyML library).
fn host_readiness(setup: &SessionSetup) -> Option<Result<(), String>> {
    let (Some(config), Some(tinyml)) = (&setup.host_check, &setup.target.tinyml) else {
        return None;
    };
    Some(autopilot_hostrun::check::readiness(
        config,
        &setup.target.core,
        &tinyml.library,
        &tinyml.version,
    ))
}

/// What the host check made of an attempt.
enum HostResult {
    Passed,
    Failed(FailedAttempt),
    /// Skipped (no profile, no library) or unsupported: neither a pass nor the sketch's fault.
    NotJudged(String),
}

/// What a failed attempt leaves for the next repair prompt.
struct FailedAttempt {
    outcome: AttemptOutcome,
    message: String,
    diagnostics: Vec<Diagnostic>,
    problems: Vec<String>,
    identical_to: Option<u32>,
    declarations: Vec<autopilot_trace::Declaration>,
}

impl FailedAttempt {
    fn new(outcome: AttemptOutcome, message: String) -> Self {
        let problems = if matches!(outcome, AttemptOutcome::CompileFailed) {
            Vec::new()
        } else {
            vec![message.clone()]
        };
        FailedAttempt {
            outcome,
            message,
            diagnostics: Vec::new(),
            problems,
            identical_to: None,
            declarations: Vec::new(),
        }
    }
}

/// Copies a sketch folder (its files, not sub-folders) to `to`, refusing to overwrite a
/// non-empty folder that is not a sketch folder autopilot wrote.
fn copy_sketch(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() && fs_err::read_dir(to)?.next().is_some() {
        let ours = fs_err::read_dir(to)?.filter_map(Result::ok).all(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let extension = Path::new(&name)
                .extension()
                .map(std::ffi::OsStr::to_ascii_lowercase);
            from.join(&name).exists() || extension.is_some_and(|e| e == "ino" || e == "h")
        });
        if !ours {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} holds files autopilot did not write; not overwritten",
                    to.display()
                ),
            ));
        }
    }
    fs_err::create_dir_all(to)?;
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs_err::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_names_are_valid_identifiers() {
        assert_eq!(sketch_name("color classifier"), "color_classifier");
        assert_eq!(sketch_name("3d-thing"), "sketch_3d_thing");
    }
}
