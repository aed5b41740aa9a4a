//! The one rule for tests that need something this machine may lack: under `CI=true` its
//! absence fails the test; elsewhere the test returns early, says why on stderr and records the
//! skip in a log that `scripts/test.sh` summarises (libtest itself only shows "ok").

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Whether the tests run under CI (`CI=true`), where nothing may be skipped.
pub fn on_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `true` when `available`; otherwise fails under `CI=true`, and elsewhere records a skip
/// ("`what` is missing") and returns `false` so the test can return.
pub fn require(what: &str, available: bool) -> bool {
    require_with(what, available, on_ci(), &skip_log())
}

fn require_with(what: &str, available: bool, ci: bool, log: &Path) -> bool {
    if available {
        return true;
    }
    assert!(!ci, "{what} is missing and CI=true requires it");
    skip_into(log, &format!("{what} is missing"));
    false
}

/// Records that the running test is skipped for `reason`: a line on stderr (shown with
/// `--nocapture`) and a line in [`skip_log`].
pub fn skip(reason: &str) {
    skip_into(&skip_log(), reason);
}

#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on stderr, where the test harness shows it"
)]
fn skip_into(path: &Path, reason: &str) {
    eprintln!("skipped: {reason} (CI=true makes this a failure)");
    let line = format!("{}\t{reason}\n", test_name());
    if let Some(parent) = path.parent() {
        let _ = fs_err::create_dir_all(parent);
    }
    // One short `write` to a file opened for appending: lines of parallel tests do not mix.
    if let Ok(mut file) = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Where skips are recorded: `$AUTOPILOT_SKIP_LOG`, else `<target>/autopilot-skips.log` beside
/// the test binary (`<target>/<profile>/deps/<binary>`).
pub fn skip_log() -> PathBuf {
    if let Some(path) = std::env::var_os("AUTOPILOT_SKIP_LOG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    target_of(&std::env::current_exe().unwrap_or_default()).join("autopilot-skips.log")
}

/// The target folder of a test binary `<target>/[<triple>/]<profile>/deps/<binary>`.
fn target_of(exe: &Path) -> PathBuf {
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "deps"))
        .and_then(|deps| deps.parent()?.parent())
        .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
}

/// `<package> <test path>`: libtest runs each test on a thread named after it.
fn test_name() -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "?".to_owned());
    let thread = std::thread::current();
    format!("{package} {}", thread.name().unwrap_or("<unnamed thread>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_recorded_with_the_test_name_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/skips.log");
        assert!(require_with("the thing", true, false, &log));
        assert!(!log.exists(), "nothing missing, nothing recorded");
        assert!(!require_with("the thing", false, false, &log));
        assert!(!require_with("the other thing", false, false, &log));
        let text = fs_err::read_to_string(&log).unwrap();
        let name = "skip::tests::a_skip_is_recorded_with_the_test_name_and_the_reason";
        assert_eq!(
            text,
            format!(
                "autopilot-testkit {name}\tthe thing is missing\n\
                 autopilot-testkit {name}\tthe other thing is missing\n"
            )
        );
    }

    #[test]
    fn under_ci_a_missing_requirement_fails_and_is_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skips.log");
        let outcome = std::panic::catch_unwind(|| require_with("the thing", false, true, &log));
        let message = outcome.unwrap_err();
        assert_eq!(
            message.downcast_ref::<String>().map(String::as_str),
            Some("the thing is missing and CI=true requires it")
        );
        assert!(!log.exists());
        assert!(require_with("the thing", true, true, &log));
    }

    #[test]
    fn the_skip_log_lives_in_the_target_folder_of_the_test_binary() {
        assert_eq!(
            target_of(Path::new("/w/target/debug/deps/it-0123")),
            Path::new("/w/target")
        );
        assert_eq!(
            target_of(Path::new(
                "/w/target/x86_64-unknown-linux-gnu/debug/deps/it-0123"
            )),
            Path::new("/w/target/x86_64-unknown-linux-gnu")
        );
    }
}
