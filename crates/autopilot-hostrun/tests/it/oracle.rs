//! The host check's model against an independent oracle: every `Invoke()` the correct
//! fruit_to_emoji sketch made on the host (2020 TFLM from crates.io `tfmicro`) is run again through
//! PyPI `tflite-micro` (the current TFLM interpreter) on the same inputs; the outputs must agree.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;

use crate::support::{cache_dir, check, correct_sketch, host, require, root, sketch_with};

/// The oracle's python (`bash scripts/setup-oracle.sh` makes it), if it is there.
fn oracle_python() -> Option<PathBuf> {
    fs_err::read_dir(cache_dir())
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("oracle-"))
        .map(|e| e.path().join("bin/python"))
        .find(|p| p.exists())
}

fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

#[tokio::test]
async fn every_host_invoke_matches_the_tflite_micro_oracle() {
    let Some(host) = host().await else { return };
    let python = oracle_python();
    if !require(
        "the TFLM oracle (bash scripts/setup-oracle.sh)",
        python.is_some(),
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = sketch_with(tmp.path(), "correct", &correct_sketch());
    let (obs, _) = check(host, &dir).await;
    assert_eq!(obs.invokes.len(), 225);
    let request = serde_json::json!({
        "model": root().join("examples/fruit_to_emoji/model.tflite"),
        "inputs": obs.invokes.iter().map(|i| i.inputs.clone()).collect::<Vec<_>>(),
    });
    #[expect(
        clippy::disallowed_methods,
        reason = "the test runs the oracle, a Python script, outside the code under test"
    )]
    let mut child = std::process::Command::new(python.unwrap())
        .arg(root().join("crates/autopilot-hostrun/tests/oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oracle starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let oracle: Vec<Vec<f64>> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(oracle.len(), obs.invokes.len());
    let mut worst = 0.0f64;
    for (invoke, expected) in obs.invokes.iter().zip(&oracle) {
        assert_eq!(invoke.outputs.len(), expected.len());
        assert_eq!(
            argmax(&invoke.outputs),
            argmax(expected),
            "host {:?} vs oracle {expected:?} for input {:?}",
            invoke.outputs,
            invoke.inputs
        );
        for (a, b) in invoke.outputs.iter().zip(expected) {
            worst = worst.max((a - b).abs());
        }
    }
    // Float32 through two interpreter generations: agreement to a few ulps of a probability.
    assert!(worst < 1e-4, "largest output difference {worst}");
}
