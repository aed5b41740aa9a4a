//! The one corpus finder: where the published logs of the original autopilot are.

use std::path::{Path, PathBuf};

/// The corpus folder (it holds `raw_logs/`): `$AUTOPILOT_CORPUS` if set, else
/// `shared/corpus/autopilot-failures` in the nearest ancestor of the workspace root that has it
/// (`<root>/../shared` for the main checkout, one level further up for a worktree under `wt/`).
/// A missing corpus fails the test under `CI=true` and skips it elsewhere ([`crate::require`]).
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
    let root = crate::workspace_root();
    let found = root
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/corpus/autopilot-failures"))
        .find(|dir| dir.join("raw_logs").is_dir());
    let what = format!(
        "the published corpus ({}, or set AUTOPILOT_CORPUS)",
        root.join("../shared/corpus/autopilot-failures").display()
    );
    if crate::require(&what, found.is_some()) {
        found
    } else {
        None
    }
}

/// The corpus's raw logs (`raw_logs/*.log`), sorted.
pub fn corpus_logs(corpus: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = fs_err::read_dir(corpus.join("raw_logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}
