//! Tool version probes (`arduino-builder -version`, `avr-gcc -dumpversion`) run once per
//! process and remembered across runs in a small file, keyed on the tool itself.
//!
//! Every session reads the versions it builds with (they are part of the compile-cache key),
//! and re-running the probes was most of a cached compile's cost. A probe's answer is a fact
//! about one binary, so the key is the program's canonical path, modification time and size
//! plus the arguments: replacing or upgrading the tool changes the key. Only successful runs
//! are remembered; a failing probe runs again next time. [`forget`] drops everything (memory
//! and file) after a library install, so nothing read before an install is trusted after it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::OnceCell;

use crate::process::{self, ProcessError, ProcessOutput, ProcessSpec};

/// The file, under the compile-cache folder, that keeps probe answers between runs.
pub const PROBES_FILE: &str = "tool-probes.json";

/// What a probe printed: remembered (a successful run, now or before) or a fresh run that did
/// not succeed (kept whole for the error that reports it).
#[derive(Debug)]
pub enum ProbeRun {
    Known(String),
    Failed(ProcessOutput),
}

/// Answers of this process, by key; one cell per key so concurrent sessions run a probe once.
type Memo = HashMap<String, Arc<OnceCell<String>>>;
static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);

fn memo() -> std::sync::MutexGuard<'static, Memo> {
    MEMO.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `program args` (timeout 20 s) unless this process or, with `persist` (the
/// compile-cache folder), an earlier run already has the answer for this very binary. A
/// program that cannot be found or run is the runner's error, as before.
pub async fn probe(
    program: &Path,
    args: &[&str],
    persist: Option<&Path>,
) -> Result<ProbeRun, ProcessError> {
    let Some(key) = key(program, args) else {
        // No fingerprint (not found, no metadata): run it and let the runner report.
        return Ok(classify(run(program, args).await?));
    };
    let cell = memo().entry(key.clone()).or_default().clone();
    let mut failed = None;
    let answer = cell
        .get_or_try_init(|| async {
            if let Some(known) = persist.and_then(|dir| load(dir).remove(&key)) {
                return Ok(known);
            }
            match classify(run(program, args).await.map_err(Some)?) {
                ProbeRun::Known(text) => {
                    if let Some(dir) = persist {
                        store(dir, &key, &text);
                    }
                    Ok(text)
                }
                ProbeRun::Failed(output) => {
                    failed = Some(output);
                    Err(None)
                }
            }
        })
        .await;
    match answer {
        Ok(text) => Ok(ProbeRun::Known(text.clone())),
        Err(Some(error)) => Err(error),
        Err(None) => Ok(ProbeRun::Failed(failed.expect("a failed run is kept"))),
    }
}

/// Forgets every remembered answer, in this process and in `persist`'s file (after a library
/// install: the next probe runs again).
pub fn forget(persist: Option<&Path>) {
    memo().clear();
    if let Some(dir) = persist {
        let _ = fs_err::remove_file(dir.join(PROBES_FILE));
    }
}

async fn run(program: &Path, args: &[&str]) -> Result<ProcessOutput, ProcessError> {
    process::run(
        &ProcessSpec::new(program)
            .args(args.iter().copied())
            .timeout(Duration::from_secs(20)),
    )
    .await
}

fn classify(output: ProcessOutput) -> ProbeRun {
    if output.success() {
        ProbeRun::Known(output.stdout.text().into_owned())
    } else {
        ProbeRun::Failed(output)
    }
}

/// `canonical path|mtime ns|size|args`, or `None` when the program cannot be looked at.
fn key(program: &Path, args: &[&str]) -> Option<String> {
    let path: PathBuf = crate::lookup::which(program)?;
    let path = fs_err::canonicalize(path).ok()?;
    let meta = fs_err::metadata(&path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!(
        "{}|{}|{}|{}",
        path.display(),
        mtime.as_nanos(),
        meta.len(),
        args.join(" ")
    ))
}

fn load(dir: &Path) -> BTreeMap<String, String> {
    fs_err::read(dir.join(PROBES_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Adds one answer to the file: written whole to a temporary file, then renamed, so a reader
/// never sees half a file. A write that fails only costs a probe next run.
fn store(dir: &Path, key: &str, text: &str) {
    let mut known = load(dir);
    known.insert(key.to_owned(), text.to_owned());
    let Ok(json) = serde_json::to_vec_pretty(&known) else {
        return;
    };
    let temp = dir.join(format!("{PROBES_FILE}.{}.tmp", std::process::id()));
    if fs_err::create_dir_all(dir).is_ok() && fs_err::write(&temp, json).is_ok() {
        let _ = fs_err::rename(&temp, dir.join(PROBES_FILE));
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn script(path: &Path, version: &str) {
        fs_err::write(path, format!("#!/bin/sh\necho {version}\n")).unwrap();
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn set_modified(path: &Path, time: std::time::SystemTime) {
        let file = fs_err::OpenOptions::new().write(true).open(path).unwrap();
        file.file().set_modified(time).unwrap();
    }

    fn known(run: ProbeRun) -> String {
        match run {
            ProbeRun::Known(text) => text.trim().to_owned(),
            ProbeRun::Failed(output) => panic!("probe failed: {output:?}"),
        }
    }

    #[tokio::test]
    async fn a_probe_runs_once_per_binary_and_again_when_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        let persist = dir.path().join("cache");
        script(&tool, "1.0");
        assert_eq!(
            known(probe(&tool, &["-v"], Some(&persist)).await.unwrap()),
            "1.0"
        );
        assert!(persist.join(PROBES_FILE).is_file());

        // The same binary again: remembered (a tool that now printed something else would
        // still be the old answer, since its path, time and size did not change).
        let unchanged = fs_err::metadata(&tool).unwrap().modified().unwrap();
        script(&tool, "9.9");
        set_modified(&tool, unchanged);
        assert_eq!(
            known(probe(&tool, &["-v"], Some(&persist)).await.unwrap()),
            "1.0"
        );

        // Upgraded (new modification time and size): the key changes, the probe runs.
        script(&tool, "2.0.1");
        let later = unchanged + Duration::from_secs(5);
        set_modified(&tool, later);
        assert_eq!(
            known(probe(&tool, &["-v"], Some(&persist)).await.unwrap()),
            "2.0.1"
        );
    }

    #[tokio::test]
    async fn the_file_answers_a_new_process_until_an_install_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        let persist = dir.path().join("cache");
        script(&tool, "3.0");
        let key = key(&tool, &["--version"]).unwrap();
        // Another run left an answer for this very binary: no probe runs.
        store(&persist, &key, "from-file\n");
        assert_eq!(
            known(probe(&tool, &["--version"], Some(&persist)).await.unwrap()),
            "from-file"
        );
        forget(Some(&persist));
        assert!(!persist.join(PROBES_FILE).exists());
        assert_eq!(
            known(probe(&tool, &["--version"], Some(&persist)).await.unwrap()),
            "3.0"
        );
    }

    #[tokio::test]
    async fn a_failing_probe_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        fs_err::write(&tool, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
        fs_err::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = probe(&tool, &["-x"], Some(dir.path())).await.unwrap();
        assert!(matches!(run, ProbeRun::Failed(ref output) if output.exit_code() == Some(3)));
        assert!(load(dir.path()).is_empty());
    }
}
