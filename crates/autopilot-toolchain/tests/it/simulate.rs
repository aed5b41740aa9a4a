//! simavr with firmware compiled for real by arduino-builder: an expected class name stops the
//! run early; no prediction within the budget; a simulator that cannot run the firmware; a
//! missing simulator.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use autopilot_toolchain::simulate::{match_token, normalize_serial_line};
use autopilot_toolchain::{CompileOutcome, Compiler, SimulateRequest, Sketch, simulate};
use autopilot_trace::SimulationStatus;

use crate::support::{avr_toolchain, config, simavr, sketch_fixture, target};

/// Compiles a fixture for `target` and returns its ELF (in `work`).
async fn firmware(work: &std::path::Path, target_name: &str, sketch: &str) -> PathBuf {
    let compiler = Compiler::new(&target(target_name), config(work))
        .await
        .unwrap();
    let sketch = Sketch::open(&sketch_fixture(sketch)).unwrap();
    let result = compiler
        .compile(&sketch, &work.join("build"))
        .await
        .unwrap();
    assert!(
        matches!(result.outcome, CompileOutcome::Succeeded { .. }),
        "{:?}",
        result.outcome
    );
    result.elf.unwrap()
}

fn request(
    elf: &std::path::Path,
    target_name: &str,
    budget: Duration,
    expected: &[&str],
) -> SimulateRequest {
    let simulator = target(target_name).simulator.unwrap();
    SimulateRequest::new(
        elf,
        &simulator.mcu,
        simulator.clock_hz,
        budget,
        expected.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[tokio::test]
async fn a_prediction_on_serial_stops_the_simulator() {
    if !avr_toolchain() || !simavr() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let elf = firmware(work.path(), "uno", "Classifier").await;
    let start = Instant::now();
    let request = request(
        &elf,
        "uno",
        Duration::from_secs(20),
        &["apple", "banana", "orange"],
    );
    // The orchestrator runs simulations on its tasks: the future must be `Send`.
    let result = tokio::spawn(async move { simulate(&request).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.status, SimulationStatus::Predicted, "{result:?}");
    assert_eq!(result.matched.as_deref(), Some("banana"));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "stopped early, not at the budget: {:?}",
        start.elapsed()
    );
    assert_eq!(result.serial.first().map(String::as_str), Some("starting"));
    assert_eq!(
        result.serial.last().map(String::as_str),
        Some("Prediction: banana")
    );
    assert!(
        result.serial.contains(&"reading 4".to_owned()),
        "{:?}",
        result.serial
    );
    let event = result.to_trace_event(3);
    assert_eq!(
        (event.simulator.as_str(), event.mcu.as_str()),
        ("simavr", "atmega328p")
    );
    assert_eq!(event.matched.as_deref(), Some("banana"));
}

#[tokio::test]
async fn no_expected_token_within_the_budget() {
    if !avr_toolchain() || !simavr() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let elf = firmware(work.path(), "nano", "Good").await;
    // 2 s of wall for 0.5 s of simulated time (5 ticks, 100 ms apart): simavr's speed against
    // the wall clock varies with the machine's load, and 0.7 s left little margin.
    let mut request = request(&elf, "nano", Duration::from_secs(2), &["apple"]);
    request.max_lines = 5;
    let result = simulate(&request).await.unwrap();
    assert_eq!(result.status, SimulationStatus::NoPrediction, "{result:?}");
    assert_eq!(result.matched, None);
    assert_eq!(result.serial, ["tick"; 5], "bounded to max_lines");
    assert!(result.duration >= Duration::from_secs(2));
}

#[tokio::test]
async fn firmware_the_simulator_cannot_run_fails() {
    if !simavr() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let bogus = work.path().join("bogus.elf");
    fs_err::write(&bogus, b"not an elf").unwrap();
    let result = simulate(&SimulateRequest::new(
        &bogus,
        "atmega328p",
        16_000_000,
        Duration::from_secs(5),
        vec!["apple".into()],
    ))
    .await
    .unwrap();
    assert_eq!(result.status, SimulationStatus::Failed, "{result:?}");
    assert!(result.detail.is_some());
}

#[tokio::test]
async fn a_missing_simulator_is_reported_as_such() {
    let mut request = SimulateRequest::new(
        std::path::Path::new("/tmp/x.elf"),
        "atmega328p",
        16_000_000,
        Duration::from_secs(1),
        vec![],
    );
    request.simavr = "/nonexistent/simavr".into();
    let result = simulate(&request).await.unwrap();
    assert_eq!(result.status, SimulationStatus::SimulatorMissing);
}

#[test]
fn serial_lines_are_normalised_and_tokens_match_whole_words() {
    assert_eq!(
        normalize_serial_line(b"\x1b[32mPrediction: apple.."),
        "Prediction: apple"
    );
    assert_eq!(normalize_serial_line(b"\x1b[0m\x1b[32mA."), "A");
    let expected = vec!["apple".to_owned(), "pear".to_owned()];
    assert_eq!(match_token("class: pineapple", &expected), None);
    assert_eq!(
        match_token("class=apple (0.93)", &expected).map(String::as_str),
        Some("apple")
    );
    assert_eq!(match_token("pear_2", &expected), None);
}
