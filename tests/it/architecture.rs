//! Checks the dependency invariants stated in ARCHITECTURE.md against `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};

use cargo_metadata::{DependencyKind, MetadataCommand};

/// Each workspace package with its direct and transitive normal (non-dev, non-build)
/// dependencies, by package name.
#[derive(Debug, Default)]
pub struct DependencyGraph {
    pub direct: BTreeMap<String, BTreeSet<String>>,
    pub transitive: BTreeMap<String, BTreeSet<String>>,
}

/// Crates that do HTTP or run an async runtime.
const NETWORK_AND_RUNTIME: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "async-openai",
    "ollama-rs",
    "axum",
    "wiremock",
];
const LLM_CLIENTS: &[&str] = &["reqwest", "hyper", "async-openai", "ollama-rs"];
const PROCESS_CRATES: &[&str] = &["nix"];
/// The workspace's library crates.
const OUR_CRATES: &[&str] = &[
    "autopilot-trace",
    "autopilot-diagnostics",
    "autopilot-llm",
    "autopilot-toolchain",
    "autopilot-hostrun",
    "autopilot-steps",
    "autopilot-orchestrator",
    "autopilot-classifier",
    "autopilot-report",
    "autopilot-testkit",
];
/// Workspace crates that run processes, call LLMs or run sessions: what the pure steps must
/// never reach, so that "pure steps spawn nothing and await nothing" is a compile-time fact.
const SPAWNING_OR_NETWORK_CRATES: &[&str] = &[
    "autopilot-toolchain",
    "autopilot-hostrun",
    "autopilot-llm",
    "autopilot-orchestrator",
    "autopilot-classifier",
    "autopilot-report",
];

