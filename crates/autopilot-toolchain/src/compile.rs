//! The compile API the orchestrator calls once per attempt: a [`Compiler`] per session (the
//! target, the chosen backend and the versions it builds with), a reused build path, the
//! shared build cache and the compile cache. A compile returns a [`CompileResult`] whose
//! [`CompileOutcome`] is data (succeeded, failed, timed out, toolchain missing); `Err` is for
//! infrastructure only.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use autopilot_trace::{
    CompileFinished, CompileStatus, ComponentVersion, Diagnostic, LibraryInstalled, Severity,
    SizeReport,
};
use serde::{Deserialize, Serialize};

use crate::backend::arduino_builder::millis;
use crate::backend::{
    Backend, BackendKind, BuildCapability, BuildJob, ToolchainConfig, Warnings, arduino_builder,
    arduino_cli, compile_sandbox, install_fix, select_backend,
};
use crate::cache::{CacheInputs, CompileCache};
use crate::environment;
use crate::process::{self, ProcessError};
use crate::sketch::{Sketch, SketchError};
use crate::target::Target;

/// One gate per (build cache folder, board): its flag says a compile for that board has
/// succeeded in this process, so the board's core archive is in the build cache.
fn core_gate(build_cache_dir: &Path, fqbn: &str) -> Arc<tokio::sync::Mutex<bool>> {
    type Gates = Mutex<HashMap<(PathBuf, String), Arc<tokio::sync::Mutex<bool>>>>;
    static GATES: LazyLock<Gates> = LazyLock::new(Gates::default);
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    gates
        .entry((build_cache_dir.to_path_buf(), fqbn.to_owned()))
        .or_default()
        .clone()
}

/// The file other autopilot processes wait on (an exclusive `flock`) while one of them makes
/// its first compile for `fqbn` with the build cache in `build_cache_dir`.
pub fn core_lock_path(build_cache_dir: &Path, fqbn: &str) -> PathBuf {
    let name: String = fqbn
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    build_cache_dir.join(format!(".autopilot-core-{name}.lock"))
}

/// The cross-process half of [`core_gate`]: shards of one experiment on one machine share the
/// build cache, and each is a process of its own. Waits while another process holds the lock,
/// saying so once; polls rather than blocking a thread, so a session given up while it waits
/// stops at once. `None` when the file cannot be opened or locked (a read-only folder, a file
/// system without locks): the compile then goes ahead unlocked, as it did before this lock.
async fn lock_core(build_cache_dir: &Path, fqbn: &str) -> Option<Flock<File>> {
    let path = core_lock_path(build_cache_dir, fqbn);
    let mut file = match fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(file) => file.into_file(),
        Err(error) => {
            tracing::debug!(path = %path.display(), %error, "cannot open the core lock; compiling unlocked");
            return None;
        }
    };
    let mut said = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Some(lock),
            Err((back, Errno::EWOULDBLOCK)) => {
                file = back;
                if !said {
                    said = true;
                    tracing::info!(
                        "waiting for another autopilot process's first compile for {fqbn} to build the board's core into the shared build cache ({})",
                        path.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err((_, errno)) => {
                tracing::debug!(path = %path.display(), %errno, "cannot lock the core lock; compiling unlocked");
                return None;
            }
        }
    }
}

/// What a compile came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CompileOutcome {
    Succeeded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<SizeReport>,
        /// Warnings in the sketch's own files.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<Diagnostic>,
    },
    Failed {
        diagnostics: Vec<Diagnostic>,
    },
    TimedOut {
        after_ms: u64,
    },
    ToolchainMissing {
        detail: String,
    },
}

impl CompileOutcome {
    pub fn status(&self) -> CompileStatus {
        match self {
            CompileOutcome::Succeeded { .. } => CompileStatus::Succeeded,
            CompileOutcome::Failed { .. } => CompileStatus::Failed,
            CompileOutcome::TimedOut { .. } => CompileStatus::TimedOut,
            CompileOutcome::ToolchainMissing { .. } => CompileStatus::ToolchainMissing,
        }
    }

    /// Every diagnostic (a success's warnings, a failure's diagnostics).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            CompileOutcome::Succeeded { warnings, .. } => warnings,
            CompileOutcome::Failed { diagnostics } => diagnostics,
            _ => &[],
        }
    }

    /// Errors and fatal errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics()
            .iter()
            .filter(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
    }

    pub fn size(&self) -> Option<SizeReport> {
        match self {
            CompileOutcome::Succeeded { size, .. } => *size,
            _ => None,
        }
    }
}

