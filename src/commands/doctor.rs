//! `autopilot doctor`: checks the toolchains, cores, libraries, the Python environment and its
//! sandbox, LLM endpoints and keys that sessions need, and says what to fix. Facts are gathered first (the toolchain crate's
//! `inventory::gather` and the LLM probes: the only I/O), judged by pure functions (`toolchain_checks`, `assess_target`,
//! `llm_checks`), then rendered as a table or as JSON.
//!
//! Exit 0 when `--target` (default `uno`, the default example's board) can compile and
//! simulate; 3 when its toolchain is missing or broken, or, with `--require-llm`, when no LLM is
//! usable. Without `--require-llm` LLM problems are warnings: `autopilot run` then falls back to
//! the example's hand-written demo answers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use autopilot_llm::{
    EndpointSettings, LlmConfigFile, LlmOverrides, LlmSettings, ModelRef, ProbeResult, Provider,
    probe, resolve_settings,
};
use autopilot_toolchain::backend::{ArduinoBuilderConfig, arduino_cli_install};
use autopilot_toolchain::inventory::{self, Found, ToolInventory};
use autopilot_toolchain::python::SETUP_FIX;
use autopilot_toolchain::{
    Backend, BackendKind, ProcessError, ProcessOutput, PythonEnv, PythonEnvError, PythonJob,
    SandboxConfig, Target, ToolchainConfig, run_python, select_backend,
};
use autopilot_trace::ComponentVersion;
use serde::Serialize;

use crate::cli::{DoctorArgs, Format};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

const INSTALL_ALL: &str = "bash scripts/install-os-deps.sh";
/// The pins `scripts/setup-python.sh` installs; the direct requirements are checked against them.
const PYTHON_REQUIREMENTS: &str = include_str!("../../python/requirements.txt");
/// The direct requirements: distribution name and import name.
const PYTHON_PACKAGES: [(&str, &str); 4] = [
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("tensorflow-cpu", "tensorflow"),
    ("ai-edge-litert", "ai_edge_litert"),
];
/// Run in the sandbox: each package's installed version and whether it imports. TensorFlow is
/// only located (`find_spec`), not imported: that takes seconds, and the setup script imports it.
const PYTHON_PROBE: &str = r#"import importlib, importlib.metadata, importlib.util, json, sys
found = {}
for dist, module in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = None
    error = None
    try:
        if importlib.util.find_spec(module) is None:
            error = "not importable"
        elif module != "tensorflow":
            importlib.import_module(module)
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    found[dist] = {"version": version, "error": error}
print(json.dumps(found))
"#;

/// How a check came out, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Warning,
    Missing,
    Error,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Missing => "missing",
            Status::Error => "error",
        }
    }

    /// Missing or broken: what a session cannot do without.
    fn blocks(self) -> bool {
        self >= Status::Missing
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Area {
    Toolchain,
    Llm,
}

/// One checked thing: what was found and, when it is not ok, the fix.
#[derive(Debug, Clone, Serialize)]
struct Check {
    area: Area,
    name: &'static str,
    status: Status,
    found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    models: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn new(area: Area, name: &'static str, status: Status, found: impl Into<String>) -> Check {
        Check {
            area,
            name,
            status,
            found: found.into(),
            path: None,
            version: None,
            models: Vec::new(),
            fix: None,
        }
    }

    fn path(mut self, path: &Path) -> Check {
        self.path = Some(path.to_owned());
        self
    }

    fn version(mut self, version: &str) -> Check {
        self.version = Some(version.to_owned());
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Something a target lacks, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Finding {
    status: Status,
    what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

/// Whether one target can compile (and simulate, when it has a simulator).
#[derive(Debug, Clone, Serialize)]
struct TargetRow {
    name: String,
    fqbn: String,
    /// The backend a compile would use; `None` when none is installed.
    backend: Option<BackendKind>,
    status: Status,
    findings: Vec<Finding>,
}

/// Everything found about the toolchain, and the host check's library.
#[derive(Debug, Clone)]
struct ToolFacts {
    tools: ToolInventory,
    /// The host TinyML check's TFLM library (path and what it was built from), when built.
    host_tflm: Option<(PathBuf, String)>,
}

/// The Python environment and what the probe run in its sandbox printed.
#[derive(Debug)]
struct PythonFacts {
    env: Result<PythonEnv, PythonEnvError>,
    /// `None` when there is no environment to probe.
    probe: Option<Result<ProcessOutput, ProcessError>>,
}

/// The report: what `--format json` prints.
#[derive(Debug, Serialize)]
struct Report {
    target: String,
    /// The target can compile (and simulate).
    ready: bool,
    require_llm: bool,
    llm_ready: bool,
    exit_code: u8,
    checks: Vec<Check>,
    targets: Vec<TargetRow>,
}

pub fn run(args: &DoctorArgs) -> CliResult<ExitStatus> {
    let targets = crate::settings::targets(&args.targets)?;
    let required = targets.get(&args.target).input_error()?.name.clone();
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            anyhow!(
                "--timeout {}: not a positive number of seconds",
                args.timeout
            )
        })
        .input_error()?;
    let file = match &args.config {
        Some(path) => LlmConfigFile::load(path).input_error()?,
        None => LlmConfigFile::default(),
    };
    let mut file = file;
    if let Some(model) = &args.model {
        file.model = Some(model.clone());
    }
    let mut overrides = LlmOverrides::default();
    if let Some(url) = &args.base_url {
        let model = file.model.as_deref().map(ModelRef::parse).transpose();
        let provider = model
            .context("--model")
            .input_error()?
            .map_or(Provider::OpenAi, |m| m.provider);
        match overrides.endpoint_mut(provider) {
            Some(endpoint) => endpoint.base_url = Some(url.clone()),
            None => {
                return Err(anyhow!("--base-url: replay models have no endpoint")).input_error();
            }
        }
    }
    let env = |name: &str| std::env::var(name).ok();
    let settings = resolve_settings(&file, &env, &overrides).input_error()?;
    crate::terminal::add_secrets(&settings.redactor());
    // Doctor compiles nothing: the cache folders of this configuration are never used.
    let config = crate::settings::toolchain_config(
        Path::new("."),
        &args.programs,
        args.libraries_dir.as_deref(),
    );

    let runtime = crate::setup::current_thread_runtime()?;
    let (tools, (openai, ollama)) = runtime.block_on(async {
        tokio::join!(
            inventory::gather(&config, Path::new("simavr")),
            probe_endpoints(&settings, timeout)
        )
    });
    let facts = ToolFacts {
        tools,
        host_tflm: runtime.block_on(host_tflm()),
    };
    let python = runtime.block_on(python_facts(&config))?;

    let mut checks = toolchain_checks(&facts, &config);
    checks.extend(python_checks(&python));
    let rows: Vec<TargetRow> = targets
        .iter()
        .map(|target| {
            assess_target(
                target,
                select_backend(target, &config),
                &facts,
                &config.arduino_builder,
            )
        })
        .collect();
    let (llm, llm_ready) = llm_checks(&settings, openai.as_ref(), &ollama, args.require_llm);
    checks.extend(llm);
    let ready = rows
        .iter()
        .find(|row| row.name == required)
        .is_some_and(|row| !row.status.blocks());
    let status = if ready && (llm_ready || !args.require_llm) {
        ExitStatus::Success
    } else {
        ExitStatus::Unavailable
    };
    let report = Report {
        target: required,
        ready,
        require_llm: args.require_llm,
        llm_ready,
        exit_code: status as u8,
        checks,
        targets: rows,
    };
    let mut stdout = match args.format {
        Format::Json => crate::terminal::stdout_data(),
        Format::Human => crate::terminal::stdout_human(),
    };
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report).output_error()?;
            writeln!(stdout).output_error()?;
        }
        Format::Human => stdout
            .write_all(render(&report).as_bytes())
            .output_error()?,
    }
    Ok(status)
}