/// Every broken invariant, as a sentence.
pub fn violations(graph: &DependencyGraph) -> Vec<String> {
    let mut broken = Vec::new();
    let deps_of = |name: &str| graph.transitive.get(name).cloned().unwrap_or_default();
    // The classifier depends on the trace crate and the diagnostics parsers only.
    if graph.transitive.contains_key("autopilot-classifier") {
        let deps = deps_of("autopilot-classifier");
        for forbidden in NETWORK_AND_RUNTIME.iter().chain(&[
            "autopilot-llm",
            "autopilot-toolchain",
            "autopilot-orchestrator",
            "autopilot-report",
            "autopilot-steps",
        ]) {
            if deps.contains(*forbidden) {
                broken.push(format!("autopilot-classifier depends on {forbidden}; it may depend on autopilot-trace and autopilot-diagnostics only"));
            }
        }
    }
    // The diagnostics parsers are pure text to trace values: the trace crate, nothing else of ours.
    if graph.transitive.contains_key("autopilot-diagnostics") {
        let deps = deps_of("autopilot-diagnostics");
        for forbidden in NETWORK_AND_RUNTIME
            .iter()
            .chain(PROCESS_CRATES)
            .chain(OUR_CRATES.iter().filter(|c| **c != "autopilot-trace"))
        {
            if deps.contains(*forbidden) {
                broken.push(format!("autopilot-diagnostics depends on {forbidden}; it may depend on autopilot-trace only"));
            }
        }
    }
    // Reports read report rows: the trace and the classifier (and what it reads with); no
    // runtime, no network, no processes, no sessions.
    if graph.transitive.contains_key("autopilot-report") {
        let deps = deps_of("autopilot-report");
        for forbidden in NETWORK_AND_RUNTIME.iter().chain(PROCESS_CRATES).chain(&[
            "autopilot-llm",
            "autopilot-toolchain",
            "autopilot-orchestrator",
            "autopilot-steps",
            "autopilot-hostrun",
        ]) {
            if deps.contains(*forbidden) {
                broken.push(format!("autopilot-report depends on {forbidden}; it may depend on autopilot-trace and autopilot-classifier only"));
            }
        }
    }
    // The pure steps spawn nothing, await nothing and open no socket: no async runtime, no
    // network or process crate, and none of our crates that run processes or call LLMs.
    if graph.transitive.contains_key("autopilot-steps") {
        let deps = deps_of("autopilot-steps");
        for forbidden in NETWORK_AND_RUNTIME
            .iter()
            .chain(LLM_CLIENTS)
            .chain(PROCESS_CRATES)
            .chain(SPAWNING_OR_NETWORK_CRATES)
        {
            if deps.contains(*forbidden) {
                broken.push(format!(
                    "autopilot-steps depends on {forbidden}; the pure steps may depend on autopilot-trace and data crates only"
                ));
            }
        }
    }
    // The trace crate is the contract: no runtime, no network, no other workspace crate.
    let trace_deps = deps_of("autopilot-trace");
    for forbidden in NETWORK_AND_RUNTIME {
        if trace_deps.contains(*forbidden) {
            broken.push(format!("autopilot-trace depends on {forbidden}"));
        }
    }
    for (package, direct) in &graph.direct {
        // Only autopilot-llm talks HTTP to LLMs; autopilot-otel talks HTTP to OTLP collectors.
        if package != "autopilot-llm" && package != "autopilot-otel" {
            for client in LLM_CLIENTS {
                if direct.contains(*client) {
                    broken.push(format!("{package} depends on {client} directly; only autopilot-llm talks HTTP to LLMs"));
                }
            }
        }
        // Only autopilot-toolchain spawns and signals processes.
        if package != "autopilot-toolchain" {
            for process in PROCESS_CRATES {
                if direct.contains(*process) {
                    broken.push(format!("{package} depends on {process} directly; only autopilot-toolchain manages processes"));
                }
            }
        }
    }
    // The toolchain does no LLM HTTP.
    let toolchain_deps = deps_of("autopilot-toolchain");
    for forbidden in LLM_CLIENTS.iter().chain(&[
        "autopilot-llm",
        "autopilot-orchestrator",
        "autopilot-steps",
        "autopilot-classifier",
        "autopilot-report",
    ]) {
        if toolchain_deps.contains(*forbidden) {
            broken.push(format!("autopilot-toolchain depends on {forbidden}"));
        }
    }
    // Test support stays out of every shipped crate: only dev-dependencies may name it.
    for (package, direct) in &graph.direct {
        if direct.contains("autopilot-testkit") {
            broken.push(format!(
                "{package} depends on autopilot-testkit; it may be a dev-dependency only"
            ));
        }
    }
    // The host run builds and runs sketches: it needs the toolchain (its process runner and
    // diagnostics parser) and the trace, never the LLM, the sessions or the classifier.
    if graph.transitive.contains_key("autopilot-hostrun") {
        let deps = deps_of("autopilot-hostrun");
        for forbidden in LLM_CLIENTS.iter().chain(&[
            "autopilot-llm",
            "autopilot-orchestrator",
            "autopilot-classifier",
        ]) {
            if deps.contains(*forbidden) {
                broken.push(format!("autopilot-hostrun depends on {forbidden}"));
            }
        }
    }
    // The exporter reads events: it never runs sessions, LLMs, compilers or the classifier.
    if graph.transitive.contains_key("autopilot-otel") {
        let deps = deps_of("autopilot-otel");
        for forbidden in [
            "autopilot-llm",
            "autopilot-toolchain",
            "autopilot-orchestrator",
            "autopilot-classifier",
            "autopilot-hostrun",
            "autopilot-steps",
            "async-openai",
        ] {
            if deps.contains(forbidden) {
                broken.push(format!(
                    "autopilot-otel depends on {forbidden}; it reads trace events only"
                ));
            }
        }
    }
    broken
}

fn workspace_graph() -> DependencyGraph {
    let metadata = MetadataCommand::new()
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .exec()
        .unwrap();
    let resolve = metadata.resolve.as_ref().unwrap();
    let name_of: BTreeMap<_, _> = metadata
        .packages
        .iter()
        .map(|p| (p.id.clone(), p.name.to_string()))
        .collect();
    let normal_deps: BTreeMap<_, Vec<_>> = resolve
        .nodes
        .iter()
        .map(|node| {
            let deps = node
                .deps
                .iter()
                .filter(|d| d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal))
                .map(|d| d.pkg.clone())
                .collect();
            (node.id.clone(), deps)
        })
        .collect();
    let mut graph = DependencyGraph::default();
    for member in &metadata.workspace_members {
        let name = name_of[member].clone();
        let direct: BTreeSet<String> = normal_deps[member]
            .iter()
            .map(|id| name_of[id].clone())
            .collect();
        let mut seen = BTreeSet::new();
        let mut stack = normal_deps[member].clone();
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone()) {
                stack.extend(normal_deps[&id].iter().cloned());
            }
        }
        graph.transitive.insert(
            name.clone(),
            seen.iter().map(|id| name_of[id].clone()).collect(),
        );
        graph.direct.insert(name, direct);
    }
    graph
}

