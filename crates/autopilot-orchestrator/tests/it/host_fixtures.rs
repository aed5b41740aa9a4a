//! The host TinyML check's fixtures (`data/fixtures/host/`): every probe and mutant folder is
//! one sketch listed in its `expected.toml` (and the other way round), and the expectations agree
//! with the static prechecks and the Chirale 2.0.0 API facts.

use std::collections::BTreeMap;
use std::path::Path;

use autopilot_orchestrator::session::TargetView;
use autopilot_steps::{App, CHECK_FORBIDDEN_API, ForbiddenApi, PrecheckInput, run_prechecks};
use autopilot_toolchain::{LibraryCatalog, TinyMlApi};
use serde::Deserialize;

use crate::support::{examples_dir, host_fixtures, load_target};

/// The verdict kinds of the host check a mutant may expect.
const VERDICTS: &[&str] = &[
    "build_failed",
    "allocate_failed",
    "op_missing",
    "no_invoke",
    "wrong_output",
    "wrong_input",
    "predicts_without_object",
    "pass",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probes {
    probe: BTreeMap<String, Probe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probe {
    compiles: bool,
    line: Option<u32>,
    error: Option<String>,
    reference: String,
    evidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutants {
    mutant: BTreeMap<String, Mutant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutant {
    verdict: String,
    defect: String,
    prechecks: bool,
    line: Option<u32>,
    error: Option<String>,
}

fn probes() -> BTreeMap<String, Probe> {
    let text = fs_err::read_to_string(host_fixtures("probes").join("expected.toml")).unwrap();
    toml::from_str::<Probes>(&text).unwrap().probe
}

fn mutants() -> BTreeMap<String, Mutant> {
    let text = fs_err::read_to_string(host_fixtures("mutants").join("expected.toml")).unwrap();
    toml::from_str::<Mutants>(&text).unwrap().mutant
}

fn sketch(kind: &str, name: &str) -> String {
    fs_err::read_to_string(host_fixtures(kind).join(format!("{name}/{name}.ino"))).unwrap()
}

/// The sketch folders of `dir`, each checked to hold exactly `<folder>.ino`; besides them
/// only `expected.toml` and `README.md`.
fn sketch_folders(dir: &Path) -> Vec<String> {
    let mut folders = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if !entry.file_type().unwrap().is_dir() {
            assert!(
                name == "expected.toml" || name == "README.md",
                "{}: unexpected file {name}",
                dir.display()
            );
            continue;
        }
        let files: Vec<String> = fs_err::read_dir(entry.path())
            .unwrap()
            .map(|f| f.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            files,
            [format!("{name}.ino")],
            "{}/{name}: one sketch named after its folder",
            dir.display()
        );
        folders.push(name);
    }
    folders.sort();
    folders
}

#[test]
fn every_probe_and_mutant_folder_is_one_sketch_listed_in_expected_toml() {
    let probes = probes();
    let folders = sketch_folders(&host_fixtures("probes"));
    assert_eq!(folders, probes.keys().cloned().collect::<Vec<_>>());
    assert!(folders.len() >= 20, "{} probes", folders.len());
    for (name, probe) in &probes {
        // A failing probe names its first error; a compiling one has none.
        assert_eq!(
            probe.line.is_some() && probe.error.as_deref().is_some_and(|e| !e.is_empty()),
            !probe.compiles,
            "{name}"
        );
        assert!(
            !probe.reference.is_empty() && !probe.evidence.is_empty(),
            "{name}"
        );
        if let Some(line) = probe.line {
            let lines = sketch("probes", name).lines().count();
            assert!(
                (1..=lines).contains(&(line as usize)),
                "{name}: line {line}"
            );
        }
    }
    assert!(probes.values().any(|p| p.compiles) && probes.values().any(|p| !p.compiles));

    let mutants = mutants();
    let folders = sketch_folders(&host_fixtures("mutants"));
    assert_eq!(folders, mutants.keys().cloned().collect::<Vec<_>>());
    for (name, mutant) in &mutants {
        assert!(
            VERDICTS.contains(&mutant.verdict.as_str()),
            "{name}: {}",
            mutant.verdict
        );
        assert!(!mutant.defect.is_empty(), "{name}");
        assert_eq!(
            mutant.line.is_some() && mutant.error.is_some(),
            mutant.verdict == "build_failed",
            "{name}: only a build failure names its first error"
        );
    }
    // Every verdict but a pass is some mutant's, and exactly the control passes.
    for verdict in VERDICTS {
        assert!(
            mutants.values().any(|m| m.verdict == *verdict),
            "no mutant for {verdict}"
        );
    }
    let passing: Vec<&String> = mutants
        .iter()
        .filter(|(_, m)| m.verdict == "pass")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(passing, ["correct"]);
}

fn chirale_forbidden() -> Vec<ForbiddenApi> {
    TargetView::new(
        &load_target("nano33ble_sense"),
        &LibraryCatalog::builtin(),
        &TinyMlApi::builtin(),
    )
    .forbidden
}

#[test]
fn no_probe_that_compiles_is_rejected_by_the_api_facts_and_those_rejected_fail_where_gcc_does() {
    let forbidden = chirale_forbidden();
    let mut rejected = Vec::new();
    for (name, probe) in probes() {
        let report = run_prechecks(
            &sketch("probes", &name),
            &PrecheckInput {
                model: None,
                forbidden: &forbidden,
            },
        );
        let verdict = report
            .verdicts
            .iter()
            .find(|v| v.check == CHECK_FORBIDDEN_API)
            .unwrap();
        if verdict.passed {
            continue;
        }
        // The facts in data/tinyml-api.toml must never reject what the real library compiles,
        // and must point at the line GCC stops at.
        assert!(!probe.compiles, "{name} compiles but: {}", verdict.message);
        let line = probe.line.unwrap();
        assert!(
            verdict.message.contains(&format!("line {line}:")),
            "{name}: GCC stops at line {line}; {}",
            verdict.message
        );
        rejected.push(name);
    }
    // The API drift the facts know about; the other failures need a compiler.
    assert_eq!(
        rejected,
        [
            "add_builtin",
            "kernels_all_ops_resolver",
            "micro_error_reporter_old_path",
            "ops_micro_fully_connected",
            "tensorflowlite_h",
            "tflite_micro_printf",
            "version_h",
        ]
    );
}

#[test]
fn mutants_meet_the_prechecks_as_expected() {
    let app = App::load(&examples_dir().join("fruit_to_emoji/app.toml")).unwrap();
    let forbidden = chirale_forbidden();
    for (name, mutant) in mutants() {
        let report = run_prechecks(
            &sketch("mutants", &name),
            &PrecheckInput {
                model: app.model.as_ref(),
                forbidden: &forbidden,
            },
        );
        assert_eq!(
            report.passed(),
            mutant.prechecks,
            "{name}: {:#?}",
            report.failures().collect::<Vec<_>>()
        );
    }
}