/// The host TFLM library `autopilot host setup` built for this machine's g++, if any.
async fn host_tflm() -> Option<(PathBuf, String)> {
    let cache = crate::settings::default_cache_dir().ok()?;
    let compiler =
        autopilot_hostrun::HostCompiler::detect(Path::new("g++"), &cache.join("host-tflm/probe"))
            .await
            .ok()?;
    let sources = super::host::installed_summary(&cache, &compiler);
    autopilot_hostrun::find_library(&cache, &compiler)
        .map(|l| (l.archive.clone(), format!("{}; {sources}", l.describe())))
}

/// Finds the Python environment and runs the probe in its sandbox. Python never runs
/// unsandboxed, `--no-sandbox` or not: only the bwrap program of the configuration is used.
async fn python_facts(config: &ToolchainConfig) -> CliResult<PythonFacts> {
    let env = PythonEnv::discover();
    let Ok(found) = &env else {
        return Ok(PythonFacts { env, probe: None });
    };
    let sandbox = SandboxConfig {
        bwrap: config
            .sandbox
            .as_ref()
            .map_or_else(|| PathBuf::from("bwrap"), |s| s.bwrap.clone()),
        ..SandboxConfig::default()
    };
    let work = tempfile::tempdir()
        .context("a scratch folder for the Python probe")
        .internal_error()?;
    let script = work.path().join("probe.py");
    fs_err::write(&script, PYTHON_PROBE).internal_error()?;
    let job = PythonJob::new(&script, work.path())
        .args(
            PYTHON_PACKAGES
                .iter()
                .flat_map(|(dist, module)| [*dist, *module]),
        )
        .timeout(Duration::from_secs(60));
    let probe = Some(run_python(&sandbox, found, &job).await);
    Ok(PythonFacts { env, probe })
}

/// The version `python/requirements.txt` pins for `dist`.
fn pinned(dist: &str) -> Option<&'static str> {
    PYTHON_REQUIREMENTS.lines().find_map(|line| {
        let (name, version) = line.trim().split_once("==")?;
        (name == dist).then_some(version)
    })
}

