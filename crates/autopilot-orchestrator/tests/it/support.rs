//! Helpers shared by the tests: workspace paths, targets and the host-check fixtures.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn examples_dir() -> PathBuf {
    workspace_root().join("examples")
}

/// A target of `targets/`.
pub fn load_target(name: &str) -> autopilot_toolchain::Target {
    autopilot_toolchain::target::load_target(&workspace_root().join(format!("targets/{name}.toml")))
        .unwrap()
}

/// The host-check fixtures (`data/fixtures/host/{probes,mutants}`).
pub fn host_fixtures(kind: &str) -> PathBuf {
    workspace_root().join("data/fixtures/host").join(kind)
}

/// A mutant sketch without its two-line `// MUTANT …` header.
pub fn mutant_body(name: &str) -> String {
    let path = host_fixtures("mutants").join(format!("{name}/{name}.ino"));
    let text = fs_err::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!("// MUTANT `{name}`: ")),
        "{}",
        path.display()
    );
    text.splitn(3, '\n').nth(2).unwrap().to_owned()
}

pub fn prompts_dir() -> PathBuf {
    workspace_root().join("prompts")
}
