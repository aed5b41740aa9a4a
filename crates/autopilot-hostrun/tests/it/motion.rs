//! The Arduino_LSM9DS1 1.1.1 stand-in: a motion app's dataset, mapped through `[host]`, comes
//! out of `IMU.readAcceleration()` / `readGyroscope()` / `readMagneticField()` one row per
//! 1/119 s of simulated time; a small sketch prints what it reads and the lines are checked
//! against the dataset rows.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use autopilot_hostrun::scene::{IMU_SAMPLE_HZ, scene_for};
use autopilot_hostrun::{
    CoreFamily, HostBuildOutcome, HostSensor, Presentation, RunRequest, SensorMapping, run_sketch,
};
use autopilot_toolchain::SandboxConfig;

use crate::support::{build, host, root};

/// A gesture recording as a motion app ships it: a label column and the IMU columns in an order
/// of their own (the mapping puts them in place).
fn dataset(dir: &std::path::Path) -> PathBuf {
    let mut text = String::from("gesture,gX,gY,gZ,aX,aY,aZ,mX,mY,mZ\n");
    for i in 0..40 {
        let f = f64::from(i);
        let label = if i < 20 { "punch" } else { "flex" };
        let _ = writeln!(
            text,
            "{label},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.1},{:.1},{:.1}",
            -100.0 + f * 7.5,
            f * 1.25,
            -f * 0.5,
            0.01 * f,
            -0.5 + 0.02 * f,
            1.0 - 0.01 * f,
            20.0 + f,
            -30.0,
            f * 0.5
        );
    }
    let path = dir.join("gestures.csv");
    fs_err::write(&path, text).unwrap();
    path
}

fn mapping() -> SensorMapping {
    SensorMapping {
        sensor: HostSensor::Lsm9ds1Imu,
        columns: ["aX", "aY", "aZ", "gX", "gY", "gZ", "mX", "mY", "mZ"]
            .map(str::to_owned)
            .to_vec(),
        label_column: Some("gesture".to_owned()),
        presentation: Presentation::default(),
    }
}

#[test]
fn the_imu_scene_maps_columns_and_presents_samples_at_119_hz() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = dataset(tmp.path());
    let classes = vec!["punch".to_owned(), "flex".to_owned()];
    let scene = scene_for(&[(csv.clone(), None)], classes.clone(), &mapping()).unwrap();
    assert_eq!(scene.rows.len(), 40);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
    assert!(close(&scene.rows[1].readings[..3], &[0.01, -0.48, 0.99]));
    assert!((scene.rows[1].readings[3] + 92.5).abs() < 1e-9);
    assert_eq!((scene.rows[0].label, scene.rows[39].label), (0, 1));
    assert_eq!(scene.sample_period_us, Some(1_000_000 / IMU_SAMPLE_HZ));
    assert!(scene.to_file_text().starts_with("8403 0 9 0 255\n"));
    // 4 columns fit no sensor group.
    let bad = SensorMapping {
        columns: vec!["aX".into(), "aY".into(), "aZ".into(), "gX".into()],
        ..mapping()
    };
    let error = scene_for(&[(csv, None)], classes, &bad).unwrap_err();
    assert!(error.to_string().contains("3, 6 or 9"), "{error}");
}

fn numbers(text: &str) -> Vec<f64> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[tokio::test]
async fn a_motion_sketch_prints_the_dataset_rows_it_reads_from_the_imu() {
    let Some(host) = host().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let csv = dataset(tmp.path());
    let scene = scene_for(
        &[(csv, None)],
        vec!["punch".to_owned(), "flex".to_owned()],
        &mapping(),
    )
    .unwrap();
    let sketch = tmp.path().join("imu_echo");
    fs_err::create_dir_all(&sketch).unwrap();
    fs_err::copy(
        root().join("data/fixtures/host/installed/imu_echo/imu_echo.ino"),
        sketch.join("imu_echo.ino"),
    )
    .unwrap();
    let built = build(host, &sketch, CoreFamily::Mbed).await;
    assert_eq!(built.libraries, ["Arduino_LSM9DS1"]);
    let HostBuildOutcome::Built { binary } = built.outcome else {
        panic!("{:?}", built.outcome)
    };
    let obs = run_sketch(
        &RunRequest {
            binary,
            work_dir: tmp.path().join("run"),
            budget: Duration::from_secs(5),
            sandbox: Some(SandboxConfig::default()),
        },
        &scene,
    )
    .await
    .unwrap();
    assert_eq!(obs.end_reason.as_deref(), Some("dataset_presented"));
    assert_eq!(obs.serial[0].text, "rate 119.00");
    let samples: Vec<_> = obs
        .serial
        .iter()
        .filter(|l| l.text.starts_with("a "))
        .collect();
    // Every row after begin()'s 10 ms, exactly once, in order, with the mapped values.
    assert!(samples.len() >= 38, "{} samples", samples.len());
    let mut previous = None;
    for line in &samples {
        let row = line.object.expect("a sample is a dataset row");
        assert!(previous < Some(row), "row {row} read twice or out of order");
        previous = Some(row);
        let expected = &scene.rows[row].readings;
        let printed = numbers(&line.text);
        assert_eq!(printed.len(), 6, "{}", line.text);
        for (p, e) in printed.iter().zip(&expected[..6]) {
            assert!((p - e).abs() < 0.001, "row {row}: printed {p}, dataset {e}");
        }
    }
    assert_eq!(previous, Some(39));
    // The magnetic field is new at 20 Hz: about 40 / 119 * 20 readings, from the rows in front.
    let magnetic: Vec<_> = obs
        .serial
        .iter()
        .filter(|l| l.text.starts_with("m "))
        .collect();
    assert!(
        (5..=8).contains(&magnetic.len()),
        "{} readings",
        magnetic.len()
    );
    for line in magnetic {
        let row = line.object.expect("a row");
        assert!((numbers(&line.text)[0] - scene.rows[row].readings[6]).abs() < 0.001);
    }
}
