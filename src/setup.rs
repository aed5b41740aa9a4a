//! Settings resolution for commands that run sessions (`run`, and later `batch`, `replay`):
//! command-line flags + environment + files → the inputs of `autopilot_orchestrator::session`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use autopilot_llm::{
    ChatBackend, LlmClient, LlmConfigFile, LlmOverrides, LlmSettings, ModelRef, PriceTable,
    Provider, ReplayBackend, ReplayMatch, RetryPolicy, ScriptedAnswers, live_backend,
    resolve_settings,
};
use autopilot_orchestrator::session::SessionSetup;
use autopilot_steps::{App, Policies, PromptSet, SandboxMode};
use autopilot_toolchain::{LibraryCatalog, Target, TinyMlApi, ToolchainConfig};
use autopilot_trace::{BatchCell, SamplingParams, SessionId, TraceFile, collect_trace_files};

use crate::cli::SessionEnvArgs;
use crate::exit::{CliError, CliResult, ErrorKind};

/// The answers file an example ships for runs without a configured LLM.
pub const DEMO_ANSWERS: &str = "demo-answers.toml";

/// The prompts folder: the flag (or `AUTOPILOT_PROMPTS_DIR`), else `prompts/` in the current
/// folder or one of its parents, else the one this binary was built from.
pub fn prompts_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_owned();
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("prompts");
            if candidate.join(autopilot_steps::MANIFEST).is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

/// Everything about the machine a session runs on: toolchain, data files, prompts.
#[derive(Debug, Clone)]
pub struct SessionEnvironment {
    pub prompts: Arc<PromptSet>,
    pub targets: autopilot_toolchain::Targets,
    pub toolchain: ToolchainConfig,
    pub catalog: Arc<LibraryCatalog>,
    pub tinyml_api: Arc<TinyMlApi>,
    pub simavr: PathBuf,
    /// The host TinyML check for TinyML targets (data/host of this checkout, the cache's library).
    pub host_check: Option<autopilot_hostrun::check::HostCheckConfig>,
    pub policies: Policies,
    pub llm_settings: LlmSettings,
    pub prices: Arc<PriceTable>,
}

/// `--config` names the LLM config for every command; `--policies` the policies file. The old
/// spellings still work, with a warning: `--llm-config FILE` becomes `--config FILE`, and a
/// `--config` file that reads as a policies file (it has a policies-only key) is taken as
/// `--policies`. Settled flags settle to themselves, so calling this twice is harmless.
pub fn settle_config_flags(args: &mut SessionEnvArgs) {
    if args.policies.is_none()
        && let Some(path) = &args.config
        && looks_like_policies(path)
    {
        tracing::warn!(
            "--config {0} reads as a policies file: --config now names the LLM config (as for \
             chat and doctor); read as policies this time, use --policies {0}",
            path.display()
        );
        args.policies = args.config.take();
    }
    if let Some(path) = args.llm_config.take() {
        tracing::warn!(
            "--llm-config is deprecated: use --config {} (--config names the LLM config for \
             every command)",
            path.display()
        );
        if args.config.is_none() {
            args.config = Some(path);
        }
    }
}

