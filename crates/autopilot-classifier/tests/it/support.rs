//! Helpers: finding the published corpus (required under `CI=true`, skipped elsewhere).

use std::path::PathBuf;

/// `<workspace>/../shared/corpus/autopilot-failures` (or the same under a further ancestor,
/// for git worktrees one level deeper), if present. Under `CI=true` a missing corpus fails the
/// test; elsewhere the test is skipped with a message.
#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on stderr, where the test harness shows it"
)]
pub fn corpus() -> Option<PathBuf> {
    // An explicit corpus wins; a wrong one is an error, not a skip.
    if let Some(dir) = std::env::var_os("AUTOPILOT_CORPUS").map(PathBuf::from) {
        assert!(
            dir.join("raw_logs").is_dir(),
            "AUTOPILOT_CORPUS={} has no raw_logs/",
            dir.display()
        );
        return Some(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let dir = root.join("../shared/corpus/autopilot-failures");
    let found = root
        .ancestors()
        .map(|a| a.join("shared/corpus/autopilot-failures"))
        .find(|d| d.join("raw_logs").is_dir());
    if let Some(found) = found {
        return Some(found);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the published corpus is missing at {} and CI=true requires it",
        dir.display()
    );
    eprintln!(
        "skipped: the published corpus is not at {} (CI=true makes this a failure)",
        dir.display()
    );
    None
}

/// The corpus's raw logs, sorted.
pub fn corpus_logs(corpus: &std::path::Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(corpus.join("raw_logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}
