//! The tflm-sketches fixtures judged by the engine: every mutant of fruit_to_emoji gets the
//! verdict `data/fixtures/host/mutants/expected.toml` names, and every probe compiles (or fails
//! with the first error) as it did against the real Chirale_TensorFLowLite 2.0.0 headers.

use std::path::PathBuf;

use autopilot_hostrun::{CoreFamily, HostBuildOutcome};

use crate::support::{build, check, first_error, host, root};

fn expected(kind: &str) -> (PathBuf, toml::Table) {
    let dir = root().join("data/fixtures/host").join(kind);
    let text = fs_err::read_to_string(dir.join("expected.toml")).expect("expected.toml");
    let table: toml::Table = toml::from_str(&text).expect("valid toml");
    let section = kind.trim_end_matches('s');
    (
        dir,
        table[section]
            .as_table()
            .expect("a table per fixture")
            .clone(),
    )
}

/// A copy of a fixture folder with the app's model header beside the sketch.
fn staged(tmp: &std::path::Path, dir: &std::path::Path, name: &str) -> PathBuf {
    let to = tmp.join(name);
    fs_err::create_dir_all(&to).unwrap();
    for entry in fs_err::read_dir(dir.join(name)).unwrap() {
        let entry = entry.unwrap();
        fs_err::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    if !to.join("model.h").exists() {
        fs_err::copy(
            root().join("examples/fruit_to_emoji/model.h"),
            to.join("model.h"),
        )
        .unwrap();
    }
    to
}

#[tokio::test]
async fn every_mutant_gets_its_verdict_and_the_control_passes() {
    let Some(host) = host().await else { return };
    let (dir, mutants) = expected("mutants");
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (name, spec) in &mutants {
        let want = spec["verdict"].as_str().unwrap();
        let sketch = staged(tmp.path(), &dir, name);
        let got = if want == "build_failed" {
            let built = build(host, &sketch, CoreFamily::Mbed).await;
            match built.outcome {
                HostBuildOutcome::Built { .. } => "built".to_owned(),
                HostBuildOutcome::Failed { .. } => "build_failed".to_owned(),
            }
        } else {
            let (_, verdict) = check(host, &sketch).await;
            serde_json::to_value(verdict.kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        };
        if got != want {
            wrong.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    assert!(mutants.len() >= 8, "the control and seven mutants");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn every_probe_builds_or_fails_as_against_the_real_headers() {
    let Some(host) = host().await else { return };
    let (dir, probes) = expected("probes");
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (name, spec) in &probes {
        let sketch = staged(tmp.path(), &dir, name);
        let built = build(host, &sketch, CoreFamily::Mbed).await;
        let error = first_error(&built);
        let ok = if spec["compiles"].as_bool().unwrap() {
            error == "built"
        } else {
            let key = spec["error"].as_str().unwrap();
            error.contains(key)
        };
        if !ok {
            wrong.push(format!("{name}: expected {spec:?}, got {error}"));
        }
    }
    assert!(probes.len() >= 20);
    assert!(
        wrong.is_empty(),
        "{} of {} probes differ: {wrong:#?}",
        wrong.len(),
        probes.len()
    );
}
