//! What the user pointed at: trace files, run directories, legacy logs or folders of them,
//! expanded to a sorted list of input files of known kinds.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::legacy::logline::starts_with_timestamp;

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputFile {
    /// A session trace (`*.jsonl`).
    Trace(PathBuf),
    /// A legacy text log of the original system.
    LegacyLog(PathBuf),
}

impl InputFile {
    pub fn path(&self) -> &Path {
        match self {
            InputFile::Trace(p) | InputFile::LegacyLog(p) => p,
        }
    }
}

/// An input that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is neither a session trace (JSON Lines) nor a legacy autopilot log")]
    Unknown { path: PathBuf },
    #[error(
        "{path} holds no session traces (*.jsonl, sessions/*.jsonl) and no legacy logs (*.log)"
    )]
    Empty { path: PathBuf },
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> InputError + '_ {
    move |source| InputError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Decides the kind of a file by its extension, else by its first non-blank line.
fn sniff(path: &Path) -> Result<InputFile, InputError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => return Ok(InputFile::Trace(path.to_owned())),
        Some("log") => return Ok(InputFile::LegacyLog(path.to_owned())),
        _ => {}
    }
    let file = fs_err::File::open(path).map_err(read_error(path))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    for _ in 0..16 {
        line.clear();
        // The start of a line decides; an endless line is not read whole.
        if (&mut reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)
            .map_err(read_error(path))?
            == 0
        {
            break;
        }
        let trimmed = line.trim_ascii_start();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with(b"{") {
            return Ok(InputFile::Trace(path.to_owned()));
        }
        if starts_with_timestamp(trimmed) {
            return Ok(InputFile::LegacyLog(path.to_owned()));
        }
        break;
    }
    Err(InputError::Unknown {
        path: path.to_owned(),
    })
}

fn files_in(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(read_error(dir))? {
        let entry = entry.map_err(read_error(dir))?;
        files.push(entry.path());
    }
    files.sort();
    Ok(files)
}

/// Expands paths: a file is taken as it is; a run directory gives its `sessions/*.jsonl`; any
/// other directory gives its `*.jsonl` and `*.log` files and the sessions of run directories
/// directly inside it.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>, InputError> {
    let mut inputs = Vec::new();
    for path in paths {
        if !path.is_dir() {
            if !path.exists() {
                return Err(InputError::Read {
                    path: path.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            inputs.push(sniff(path)?);
            continue;
        }
        let before = inputs.len();
        let sessions = path.join("sessions");
        let dirs = if sessions.is_dir() {
            vec![sessions]
        } else {
            let mut dirs = vec![path.clone()];
            for child in files_in(path)? {
                let child_sessions = child.join("sessions");
                if child_sessions.is_dir() {
                    dirs.push(child_sessions);
                }
            }
            dirs
        };
        for dir in dirs {
            for file in files_in(&dir)? {
                match file.extension().and_then(|e| e.to_str()) {
                    Some("jsonl") if file.is_file() => inputs.push(InputFile::Trace(file)),
                    Some("log") if file.is_file() => inputs.push(InputFile::LegacyLog(file)),
                    _ => {}
                }
            }
        }
        if inputs.len() == before {
            return Err(InputError::Empty { path: path.clone() });
        }
    }
    Ok(inputs)
}