/// The Python environment (present, its direct requirements at their pins and importable) and
/// its sandbox (the probe ran in bubblewrap). Warnings, not blockers: only the pipeline's data
/// and model stages need them.
fn python_checks(facts: &PythonFacts) -> Vec<Check> {
    let tool = Area::Toolchain;
    let env = match &facts.env {
        Ok(env) => env,
        Err(error) => {
            return vec![
                Check::new(tool, "Python env", Status::Warning, error.to_string()).fix(SETUP_FIX),
                Check::new(
                    tool,
                    "Python sandbox",
                    Status::Warning,
                    "not checked: no Python environment",
                ),
            ];
        }
    };
    let setup = "bash scripts/setup-python.sh";
    let sandbox = |status: Status, found: String| Check::new(tool, "Python sandbox", status, found);
    let output = match &facts.probe {
        Some(Ok(output)) => output,
        Some(Err(ProcessError::SandboxMissing { bwrap, .. })) => {
            return vec![
                Check::new(
                    tool,
                    "Python env",
                    Status::Warning,
                    "not checked: no sandbox",
                )
                .path(env.root()),
                sandbox(
                    Status::Warning,
                    format!("`{bwrap}` not found: the data and model stages refuse to run Python"),
                )
                .fix(apt("bubblewrap")),
            ];
        }
        Some(Err(error)) => {
            return vec![
                Check::new(tool, "Python env", Status::Warning, "not checked").path(env.root()),
                sandbox(Status::Warning, format!("cannot run: {error}")).fix(setup),
            ];
        }
        None => return Vec::new(),
    };
    let parsed: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(output.stdout.text().trim()).ok();
    let Some(found) = parsed.filter(|_| output.success()) else {
        let stderr = output.stderr.text();
        let last = stderr.lines().last().unwrap_or("no output");
        return vec![
            Check::new(tool, "Python env", Status::Warning, "not checked").path(env.root()),
            sandbox(
                Status::Warning,
                format!(
                    "python did not run in bubblewrap ({:?}): {last}",
                    output.termination
                ),
            )
            .fix(format!(
                "check that `bwrap --ro-bind / / true` works here; {setup}"
            )),
        ];
    };
    let mut listed = Vec::new();
    let mut problems = Vec::new();
    for (dist, _) in PYTHON_PACKAGES {
        let entry = found.get(dist);
        let version = entry.and_then(|e| e["version"].as_str());
        let error = entry.and_then(|e| e["error"].as_str());
        let pin = pinned(dist);
        match (version, error) {
            (None, _) => problems.push(format!("{dist} is not installed")),
            (Some(_), Some(error)) => problems.push(format!("{dist} does not import: {error}")),
            (Some(version), None) if pin.is_some_and(|pin| pin != version) => problems.push(
                format!("{dist} {version} (pinned {})", pin.unwrap_or_default()),
            ),
            (Some(version), None) => listed.push(format!("{dist} {version}")),
        }
    }
    let env_check = if problems.is_empty() {
        Check::new(tool, "Python env", Status::Ok, listed.join(", "))
    } else {
        Check::new(tool, "Python env", Status::Warning, problems.join("; ")).fix(setup)
    };
    vec![
        env_check.path(env.root()),
        sandbox(
            Status::Ok,
            "python runs in bubblewrap: no network, writes only its work dir".to_owned(),
        ),
    ]
}

/// Probes both endpoints at once. OpenAI's own API is not probed without a key (it would
/// only answer 401).
async fn probe_endpoints(
    settings: &LlmSettings,
    timeout: Duration,
) -> (Option<ProbeResult>, ProbeResult) {
    let openai = async {
        if settings.openai.api_key.is_none() && settings.openai.is_openai_api() {
            return None;
        }
        Some(probe_endpoint(Provider::OpenAi, &settings.openai, timeout).await)
    };
    tokio::join!(
        openai,
        probe_endpoint(Provider::Ollama, &settings.ollama, timeout)
    )
}

/// One probe; a probe that cannot even start (no HTTP client) is reported as its error.
async fn probe_endpoint(
    provider: Provider,
    endpoint: &EndpointSettings,
    timeout: Duration,
) -> ProbeResult {
    probe(provider, endpoint, timeout)
        .await
        .unwrap_or_else(|error| ProbeResult {
            provider,
            url: endpoint.redacted_url(),
            reachable: false,
            status: None,
            kind: None,
            models: Vec::new(),
            error: Some(error.to_string()),
            latency: Duration::ZERO,
        })
}

fn apt(packages: &str) -> String {
    format!("sudo apt-get install {packages}  (all AVR tools at once: {INSTALL_ALL})")
}

/// A library name as a shell argument.
fn lib_spec(name: &str, version: &str) -> String {
    let spec = format!("{name}@{version}");
    if spec.contains(' ') {
        format!("\"{spec}\"")
    } else {
        spec
    }
}

