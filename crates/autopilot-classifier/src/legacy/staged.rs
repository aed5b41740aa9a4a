//! Writing imported sessions into a run directory, all or nothing: a staging folder inside the
//! run directory, moved into `sessions/` on commit and removed when dropped without one.

use std::io;
use std::path::{Path, PathBuf};

use autopilot_trace::SessionId;

use crate::legacy::import::{ImportError, LegacySession};

/// An import into a run directory that is all or nothing: sessions are written to a staging
/// folder inside the run directory and moved into `sessions/` only by [`StagedImport::commit`];
/// dropped without a commit (an error, a panic), it removes what it wrote.
#[derive(Debug)]
pub struct StagedImport {
    sessions: PathBuf,
    staging: PathBuf,
    overwrite: bool,
    /// Session id → the log it came from, to refuse a second session with the same id.
    ids: std::collections::HashMap<SessionId, String>,
    committed: bool,
}

impl StagedImport {
    /// Starts an import into `<run_dir>/sessions/`; existing session files are an error at
    /// [`StagedImport::add`] unless `overwrite`.
    pub fn new(run_dir: &Path, overwrite: bool) -> Result<Self, ImportError> {
        let sessions = run_dir.join("sessions");
        fs_err::create_dir_all(&sessions).map_err(|source| ImportError::Write {
            path: sessions.clone(),
            source,
        })?;
        // Beside `sessions/`, so a rename never crosses a file system and readers of
        // `sessions/*.jsonl` never see a half-written file.
        let staging = run_dir.join(format!(".import-{}", std::process::id()));
        if staging.exists() {
            let _ = fs_err::remove_dir_all(&staging);
        }
        fs_err::create_dir_all(&staging).map_err(|source| ImportError::Write {
            path: staging.clone(),
            source,
        })?;
        Ok(StagedImport {
            sessions,
            staging,
            overwrite,
            ids: std::collections::HashMap::new(),
            committed: false,
        })
    }

    /// Writes one session to the staging folder.
    pub fn add(&mut self, session: &LegacySession) -> Result<(), ImportError> {
        if let Some(first) = self.ids.insert(session.id.clone(), session.file.clone()) {
            return Err(ImportError::DuplicateId {
                id: session.id.clone(),
                first,
                second: session.file.clone(),
            });
        }
        let name = format!("{}.jsonl", session.id);
        if !self.overwrite && self.sessions.join(&name).exists() {
            return Err(ImportError::Exists {
                path: self.sessions.join(name),
            });
        }
        let path = self.staging.join(name);
        let file = fs_err::File::create(&path).map_err(|source| ImportError::Write {
            path: path.clone(),
            source,
        })?;
        session
            .write_jsonl(io::BufWriter::with_capacity(64 * 1024, file))
            .map_err(|source| ImportError::Write { path, source })
    }

    /// Sessions written so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Moves every staged session into `sessions/`. On a failure the sessions moved so far
    /// are taken back (and the files they replaced put back), so the run directory is as it
    /// was before the import.
    pub fn commit(mut self) -> Result<usize, ImportError> {
        let replaced = self.staging.join("replaced");
        let mut moved: Vec<(PathBuf, PathBuf, bool)> = Vec::with_capacity(self.ids.len());
        let mut result = Ok(());
        for id in self.ids.keys() {
            let name = format!("{id}.jsonl");
            let (from, to) = (self.staging.join(&name), self.sessions.join(&name));
            let step = || -> Result<bool, ImportError> {
                let write = |path: &Path| {
                    let path = path.to_owned();
                    move |source| ImportError::Write { path, source }
                };
                // Keep a file we replace until the whole import is in place.
                let had = to.exists();
                if had {
                    if !self.overwrite {
                        return Err(ImportError::Exists { path: to.clone() });
                    }
                    fs_err::create_dir_all(&replaced).map_err(write(&replaced))?;
                    fs_err::rename(&to, replaced.join(&name)).map_err(write(&to))?;
                }
                if let Err(err) = fs_err::rename(&from, &to) {
                    if had {
                        let _ = fs_err::rename(replaced.join(&name), &to);
                    }
                    return Err(write(&to)(err));
                }
                Ok(had)
            };
            match step() {
                Ok(had) => moved.push((from, to, had)),
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        if let Err(err) = result {
            for (from, to, had) in moved.iter().rev() {
                let _ = fs_err::rename(to, from);
                if *had {
                    let name = to.file_name().unwrap_or_default();
                    let _ = fs_err::rename(replaced.join(name), to);
                }
            }
            return Err(err);
        }
        self.committed = true;
        let _ = fs_err::remove_dir_all(&self.staging);
        Ok(moved.len())
    }
}

impl Drop for StagedImport {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs_err::remove_dir_all(&self.staging);
        }
    }
}
