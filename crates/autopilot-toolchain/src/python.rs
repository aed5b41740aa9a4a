//! Runs Python code (LLM-written data processing and model conversion, and our own model
//! evaluation, which loads untrusted models) in the project's virtual environment inside the
//! sandbox — never unsandboxed.
//!
//! The interpreter is a venv made by `scripts/setup-python.sh` from the exact pins of
//! `python/requirements.txt` ([`PythonEnv`]). A [`PythonJob`] names the script, its arguments,
//! the one writable folder (also the working directory, `HOME` and — under `.tmp/` — `TMPDIR`,
//! since TensorFlow and Keras write caches there), the inputs it may read, a wall timeout and
//! its [`Limits`]. [`run_python`] builds the bubblewrap view from them: the system folders, the
//! venv and the interpreter it was made from read-only, the inputs read-only at their own paths,
//! the work dir writable at its own path, nothing else (no `~`, no `/root`, no network), and the
//! sandbox's scratch (`/`, `/tmp`, `/dev`) read-only ([`Sandbox::sealed`]), so that the work dir
//! is the only place a script can write. (A consequence: `multiprocessing`'s locks, which need a writable
//! `/dev/shm`, are unavailable; pandas, numpy and TensorFlow do not need them.)
//!
//! Memory is bounded by `RLIMIT_DATA`, with `RLIMIT_AS` only as a loose backstop: TensorFlow
//! reserves address space it never touches (thread stacks, allocator arenas, guard regions), so
//! an address-space limit that lets it import bounds nothing useful — measured here: training
//! and converting a small Keras model peaks at 2.2 GiB of address space with 0.6 GiB resident,
//! and fails with `MemoryError` under a 1.5 GiB `RLIMIT_AS`, but runs under a 1 GiB
//! `RLIMIT_DATA` (0.44 GiB of data). `RLIMIT_DATA` counts the private writable memory a program
//! can fill (heap, anonymous maps); shared anonymous maps escape it, and the address-space
//! backstop bounds those. Files in the work dir are bounded by `RLIMIT_FSIZE` each. A cgroup
//! would bound the whole sandbox, but needs a writable cgroup hierarchy that CI machines and
//! containers do not promise.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{self, ProcessError, ProcessOutput, ProcessSpec};
use crate::sandbox::{Limits, Sandbox, SandboxConfig};

/// The variable that names the venv folder instead of the pointer file.
pub const PYTHON_ENV_VAR: &str = "AUTOPILOT_PYTHON_ENV";
/// The pointer file's name in the cache folder (`~/.cache/autopilot/python-env`).
pub const POINTER_FILE: &str = "python-env";
/// How to make the environment.
pub const SETUP_FIX: &str = "run `bash scripts/setup-python.sh`";
/// The folder inside the work dir that `TMPDIR` points to.
pub const TMP_SUBDIR: &str = ".tmp";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PythonEnvError {
    #[error("no project Python environment: {reason}; {SETUP_FIX}")]
    Missing { reason: String },
    #[error("{}: not a Python virtual environment ({problem}); {SETUP_FIX}", root.display())]
    Invalid { root: PathBuf, problem: String },
}

/// A project-managed virtual environment (made by `scripts/setup-python.sh`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonEnv {
    root: PathBuf,
    /// The prefix of the interpreter the venv was made from (`home` in `pyvenv.cfg`, one level
    /// up), which holds the standard library; bound read-only when it is outside `/usr`.
    base_prefix: Option<PathBuf>,
}

impl PythonEnv {
    /// `AUTOPILOT_PYTHON_ENV` if set, else the pointer the setup script writes
    /// (`$XDG_CACHE_HOME/autopilot/python-env` or `~/.cache/autopilot/python-env`, holding the
    /// venv's path). This is the one place this crate reads the environment for configuration:
    /// the location is the setup script's output, which every caller would otherwise resolve
    /// the same way.
    pub fn discover() -> Result<PythonEnv, PythonEnvError> {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|base| base.join("autopilot").join(POINTER_FILE));
        PythonEnv::locate(std::env::var_os(PYTHON_ENV_VAR), cache.as_deref())
    }

    /// [`PythonEnv::discover`] with its inputs given: the override (the variable's value) and
    /// the pointer file.
    pub fn locate(
        override_root: Option<OsString>,
        pointer: Option<&Path>,
    ) -> Result<PythonEnv, PythonEnvError> {
        if let Some(root) = override_root.filter(|v| !v.is_empty()) {
            return PythonEnv::at(PathBuf::from(root));
        }
        let Some(pointer) = pointer else {
            return Err(PythonEnvError::Missing {
                reason: format!("{PYTHON_ENV_VAR} is not set and there is no home folder"),
            });
        };
        let text = fs_err::read_to_string(pointer).map_err(|_| PythonEnvError::Missing {
            reason: format!(
                "{PYTHON_ENV_VAR} is not set and {} does not exist",
                pointer.display()
            ),
        })?;
        let root = text.trim();
        if root.is_empty() {
            return Err(PythonEnvError::Missing {
                reason: format!("{} is empty", pointer.display()),
            });
        }
        PythonEnv::at(root)
    }

    /// The venv at `root`: it must hold `bin/python3` and `pyvenv.cfg`.
    pub fn at(root: impl Into<PathBuf>) -> Result<PythonEnv, PythonEnvError> {
        let root = std::path::absolute(root.into()).map_err(|e| PythonEnvError::Missing {
            reason: e.to_string(),
        })?;
        let invalid = |problem: &str| PythonEnvError::Invalid {
            root: root.clone(),
            problem: problem.to_owned(),
        };
        if !root.is_dir() {
            return Err(invalid("no such folder"));
        }
        if !root.join("bin/python3").is_file() {
            return Err(invalid("no bin/python3"));
        }
        let config = fs_err::read_to_string(root.join("pyvenv.cfg"))
            .map_err(|_| invalid("no readable pyvenv.cfg"))?;
        let base_prefix = config
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim() == "home")
            .map(|(_, home)| PathBuf::from(home.trim()))
            .and_then(|home| home.parent().map(Path::to_path_buf));
        Ok(PythonEnv { root, base_prefix })
    }

    /// `root/bin/python3`.
    pub fn python(&self) -> PathBuf {
        self.root.join("bin/python3")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folders a sandboxed run of this environment's python must read: the venv, and the
    /// base interpreter's prefix unless it is a system folder the sandbox shows anyway.
    pub fn read_only_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.root.clone()];
        if let Some(base) = &self.base_prefix
            && !crate::sandbox::SYSTEM_READ_ONLY
                .iter()
                .any(|system| base.starts_with(system))
        {
            paths.push(base.clone());
        }
        paths
    }
}

