//! The sandbox for tools that touch LLM-written code: builds the bubblewrap (`bwrap`) command
//! line that wraps a tool, and its resource limits. Pure: the process runner spawns it.
//!
//! The file-system view is an **allow-list**, not `/` with holes: the system directories
//! (`/usr` and its merged-`/usr` links, the dynamic linker cache) read-only, a private, capped `/tmp`,
//! `/proc` and a minimal `/dev`, the folders this run names read-only (sketch, cores,
//! libraries, the firmware), and exactly the folders it names writable (build path, build
//! cache). Hiding secrets from a full view would need a list of every place a secret may live
//! (`~`, `/root`, `/etc`, `.env` files next to a run, mounted credentials); an allow-list
//! needs only what the tools read, and a forgotten entry fails loudly instead of leaking.
//!
//! Besides: no network and fresh IPC, PID, UTS and cgroup namespaces (`--unshare-all`), no
//! capabilities, a new session (no terminal to inject into), a cleared environment (API keys
//! stay outside), and `--die-with-parent` so the whole PID namespace dies with autopilot, even
//! on SIGKILL. Limits are set by `prlimit` inside the sandbox, just before the tool starts:
//! address space (or data memory), CPU time, processes and file size.
//!
//! The kernel does not apply `RLIMIT_NPROC` to processes whose real user is root (and counts
//! the user namespace of a root-run bwrap as root's), so under root a fork bomb is bounded
//! only by the run's timeout, after which the PID namespace is killed as a whole.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Resource limits for one sandboxed tool (per process, as `setrlimit` defines them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_AS` in bytes: `#include "/dev/zero"` ends here instead of eating the host.
    pub address_space: Option<u64>,
    /// `RLIMIT_DATA` in bytes: private writable memory (heap and anonymous maps). Bounds a
    /// program that reserves far more address space than it uses (TensorFlow), where
    /// `RLIMIT_AS` cannot.
    pub data: Option<u64>,
    /// `RLIMIT_CPU` in seconds.
    pub cpu_seconds: Option<u64>,
    /// `RLIMIT_NPROC` (threads count too).
    pub processes: Option<u64>,
    /// `RLIMIT_FSIZE` in bytes: the largest file the tool may write.
    pub file_size: Option<u64>,
    /// The size of the private `/tmp` (a memory-backed tmpfs) in bytes: many files under
    /// `file_size` each would otherwise fill half the host's RAM.
    pub tmp_size: Option<u64>,
}

impl Default for Limits {
    /// 1 GiB of address space (a compile of the corpus' largest sketch needs about a quarter),
    /// 10 CPU minutes, 256 processes, 256 MiB files, 512 MiB of `/tmp`.
    fn default() -> Self {
        Limits {
            address_space: Some(1 << 30),
            data: None,
            cpu_seconds: Some(600),
            processes: Some(256),
            file_size: Some(256 << 20),
            tmp_size: Some(TMP_SIZE),
        }
    }
}

/// How tools that touch generated code are sandboxed (resolved by the caller: the CLI from
/// its flags and the policies). Extra folders are for tools installed outside `/usr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The bubblewrap program.
    pub bwrap: PathBuf,
    pub limits: Limits,
    /// Extra folders every sandboxed tool may read.
    pub read_only: Vec<PathBuf>,
    /// Extra folders every sandboxed tool may write.
    pub writable: Vec<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bwrap: PathBuf::from("bwrap"),
            limits: Limits::default(),
            read_only: Vec::new(),
            writable: Vec::new(),
        }
    }
}

/// System paths every tool needs, read-only; missing ones are skipped.
pub const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/alternatives",
];

/// The directories searched for a bare program name inside the sandbox.
pub const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The default size of a sandbox's private `/tmp`: the compilers' scratch files of the largest
/// TFLM build are a few MiB (builds write to their build path, which is a host folder).
pub const TMP_SIZE: u64 = 512 << 20;

/// The `prlimit` program that applies the limits inside the sandbox.
const PRLIMIT: &str = "/usr/bin/prlimit";

/// One sandboxed run: the configuration plus the folders this run reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    config: SandboxConfig,
    read_only: Vec<PathBuf>,
    writable: Vec<PathBuf>,
    sealed: bool,
}

impl Sandbox {
    pub fn new(config: &SandboxConfig) -> Self {
        Sandbox {
            config: config.clone(),
            read_only: config.read_only.clone(),
            writable: config.writable.clone(),
            sealed: false,
        }
    }

