//! The process runner: the only code in the workspace that spawns processes.
//!
//! Every child gets its own process group, so a timeout or a cancelled future reaches the
//! grandchildren too (`avr-gcc` under `arduino-builder`, a `sleep` under a shell script). On a
//! timeout the group gets SIGTERM, then SIGKILL after a grace period. Killing is of the whole
//! tree ([`kill_tree`]): the group is frozen, the processes that left it (`setsid`) are found
//! by their parents, and all are killed and waited for — so no child outlives the run however
//! early it is given up (bubblewrap's sandbox init leaves the group before it sets its
//! parent-death signal; a sandboxed run skips SIGTERM, which bubblewrap does not pass on to
//! the tool anyway, and is killed as a tree at once). stdout and stderr are
//! drained concurrently into bounded buffers: a flood is cut at the limit and the number of
//! bytes dropped is kept, so nothing blocks on a full pipe and memory stays bounded. Output
//! need not be UTF-8.
//!
//! [`run`] captures; [`run_with_lines`] also hands every complete line to a callback that may
//! stop the process early (the simulator stops as soon as a class name appears on serial).
//!
//! A spec with a [`Sandbox`] runs its program inside bubblewrap (see [`crate::sandbox`]): the
//! program is resolved first (so a missing tool is still [`ProcessError::NotFound`]), the
//! environment is cleared to [`sandbox::base_environment`] plus the spec's own variables, and
//! a missing `bwrap` is [`ProcessError::SandboxMissing`], never a silent unsandboxed run.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::sandbox::{self, Sandbox};

/// Default per-stream capture limit (1 MiB).
pub const DEFAULT_CAPTURE_LIMIT: usize = 1024 * 1024;
/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// A line longer than this is handed to the line callback in pieces.
const MAX_LINE: usize = 64 * 1024;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
    grace: Duration,
    capture_limit: usize,
    sandbox: Option<Sandbox>,
}

impl ProcessSpec {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: None,
            grace: DEFAULT_GRACE,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            sandbox: None,
        }
    }

    /// Runs the program inside `sandbox` (or unsandboxed with `None`).
    #[must_use]
    pub fn sandbox(mut self, sandbox: Option<Sandbox>) -> Self {
        self.sandbox = sandbox;
        self
    }

    pub fn get_sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
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

    /// Sets one environment variable for the child (the rest is inherited).
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    #[must_use]
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Time between SIGTERM and SIGKILL when the process must end.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Bytes kept per stream; the rest is read and counted, not stored.
    #[must_use]
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.capture_limit = bytes;
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    pub fn get_env(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The command line, for messages (`arduino-builder -compile …`).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited {
        code: i32,
    },
    /// Killed by a signal it did not get from us.
    Signaled {
        signal: i32,
    },
    /// The timeout fired; the group got SIGTERM (and SIGKILL after the grace period).
    TimedOut,
    /// The line callback asked to stop; the group was terminated like on a timeout.
    Stopped,
}

/// One captured stream: the first `limit` bytes and how many more were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes read past the capture limit and dropped.
    pub dropped: u64,
}

impl Captured {
    /// The captured bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    pub fn is_truncated(&self) -> bool {
        self.dropped > 0
    }

    /// The text with a marker line at the end when output was dropped.
    pub fn text_marked(&self) -> String {
        let mut text = self.text().into_owned();
        if self.dropped > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&truncation_marker(self.dropped));
        }
        text
    }

    fn push(&mut self, chunk: &[u8], limit: usize) {
        let room = limit.saturating_sub(self.bytes.len());
        let kept = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..kept]);
        self.dropped += (chunk.len() - kept) as u64;
    }
}

/// The line that marks truncated output.
pub fn truncation_marker(dropped: u64) -> String {
    format!("[output truncated: {dropped} more bytes dropped]")
}

#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub termination: Termination,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

impl ProcessOutput {
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited { code: 0 }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self.termination {
            Termination::Exited { code } => Some(code),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("`{program}` not found")]
    NotFound { program: String },
    #[error("failed to spawn `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the sandbox program `{bwrap}` is not installed, so `{program}` was not run \
         (install bubblewrap, or opt out of the sandbox explicitly)"
    )]
    SandboxMissing { bwrap: String, program: String },
    #[error("failed to wait for `{program}`")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl ProcessError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ProcessError::NotFound { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// What the line callback wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineControl {
    Continue,
    /// Terminate the process group now.
    Stop,
}

