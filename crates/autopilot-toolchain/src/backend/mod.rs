//! Compiler backends behind one interface: which exist, how they are configured, and which
//! one a target gets (its preferred backend when installed, else another that supports it).

pub mod arduino_builder;
pub mod arduino_cli;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sandbox::{Sandbox, SandboxConfig};
use crate::target::{Fqbn, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Debian's `arduino-builder` with the packaged AVR core: offline, AVR only.
    ArduinoBuilder,
    /// `arduino-cli` with whatever cores it has installed.
    ArduinoCli,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::ArduinoBuilder => "arduino-builder",
            BackendKind::ArduinoCli => "arduino-cli",
        }
    }

    /// Whether this backend can build for the board at all.
    pub fn supports(self, fqbn: &Fqbn) -> bool {
        match self {
            BackendKind::ArduinoBuilder => fqbn.package == "arduino" && fqbn.architecture == "avr",
            BackendKind::ArduinoCli => true,
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// GCC warning level passed to the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warnings {
    None,
    #[default]
    Default,
    More,
    All,
}

impl Warnings {
    /// The level a board of `architecture` gets. arduino-esp32 2.0.x maps `more` and `all` to
    /// `-Wall -Werror=all` (its platform.txt; espressif/arduino-esp32 #8791, dropped again by
    /// #9273): a warning inside a library becomes an error the sketch cannot fix, so ESP32
    /// boards get `default` at most.
    #[must_use]
    pub fn for_architecture(self, architecture: &str) -> Warnings {
        match (architecture, self) {
            ("esp32", Warnings::More | Warnings::All) => Warnings::Default,
            _ => self,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Warnings::None => "none",
            Warnings::Default => "default",
            Warnings::More => "more",
            Warnings::All => "all",
        }
    }
}

/// Default per-compile time limit (the published runs took up to 96 s for a full TFLM build).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Debian's arduino-builder and where its packages put things (see toolchains.md §1).
#[derive(Debug, Clone)]
pub struct ArduinoBuilderConfig {
    pub program: PathBuf,
    /// `-hardware` folders: the AVR core, and the ctags recipe of arduino-builder itself.
    pub hardware_dirs: Vec<PathBuf>,
    /// `-tools`: where `avr-gcc` lives.
    pub tools_dir: PathBuf,
    /// `-prefs` entries. The default defines `DECIMAL_DIG`, which arduino-core-avr 1.8.7
    /// uses but gcc-avr 5.4 only defines for C.
    pub prefs: Vec<String>,
}

impl Default for ArduinoBuilderConfig {
    fn default() -> Self {
        ArduinoBuilderConfig {
            program: PathBuf::from("arduino-builder"),
            hardware_dirs: vec![
                PathBuf::from("/usr/share/arduino/hardware"),
                PathBuf::from("/usr/share/arduino-builder"),
            ],
            tools_dir: PathBuf::from("/usr/bin"),
            prefs: vec!["compiler.cpp.extra_flags=-DDECIMAL_DIG=__DECIMAL_DIG__".to_owned()],
        }
    }
}

impl ArduinoBuilderConfig {
    /// The platform folder of `package:arch` (`/usr/share/arduino/hardware/arduino/avr`).
    pub fn platform_dir(&self, fqbn: &Fqbn) -> Option<PathBuf> {
        self.hardware_dirs
            .iter()
            .map(|dir| dir.join(&fqbn.package).join(&fqbn.architecture))
            .find(|dir| dir.join("platform.txt").is_file())
    }
}

/// arduino-cli: the program and how to call it.
#[derive(Debug, Clone)]
pub struct ArduinoCliConfig {
    pub program: PathBuf,
    /// `--config-file`, when not the user's default.
    pub config_file: Option<PathBuf>,
    /// Extra environment for every arduino-cli call (`ARDUINO_DIRECTORIES_USER`, …).
    pub env: Vec<(OsString, OsString)>,
    /// Capture limit for `compile --format json`. Every result carries the whole expanded
    /// `build_properties` list and the compiler output, diagnostics with code lines: several
    /// MiB for a TFLM build, so far more than the runner's 1 MiB default.
    pub json_capture_limit: usize,
}

/// Default [`ArduinoCliConfig::json_capture_limit`].
pub const DEFAULT_JSON_CAPTURE_LIMIT: usize = 64 * 1024 * 1024;

impl Default for ArduinoCliConfig {
    fn default() -> Self {
        ArduinoCliConfig {
            program: PathBuf::from("arduino-cli"),
            config_file: None,
            env: Vec::new(),
            json_capture_limit: DEFAULT_JSON_CAPTURE_LIMIT,
        }
    }
}

/// Everything the toolchain needs to know, resolved by the caller (the CLI or the orchestrator).
#[derive(Debug, Clone)]
pub struct ToolchainConfig {
    pub arduino_builder: ArduinoBuilderConfig,
    pub arduino_cli: ArduinoCliConfig,
    /// User libraries folder (`-libraries` / `--libraries`); created when missing.
    pub libraries_dir: Option<PathBuf>,
    /// Shared build cache (compiled cores), reused by every session.
    pub build_cache_dir: PathBuf,
    /// The compile cache (outcomes by input hash); `None` disables it.
    pub compile_cache_dir: Option<PathBuf>,
    pub warnings: Warnings,
    /// Per-compile time limit.
    pub timeout: Duration,
    /// Use this backend whatever the target prefers.
    pub force_backend: Option<BackendKind>,
    /// The sandbox every compile runs in; `None` only when the user opted out.
    pub sandbox: Option<SandboxConfig>,
}

impl ToolchainConfig {
    /// Defaults with all caches under `cache_dir`.
    pub fn with_cache_dir(cache_dir: &Path) -> Self {
        ToolchainConfig {
            arduino_builder: ArduinoBuilderConfig::default(),
            arduino_cli: ArduinoCliConfig::default(),
            libraries_dir: None,
            build_cache_dir: cache_dir.join("build-cache"),
            compile_cache_dir: Some(cache_dir.join("compile-cache")),
            // The recipe of toolchains.md; warnings outside the sketch are dropped anyway.
            warnings: Warnings::All,
            timeout: DEFAULT_TIMEOUT,
            force_backend: None,
            sandbox: Some(SandboxConfig::default()),
        }
    }
}

/// An installed backend: its kind and the resolved program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub kind: BackendKind,
    pub program: PathBuf,
}

