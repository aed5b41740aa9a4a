//! Exit codes and command errors, in one place: [`ExitStatus::meaning`] is the exit-code table
//! (`--help` shows it, a test holds README.md's copy to it) and [`CliError::exit_status`] maps
//! every typed command error to its code in one exhaustive match (as cargo-nextest's
//! `process_exit_code`). No error gets a code by default: each `Err` a command returns says
//! which kind it is.

use std::fmt::Write as _;
use std::io::{self, Write};

/// What a command's run came to: the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success = 0,
    /// 1: the job ran and its result is a failure.
    Failure = 1,
    /// 2: usage, input or configuration error.
    InputError = 2,
    /// 3: infrastructure unavailable.
    Unavailable = 3,
}

impl ExitStatus {
    /// Every exit code, in order.
    pub const ALL: [ExitStatus; 4] = [
        ExitStatus::Success,
        ExitStatus::Failure,
        ExitStatus::InputError,
        ExitStatus::Unavailable,
    ];

    /// The exit-code table: what each code means, for every command.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "success (also when the reader of stdout stops early, as `head` does: nothing more is written and nothing is said)"
            }
            ExitStatus::Failure => {
                "the job ran and its result is a failure (generation exhausted, compile failed)"
            }
            ExitStatus::InputError => {
                "usage, input or configuration error (bad arguments, unreadable or invalid input, a rejected LLM request, a locked run directory)"
            }
            ExitStatus::Unavailable => {
                "infrastructure unavailable (LLM backend unreachable after retries, toolchain, sandbox or async runtime missing, stdout cannot be written; `autopilot doctor`: the target's toolchain missing, or no LLM with `--require-llm`)"
            }
        }
    }

    /// The table as `--help` shows it.
    pub fn help_table() -> String {
        let mut text = String::from("Exit codes:\n");
        for status in ExitStatus::ALL {
            let _ = writeln!(text, "  {}  {}", status as u8, status.meaning());
        }
        text
    }

    /// The table as README.md holds it (its "Exit codes" section).
    pub fn markdown_table() -> String {
        let mut text = String::from("| Code | Meaning |\n|---|---|\n");
        for status in ExitStatus::ALL {
            let _ = writeln!(text, "| {} | {} |", status as u8, status.meaning());
        }
        text
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}

/// Why a command stopped before its job came to a result. Results (a failed compile, an
/// exhausted session, a doctor finding) are `Ok(ExitStatus)`, never errors.
#[derive(Debug)]
pub enum CliError {
    /// An argument, an input file, a setting or the state of an output folder is wrong; the
    /// message names it.
    Input(anyhow::Error),
    /// The LLM refused the request and retrying cannot cure it (bad key, unknown model).
    LlmRejected(anyhow::Error),
    /// The LLM backend stayed unreachable after the retries.
    LlmUnavailable(anyhow::Error),
    /// A tool the job needs is missing or does not work: compiler, sandbox, host compiler,
    /// host TFLM library.
    ToolUnavailable(anyhow::Error),
    /// A file the command itself wrote (a replayed trace) cannot be read back.
    Storage(anyhow::Error),
    /// The process cannot start its async runtime.
    Runtime(anyhow::Error),
    /// A resource built into the binary is broken (a bug); reported as unavailable.
    Internal(anyhow::Error),
    /// Writing the command's output to stdout failed.
    Output(io::Error),
}

impl CliError {
    /// The exit code of each kind of error: the one place that decides it.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CliError::Input(_) | CliError::LlmRejected(_) => ExitStatus::InputError,
            CliError::LlmUnavailable(_)
            | CliError::ToolUnavailable(_)
            | CliError::Storage(_)
            | CliError::Runtime(_)
            | CliError::Internal(_)
            | CliError::Output(_) => ExitStatus::Unavailable,
        }
    }

    /// Whether the reader of stdout went away (`| head`): not a failure, nothing to say.
    fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }

    /// Prints `error: …` with its causes on stderr and returns the exit status; a closed
    /// stdout is quiet and exits 0, as ripgrep does: the reader chose to stop.
    pub fn report(self) -> ExitStatus {
        if self.is_broken_pipe() {
            return ExitStatus::Success;
        }
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(stderr, "error: {self}");
        self.exit_status()
    }
}