fn toolchain_checks(facts: &ToolFacts, config: &ToolchainConfig) -> Vec<Check> {
    let builder_config = &config.arduino_builder;
    let tool = Area::Toolchain;
    let mut checks = Vec::new();
    let found =
        |name: &'static str, found: &Option<Found>, program: &Path, package: &str| match found {
            None => Check::new(
                tool,
                name,
                Status::Missing,
                format!("`{}` not found", program.display()),
            )
            .fix(apt(package)),
            Some(Found {
                path,
                version: Ok(version),
            }) => Check::new(tool, name, Status::Ok, version.clone())
                .path(path)
                .version(version),
            Some(Found {
                path,
                version: Err(error),
            }) => Check::new(tool, name, Status::Error, format!("does not run: {error}"))
                .path(path)
                .fix(format!("sudo apt-get install --reinstall {package}")),
        };
    checks.push(found(
        "arduino-builder",
        &facts.tools.builder,
        &builder_config.program,
        "arduino-builder",
    ));
    checks.push(match &facts.tools.avr_core {
        Some((dir, version)) => {
            let check = Check::new(
                tool,
                "AVR core",
                Status::Ok,
                format!(
                    "arduino:avr {}",
                    version.as_deref().unwrap_or("(no version)")
                ),
            )
            .path(dir);
            match version {
                Some(version) => check.version(version),
                None => check,
            }
        }
        None => Check::new(
            tool,
            "AVR core",
            Status::Missing,
            format!(
                "no arduino/avr/platform.txt under {}",
                builder_config
                    .hardware_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .fix(apt("arduino-core-avr")),
    });
    checks.push(found(
        "avr-gcc",
        &facts.tools.avr_gcc,
        &builder_config.tools_dir.join("avr-gcc"),
        "gcc-avr avr-libc",
    ));
    checks.push(match &facts.tools.simavr {
        Some(path) => Check::new(tool, "simavr", Status::Ok, "found").path(path),
        None => {
            Check::new(tool, "simavr", Status::Missing, "`simavr` not found").fix(apt("simavr"))
        }
    });
    checks.push(match (&config.sandbox, &facts.tools.bwrap) {
        (None, _) => Check::new(
            tool,
            "bwrap",
            Status::Warning,
            "sandbox off (--no-sandbox): generated code would run unconfined",
        ),
        (Some(_), Some(path)) => Check::new(tool, "bwrap", Status::Ok, "found").path(path),
        (Some(sandbox), None) => Check::new(
            tool,
            "bwrap",
            Status::Missing,
            format!(
                "`{}` not found: sessions refuse to run generated code without the sandbox",
                sandbox.bwrap.display()
            ),
        )
        .fix(apt("bubblewrap")),
    });
    // The host TinyML check stands in for boards nothing here can compile or simulate; without
    // it those sessions end as "toolchain missing", so it is a warning, not a blocker.
    checks.push(match &facts.host_tflm {
        Some((path, built_from)) => {
            Check::new(tool, "host TFLM library", Status::Ok, built_from.clone()).path(path)
        }
        None => Check::new(
            tool,
            "host TFLM library",
            Status::Warning,
            "not built: TFLM sketches (Nano 33 BLE, ESP32) cannot be checked on the host",
        )
        .fix("bash scripts/setup-host-tflm.sh"),
    });
    checks.push(match &facts.tools.cli {
        None => Check::new(
            tool,
            "arduino-cli",
            Status::Warning,
            format!(
                "`{}` not found: only arduino:avr boards can be compiled (with arduino-builder)",
                config.arduino_cli.program.display()
            ),
        )
        .fix(arduino_cli_install()),
        Some((path, Err(error))) => Check::new(
            tool,
            "arduino-cli",
            Status::Error,
            format!("cannot list its cores and libraries: {error}"),
        )
        .path(path)
        .fix("run `arduino-cli core list` to see why; reinstall arduino-cli if it fails"),
        Some((path, Ok(inventory))) => {
            let cores = if inventory.cores.is_empty() {
                "no cores".to_owned()
            } else {
                let list: Vec<String> = inventory
                    .cores
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.version))
                    .collect();
                format!("cores {}", list.join(", "))
            };
            let version = inventory.version.as_deref().unwrap_or("(no version)");
            let check = Check::new(
                tool,
                "arduino-cli",
                Status::Ok,
                format!(
                    "{version}; {cores}; {} libraries",
                    inventory.libraries.len()
                ),
            )
            .path(path);
            match &inventory.version {
                Some(version) => check.version(version),
                None => check,
            }
        }
    });
    checks
}

/// Whether `target` can compile with the backend a compile would pick, and simulate.
fn assess_target(
    target: &Target,
    backend: Result<Backend, String>,
    facts: &ToolFacts,
    builder_config: &ArduinoBuilderConfig,
) -> TargetRow {
    let fqbn = target.fqbn();
    let avr = fqbn.architecture == "avr";
    let mut findings = Vec::new();
    let mut add = |status: Status, what: String, fix: Option<String>| {
        findings.push(Finding { status, what, fix });
    };
    let mut installed: &[ComponentVersion] = &[];
    let kind = backend.as_ref().ok().map(|b| b.kind);
    match (kind, &facts.tools.cli) {
        (None, _) => {
            // select_backend's message names every program it looked for.
            // The same fix a session prints when it stops before the LLM.
            let what = if avr {
                "a compiler: arduino-builder (or arduino-cli)".to_owned()
            } else {
                format!("arduino-cli with core {}", target.core)
            };
            let fix = autopilot_toolchain::install_fix(target);
            tracing::debug!(target = target.name, detail = backend.err(), "no backend");
            add(Status::Missing, what, Some(fix));
        }
        (Some(BackendKind::ArduinoBuilder), _) => {
            if let Some(Found {
                version: Err(error),
                ..
            }) = &facts.tools.builder
            {
                add(
                    Status::Error,
                    format!("arduino-builder does not run ({error})"),
                    Some("sudo apt-get install --reinstall arduino-builder".to_owned()),
                );
            }
            if builder_config.platform_dir(&fqbn).is_none() {
                add(
                    Status::Missing,
                    format!("core {} (Debian's arduino-core-avr)", target.core),
                    Some(apt("arduino-core-avr")),
                );
            }
            match &facts.tools.avr_gcc {
                None => add(
                    Status::Missing,
                    "avr-gcc".to_owned(),
                    Some(apt("gcc-avr avr-libc")),
                ),
                Some(Found {
                    version: Err(error),
                    ..
                }) => add(
                    Status::Error,
                    format!("avr-gcc does not run ({error})"),
                    Some("sudo apt-get install --reinstall gcc-avr".to_owned()),
                ),
                Some(_) => {}
            }
            installed = &facts.tools.builder_libraries;
        }
        (Some(BackendKind::ArduinoCli), Some((_, Ok(inventory)))) => {
            if !inventory.cores.iter().any(|c| c.name == target.core) {
                add(
                    Status::Missing,
                    format!("core {}", target.core),
                    Some(format!("arduino-cli core install {}", target.core)),
                );
            }
            installed = &inventory.libraries;
        }
        (Some(BackendKind::ArduinoCli), Some((_, Err(error)))) => add(
            Status::Error,
            format!("arduino-cli cannot list its cores ({error})"),
            Some("run `arduino-cli core list` to see why".to_owned()),
        ),
        (Some(BackendKind::ArduinoCli), None) => add(
            Status::Error,
            "arduino-cli was not inspected".to_owned(),
            None,
        ),
    }
    if kind.is_some() {
        let pinned = target
            .tinyml
            .iter()
            .map(|t| (t.library.as_str(), Some(t.version.as_str())))
            .chain(target.sensors.iter().filter_map(|s| {
                s.library
                    .as_deref()
                    .map(|library| (library, s.version.as_deref()))
            }));
        for (library, version) in pinned {
            let found = installed
                .iter()
                .find(|lib| lib.name.eq_ignore_ascii_case(library));
            let fix = format!(
                "arduino-cli lib install {}",
                match version {
                    Some(version) => lib_spec(library, version),
                    None => lib_spec(library, "latest").replace("@latest", ""),
                }
            );
            match (found, version) {
                (None, _) => add(
                    Status::Warning,
                    format!("library {library} not installed"),
                    Some(fix),
                ),
                (Some(lib), Some(version)) if lib.version != version => add(
                    Status::Warning,
                    format!(
                        "library {library} {} installed, {version} pinned",
                        lib.version
                    ),
                    Some(fix),
                ),
                _ => {}
            }
        }
    }
    if target.simulator.is_some() && facts.tools.simavr.is_none() {
        add(
            Status::Missing,
            "simavr (the simulation check)".to_owned(),
            Some(apt("simavr")),
        );
    }
    TargetRow {
        name: target.name.clone(),
        fqbn: target.fqbn.clone(),
        backend: kind,
        status: findings
            .iter()
            .map(|f| f.status)
            .max()
            .unwrap_or(Status::Ok),
        findings,
    }
}