/// Runs the process to its end (or its timeout) and captures both streams.
pub async fn run(spec: &ProcessSpec) -> Result<ProcessOutput, ProcessError> {
    run_with_lines(spec, |_, _| LineControl::Continue).await
}

/// Runs the process and hands every complete line (without its `\n`) of either stream to
/// `on_line`, which may stop the process. Lines are seen even past the capture limit.
pub async fn run_with_lines<F>(
    spec: &ProcessSpec,
    mut on_line: F,
) -> Result<ProcessOutput, ProcessError>
where
    F: FnMut(StreamKind, &[u8]) -> LineControl,
{
    let program = spec.program.to_string_lossy().into_owned();
    let start = Instant::now();
    let mut child = spawn(spec).map_err(|source| {
        if let Some(sandbox) = &spec.sandbox
            && source.kind() == std::io::ErrorKind::NotFound
            && source.get_ref().is_none()
        {
            ProcessError::SandboxMissing {
                bwrap: sandbox.bwrap().to_string_lossy().into_owned(),
                program: program.clone(),
            }
        } else if source.kind() == std::io::ErrorKind::NotFound {
            ProcessError::NotFound {
                program: program.clone(),
            }
        } else {
            ProcessError::Spawn {
                program: program.clone(),
                source,
            }
        }
    })?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let mut guard = GroupGuard { pgid };
    tracing::debug!(command = %spec.display(), pid = ?pgid, "spawned");

    let mut stdout = Drain::new(child.stdout.take(), StreamKind::Stdout);
    let mut stderr = Drain::new(child.stderr.take(), StreamKind::Stderr);
    let limit = spec.capture_limit;
    let far = start + Duration::from_secs(60 * 60 * 24 * 365);
    let deadline = spec.timeout.map_or(far, |t| start + t);

    let mut status: Option<ExitStatus> = None;
    let mut ending: Option<Termination> = None;
    let mut kill_at = far;
    let mut drain_until = far;
    let mut killed = false;
    let mut stop = false;

    loop {
        if status.is_some() && stdout.done && stderr.done {
            break;
        }
        if stop && ending.is_none() {
            ending = Some(Termination::Stopped);
            killed = guard.terminate(spec);
            kill_at = Instant::now() + spec.grace;
        }
        tokio::select! {
            read = stdout.read(), if !stdout.done => {
                stdout.absorb(&read, limit, &mut |kind, line| {
                    if !stop && on_line(kind, line) == LineControl::Stop { stop = true; }
                });
            }
            read = stderr.read(), if !stderr.done => {
                stderr.absorb(&read, limit, &mut |kind, line| {
                    if !stop && on_line(kind, line) == LineControl::Stop { stop = true; }
                });
            }
            waited = child.wait(), if status.is_none() => {
                let exit = waited.map_err(|source| ProcessError::Wait { program: program.clone(), source })?;
                status = Some(exit);
                // Whatever is left of our group after the leader exits is a leak: end it, so
                // the pipes close. Output already in the pipes stays readable.
                guard.signal(Signal::SIGKILL);
                killed = true;
                drain_until = Instant::now() + spec.grace;
            }
            () = tokio::time::sleep_until(deadline), if ending.is_none() && status.is_none() => {
                tracing::debug!(command = %spec.display(), "timed out; terminating the process group");
                ending = Some(Termination::TimedOut);
                killed = guard.terminate(spec);
                kill_at = Instant::now() + spec.grace;
            }
            () = tokio::time::sleep_until(kill_at), if !killed && kill_at < far => {
                guard.kill_tree();
                killed = true;
            }
            () = tokio::time::sleep_until(drain_until), if status.is_some() => {
                // A process that left our group still holds a pipe: stop reading.
                tracing::warn!(command = %spec.display(), "output pipes still open after exit; stopped reading");
                break;
            }
        }
    }
    stdout.finish(&mut |kind, line| {
        if !stop {
            let _ = on_line(kind, line);
        }
    });
    stderr.finish(&mut |kind, line| {
        if !stop {
            let _ = on_line(kind, line);
        }
    });
    guard.disarm();

    let termination = match ending {
        Some(ending) => ending,
        None => exit_termination(status),
    };
    Ok(ProcessOutput {
        termination,
        stdout: stdout.captured,
        stderr: stderr.captured,
        duration: start.elapsed(),
    })
}