/// One compile, with everything the trace records about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileResult {
    pub outcome: CompileOutcome,
    /// `None` when no backend is installed.
    pub backend: Option<BackendKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_version: Option<String>,
    pub fqbn: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub cache_hit: bool,
    /// The compile-cache key (hash of every input), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
    /// The firmware of a successful build (in the build path, or in the compile cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elf: Option<PathBuf>,
    /// Libraries the build used, as the backend reported them (arduino-cli).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_libraries: Vec<ComponentVersion>,
    /// Header folders the build saw (for declaration lookup).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_dirs: Vec<PathBuf>,
    /// The compiler's raw output (stderr, bounded and marked when cut).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_output: String,
}

impl CompileResult {
    /// The trace event for this compile in `attempt`.
    pub fn to_trace_event(&self, attempt: u32) -> CompileFinished {
        let detail = match &self.outcome {
            CompileOutcome::TimedOut { after_ms } => Some(format!(
                "timed out after {after_ms} ms; the process group was killed"
            )),
            CompileOutcome::ToolchainMissing { detail } => Some(detail.clone()),
            _ => None,
        };
        CompileFinished {
            attempt,
            backend: self.backend.map_or("none", BackendKind::as_str).to_owned(),
            backend_version: self.backend_version.clone(),
            fqbn: self.fqbn.clone(),
            status: self.outcome.status(),
            diagnostics: self.outcome.diagnostics().to_vec(),
            size: self.outcome.size(),
            duration_ms: self.duration_ms,
            cache_hit: self.cache_hit,
            input_hash: self.input_hash.clone(),
            detail,
        }
    }
}

/// What a backend produced for one build, before caching.
#[derive(Debug, Clone)]
pub struct BackendOutcome {
    pub outcome: CompileOutcome,
    pub elf: Option<PathBuf>,
    pub tool_output: String,
    pub used_libraries: Vec<ComponentVersion>,
    pub include_dirs: Vec<PathBuf>,
}

impl BackendOutcome {
    pub fn new(outcome: CompileOutcome, tool_output: String) -> Self {
        BackendOutcome {
            outcome,
            elf: None,
            tool_output,
            used_libraries: Vec::new(),
            include_dirs: Vec::new(),
        }
    }
}