/// The key, the endpoints and whether any LLM is usable. Problems are warnings unless an LLM
/// is required. Returns the checks and whether an LLM is usable.
fn llm_checks(
    settings: &LlmSettings,
    openai: Option<&ProbeResult>,
    ollama: &ProbeResult,
    require_llm: bool,
) -> (Vec<Check>, bool) {
    let llm = Area::Llm;
    let key_env = settings
        .openai
        .api_key_env
        .as_deref()
        .unwrap_or("OPENAI_API_KEY");
    let base = settings.openai.redacted_url();
    let mut checks = Vec::new();
    // The key itself is never shown, nor its length or any of its characters.
    checks.push(
        match (&settings.openai.api_key, settings.openai.is_openai_api()) {
            (Some(_), _) => Check::new(llm, "OpenAI key", Status::Ok, format!("{key_env} is set")),
            (None, true) => Check::new(
                llm,
                "OpenAI key",
                Status::Missing,
                format!("{key_env} is not set"),
            )
            .fix(format!("export {key_env}=…")),
            (None, false) => Check::new(
                llm,
                "OpenAI key",
                Status::Ok,
                format!("{key_env} is not set (optional for {base})"),
            ),
        },
    );
    let wants = |provider: Provider| settings.model.as_ref().filter(|m| m.provider == provider);
    let openai_ok = match openai {
        None => {
            checks.push(Check::new(
                llm,
                "OpenAI endpoint",
                Status::Missing,
                format!("{base}: not probed without a key"),
            ));
            false
        }
        Some(result) => {
            let mut check = probe_check(llm, "OpenAI endpoint", result);
            if let Some(error) = &result.error {
                check.status = Status::Error;
                check.found = format!("{}: {error}", result.url);
                check.fix = Some(match result.kind {
                    Some(
                        autopilot_llm::LlmErrorKind::Unauthorized
                        | autopilot_llm::LlmErrorKind::Forbidden,
                    ) => format!("check the key in {key_env}: the endpoint rejected it"),
                    _ => "check the network, or the endpoint (OPENAI_BASE_URL, or \
                          [providers.openai] base_url in --config)"
                        .to_owned(),
                });
            }
            checks.push(check);
            result.is_ok()
        }
    };
    let mut ollama_check = probe_check(llm, "Ollama", ollama);
    let pull = format!(
        "ollama pull {}",
        wants(Provider::Ollama).map_or("qwen2.5-coder", |m| m.model.as_str())
    );
    if let Some(error) = &ollama.error {
        ollama_check.status = if ollama.reachable {
            Status::Error
        } else {
            Status::Missing
        };
        ollama_check.found = format!("{}: {error}", ollama.url);
        ollama_check.fix =
            Some("start it with `ollama serve`, or set OLLAMA_HOST to a running server".to_owned());
    } else if ollama.models.is_empty() {
        ollama_check.status = Status::Missing;
        ollama_check.found = format!("{}: reachable, but no models pulled", ollama.url);
        ollama_check.fix = Some(pull.clone());
    }
    checks.push(ollama_check);
    let ollama_ok = ollama.is_ok() && !ollama.models.is_empty();

    let summary = llm_summary(
        settings.model.as_ref(),
        (openai_ok, openai),
        (ollama_ok, ollama),
        &format!("export {key_env}=…, or start Ollama (`ollama serve`) and `{pull}`"),
        &pull,
    );
    let llm_ready = summary.status == Status::Ok;
    checks.push(summary);
    if !require_llm {
        for check in &mut checks {
            check.status = check.status.min(Status::Warning);
        }
    }
    (checks, llm_ready)
}

