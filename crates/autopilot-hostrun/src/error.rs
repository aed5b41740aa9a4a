//! The host run's infrastructure errors (a failed build or a bad run is an outcome, not these).

use std::path::PathBuf;

use autopilot_toolchain::ProcessError;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("failed to run `{command}`")]
    Process {
        command: String,
        #[source]
        source: ProcessError,
    },
    #[error("`{command}` failed (exit {code:?}): {output}")]
    Tool {
        command: String,
        code: Option<i32>,
        output: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("tfmicro 0.1.0 checksum mismatch: expected {expected}, got {actual} ({path})")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("the host TFLM library is not built (run `bash scripts/setup-host-tflm.sh`)")]
    LibraryMissing,
}

impl HostError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> HostError {
        let path = path.into();
        move |source| HostError::Io { path, source }
    }
}
