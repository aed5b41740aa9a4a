//! Program lookup on PATH, once per process: [`which`] remembers where a program was found.
//!
//! Every session picks its backend and fingerprints the tools it probes; walking PATH each time
//! was a dozen failing `stat`s per session (PATH holds shims and tool folders first). A
//! remembered answer is used while that file is still there, and only for the same PATH; a
//! program not found is looked up again next time (it may be installed meanwhile).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

/// Found programs, keyed on the name asked for and the PATH it was looked up in.
type Found = HashMap<(PathBuf, Option<OsString>), PathBuf>;
static FOUND: LazyLock<Mutex<Found>> = LazyLock::new(Mutex::default);

/// Where `program` (a name looked up on PATH, or a path) is, as `which::which` finds it.
pub fn which(program: &Path) -> Option<PathBuf> {
    let key = (program.to_owned(), std::env::var_os("PATH"));
    let known = FOUND
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .cloned();
    // One `stat` instead of the walk; a file that went away is looked up again.
    if let Some(path) = known.filter(|path| path.is_file()) {
        return Some(path);
    }
    let path = which::which(program).ok()?;
    FOUND
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, path.clone());
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_program_is_remembered_and_a_missing_one_is_not() {
        let sh = which(Path::new("sh")).expect("sh is on PATH");
        assert_eq!(which(Path::new("sh")), Some(sh.clone()));
        assert_eq!(sh, which::which("sh").unwrap());
        let missing = Path::new("autopilot-no-such-program-c16");
        assert_eq!(which(missing), None);
        assert!(
            !FOUND
                .lock()
                .unwrap()
                .keys()
                .any(|(program, _)| program == missing)
        );
    }
}
