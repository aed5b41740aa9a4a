//! Hygiene the reviewers would otherwise check by hand: every Rust file opens with a `//!` line
//! saying its job, every crate is in ARCHITECTURE.md's code map and crates/README.md (one line
//! each), and every `[workspace.dependencies]` entry is used by a member.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, skipping build outputs (`target/`) and hidden folders.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            // Build outputs and cargo-fuzz's corpora are not our sources.
            if name != "target" && name != "corpus" && name != "artifacts" && !name.starts_with('.')
            {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The files of `files` whose first line is not a `//!` comment.
fn without_module_doc(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter(|path| {
            let text = fs_err::read_to_string(path).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing = without_module_doc(&files);
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying their one job:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_module_doc_check_catches_a_file_without_one() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("good.rs"),
        "//! Does one thing.\nfn f() {}\n",
    )
    .unwrap();
    fs_err::write(
        dir.path().join("bad.rs"),
        "// not a module doc\nfn f() {}\n",
    )
    .unwrap();
    let mut files = Vec::new();
    rust_files(dir.path(), &mut files);
    let missing = without_module_doc(&files);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].ends_with("bad.rs"), "{missing:?}");
}

/// The package folders under `crates/`.
fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What is wrong with the docs' lists of crates: each crate needs a `### \`crates/<name>\``
/// section in ARCHITECTURE.md and exactly one one-line `- **<name>** — …` entry in
/// crates/README.md.
fn crate_listing_problems(crates: &[String], architecture: &str, readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for name in crates {
        if !architecture.contains(&format!("### `crates/{name}`")) {
            problems.push(format!(
                "ARCHITECTURE.md has no `### \\`crates/{name}\\`` section"
            ));
        }
        let entries = readme
            .lines()
            .filter(|line| line.starts_with(&format!("- **{name}**")))
            .count();
        if entries != 1 {
            problems.push(format!(
                "crates/README.md lists {name} {entries} times, not once"
            ));
        }
    }
    for line in readme.lines() {
        // A list entry that runs on to an indented line is more than one line.
        if line.starts_with("  ") {
            problems.push(format!(
                "crates/README.md: an entry runs over one line: {line:?}"
            ));
        }
    }
    problems
}

#[test]
fn every_crate_is_in_the_code_map_and_the_crates_readme_on_one_line() {
    let crates = crates();
    assert!(crates.contains(&"autopilot-trace".to_owned()), "{crates:?}");
    let architecture = fs_err::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let readme = fs_err::read_to_string(root().join("crates/README.md")).unwrap();
    let problems = crate_listing_problems(&crates, &architecture, &readme);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_crate_listing_check_catches_a_missing_crate_and_a_long_entry() {
    let crates = ["autopilot-new".to_owned()];
    let problems = crate_listing_problems(
        &crates,
        "### `crates/autopilot-old`\n",
        "- **autopilot-new** — does one thing\n  and another.\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("ARCHITECTURE.md has no"),
        "{problems:?}"
    );
    assert!(problems[1].contains("runs over one line"), "{problems:?}");
}

/// The names in `[dependencies]`, `[dev-dependencies]` and `[build-dependencies]` of a manifest.
fn dependency_names(manifest: &toml::Value) -> Vec<String> {
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|table| manifest.get(table)?.as_table())
        .flat_map(|table| table.keys().cloned())
        .collect()
}

/// The `[workspace.dependencies]` no member names.
fn unused_workspace_dependencies(root: &toml::Value, members: &[toml::Value]) -> Vec<String> {
    let used: std::collections::BTreeSet<String> =
        members.iter().flat_map(dependency_names).collect();
    root["workspace"]["dependencies"]
        .as_table()
        .into_iter()
        .flat_map(|table| table.keys())
        .filter(|name| !used.contains(*name))
        .cloned()
        .collect()
}

fn manifest(path: &Path) -> toml::Value {
    toml::from_str(&fs_err::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_workspace_dependency_is_used_by_a_member() {
    let root_manifest = manifest(&root().join("Cargo.toml"));
    let mut members = vec![root_manifest.clone()];
    members.extend(
        crates()
            .iter()
            .map(|name| manifest(&root().join("crates").join(name).join("Cargo.toml"))),
    );
    let unused = unused_workspace_dependencies(&root_manifest, &members);
    assert!(
        unused.is_empty(),
        "[workspace.dependencies] no crate uses: {unused:?}"
    );
}

#[test]
fn the_dependency_check_catches_an_unused_one() {
    let root: toml::Value =
        toml::from_str("[workspace.dependencies]\nserde = \"1\"\nrayon = \"1\"\n").unwrap();
    let member: toml::Value =
        toml::from_str("[dev-dependencies]\nserde.workspace = true\n").unwrap();
    assert_eq!(unused_workspace_dependencies(&root, &[member]), ["rayon"]);
}
