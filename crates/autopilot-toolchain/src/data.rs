//! Reading the TOML files of `data/` (the library catalog, the TinyML API facts) with errors
//! that name the file, and small text helpers shared by the parsers.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A data file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl DataError {
    pub(crate) fn invalid(path: &Path, message: String) -> DataError {
        DataError::Invalid {
            path: path.to_owned(),
            message,
        }
    }
}

pub(crate) fn read(path: &Path) -> Result<String, DataError> {
    fs_err::read_to_string(path).map_err(|source| DataError::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| DataError::invalid(path, e.to_string()))
}

/// Cuts `text` to at most `max` bytes at a character boundary, marking the cut with `…`.
pub(crate) fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
}