/// Infrastructure failures: the tool could not run, or said something we do not understand.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("{backend}: output not understood ({reason})")]
    Unrecognized {
        backend: &'static str,
        reason: String,
        exit_code: Option<i32>,
        stdout: String,
        stderr: String,
    },
    /// The tool ran and said why it failed (arduino-cli's `{"error": …}`).
    #[error("{backend}: {message}")]
    Tool {
        backend: &'static str,
        message: String,
        exit_code: Option<i32>,
    },
    /// The tool is older than the oldest version whose output is understood.
    #[error(
        "{tool} {version} is older than {minimum}, the oldest version autopilot supports; {fix}"
    )]
    Unsupported {
        tool: &'static str,
        version: String,
        minimum: String,
        fix: String,
    },
    #[error(transparent)]
    Sketch(#[from] SketchError),
    #[error("arduino-cli needs the main file named after its folder: {} is in {}", main.display(), dir.display())]
    SketchLayout { main: PathBuf, dir: PathBuf },
    #[error("{}: not empty and not a build folder; the compiler may wipe it, so it is not used", path.display())]
    ForeignBuildDir { path: PathBuf },
    #[error("cannot prepare {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Compiles sketches for one target: created once per session.
#[derive(Debug, Clone)]
pub struct Compiler {
    target: Target,
    config: ToolchainConfig,
    backend: Result<Backend, String>,
    /// The fix when the backend was refused after all (an arduino-cli too old to read).
    refused_fix: Option<String>,
    versions: Vec<ComponentVersion>,
    cache: Option<CompileCache>,
}

impl Compiler {
    /// Chooses the backend (see [`select_backend`]) and reads the versions it builds with.
    /// A missing backend is not an error: every compile then reports *toolchain missing*.
    /// When versions cannot be read the compile cache is off (a key without them could
    /// return a stale outcome).
    pub async fn new(target: &Target, config: ToolchainConfig) -> Result<Compiler, CompileError> {
        let backend = select_backend(target, &config);
        let mut compiler = Compiler {
            target: target.clone(),
            cache: config.compile_cache_dir.as_deref().map(CompileCache::new),
            config,
            backend,
            refused_fix: None,
            versions: Vec::new(),
        };
        compiler.refresh_versions().await?;
        Ok(compiler)
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn config(&self) -> &ToolchainConfig {
        &self.config
    }

    pub fn backend(&self) -> Option<&Backend> {
        self.backend.as_ref().ok()
    }

    /// Whether this target can be built here: the backend exists (and, for arduino-cli, the
    /// target's core is installed), or what is missing with its fix.
    pub fn capability(&self) -> BuildCapability {
        let missing = |detail: String, fix: String| BuildCapability::Missing { detail, fix };
        let backend = match &self.backend {
            Ok(backend) => backend,
            Err(detail) => {
                let fix = self
                    .refused_fix
                    .clone()
                    .unwrap_or_else(|| install_fix(&self.target));
                return missing(detail.clone(), fix);
            }
        };
        // `core list` was read (versions present) and does not have the board's core.
        if backend.kind == BackendKind::ArduinoCli
            && !self.versions.is_empty()
            && !self.versions.iter().any(|v| v.name == self.target.core)
        {
            return missing(
                format!("arduino-cli has no core {}", self.target.core),
                format!("arduino-cli core install {}", self.target.core),
            );
        }
        // Debian's arduino-builder without the AVR core it builds with.
        if backend.kind == BackendKind::ArduinoBuilder
            && self
                .config
                .arduino_builder
                .platform_dir(&self.target.fqbn())
                .is_none()
        {
            return missing(
                format!("arduino-builder has no core {}", self.target.core),
                install_fix(&self.target),
            );
        }
        BuildCapability::Real(backend.clone())
    }

    /// Tool, core and library versions (part of the cache key; shown in repair prompts).
    pub fn versions(&self) -> &[ComponentVersion] {
        &self.versions
    }

    /// The backend's own version (`1.3.25`).
    pub fn backend_version(&self) -> Option<String> {
        let backend = self.backend()?;
        self.versions
            .iter()
            .find(|v| v.name == backend.kind.as_str())
            .map(|v| v.version.clone())
    }

    /// Reads the versions again (after a library install).
    pub async fn refresh_versions(&mut self) -> Result<(), CompileError> {
        let Ok(backend) = self.backend.clone() else {
            return Ok(());
        };
        let read = match backend.kind {
            BackendKind::ArduinoBuilder => {
                arduino_builder::versions(
                    &self.config.arduino_builder,
                    &backend.program,
                    &self.target.fqbn(),
                    &self.libraries_dirs(),
                    self.config.compile_cache_dir.as_deref(),
                )
                .await
            }
            BackendKind::ArduinoCli => {
                arduino_cli::versions(
                    &self.config.arduino_cli,
                    &backend.program,
                    &self.libraries_dirs(),
                )
                .await
            }
        };
        match read {
            Err(error @ CompileError::Unsupported { .. }) => {
                // Too old to read: no compile can be trusted, so every compile reports it
                // as a missing toolchain, with the upgrade as the fix.
                if let CompileError::Unsupported { fix, .. } = &error {
                    self.refused_fix = Some(fix.clone());
                }
                self.backend = Err(error.to_string());
                self.versions.clear();
                self.cache = None;
            }
            Ok(versions) => {
                self.versions = versions;
                self.cache = self
                    .config
                    .compile_cache_dir
                    .as_deref()
                    .map(CompileCache::new);
            }
            Err(CompileError::Process(error)) if !error.is_not_found() => return Err(error.into()),
            Err(error) => {
                tracing::warn!(%error, "cannot read toolchain versions; compile cache off");
                self.versions.clear();
                self.cache = None;
            }
        }
        Ok(())
    }

    /// The warning level this board gets (see [`Warnings::for_architecture`]).
    pub fn warnings(&self) -> Warnings {
        self.config
            .warnings
            .for_architecture(&self.target.architecture())
    }

    fn libraries_dirs(&self) -> Vec<PathBuf> {
        self.config.libraries_dir.iter().cloned().collect()
    }

    /// Header folders of the build environment for declaration lookup: the core, the board
    /// variant, the platform libraries, the user libraries and the sketch.
    pub fn include_dirs(&self, sketch: &Sketch) -> Vec<PathBuf> {
        let fqbn = self.target.fqbn();
        let mut dirs = Vec::new();
        if let Some(platform) = self.config.arduino_builder.platform_dir(&fqbn) {
            dirs.extend(environment::platform_include_dirs(&platform, &fqbn));
        }
        if let Some(libraries) = &self.config.libraries_dir {
            dirs.push(libraries.clone());
        }
        dirs.push(sketch.dir.clone());
        dirs
    }

    /// Compiles `sketch` in `build_dir` (created when missing; reuse it across the attempts
    /// of a session so only what changed is rebuilt).
    pub async fn compile(
        &self,
        sketch: &Sketch,
        build_dir: &Path,
    ) -> Result<CompileResult, CompileError> {
        let start = Instant::now();
        let fqbn = self.target.fqbn.clone();
        let backend = match &self.backend {
            Ok(backend) => backend.clone(),
            Err(detail) => return Ok(self.missing(detail.clone(), start)),
        };
        if backend.kind == BackendKind::ArduinoCli && !sketch.name_matches_folder() {
            return Err(CompileError::SketchLayout {
                main: sketch.main.clone(),
                dir: sketch.dir.clone(),
            });
        }
        let key = match &self.cache {
            Some(_) => Some(self.cache_key(&backend, sketch)?),
            None => None,
        };
        if let (Some(cache), Some(key)) = (&self.cache, &key)
            && let Some(mut hit) = cache.get(key)
        {
            tracing::debug!(key, "compile cache hit");
            hit.cache_hit = true;
            if backend.kind == BackendKind::ArduinoBuilder {
                // The stored folders may name another session's sketch folder.
                hit.include_dirs = self.include_dirs(sketch);
            }
            hit.duration_ms = millis(start.elapsed());
            return Ok(hit);
        }

        refuse_foreign_build_dir(build_dir)?;
        let build_dir = prepare_dir(build_dir)?;
        let build_cache_dir = prepare_dir(&self.config.build_cache_dir)?;
        let libraries_dirs = self
            .libraries_dirs()
            .iter()
            .map(|dir| prepare_dir(dir))
            .collect::<Result<Vec<_>, _>>()?;
        let job = BuildJob {
            fqbn: &fqbn,
            sketch,
            build_dir: &build_dir,
            build_cache_dir: &build_cache_dir,
            libraries_dirs: &libraries_dirs,
            warnings: self.warnings(),
            timeout: self.config.timeout,
        };
        let spec = match backend.kind {
            BackendKind::ArduinoBuilder => arduino_builder::compile_command(
                &self.config.arduino_builder,
                &backend.program,
                &job,
            ),
            BackendKind::ArduinoCli => arduino_cli::compile_command(
                &self.config.arduino_cli,
                &backend.program,
                &job,
                self.backend_version()
                    .as_deref()
                    .and_then(arduino_cli::CliVersion::parse),
            ),
        };
        let sandbox = self
            .config
            .sandbox
            .as_ref()
            .map(|sandbox| compile_sandbox(sandbox, &self.config, backend.kind, &job));
        let spec = spec.sandbox(sandbox);
        // Until a compile for this board has succeeded in this process, compiles for it run one
        // at a time: the first one builds the board's core archive into the shared build cache,
        // and a concurrent compile that found the archive half-copied there linked against it
        // ("lto-wrapper failed" for a good sketch, seen with a cold cache at concurrency 4).
        let gate = core_gate(&build_cache_dir, &fqbn);
        let mut first = Some(gate.lock().await);
        if first.as_deref().is_some_and(|warm| *warm) {
            first = None;
        }
        // Other processes with the same build cache (shards on one machine) wait too.
        let core_lock = match first {
            Some(_) => lock_core(&build_cache_dir, &fqbn).await,
            None => None,
        };
        tracing::debug!(command = %spec.display(), sandboxed = spec.get_sandbox().is_some(), "compiling");
        let output = match process::run(&spec).await {
            Ok(output) => output,
            Err(error) if error.is_not_found() => return Ok(self.missing(error.to_string(), start)),
            Err(error) => return Err(error.into()),
        };
        let produced = match backend.kind {
            BackendKind::ArduinoBuilder => arduino_builder::interpret(&output, &job)?,
            BackendKind::ArduinoCli => arduino_cli::interpret_compile(&output, &job)?,
        };
        if let Some(warm) = first.as_deref_mut()
            && matches!(produced.outcome, CompileOutcome::Succeeded { .. })
        {
            *warm = true;
        }
        drop(core_lock);
        drop(first);
        let mut include_dirs = produced.include_dirs;
        if include_dirs.is_empty() {
            include_dirs = self.include_dirs(sketch);
        }
        let result = CompileResult {
            outcome: produced.outcome,
            backend: Some(backend.kind),
            backend_version: self.backend_version(),
            fqbn,
            duration_ms: millis(start.elapsed()),
            cache_hit: false,
            input_hash: key.clone(),
            elf: produced.elf,
            used_libraries: produced.used_libraries,
            include_dirs,
            tool_output: produced.tool_output,
        };
        if let (Some(cache), Some(key)) = (&self.cache, &key)
            && matches!(
                result.outcome,
                CompileOutcome::Succeeded { .. } | CompileOutcome::Failed { .. }
            )
        {
            cache.put(key, &result);
        }
        Ok(result)
    }

    fn missing(&self, detail: String, start: Instant) -> CompileResult {
        CompileResult {
            outcome: CompileOutcome::ToolchainMissing { detail },
            backend: self.backend().map(|b| b.kind),
            backend_version: None,
            fqbn: self.target.fqbn.clone(),
            duration_ms: millis(start.elapsed()),
            cache_hit: false,
            input_hash: None,
            elf: None,
            used_libraries: Vec::new(),
            include_dirs: Vec::new(),
            tool_output: String::new(),
        }
    }

    fn cache_key(&self, backend: &Backend, sketch: &Sketch) -> Result<String, CompileError> {
        let files = sketch.files()?;
        let mut contents = Vec::with_capacity(files.len());
        for file in files {
            let path = sketch.dir.join(&file);
            let bytes = fs_err::read(&path).map_err(|source| CompileError::Io { path, source })?;
            contents.push((file, bytes));
        }
        let mut settings = vec![format!("warnings={}", self.warnings().as_str())];
        if backend.kind == BackendKind::ArduinoBuilder {
            settings.extend(
                self.config
                    .arduino_builder
                    .prefs
                    .iter()
                    .map(|p| format!("prefs={p}")),
            );
        }
        Ok(CacheInputs {
            fqbn: &self.target.fqbn,
            backend: backend.kind.as_str(),
            versions: &self.versions,
            settings: &settings,
            files: &contents,
        }
        .key())
    }

    /// The arduino-cli program when it is this session's backend (library search and installs
    /// go through it; see [`crate::library::install`]).
    pub(crate) fn cli_program(&self) -> Option<&Path> {
        self.backend()
            .filter(|b| b.kind == BackendKind::ArduinoCli)
            .map(|b| b.program.as_path())
    }

    /// Records a finished install: versions are read again so the cache key follows.
    /// Whether they changed (`lib install` of the version already there exits 0 with
    /// "Already installed").
    pub(crate) async fn after_install(
        &mut self,
        installed: &LibraryInstalled,
    ) -> Result<bool, CompileError> {
        if !installed.succeeded {
            return Ok(false);
        }
        let before = self.versions.clone();
        // Nothing read before an install is trusted after it.
        crate::probes::forget(self.config.compile_cache_dir.as_deref());
        environment::forget_library_versions();
        self.refresh_versions().await?;
        Ok(self.versions != before)
    }
}

/// The compilers wipe a build folder whose options changed: refuse a non-empty folder that no
/// compiler made (no `build.options.json`), so nothing a user made is deleted.
fn refuse_foreign_build_dir(dir: &Path) -> Result<(), CompileError> {
    let Ok(mut entries) = fs_err::read_dir(dir) else {
        return Ok(());
    };
    if entries.next().is_some() && !dir.join("build.options.json").is_file() {
        return Err(CompileError::ForeignBuildDir {
            path: dir.to_owned(),
        });
    }
    Ok(())
}

/// Creates the folder if needed and returns its absolute path (arduino-builder rejects
/// relative build paths after compiling everything).
fn prepare_dir(dir: &Path) -> Result<PathBuf, CompileError> {
    let io = |source| CompileError::Io {
        path: dir.to_owned(),
        source,
    };
    fs_err::create_dir_all(dir).map_err(io)?;
    fs_err::canonicalize(dir).map_err(io)
}
