//! Errors of user-written TOML files (app files, policies) that name the file and the key.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// One thing wrong with one key of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// Dotted key as the user would write it (`model.input.shape`, `dataset[1].file`).
    pub key: String,
    pub message: String,
}

impl KeyProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

/// A config file that cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or a value of the wrong type.
    #[error("{}", syntax_message(path, key.as_deref(), *line, message))]
    Syntax {
        path: PathBuf,
        key: Option<String>,
        line: Option<usize>,
        message: String,
    },
    /// Well-formed TOML whose values break the rules.
    #[error("{}", invalid_message(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<KeyProblem>,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Syntax { path, .. }
            | ConfigError::Invalid { path, .. } => path,
        }
    }

    /// The keys named by the error (empty for read errors and keyless syntax errors).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            ConfigError::Read { .. } => Vec::new(),
            ConfigError::Syntax { key, .. } => key.iter().map(String::as_str).collect(),
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.key.as_str()).collect()
            }
        }
    }
}

fn syntax_message(path: &Path, key: Option<&str>, line: Option<usize>, message: &str) -> String {
    let mut out = path.display().to_string();
    if let Some(line) = line {
        let _ = write!(out, ":{line}");
    }
    if let Some(key) = key {
        let _ = write!(out, ": key `{key}`");
    }
    out.push_str(": ");
    out.push_str(message);
    out
}

fn invalid_message(path: &Path, problems: &[KeyProblem]) -> String {
    let mut out = path.display().to_string();
    if let [only] = problems {
        let _ = write!(out, ": {only}");
    } else {
        let _ = write!(out, ": {} problems", problems.len());
        for problem in problems {
            let _ = write!(out, "\n  {problem}");
        }
    }
    out
}

/// Reads a file, mapping the error to [`ConfigError::Read`].
pub(crate) fn read_to_string(path: &Path) -> Result<String, ConfigError> {
    fs_err::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses TOML into `T`, naming the line and (where it can be found) the key of any error.
pub(crate) fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let offset = error.span().map(|span| span.start);
        let line = offset.map(|offset| crate::cpp::line_of(text, offset) as usize);
        let message = error.message().trim().to_owned();
        let key = offset.and_then(|offset| key_at(text, offset, &message));
        ConfigError::Syntax {
            path: path.to_owned(),
            key,
            line,
            message,
        }
    })
}

/// The dotted key at a byte offset of a TOML text: the table header above the offset plus
/// the key on the offset's line, or the field a "missing field" message names.
fn key_at(text: &str, offset: usize, message: &str) -> Option<String> {
    let mut table = String::new();
    let mut line_start = 0;
    let mut current_line = "";
    for line in text.split_inclusive('\n') {
        let end = line_start + line.len();
        let trimmed = line.trim();
        if trimmed.starts_with('[') && line_start <= offset {
            table.clear();
            table.push_str(
                trimmed
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or_default()
                    .trim(),
            );
        }
        if offset < end || end == text.len() {
            current_line = line;
            break;
        }
        line_start = end;
    }
    let join = |key: &str| {
        if table.is_empty() {
            key.to_owned()
        } else {
            format!("{table}.{key}")
        }
    };
    if let Some(field) = backticked_after(message, "missing field") {
        return Some(join(field));
    }
    let (left, _) = current_line.split_once('=')?;
    let key = left.trim().trim_matches('"');
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    valid.then(|| join(key))
}

/// The first `` `word` `` after `marker` in `message`.
fn backticked_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    Some(&rest[start..start + len])
}