    /// Makes the writable folders the only writable places: the private `/tmp` is remounted
    /// read-only after the binds too (the sandbox's own root and `/dev` always are). For code
    /// that is told where to write (Python with `TMPDIR` in its work dir); compilers keep
    /// their private, size-capped `/tmp`.
    #[must_use]
    pub fn sealed(mut self) -> Self {
        self.sealed = true;
        self
    }

    /// Lets the tool read `path` (a folder or a file).
    #[must_use]
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_only.push(path.into());
        self
    }

    /// Lets the tool write `path` (a folder that must exist).
    #[must_use]
    pub fn writable(mut self, path: impl Into<PathBuf>) -> Self {
        self.writable.push(path.into());
        self
    }

    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    pub fn bwrap(&self) -> &Path {
        &self.config.bwrap
    }

    pub fn get_limits(&self) -> Limits {
        self.config.limits
    }

    /// The bwrap arguments that run `program args` (an absolute path) in `cwd` (or `/tmp`).
    pub fn arguments(
        &self,
        program: &Path,
        args: &[OsString],
        cwd: Option<&Path>,
    ) -> Vec<OsString> {
        let mut out: Vec<OsString> = [
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--cap-drop",
            "ALL",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        for path in SYSTEM_READ_ONLY {
            push_bind(&mut out, "--ro-bind-try", Path::new(path));
        }
        for flag in ["--proc", "/proc", "--dev", "/dev"] {
            out.push(flag.into());
        }
        if let Some(size) = self.config.limits.tmp_size {
            out.push("--size".into());
            out.push(size.to_string().into());
        }
        out.push("--tmpfs".into());
        out.push("/tmp".into());
        // Binds after `/tmp` (runs often live under it), shallow before deep, so a writable
        // build path inside a read-only folder stays writable (and the other way round).
        let mut binds: Vec<(&Path, &str)> = self
            .read_only
            .iter()
            .map(|p| (p.as_path(), "--ro-bind-try"))
            .chain(self.writable.iter().map(|p| (p.as_path(), "--bind")))
            .collect();
        if let Some(dir) = program.parent().filter(|dir| !is_system(dir)) {
            // A tool installed outside /usr (a user's arduino-cli, a test's fake tool).
            binds.push((dir, "--ro-bind-try"));
        }
        binds.sort_by_key(|(path, _)| path.components().count());
        binds.dedup();
        for (path, flag) in binds {
            push_bind(&mut out, flag, path);
        }
        // The sandbox's root and `/dev` are bwrap's own memory-backed scratch: writable, a
        // tool's stray writes would land there, uncapped. Not recursive: the binds below keep
        // their own read-only or writable mounts.
        let sealed: &[&str] = if self.sealed {
            &["/", "/tmp", "/dev"]
        } else {
            &["/", "/dev"]
        };
        for dir in sealed {
            out.push("--remount-ro".into());
            out.push(dir.into());
        }
        out.push("--chdir".into());
        out.push(cwd.unwrap_or(Path::new("/tmp")).into());
        out.push("--".into());
        let limits = self.config.limits;
        let settings = [
            ("--as", limits.address_space),
            ("--data", limits.data),
            ("--cpu", limits.cpu_seconds),
            ("--nproc", limits.processes),
            ("--fsize", limits.file_size),
        ];
        if settings.iter().any(|(_, value)| value.is_some()) {
            out.push(PRLIMIT.into());
            for (flag, value) in settings {
                if let Some(value) = value {
                    out.push(format!("{flag}={value}").into());
                }
            }
            out.push("--".into());
        }
        out.push(program.into());
        out.extend(args.iter().cloned());
        out
    }
}

/// The environment a sandboxed tool starts from (the host's is not passed on: it may hold
/// API keys); the run's own variables are added to it.
pub fn base_environment() -> Vec<(OsString, OsString)> {
    [
        ("PATH", SANDBOX_PATH),
        ("HOME", "/tmp"),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

fn is_system(dir: &Path) -> bool {
    SYSTEM_READ_ONLY
        .iter()
        .any(|system| dir.starts_with(system))
}

fn push_bind(out: &mut Vec<OsString>, flag: &str, path: &Path) {
    out.push(flag.into());
    out.push(path.into());
    out.push(path.into());
}