/// Whether a file has a key only a policies file has. An unreadable or invalid file is not
/// judged here: its loader names the problem.
fn looks_like_policies(path: &Path) -> bool {
    const POLICY_ONLY: [&str; 8] = [
        "sandbox",
        "attempts",
        "timeouts",
        "budget",
        "fallback",
        "simulation",
        "libraries",
        "llm",
    ];
    // `[retry]` is in both files; its keys differ.
    const POLICY_RETRY: [&str; 3] = ["max_tries", "base_delay_ms", "max_total_secs"];
    let Ok(text) = fs_err::read_to_string(path) else {
        return false;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    POLICY_ONLY.iter().any(|key| table.contains_key(*key))
        || table
            .get("retry")
            .and_then(toml::Value::as_table)
            .is_some_and(|retry| POLICY_RETRY.iter().any(|key| retry.contains_key(*key)))
}

/// Each concept has one home: retries in the LLM config (`[retry]`), the fallback model in the
/// policies file (`[fallback] model`). The other place still works, with this warning.
fn warn_misplaced(args: &SessionEnvArgs, policies: &Policies, llm: &LlmSettings) {
    if policies.retry.is_some() {
        let path = args.policies.as_deref().unwrap_or(Path::new("policies"));
        tracing::warn!(
            "{}: `[retry]` in the policies file is deprecated; move it to the LLM config's \
             `[retry]` (max_attempts, initial_delay_ms, max_elapsed_secs); used this time",
            path.display()
        );
    }
    if let Some(model) = &llm.fallback_model {
        let path = args.config.as_deref().unwrap_or(Path::new("LLM config"));
        let verdict = if policies.fallback.model.is_some() {
            "ignored: the policies file's `[fallback] model` wins"
        } else {
            "used this time"
        };
        tracing::warn!(
            "{}: `fallback_model = \"{model}\"` in the LLM config is deprecated; move it to the \
             policies file's `[fallback] model`; {verdict}",
            path.display()
        );
    }
}

impl SessionEnvironment {
    pub fn resolve(args: &SessionEnvArgs) -> CliResult<SessionEnvironment> {
        let prompts = PromptSet::load(&prompts_dir(args.prompts_dir.as_deref())).input_error()?;
        let targets = crate::settings::targets(&args.targets)?;
        let cache = crate::settings::cache_dir(args.cache_dir.as_deref())?;
        let mut settled = args.clone();
        settle_config_flags(&mut settled);
        let args = &settled;
        let policies = match &args.policies {
            Some(path) => Policies::load(path).input_error()?,
            None => Policies::default(),
        };
        policies
            .check_variant(
                args.policies.as_deref().unwrap_or(Path::new("policies")),
                &prompts.variants(),
            )
            .input_error()?;
        let mut toolchain = crate::settings::toolchain_config(
            &cache,
            &args.programs,
            args.libraries_dir.as_deref(),
        );
        if policies.sandbox == SandboxMode::Off {
            toolchain.sandbox = None;
        }
        if let Some(sandbox) = &toolchain.sandbox
            && which::which(&sandbox.bwrap).is_err()
        {
            // Generated code never runs unconfined by accident: the user must opt out.
            return Err(anyhow!(
                "`{}` (bubblewrap) is not installed: generated code runs only in its sandbox; \
                 install it (apt-get install bubblewrap) or opt out with --no-sandbox or \
                 `sandbox = \"off\"` in the policies",
                sandbox.bwrap.display()
            ))
            .tool_unavailable();
        }
        toolchain.timeout = policies.timeouts.compile();
        let file = match &args.config {
            Some(path) => LlmConfigFile::load(path).input_error()?,
            None => LlmConfigFile::default(),
        };
        let env = |name: &str| std::env::var(name).ok();
        let mut overrides = LlmOverrides::default();
        if let Some(url) = &args.base_url {
            overrides.openai.base_url = Some(url.clone());
            overrides.ollama.base_url = Some(url.clone());
        }
        let llm_settings = resolve_settings(&file, &env, &overrides).input_error()?;
        crate::terminal::add_secrets(&llm_settings.redactor());
        warn_misplaced(args, &policies, &llm_settings);
        let prices = match &llm_settings.prices {
            Some(path) => PriceTable::load(path).input_error()?,
            None => PriceTable::builtin(),
        };
        let host_sandbox = toolchain.sandbox.clone();
        Ok(SessionEnvironment {
            prompts: Arc::new(prompts),
            targets,
            toolchain,
            catalog: Arc::new(LibraryCatalog::builtin()),
            tinyml_api: Arc::new(TinyMlApi::builtin()),
            simavr: args.simavr.clone(),
            host_check: Some(autopilot_hostrun::check::HostCheckConfig {
                cache_dir: cache.clone(),
                data_dir: crate::settings::default_host_data(),
                cxx: PathBuf::from("g++"),
                ctags: PathBuf::from("arduino-ctags"),
                budget: std::time::Duration::from_secs(10),
                policy: autopilot_hostrun::Policy::default(),
                sandbox: host_sandbox,
                arduino_libraries: crate::settings::arduino_libraries(),
            }),
            policies,
            llm_settings,
            prices: Arc::new(prices),
        })
    }

    /// The app's target, or the one asked for.
    pub fn target(&self, app: &App, name: Option<&str>) -> CliResult<Target> {
        let name = name.unwrap_or(&app.target);
        let known: Vec<String> = self.targets.iter().map(|t| t.name.clone()).collect();
        let target = self.targets.get(name).input_error()?.clone();
        let mut checked = app.clone();
        checked.target.clone_from(&target.name);
        checked.check_target(&known).input_error()?;
        checked
            .check_model_runtime(target.tinyml.is_some())
            .input_error()?;
        Ok(target)
    }

    /// The retry policy for the LLM client: the LLM config's `[retry]` (which owns it), or a
    /// deprecated `[retry]` in the policies file, which still wins for backward compatibility.
    pub fn retry(&self) -> RetryPolicy {
        match &self.policies.retry {
            Some(retry) => RetryPolicy {
                max_attempts: retry.max_tries.max(1),
                initial_delay: retry.base_delay(),
                max_elapsed: retry.max_total(),
                ..self.llm_settings.retry.clone()
            },
            None => self.llm_settings.retry.clone(),
        }
    }

    /// A client for `model` on its live backend, or on `recorded` answers when given.
    pub fn client(
        &self,
        model: &ModelRef,
        recorded: Option<Arc<dyn ChatBackend>>,
    ) -> CliResult<LlmClient> {
        let backend = match recorded {
            Some(backend) => backend,
            None if model.provider == Provider::Replay => {
                return Err(anyhow!("model {model} answers from recordings: give --answers <file> or --replay <trace>"))
                    .input_error();
            }
            None => live_backend(model.provider, &self.llm_settings).input_error()?,
        };
        Ok(self.client_on(model, backend))
    }

    /// A client for `model` on a given backend, with the session policies' retries and prices.
    pub fn client_on(&self, model: &ModelRef, backend: Arc<dyn ChatBackend>) -> LlmClient {
        LlmClient::new(model.clone(), backend)
            .with_retry(self.retry())
            .with_prices(self.prices.clone())
    }
}

/// What differs between the sessions of one environment.
#[derive(Debug, Clone)]
pub struct SessionParts {
    pub id: SessionId,
    pub app: App,
    pub target: Target,
    pub variant: String,
    pub llm: LlmClient,
    pub sampling: SamplingParams,
    pub stream: bool,
    pub run_dir: PathBuf,
    pub final_dir: Option<PathBuf>,
    pub batch: Option<BatchCell>,
    pub note: Option<String>,
}

impl SessionEnvironment {
    /// The fallback model's client, when the policies name one (the policies file owns the
    /// fallback model; the LLM config's deprecated `fallback_model` is used only without one).
    pub fn fallback_client(&self) -> CliResult<Option<LlmClient>> {
        let named = self
            .policies
            .fallback
            .model
            .as_ref()
            .or(self.llm_settings.fallback_model.as_ref());
        match named {
            Some(model) => Ok(Some(self.client(model, None)?)),
            None => Ok(None),
        }
    }

    /// A session's setup: this environment plus what is particular to the session.
    pub fn setup(&self, parts: SessionParts, fallback_llm: Option<LlmClient>) -> SessionSetup {
        let mut sampling = parts.sampling;
        // Every session request carries a token cap (`--max-tokens`, else the policy's): without
        // one a looping model generates until the call's timeout. Set here, so `session_started`
        // records it and a replay sends the same requests.
        sampling
            .max_tokens
            .get_or_insert(self.policies.llm.max_tokens);
        SessionSetup {
            id: parts.id,
            app: parts.app,
            target: parts.target,
            prompts: self.prompts.clone(),
            variant: parts.variant,
            policies: self.policies.clone(),
            llm: parts.llm,
            fallback_llm,
            sampling,
            stream: parts.stream,
            toolchain: self.toolchain.clone(),
            catalog: self.catalog.clone(),
            tinyml_api: self.tinyml_api.clone(),
            simavr: self.simavr.clone(),
            host_check: self.host_check.clone(),
            run_dir: parts.run_dir,
            final_dir: parts.final_dir,
            batch: parts.batch,
            tool_versions: Vec::new(),
            note: parts.note,
            pipeline: None,
        }
    }
}

/// The async runtime sessions run on (two workers: sessions wait on the LLM and the compiler,
/// they do not compute).
pub fn session_runtime() -> CliResult<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_multi_thread().worker_threads(2))
}