/// Whether an LLM is usable: the configured model's provider (and the model listed by its
/// endpoint), or, without a configured model, either provider.
fn llm_summary(
    configured: Option<&ModelRef>,
    (openai_ok, openai): (bool, Option<&ProbeResult>),
    (ollama_ok, ollama): (bool, &ProbeResult),
    fix_none: &str,
    pull: &str,
) -> Check {
    let llm = Area::Llm;
    let Some(model) = configured else {
        let usable: Vec<&str> = [("openai", openai_ok), ("ollama", ollama_ok)]
            .into_iter()
            .filter_map(|(name, ok)| ok.then_some(name))
            .collect();
        if usable.is_empty() {
            return Check::new(
                llm,
                "LLM",
                Status::Missing,
                "none usable: `autopilot run` falls back to the example's hand-written demo \
                 answers",
            )
            .fix(fix_none);
        }
        return Check::new(
            llm,
            "LLM",
            Status::Ok,
            format!("usable: {}", usable.join(", ")),
        );
    };
    let (usable, result) = match model.provider {
        Provider::OpenAi => (openai_ok, openai),
        Provider::Ollama => (ollama_ok, Some(ollama)),
        Provider::Replay => (true, None),
    };
    let listed = result.is_none_or(|r| r.models.is_empty() || r.models.contains(&model.model));
    if !usable {
        Check::new(
            llm,
            "LLM",
            Status::Missing,
            format!("the configured model {model} is not usable (see above)"),
        )
    } else if !listed {
        let served: Vec<&str> = result
            .map(|r| r.models.iter().take(8).map(String::as_str).collect())
            .unwrap_or_default();
        // A server that answers any name (llama.cpp) would answer with another model.
        let check = Check::new(
            llm,
            "LLM",
            Status::Missing,
            format!(
                "the requested model {model} is not among those its endpoint serves ({}): \
                 a server that answers anyway answers with another model",
                served.join(", ")
            ),
        );
        if model.provider == Provider::Ollama {
            check.fix(pull)
        } else {
            check
        }
    } else {
        Check::new(llm, "LLM", Status::Ok, format!("{model} is usable"))
    }
}