/// Picks the backend for a target: the forced one, else the target's preferred one, else the
/// other one if it supports the board — the first that is installed. `Err` explains what is
/// missing (a *toolchain missing* outcome, not an error of ours).
pub fn select_backend(target: &Target, config: &ToolchainConfig) -> Result<Backend, String> {
    let fqbn = target.fqbn();
    let other = match target.backend {
        BackendKind::ArduinoBuilder => BackendKind::ArduinoCli,
        BackendKind::ArduinoCli => BackendKind::ArduinoBuilder,
    };
    let order = config
        .force_backend
        .map_or_else(|| vec![target.backend, other], |kind| vec![kind]);
    let mut tried = Vec::new();
    for kind in order {
        if !kind.supports(&fqbn) {
            tried.push(format!("{kind} cannot build {}", target.fqbn));
            continue;
        }
        let program = match kind {
            BackendKind::ArduinoBuilder => &config.arduino_builder.program,
            BackendKind::ArduinoCli => &config.arduino_cli.program,
        };
        match crate::lookup::which(program) {
            Some(resolved) => {
                return Ok(Backend {
                    kind,
                    program: resolved,
                });
            }
            None => tried.push(format!("{kind} not found (`{}`)", program.display())),
        }
    }
    Err(tried.join("; "))
}

/// Whether a target can be built on this machine, known before a session spends anything.
/// One place decides it so that other ways to build (a host build standing in for a board)
/// join as variants here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildCapability {
    /// A real compiler for the board, with its core.
    Real(Backend),
    /// Nothing here can build the board: what is missing and the command that fixes it (the
    /// same fix `autopilot doctor` prints).
    Missing { detail: String, fix: String },
}

impl BuildCapability {
    pub fn is_missing(&self) -> bool {
        matches!(self, BuildCapability::Missing { .. })
    }
}

/// How Debian's AVR toolchain is installed.
pub const AVR_INSTALL: &str = "sudo apt-get install arduino-builder arduino-core-avr gcc-avr avr-libc  (all AVR tools at once: bash scripts/install-os-deps.sh)";

/// How to install arduino-cli: the one copy of this fix.
pub fn arduino_cli_install() -> String {
    format!("install arduino-cli: {}", arduino_cli::INSTALL_URL)
}

/// The command that installs a compiler for `target`: Debian's AVR packages for `arduino:avr`
/// boards, arduino-cli and the target's core otherwise.
pub fn install_fix(target: &Target) -> String {
    if BackendKind::ArduinoBuilder.supports(&target.fqbn()) {
        AVR_INSTALL.to_owned()
    } else {
        format!(
            "{}, then `arduino-cli core install {}`",
            arduino_cli_install(),
            target.core
        )
    }
}

/// One compile, as a backend sees it. Every path is absolute and every folder exists.
#[derive(Debug, Clone, Copy)]
pub struct BuildJob<'a> {
    pub fqbn: &'a str,
    pub sketch: &'a crate::sketch::Sketch,
    pub build_dir: &'a Path,
    pub build_cache_dir: &'a Path,
    pub libraries_dirs: &'a [PathBuf],
    pub warnings: Warnings,
    pub timeout: Duration,
}

/// The sandbox of one compile: the sketch, cores, tools and libraries read-only; the build
/// path and the shared build cache writable; nothing else of the host.
pub fn compile_sandbox(
    config: &SandboxConfig,
    toolchain: &ToolchainConfig,
    kind: BackendKind,
    job: &BuildJob<'_>,
) -> Sandbox {
    let mut sandbox = Sandbox::new(config)
        .read_only(&job.sketch.dir)
        .writable(job.build_dir)
        .writable(job.build_cache_dir);
    for dir in job.libraries_dirs {
        sandbox = sandbox.read_only(dir);
    }
    match kind {
        BackendKind::ArduinoBuilder => {
            let builder = &toolchain.arduino_builder;
            for dir in &builder.hardware_dirs {
                sandbox = sandbox.read_only(dir);
            }
            sandbox = sandbox.read_only(&builder.tools_dir);
        }
        BackendKind::ArduinoCli => {
            let cli = &toolchain.arduino_cli;
            if let Some(file) = &cli.config_file {
                sandbox = sandbox.read_only(file);
            }
            // The folders arduino-cli is pointed at (data, user, downloads) hold its cores and
            // tools: readable, never writable from a compile.
            for (key, value) in &cli.env {
                if key.to_string_lossy().starts_with("ARDUINO_DIRECTORIES_")
                    && Path::new(value).is_absolute()
                {
                    sandbox = sandbox.read_only(value);
                }
            }
        }
    }
    sandbox
}