#[test]
fn the_workspace_keeps_its_dependency_invariants() {
    let graph = workspace_graph();
    assert!(
        graph.direct.contains_key("autopilot-trace"),
        "workspace members: {:?}",
        graph.direct.keys()
    );
    let broken = violations(&graph);
    assert!(
        broken.is_empty(),
        "architecture invariants broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_catches_a_classifier_that_pulls_tokio() {
    let mut graph = workspace_graph();
    graph
        .direct
        .entry("autopilot-classifier".into())
        .or_default()
        .insert("tokio".into());
    graph
        .transitive
        .entry("autopilot-classifier".into())
        .or_default()
        .extend(["autopilot-trace".to_string(), "tokio".to_string()]);
    let broken = violations(&graph);
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-classifier depends on tokio")),
        "{broken:?}"
    );
}

#[test]
fn the_checker_catches_a_diagnostics_crate_above_the_trace_and_a_report_with_a_runtime() {
    let mut graph = DependencyGraph::default();
    graph.transitive.insert(
        "autopilot-diagnostics".into(),
        [
            "autopilot-trace".to_string(),
            "autopilot-toolchain".to_string(),
        ]
        .into(),
    );
    graph.transitive.insert(
        "autopilot-report".into(),
        ["autopilot-classifier".to_string(), "tokio".to_string()].into(),
    );
    let broken = violations(&graph);
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-diagnostics depends on autopilot-toolchain")),
        "{broken:?}"
    );
    assert!(
        !broken
            .iter()
            .any(|b| b.contains("autopilot-diagnostics depends on autopilot-trace")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-report depends on tokio")),
        "{broken:?}"
    );
}

#[test]
fn the_checker_catches_http_outside_the_llm_crate_and_processes_outside_the_toolchain() {
    let mut graph = DependencyGraph::default();
    graph.direct.insert(
        "autopilot-orchestrator".into(),
        ["reqwest".to_string(), "nix".to_string()].into(),
    );
    graph
        .transitive
        .insert("autopilot-trace".into(), ["tokio".to_string()].into());
    graph.direct.insert(
        "autopilot-classifier".into(),
        ["autopilot-testkit".to_string()].into(),
    );
    let broken = violations(&graph);
    assert!(
        broken.iter().any(|b| b
            == "autopilot-classifier depends on autopilot-testkit; it may be a dev-dependency only"),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-orchestrator depends on reqwest directly")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-orchestrator depends on nix directly")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.contains("autopilot-trace depends on tokio")),
        "{broken:?}"
    );
}

#[test]
fn the_checker_catches_pure_steps_that_can_spawn_or_await() {
    let mut graph = DependencyGraph::default();
    graph.transitive.insert(
        "autopilot-steps".into(),
        [
            "autopilot-trace".to_string(),
            "autopilot-toolchain".to_string(),
            "tokio".to_string(),
        ]
        .into(),
    );
    let broken = violations(&graph);
    for forbidden in ["autopilot-toolchain", "tokio"] {
        assert!(
            broken
                .iter()
                .any(|b| b.contains(&format!("autopilot-steps depends on {forbidden};"))),
            "{forbidden}: {broken:?}"
        );
    }
    assert_eq!(broken.len(), 2, "{broken:?}");
}

/// What std itself offers to spawn, connect or start threads: the dependency rules cannot see
/// it, so the pure steps' sources are scanned for it.
const STD_SPAWN_OR_NETWORK: &[&str] = &["std::process", "std::net", "std::thread", "Command::"];

/// The lines of `.rs` files under `dir` that name something of `needles`.
fn source_lines_naming(dir: &std::path::Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs_err::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if needles.iter().any(|needle| line.contains(needle)) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn the_pure_steps_use_nothing_of_std_that_spawns_or_connects() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/autopilot-steps/src");
    let found = source_lines_naming(&src, STD_SPAWN_OR_NETWORK);
    assert!(
        found.is_empty(),
        "the pure steps must spawn nothing:\n{}",
        found.join("\n")
    );
    // The scan itself finds what it looks for: the process runner names std::process.
    let toolchain =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/autopilot-toolchain/src");
    assert!(!source_lines_naming(&toolchain, STD_SPAWN_OR_NETWORK).is_empty());
}