/// A probe as a check (ok when the endpoint listed its models).
fn probe_check(area: Area, name: &'static str, result: &ProbeResult) -> Check {
    let count = result.models.len();
    let shown: Vec<&str> = result.models.iter().take(8).map(String::as_str).collect();
    let more = if count > shown.len() { ", …" } else { "" };
    let mut check = Check::new(
        area,
        name,
        Status::Ok,
        format!(
            "{}: HTTP {} in {} ms, {count} model(s){}",
            result.url,
            result.status.unwrap_or_default(),
            result.latency.as_millis(),
            if shown.is_empty() {
                String::new()
            } else {
                format!(": {}{more}", shown.join(", "))
            }
        ),
    );
    check.models.clone_from(&result.models);
    check
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for (area, title) in [(Area::Toolchain, "Toolchain"), (Area::Llm, "LLM")] {
        let _ = writeln!(out, "{title}");
        for check in report.checks.iter().filter(|c| c.area == area) {
            let path = check
                .path
                .as_ref()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<8} {:<width$}  {}{path}",
                check.status.as_str(),
                check.name,
                check.found
            );
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "  {:<8} {:<width$}  fix: {fix}", "", "");
            }
        }
        let _ = writeln!(out);
    }
    let name_width = report
        .targets
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0)
        .max("TARGET".len());
    let _ = writeln!(out, "Targets");
    let _ = writeln!(
        out,
        "  {:<name_width$}  {:<15}  STATUS",
        "TARGET", "BACKEND"
    );
    for row in &report.targets {
        let backend = row.backend.map_or("none", BackendKind::as_str);
        let what: Vec<&str> = row.findings.iter().map(|f| f.what.as_str()).collect();
        let status = match row.status {
            Status::Ok => "ready".to_owned(),
            Status::Warning => format!("ready; warning: {}", what.join("; ")),
            Status::Missing => format!("missing: {}", what.join("; ")),
            Status::Error => format!("error: {}", what.join("; ")),
        };
        let _ = writeln!(out, "  {:<name_width$}  {backend:<15}  {status}", row.name);
        let mut fixes: Vec<&str> = Vec::new();
        for fix in row.findings.iter().filter_map(|f| f.fix.as_deref()) {
            if !fixes.contains(&fix) {
                fixes.push(fix);
            }
        }
        for fix in fixes {
            let _ = writeln!(out, "  {:<name_width$}  {:<15}  fix: {fix}", "", "");
        }
    }
    let _ = writeln!(out);
    let verdict = if report.ready {
        format!(
            "{} is ready: sketches compile and, where the board has a simulator, run in it",
            report.target
        )
    } else {
        format!(
            "{} is NOT ready: install what is missing above (exit 3)",
            report.target
        )
    };
    let _ = writeln!(out, "{verdict}");
    let llm = match (report.llm_ready, report.require_llm) {
        (true, _) => "an LLM is usable".to_owned(),
        (false, true) => "no LLM is usable and --require-llm was given (exit 3)".to_owned(),
        (false, false) => "no LLM is usable: sessions use hand-written demo answers \
                           (--require-llm makes this exit 3)"
            .to_owned(),
    };
    let _ = writeln!(out, "{llm}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use autopilot_toolchain::inventory::CliInventory;

    fn found(version: &str) -> Found {
        Found {
            path: PathBuf::from("/usr/bin/tool"),
            version: Ok(version.to_owned()),
        }
    }

    fn facts() -> ToolFacts {
        ToolFacts {
            tools: ToolInventory {
                builder: Some(found("1.3.25")),
                avr_core: Some((PathBuf::from("/x"), Some("1.8.7".to_owned()))),
                avr_gcc: Some(found("5.4.0")),
                simavr: Some(PathBuf::from("/usr/bin/simavr")),
                bwrap: Some(PathBuf::from("/usr/bin/bwrap")),
                builder_libraries: Vec::new(),
                cli: None,
            },
            host_tflm: None,
        }
    }

    fn target(name: &str) -> Target {
        autopilot_toolchain::Targets::builtin()
            .get(name)
            .unwrap()
            .clone()
    }

    fn component(name: &str, version: &str) -> ComponentVersion {
        ComponentVersion {
            name: name.to_owned(),
            version: version.to_owned(),
        }
    }

    #[test]
    fn a_cli_target_lists_its_missing_core_and_libraries() {
        let mut facts = facts();
        facts.tools.cli = Some((
            PathBuf::from("/usr/bin/arduino-cli"),
            Ok(CliInventory {
                version: Some("1.2.2".to_owned()),
                cores: Vec::new(),
                libraries: vec![
                    component("chirale_tensorflowlite", "2.0.0"),
                    component("Arduino_APDS9960", "1.0.3"),
                ],
            }),
        ));
        let backend = Backend {
            kind: BackendKind::ArduinoCli,
            program: PathBuf::from("/usr/bin/arduino-cli"),
        };
        let row = assess_target(
            &target("nano33ble_sense"),
            Ok(backend),
            &facts,
            &ArduinoBuilderConfig::default(),
        );
        assert_eq!(row.status, Status::Missing);
        let what: Vec<&str> = row.findings.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "core arduino:mbed_nano",
                "library Arduino_APDS9960 1.0.3 installed, 1.0.4 pinned",
                "library Arduino_LSM9DS1 not installed",
                "library Arduino_HTS221 not installed",
                "library Arduino_LPS22HB not installed",
            ]
        );
        assert_eq!(
            row.findings[0].fix.as_deref(),
            Some("arduino-cli core install arduino:mbed_nano")
        );
        assert_eq!(
            row.findings[1].fix.as_deref(),
            Some("arduino-cli lib install Arduino_APDS9960@1.0.4")
        );
    }

    #[test]
    fn a_target_without_compiler_or_simulator_is_missing_both() {
        let mut facts = facts();
        facts.tools.simavr = None;
        let row = assess_target(
            &target("uno"),
            Err("arduino-builder not found (`arduino-builder`)".to_owned()),
            &facts,
            &ArduinoBuilderConfig::default(),
        );
        assert_eq!(row.status, Status::Missing);
        assert_eq!(row.backend, None);
        assert_eq!(row.findings.len(), 2);
        assert_eq!(
            row.findings[0].what,
            "a compiler: arduino-builder (or arduino-cli)"
        );
        assert!(
            row.findings[0]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("sudo apt-get install arduino-builder"),
            "{:?}",
            row.findings[0]
        );
        assert_eq!(row.findings[1].what, "simavr (the simulation check)");
    }

    fn probe_result(provider: Provider, error: Option<&str>, models: &[&str]) -> ProbeResult {
        ProbeResult {
            provider,
            url: "http://127.0.0.1:1/x".to_owned(),
            reachable: error.is_none(),
            status: error.is_none().then_some(200),
            kind: error.map(|_| autopilot_llm::LlmErrorKind::ConnectionRefused),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            error: error.map(str::to_owned),
            latency: Duration::from_millis(3),
        }
    }

    fn settings(env: &[(&str, &str)], model: Option<&str>) -> LlmSettings {
        let file = LlmConfigFile {
            model: model.map(str::to_owned),
            ..LlmConfigFile::default()
        };
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        resolve_settings(&file, &lookup, &LlmOverrides::default()).unwrap()
    }

    #[test]
    fn llm_problems_are_warnings_unless_required() {
        let settings = settings(&[], None);
        let refused = probe_result(Provider::Ollama, Some("connection refused"), &[]);
        let (checks, ready) = llm_checks(&settings, None, &refused, false);
        assert!(!ready);
        assert!(
            checks.iter().all(|c| c.status == Status::Warning),
            "{checks:?}"
        );
        assert_eq!(checks[0].found, "OPENAI_API_KEY is not set");
        assert_eq!(checks[0].fix.as_deref(), Some("export OPENAI_API_KEY=…"));
        let (checks, ready) = llm_checks(&settings, None, &refused, true);
        assert!(!ready);
        assert_eq!(checks[0].status, Status::Missing);
        assert_eq!(checks.last().unwrap().status, Status::Missing);
    }

    #[test]
    fn a_set_key_is_reported_without_its_value() {
        let settings = settings(&[("OPENAI_API_KEY", "sk-secret-value-9876")], None);
        let openai = probe_result(Provider::OpenAi, None, &["gpt-4o"]);
        let ollama = probe_result(Provider::Ollama, None, &[]);
        let (checks, ready) = llm_checks(&settings, Some(&openai), &ollama, true);
        assert!(ready);
        let text = serde_json::to_string(&checks).unwrap();
        assert!(!text.contains("9876") && !text.contains("sk-"), "{text}");
        assert_eq!(checks[0].found, "OPENAI_API_KEY is set");
        // Ollama answers but has no model: it is not usable, OpenAI is.
        assert_eq!(checks[2].status, Status::Missing);
        assert_eq!(checks[3].found, "usable: openai");
    }

    #[test]
    fn a_configured_model_must_be_listed() {
        let settings = settings(&[], Some("ollama:qwen2.5-coder:32b"));
        let ollama = probe_result(Provider::Ollama, None, &["llama3.2:latest"]);
        let (checks, ready) = llm_checks(&settings, None, &ollama, true);
        assert!(!ready);
        let summary = checks.last().unwrap();
        assert_eq!(
            summary.fix.as_deref(),
            Some("ollama pull qwen2.5-coder:32b")
        );
        let ollama = probe_result(Provider::Ollama, None, &["qwen2.5-coder:32b"]);
        let (_, ready) = llm_checks(&settings, None, &ollama, true);
        assert!(ready);
    }

    /// A venv folder `PythonEnv::at` accepts.
    fn venv() -> (tempfile::TempDir, PythonEnv) {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("bin")).unwrap();
        fs_err::write(dir.path().join("bin/python3"), "").unwrap();
        fs_err::write(dir.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let env = PythonEnv::at(dir.path()).unwrap();
        (dir, env)
    }

    fn probe_output(code: i32, stdout: &str, stderr: &str) -> ProcessOutput {
        use autopilot_toolchain::process::Captured;
        ProcessOutput {
            termination: autopilot_toolchain::Termination::Exited { code },
            stdout: Captured {
                bytes: stdout.as_bytes().to_vec(),
                dropped: 0,
            },
            stderr: Captured {
                bytes: stderr.as_bytes().to_vec(),
                dropped: 0,
            },
            duration: Duration::from_millis(300),
        }
    }

    fn python_summary(checks: &[Check]) -> Vec<(&str, Status, &str, Option<&str>)> {
        checks
            .iter()
            .map(|c| (c.name, c.status, c.found.as_str(), c.fix.as_deref()))
            .collect()
    }

    #[test]
    fn a_missing_python_environment_warns_with_the_setup_script() {
        let facts = PythonFacts {
            env: Err(PythonEnvError::Missing {
                reason: "no pointer".into(),
            }),
            probe: None,
        };
        let checks = python_checks(&facts);
        let summary = python_summary(&checks);
        assert_eq!(summary[0].1, Status::Warning);
        assert!(summary[0].2.contains("no pointer"), "{summary:?}");
        assert_eq!(summary[0].3, Some(SETUP_FIX));
        assert_eq!(
            summary[1],
            (
                "Python sandbox",
                Status::Warning,
                "not checked: no Python environment",
                None
            )
        );
    }

    #[test]
    fn python_packages_are_checked_against_the_pins_and_must_import() {
        let (_dir, env) = venv();
        let good = r#"{"numpy": {"version": "2.4.6", "error": null},
            "pandas": {"version": "3.1.1", "error": null},
            "tensorflow-cpu": {"version": "2.21.0", "error": null},
            "ai-edge-litert": {"version": "2.3.0", "error": null}}"#;
        let facts = PythonFacts {
            env: Ok(env.clone()),
            probe: Some(Ok(probe_output(0, good, ""))),
        };
        let checks = python_checks(&facts);
        assert_eq!(
            python_summary(&checks),
            [
                (
                    "Python env",
                    Status::Ok,
                    "numpy 2.4.6, pandas 3.1.1, tensorflow-cpu 2.21.0, ai-edge-litert 2.3.0",
                    None
                ),
                (
                    "Python sandbox",
                    Status::Ok,
                    "python runs in bubblewrap: no network, writes only its work dir",
                    None
                )
            ]
        );
        assert_eq!(pinned("tensorflow-cpu"), Some("2.21.0"));
        let bad = r#"{"numpy": {"version": "2.3.0", "error": null},
            "pandas": {"version": "3.1.1", "error": "ImportError: libstdc++"},
            "tensorflow-cpu": {"version": null, "error": "not importable"},
            "ai-edge-litert": {"version": "2.3.0", "error": null}}"#;
        let facts = PythonFacts {
            env: Ok(env),
            probe: Some(Ok(probe_output(0, bad, ""))),
        };
        let checks = python_checks(&facts);
        let summary = python_summary(&checks);
        assert_eq!(summary[0].1, Status::Warning);
        assert_eq!(
            summary[0].2,
            "numpy 2.3.0 (pinned 2.4.6); pandas does not import: ImportError: libstdc++; \
             tensorflow-cpu is not installed"
        );
        assert_eq!(summary[0].3, Some("bash scripts/setup-python.sh"));
        assert_eq!(summary[1].1, Status::Ok);
    }

    #[test]
    fn a_sandbox_that_is_missing_or_fails_is_a_python_sandbox_warning_with_its_fix() {
        let (_dir, env) = venv();
        let facts = PythonFacts {
            env: Ok(env.clone()),
            probe: Some(Err(ProcessError::SandboxMissing {
                bwrap: "bwrap".into(),
                program: "python3".into(),
            })),
        };
        let checks = python_checks(&facts);
        let summary = python_summary(&checks);
        assert_eq!(summary[1].1, Status::Warning);
        assert!(summary[1].2.contains("refuse to run Python"), "{summary:?}");
        assert!(summary[1].3.unwrap().contains("bubblewrap"), "{summary:?}");
        let facts = PythonFacts {
            env: Ok(env),
            probe: Some(Ok(probe_output(
                1,
                "",
                "bwrap: Creating new namespace failed: Operation not permitted",
            ))),
        };
        let checks = python_checks(&facts);
        let summary = python_summary(&checks);
        assert_eq!(summary[1].1, Status::Warning);
        assert!(
            summary[1].2.contains("Creating new namespace failed"),
            "{summary:?}"
        );
        assert!(summary[1].3.unwrap().contains("bwrap --ro-bind / / true"));
    }
}
