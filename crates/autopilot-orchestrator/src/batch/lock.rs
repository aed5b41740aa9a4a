//! The lock of a run directory: one `batch` or `replay` writes a run directory at a time.
//!
//! The lock is a file, `<run-dir>/autopilot.lock`, created exclusively and holding its holder
//! (pid, host, command, start time) as JSON. It is removed when the [`RunDirLock`] is dropped.
//! A lock left by a process that died (same host, no such pid) is taken over; a lock held by a
//! live process, or by another host (whose processes cannot be seen), is an error naming it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name inside a run directory.
pub(crate) const LOCK_FILE: &str = "autopilot.lock";

/// Who holds a run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    /// The command line, e.g. `autopilot batch exp.toml`.
    pub command: String,
    /// RFC 3339.
    pub started: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} (`{}`, started {})",
            self.pid, self.host, self.command, self.started
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir} is in use by {holder}; wait for it to finish, or choose another --out (if that process is gone, delete {lock})"
    )]
    Held {
        dir: PathBuf,
        lock: PathBuf,
        holder: Box<LockHolder>,
    },
    #[error("cannot lock {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A held lock; dropping it releases the run directory.
#[derive(Debug)]
pub struct RunDirLock {
    path: PathBuf,
    holder: LockHolder,
}

impl RunDirLock {
    /// Locks `dir` (created if missing) for `command`, started at `started`. Returns the
    /// holder of a stale lock that was taken over, for the caller to mention.
    pub fn acquire(
        dir: &Path,
        command: &str,
        started: &str,
    ) -> Result<(RunDirLock, Option<LockHolder>), LockError> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| LockError::Io { path, source }
        };
        fs_err::create_dir_all(dir).map_err(io_error(dir))?;
        let path = dir.join(LOCK_FILE);
        let holder = LockHolder {
            pid: std::process::id(),
            host: host_name(),
            command: command.to_owned(),
            started: started.to_owned(),
        };
        let mut taken_over = None;
        // Twice at most: once, and once more after removing a stale lock.
        for _ in 0..2 {
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let json = serde_json::to_vec_pretty(&holder).map_err(io::Error::other);
                    json.and_then(|json| file.write_all(&json))
                        .map_err(io_error(&path))?;
                    return Ok((RunDirLock { path, holder }, taken_over));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    let existing = read_holder(&path)?;
                    if !is_stale(&existing, &holder.host) || taken_over.is_some() {
                        return Err(LockError::Held {
                            dir: dir.to_owned(),
                            lock: path,
                            holder: Box::new(existing),
                        });
                    }
                    fs_err::remove_file(&path).map_err(io_error(&path))?;
                    taken_over = Some(existing);
                }
                Err(source) => return Err(LockError::Io { path, source }),
            }
        }
        // The second try lost to another process that took the stale lock first.
        let existing = read_holder(&path)?;
        Err(LockError::Held {
            dir: dir.to_owned(),
            lock: path,
            holder: Box::new(existing),
        })
    }

    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for RunDirLock {
    fn drop(&mut self) {
        // Only our own lock: a process that took it over from us (it thought us dead) keeps it.
        if read_holder(&self.path).is_ok_and(|h| h == self.holder) {
            let _ = fs_err::remove_file(&self.path);
        }
    }
}

fn read_holder(path: &Path) -> Result<LockHolder, LockError> {
    let text = fs_err::read_to_string(path).map_err(|source| LockError::Io {
        path: path.to_owned(),
        source,
    })?;
    // A lock file cut short (its writer died while writing it) still holds the directory,
    // held by nobody we can name.
    Ok(serde_json::from_str(&text).unwrap_or_else(|_| LockHolder {
        pid: 0,
        host: "an unknown host".into(),
        command: "unknown".into(),
        started: "unknown".into(),
    }))
}

/// A lock is stale when it was taken on this host by a process that no longer exists.
/// Without `/proc` (not Linux) no pid can be checked and every lock is live.
fn is_stale(holder: &LockHolder, host: &str) -> bool {
    holder.host == host
        && holder.pid != 0
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{}", holder.pid)).exists()
}

fn host_name() -> String {
    fs_err::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs_err::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_lock_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, stale) = RunDirLock::acquire(dir.path(), "first", "t0").unwrap();
        assert!(stale.is_none());
        let err = RunDirLock::acquire(dir.path(), "second", "t1").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())) && text.contains("`first`"),
            "{text}"
        );
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        let (_again, stale) = RunDirLock::acquire(dir.path(), "second", "t1").unwrap();
        assert!(stale.is_none());
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let dead = LockHolder {
            pid: 999_999_999,
            host: host_name(),
            command: "autopilot batch old.toml".into(),
            started: "t0".into(),
        };
        fs_err::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let (lock, stale) = RunDirLock::acquire(dir.path(), "new", "t1").unwrap();
        assert_eq!(stale, Some(dead.clone()));
        assert_eq!(lock.holder().command, "new");
        // Another host's lock cannot be checked: it holds.
        drop(lock);
        let other = LockHolder {
            host: "elsewhere".into(),
            ..dead
        };
        fs_err::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&other).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            RunDirLock::acquire(dir.path(), "new", "t1"),
            Err(LockError::Held { .. })
        ));
    }
}