/// One Python run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonJob {
    /// A `.py` file (in `work_dir`, or a read-only input).
    pub script: PathBuf,
    pub args: Vec<OsString>,
    /// The ONLY writable place, also the working directory and `HOME`.
    pub work_dir: PathBuf,
    /// Inputs visible read-only at their own paths (files or folders).
    pub read_only: Vec<PathBuf>,
    /// Wall time; at the end the sandbox (its whole PID namespace) is killed.
    pub timeout: Duration,
    /// CPU seconds, memory, processes, file size.
    pub limits: Limits,
}

impl PythonJob {
    /// A job with the defaults: 5 minutes of wall time and of CPU, 2 GiB of data memory
    /// (TensorFlow importing, training and converting the example's model uses 0.44 GiB),
    /// 8 GiB of address space (a backstop, see the module docs), 256 processes and threads,
    /// 128 MiB files.
    pub fn new(script: impl Into<PathBuf>, work_dir: impl Into<PathBuf>) -> Self {
        PythonJob {
            script: script.into(),
            args: Vec::new(),
            work_dir: work_dir.into(),
            read_only: Vec::new(),
            timeout: Duration::from_secs(300),
            limits: Limits {
                address_space: Some(8 << 30),
                data: Some(2 << 30),
                cpu_seconds: Some(300),
                processes: Some(256),
                file_size: Some(128 << 20),
                // Sealed: its `/tmp` is read-only, Python's TMPDIR is in the work dir.
                tmp_size: Some(1 << 20),
            },
        }
    }

    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Lets the script read `path` at its own path.
    #[must_use]
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_only.push(path.into());
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// The process spec of `job`: `python3 -I script args…` in bubblewrap with the job's view,
/// environment and limits. Pure (tests read it); [`run_python`] runs it.
pub fn python_spec(sandbox: &SandboxConfig, env: &PythonEnv, job: &PythonJob) -> ProcessSpec {
    let mut view = Sandbox::new(sandbox).limits(job.limits);
    for path in env.read_only_paths() {
        view = view.read_only(path);
    }
    for path in &job.read_only {
        view = view.read_only(path.clone());
    }
    if !job.script.starts_with(&job.work_dir) {
        view = view.read_only(job.script.clone());
    }
    view = view.writable(job.work_dir.clone()).sealed();
    let bin = env.root().join("bin");
    let path = format!("{}:{}", bin.display(), crate::sandbox::SANDBOX_PATH);
    ProcessSpec::new(env.python())
        // `-I`: isolated mode, so neither PYTHON* variables nor the user's site folder or the
        // script's neighbours shadow the pinned packages; `-B`: no .pyc files next to inputs.
        .args([
            "-I".into(),
            "-B".into(),
            job.script.clone().into_os_string(),
        ])
        .args(job.args.iter().cloned())
        .current_dir(&job.work_dir)
        .env("PATH", path)
        .env("HOME", &job.work_dir)
        .env("TMPDIR", job.work_dir.join(TMP_SUBDIR))
        .env("VIRTUAL_ENV", env.root())
        .env("PYTHONUNBUFFERED", "1")
        // TensorFlow's C++ start-up chatter is not what a repair prompt needs.
        .env("TF_CPP_MIN_LOG_LEVEL", "2")
        .timeout(job.timeout)
        .sandbox(Some(view))
}

/// Runs the job in bubblewrap: no network, read-only system, no secrets in the environment.
/// Never runs unsandboxed: a missing bwrap is [`ProcessError::SandboxMissing`]. A script that
/// fails is an `Ok` output with its exit code; `Err` is infrastructure.
pub async fn run_python(
    sandbox: &SandboxConfig,
    env: &PythonEnv,
    job: &PythonJob,
) -> Result<ProcessOutput, ProcessError> {
    let tmp = job.work_dir.join(TMP_SUBDIR);
    fs_err::create_dir_all(&tmp).map_err(|source| ProcessError::Spawn {
        program: env.python().to_string_lossy().into_owned(),
        source,
    })?;
    process::run(&python_spec(sandbox, env, job)).await
}