/// A one-thread async runtime, for commands that wait on one thing at a time.
pub fn current_thread_runtime() -> CliResult<tokio::runtime::Runtime> {
    build_runtime(&mut tokio::runtime::Builder::new_current_thread())
}

/// The runtime of `builder` with I/O and timers.
pub fn build_runtime(builder: &mut tokio::runtime::Builder) -> CliResult<tokio::runtime::Runtime> {
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(CliError::Runtime)
}

/// Resolves at the first SIGINT (Ctrl-C), SIGTERM or SIGHUP with its name, the reason a
/// session ends `aborted`; never resolves when the handlers cannot be installed. Must be
/// polled inside the runtime.
pub async fn termination_signal() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
        _ = hangup.recv() => "SIGHUP",
    };
    format!("interrupted by {name}: the running step and its processes were stopped")
}

/// A replay backend answering from a scripted answers file.
pub fn answers_backend(path: &Path) -> CliResult<Arc<dyn ChatBackend>> {
    let answers = ScriptedAnswers::load(path).input_error()?;
    Ok(Arc::new(ReplayBackend::from_scripted(answers)))
}

/// A replay backend answering from recorded traces (files or run directories).
pub fn traces_backend(paths: &[PathBuf], matching: ReplayMatch) -> CliResult<Arc<dyn ChatBackend>> {
    let mut traces = Vec::new();
    for path in paths {
        let files = collect_trace_files(path)
            .with_context(|| format!("cannot list {}", path.display()))
            .input_error()?;
        for file in files {
            traces.push(
                TraceFile::read(&file)
                    .with_context(|| format!("cannot read {}", file.display()))
                    .input_error()?,
            );
        }
    }
    Ok(Arc::new(
        ReplayBackend::from_traces(&traces, matching).input_error()?,
    ))
}