#[expect(
    clippy::disallowed_methods,
    reason = "the process runner is the one place allowed to spawn processes"
)]
fn spawn(spec: &ProcessSpec) -> std::io::Result<tokio::process::Child> {
    let mut command = match &spec.sandbox {
        None => {
            let mut command = tokio::process::Command::new(&spec.program);
            command.args(&spec.args);
            if let Some(dir) = &spec.cwd {
                command.current_dir(dir);
            }
            command
        }
        Some(sandbox) => {
            // Resolved outside, so a missing tool is reported as missing (bwrap would only
            // say "execvp failed" with exit code 1). The error carries a message to tell it
            // apart from a missing bwrap.
            let program = resolve_in_sandbox(&spec.program).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "program not found")
            })?;
            let mut command = tokio::process::Command::new(sandbox.bwrap());
            command
                .args(sandbox.arguments(&program, &spec.args, spec.cwd.as_deref()))
                .env_clear()
                .envs(sandbox::base_environment());
            command
        }
    };
    command
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    command.spawn()
}

/// The absolute path of `program` as the sandbox will see it: a path is made absolute (and
/// must be a file), a bare name is looked up in [`sandbox::SANDBOX_PATH`].
fn resolve_in_sandbox(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        let absolute = std::path::absolute(program).ok()?;
        return absolute.is_file().then_some(absolute);
    }
    sandbox::SANDBOX_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
}

fn exit_termination(status: Option<ExitStatus>) -> Termination {
    use std::os::unix::process::ExitStatusExt as _;
    match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited { code },
            (None, Some(signal)) => Termination::Signaled { signal },
            (None, None) => Termination::Exited { code: -1 },
        },
        None => Termination::Exited { code: -1 },
    }
}

/// Signals the child's process group; on drop (a cancelled future) it kills the group and
/// every process that left it ([`kill_tree`]).
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            match killpg(pgid, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(errno) => tracing::warn!(%errno, ?signal, "cannot signal process group"),
            }
        }
    }

    /// Asks the process to end: SIGTERM to the group, SIGKILL after the grace period; `true`
    /// when it was killed at once instead. A sandboxed tool never sees SIGTERM (bubblewrap
    /// does not pass it on: it dies, and its PID namespace with it), and bubblewrap dying of
    /// it before its sandbox init set the parent-death signal would leave the sandbox running:
    /// a sandbox is killed as a tree at once.
    fn terminate(&self, spec: &ProcessSpec) -> bool {
        if spec.sandbox.is_some() {
            self.kill_tree();
            true
        } else {
            self.signal(Signal::SIGTERM);
            false
        }
    }

    fn kill_tree(&self) {
        if let Some(pgid) = self.pgid {
            kill_tree(pgid);
        }
    }

    /// The run is over and the group is gone: never signal its id again (it may be reused).
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_tree();
    }
}

/// How long [`kill_tree`] waits for processes to stop, and then to die.
const STOP_WAIT: Duration = Duration::from_millis(200);
const DEATH_WAIT: Duration = Duration::from_millis(500);
/// Generations of processes that left the group [`kill_tree`] follows.
const MAX_GENERATIONS: usize = 32;