/// The message with its causes (`a: b: c`).
impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Input(error)
            | CliError::LlmRejected(error)
            | CliError::LlmUnavailable(error)
            | CliError::ToolUnavailable(error)
            | CliError::Storage(error)
            | CliError::Runtime(error)
            | CliError::Internal(error) => write!(f, "{error:#}"),
            CliError::Output(error) => write!(f, "cannot write to stdout: {error}"),
        }
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// A sketch or folder problem is bad input; a tool that cannot run or answers nonsense is
/// unavailable infrastructure.
impl From<autopilot_toolchain::CompileError> for CliError {
    fn from(error: autopilot_toolchain::CompileError) -> Self {
        use autopilot_toolchain::CompileError;
        match error {
            CompileError::Sketch(_)
            | CompileError::SketchLayout { .. }
            | CompileError::ForeignBuildDir { .. }
            | CompileError::Io { .. } => CliError::Input(error.into()),
            CompileError::Process(_)
            | CompileError::Unrecognized { .. }
            | CompileError::Tool { .. }
            | CompileError::Unsupported { .. } => CliError::ToolUnavailable(error.into()),
        }
    }
}

/// Still failing after the retries: the backend is unavailable. A fault that retrying cannot
/// cure is a problem with the request or the settings.
impl From<autopilot_llm::LlmError> for CliError {
    fn from(error: autopilot_llm::LlmError) -> Self {
        if error.is_transient() {
            CliError::LlmUnavailable(error.into())
        } else {
            CliError::LlmRejected(error.into())
        }
    }
}

/// Says which kind of [`CliError`] a failed result is.
pub trait ErrorKind<T> {
    /// An argument, input file or setting is wrong.
    fn input_error(self) -> CliResult<T>;
    /// A tool the job needs is missing or does not work.
    fn tool_unavailable(self) -> CliResult<T>;
    /// A built-in resource is broken.
    fn internal_error(self) -> CliResult<T>;
}

impl<T, E: Into<anyhow::Error>> ErrorKind<T> for Result<T, E> {
    fn input_error(self) -> CliResult<T> {
        self.map_err(|e| CliError::Input(e.into()))
    }

    fn tool_unavailable(self) -> CliResult<T> {
        self.map_err(|e| CliError::ToolUnavailable(e.into()))
    }

    fn internal_error(self) -> CliResult<T> {
        self.map_err(|e| CliError::Internal(e.into()))
    }
}

/// A failed write to stdout is an output error, whatever wrote it.
pub trait OutputError<T> {
    fn output_error(self) -> CliResult<T>;
}

impl<T> OutputError<T> for io::Result<T> {
    fn output_error(self) -> CliResult<T> {
        self.map_err(CliError::Output)
    }
}

impl<T> OutputError<T> for serde_json::Result<T> {
    fn output_error(self) -> CliResult<T> {
        self.map_err(|e| CliError::Output(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README.md's exit-code table is this file's, word for word.
    #[test]
    fn the_readme_table_is_the_one_table() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&ExitStatus::markdown_table()),
            "README.md's \"Exit codes\" table differs from src/exit.rs; replace it with:\n{}",
            ExitStatus::markdown_table()
        );
    }

    #[test]
    fn a_closed_stdout_is_success_and_other_write_errors_are_not() {
        let closed = CliError::Output(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(closed.is_broken_pipe());
        assert_eq!(closed.report(), ExitStatus::Success);
        let full = CliError::Output(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!full.is_broken_pipe());
        assert_eq!(full.exit_status(), ExitStatus::Unavailable);
    }
}
