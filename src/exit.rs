//! Exit codes, documented in one place (and in README.md), and the error type that carries one.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | the job ran and its result is a failure (generation exhausted, compile failed, invalid trace content found by a check that reports failures as results) |
//! | 2 | usage, input or configuration error (bad arguments, unreadable or invalid input file) |
//! | 3 | infrastructure unavailable (LLM backend unreachable after retries, toolchain missing) |

use std::io::Write;
use std::process::ExitCode;

/// What a command's run came to.
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

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

/// An error with the exit status it maps to.
#[derive(Debug)]
pub struct CliError {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl CliError {
    /// Prints `error: …` with its causes on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(stderr, "error: {:#}", self.error);
        self.status.into()
    }
}

/// Errors without an explicit status are input errors: what fails before any job runs is
/// almost always a file or a setting the user gave.
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError {
            status: ExitStatus::InputError,
            error,
        }
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// Attaches an exit status to an error.
pub trait WithStatus<T> {
    fn input_error(self) -> CliResult<T>;
    #[allow(
        dead_code,
        reason = "used by the commands that reach LLMs and toolchains"
    )]
    fn unavailable(self) -> CliResult<T>;
}

impl<T, E: Into<anyhow::Error>> WithStatus<T> for Result<T, E> {
    fn input_error(self) -> CliResult<T> {
        self.map_err(|e| CliError {
            status: ExitStatus::InputError,
            error: e.into(),
        })
    }

    fn unavailable(self) -> CliResult<T> {
        self.map_err(|e| CliError {
            status: ExitStatus::Unavailable,
            error: e.into(),
        })
    }
}