/// Kills process group `pgid` and every process descended from it that left the group, and
/// waits (bounded) until they are dead. A group kill alone misses a process that called
/// `setsid`: bubblewrap's sandbox init does so before it sets its parent-death signal, and a
/// group kill between the two left it and the tool under it running, reparented to init.
///
/// The group is stopped first (SIGSTOP): once its members have stopped none forks again, so
/// the processes that left it are all found by their parent's pid; those are stopped in turn
/// and their children found, and so on. Then everything found gets SIGKILL. Only the kill
/// paths pay for the scan of `/proc`, never a process that ends by itself.
fn kill_tree(pgid: Pid) {
    if matches!(killpg(pgid, Signal::SIGSTOP), Err(Errno::ESRCH)) {
        return;
    }
    let mut table = process_table();
    let mut tree: Vec<i32> = table
        .iter()
        .filter(|p| p.pgrp == pgid.as_raw())
        .map(|p| p.pid)
        .collect();
    wait_for(&tree, STOP_WAIT, ProcState::is_stopped);
    let mut strays = Vec::new();
    for _ in 0..MAX_GENERATIONS {
        table = process_table();
        let found: Vec<i32> = table
            .iter()
            .filter(|p| tree.contains(&p.ppid) && !tree.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        if found.is_empty() {
            break;
        }
        for &pid in &found {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGSTOP);
        }
        wait_for(&found, STOP_WAIT, ProcState::is_stopped);
        tree.extend(&found);
        strays.extend(found);
    }
    if !strays.is_empty() {
        tracing::debug!(?strays, "killing processes that left the process group");
    }
    for &pid in &strays {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    wait_for(&tree, DEATH_WAIT, ProcState::is_dead);
}

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcState {
    pid: i32,
    state: char,
    ppid: i32,
    pgrp: i32,
}

impl ProcState {
    /// Reads `pid (comm) state ppid pgrp …`; the command name may hold spaces and parentheses,
    /// so the fields are counted from its last `)`.
    fn parse(stat: &str) -> Option<ProcState> {
        let (head, rest) = stat.rsplit_once(')')?;
        let mut fields = rest.split_ascii_whitespace();
        Some(ProcState {
            pid: head.split_once(" (")?.0.trim().parse().ok()?,
            state: fields.next()?.chars().next()?,
            ppid: fields.next()?.parse().ok()?,
            pgrp: fields.next()?.parse().ok()?,
        })
    }

    fn of(pid: i32) -> Option<ProcState> {
        ProcState::parse(&fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Stopped, or past stopping.
    fn is_stopped(state: Option<ProcState>) -> bool {
        state.is_none_or(|p| matches!(p.state, 'T' | 't' | 'Z' | 'X'))
    }

    /// Gone, or a zombie waiting to be reaped.
    fn is_dead(state: Option<ProcState>) -> bool {
        state.is_none_or(|p| matches!(p.state, 'Z' | 'X'))
    }
}

/// Every process this one can see.
fn process_table() -> Vec<ProcState> {
    let Ok(entries) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(ProcState::of)
        .collect()
}

/// Waits until `done` holds for each of `pids`, at most `limit`.
fn wait_for(pids: &[i32], limit: Duration, done: fn(Option<ProcState>) -> bool) {
    let until = std::time::Instant::now() + limit;
    for &pid in pids {
        while !done(ProcState::of(pid)) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One output stream: reads chunks, keeps a bounded capture and splits lines.
struct Drain<R> {
    reader: Option<R>,
    kind: StreamKind,
    buf: Vec<u8>,
    pending: Vec<u8>,
    captured: Captured,
    done: bool,
}

impl<R: AsyncRead + Unpin> Drain<R> {
    fn new(reader: Option<R>, kind: StreamKind) -> Self {
        let done = reader.is_none();
        Drain {
            reader,
            kind,
            buf: vec![0; 16 * 1024],
            pending: Vec::new(),
            captured: Captured::default(),
            done,
        }
    }

    async fn read(&mut self) -> std::io::Result<usize> {
        match self.reader.as_mut() {
            Some(reader) => reader.read(&mut self.buf).await,
            None => Ok(0),
        }
    }

    fn absorb(
        &mut self,
        read: &std::io::Result<usize>,
        limit: usize,
        on_line: &mut dyn FnMut(StreamKind, &[u8]),
    ) {
        let n = match *read {
            Ok(0) | Err(_) => {
                self.done = true;
                self.reader = None;
                return;
            }
            Ok(n) => n,
        };
        let chunk = &self.buf[..n];
        self.captured.push(chunk, limit);
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..pos]);
            on_line(self.kind, &self.pending);
            self.pending.clear();
            rest = &rest[pos + 1..];
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() >= MAX_LINE {
            on_line(self.kind, &self.pending);
            self.pending.clear();
        }
    }

    fn finish(&mut self, on_line: &mut dyn FnMut(StreamKind, &[u8])) {
        if !self.pending.is_empty() {
            on_line(self.kind, &self.pending);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ProcState;

    #[test]
    fn a_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (bwrap (x) y) S 17 4240 4240 0 -1 4194560 96 0 0 0 0 0 0 0 20 0 1 0";
        assert_eq!(
            ProcState::parse(stat),
            Some(ProcState {
                pid: 4242,
                state: 'S',
                ppid: 17,
                pgrp: 4240
            })
        );
        assert_eq!(ProcState::parse("4242 (sleep"), None);
        assert_eq!(ProcState::parse(""), None);
    }

    #[test]
    fn stopped_and_dead_states() {
        let with = |state| {
            Some(ProcState {
                pid: 1,
                state,
                ppid: 0,
                pgrp: 1,
            })
        };
        assert!(ProcState::is_stopped(with('T')) && ProcState::is_stopped(None));
        assert!(!ProcState::is_stopped(with('R')) && !ProcState::is_stopped(with('D')));
        assert!(ProcState::is_dead(with('Z')) && ProcState::is_dead(None));
        assert!(!ProcState::is_dead(with('T')));
    }
}
