//! `python/autopilot_eval.py` in the Python sandbox on real models — the committed float32
//! `model.tflite`, an int8 model converted in the test (in the sandbox, with TensorFlow) from
//! the example's Keras model, and a file that is no model — with its report parsed as
//! `ModelReport` and judged; and the example's pipeline inputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_steps::{DType, ModelFailure, ModelReport, ModelRequirements, judge};
use autopilot_toolchain::{PythonEnv, PythonJob, SandboxConfig, run_python};

use crate::support::{examples_dir, workspace_root};

fn fruit() -> PathBuf {
    examples_dir().join("fruit_to_emoji")
}

fn python_env() -> Option<PythonEnv> {
    if !autopilot_testkit::tools::python_env() {
        return None;
    }
    Some(PythonEnv::discover().expect("the venv the pointer names"))
}

/// Runs `autopilot_eval.py` on `tflite` (and the example's Keras model) with the example's
/// held-out rows, in the sandbox, and parses its report.
async fn evaluate(env: &PythonEnv, work: &Path, tflite: &Path) -> ModelReport {
    let keras = fruit().join("keras/model.keras");
    let held_out = fruit().join("keras/held_out.csv");
    let out = work.join("report.json");
    let job = PythonJob::new(workspace_root().join("python/autopilot_eval.py"), work)
        .arg("--tflite")
        .arg(tflite)
        .arg("--keras")
        .arg(&keras)
        .args(["--data".as_ref(), held_out.as_os_str()])
        .args([
            "--features",
            "Red,Green,Blue",
            "--label-column",
            "label",
            "--classes",
            "apple,banana,orange",
        ])
        .arg("--out")
        .arg(&out)
        .read_only(tflite)
        .read_only(&keras)
        .read_only(&held_out)
        .timeout(Duration::from_secs(300));
    let output = run_python(&SandboxConfig::default(), env, &job)
        .await
        .unwrap();
    assert!(
        output.success(),
        "{}{}",
        output.stdout.text(),
        output.stderr.text()
    );
    serde_json::from_str(&fs_err::read_to_string(&out).unwrap()).unwrap()
}

fn requirements(dtype: DType, quantized: bool) -> ModelRequirements {
    ModelRequirements {
        input_dtype: dtype,
        output_dtype: dtype,
        quantized,
        max_bytes: Some(64 * 1024),
        supported_ops: Some(
            ["FULLY_CONNECTED", "SOFTMAX", "QUANTIZE", "DEQUANTIZE"]
                .map(str::to_owned)
                .to_vec(),
        ),
        max_accuracy_drop: 0.05,
    }
}

/// The committed float32 model: loaded, float32 in and out without quantization, its two ops,
/// its size, both accuracies measured on the 45 held-out rows; it passes a float32 target and
/// fails an int8 one for its dtypes and for not being quantized.
#[tokio::test]
async fn the_float_example_model_is_measured_and_fails_an_int8_target() {
    let Some(env) = python_env() else { return };
    let work = tempfile::tempdir().unwrap();
    let tflite = fruit().join("model.tflite");
    let report = evaluate(&env, work.path(), &tflite).await;
    assert!(report.loaded, "{report:?}");
    let input = report.input.as_ref().unwrap();
    assert_eq!(
        (input.dtype(), input.shape.as_slice()),
        (Some(DType::Float32), &[1, 3][..])
    );
    assert_eq!(input.quantization, None);
    assert_eq!(report.ops, ["FULLY_CONNECTED", "SOFTMAX"]);
    assert_eq!(report.size_bytes, fs_err::metadata(&tflite).unwrap().len());
    assert_eq!(report.rows, 45);
    let (keras, tflite_accuracy) = (
        report.keras_accuracy.unwrap(),
        report.tflite_accuracy.unwrap(),
    );
    assert!(keras >= 0.9 && tflite_accuracy >= 0.9, "{report:?}");

    let verdict = judge(&report, &requirements(DType::Float32, false));
    assert!(verdict.passed(), "{verdict:?}");
    let verdict = judge(&report, &requirements(DType::Int8, true));
    let checks: Vec<&str> = verdict.failures.iter().map(ModelFailure::check).collect();
    assert_eq!(
        checks,
        [
            "model.wrong_input_dtype",
            "model.wrong_output_dtype",
            "model.not_quantized"
        ],
        "{verdict:?}"
    );
}

/// A model converted to full int8 in the sandbox (TensorFlow's converter with a
/// representative dataset from the held-out rows): int8 in and out with quantization
/// parameters, no float32 tensor inside, accuracy within 5 points of the Keras model — it
/// passes an int8 target and fails a float32 one for its dtypes.
#[tokio::test]
async fn an_int8_model_converted_in_the_sandbox_passes_an_int8_target() {
    let Some(env) = python_env() else { return };
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("convert.py");
    fs_err::write(
        &script,
        "import csv, sys\n\
         import numpy as np, tensorflow as tf\n\
         model = tf.keras.models.load_model(sys.argv[1], compile=False)\n\
         rows = [[float(r[c]) for c in ('Red', 'Green', 'Blue')] for r in csv.DictReader(open(sys.argv[2]))]\n\
         def representative():\n\
         \x20   for row in rows:\n\
         \x20       yield [np.array([row], dtype=np.float32)]\n\
         converter = tf.lite.TFLiteConverter.from_keras_model(model)\n\
         converter.optimizations = [tf.lite.Optimize.DEFAULT]\n\
         converter.representative_dataset = representative\n\
         converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]\n\
         converter.inference_input_type = tf.int8\n\
         converter.inference_output_type = tf.int8\n\
         open('model_int8.tflite', 'wb').write(converter.convert())\n",
    )
    .unwrap();
    let keras = fruit().join("keras/model.keras");
    let held_out = fruit().join("keras/held_out.csv");
    let job = PythonJob::new(&script, work.path())
        .arg(&keras)
        .arg(&held_out)
        .read_only(&keras)
        .read_only(&held_out)
        .timeout(Duration::from_secs(300));
    let output = run_python(&SandboxConfig::default(), &env, &job)
        .await
        .unwrap();
    assert!(output.success(), "{}", output.stderr.text());
    let tflite = work.path().join("model_int8.tflite");
    let eval_dir = work.path().join("eval");
    fs_err::create_dir(&eval_dir).unwrap();
    let report = evaluate(&env, &eval_dir, &tflite).await;
    assert!(report.loaded, "{report:?}");
    for tensor in [&report.input, &report.output] {
        let tensor = tensor.as_ref().unwrap();
        assert_eq!(tensor.dtype(), Some(DType::Int8), "{report:?}");
        assert!(
            tensor.quantization.is_some_and(|q| q.scale > 0.0),
            "{report:?}"
        );
    }
    assert_eq!(report.float_tensors, Some(0), "{report:?}");
    assert_eq!(report.rows, 45);
    let verdict = judge(&report, &requirements(DType::Int8, true));
    assert!(verdict.passed(), "{verdict:?} {report:?}");
    let verdict = judge(&report, &requirements(DType::Float32, false));
    let checks: Vec<&str> = verdict.failures.iter().map(ModelFailure::check).collect();
    assert_eq!(
        checks,
        ["model.wrong_input_dtype", "model.wrong_output_dtype"]
    );
}

/// A file that is not a model: the script still exits 0 with a report, `loaded: false` and the
/// interpreter's error, and the verdict is `not_loaded` only.
#[tokio::test]
async fn a_file_that_is_no_model_is_reported_not_loaded() {
    let Some(env) = python_env() else { return };
    let work = tempfile::tempdir().unwrap();
    let bogus = work.path().join("inputs/bogus.tflite");
    fs_err::create_dir_all(bogus.parent().unwrap()).unwrap();
    fs_err::write(&bogus, b"TFL3 but not a flatbuffer").unwrap();
    let eval_dir = work.path().join("eval");
    fs_err::create_dir(&eval_dir).unwrap();
    let report = evaluate(&env, &eval_dir, &bogus).await;
    assert!(!report.loaded);
    assert!(
        report.error.as_deref().is_some_and(|e| !e.is_empty()),
        "{report:?}"
    );
    assert_eq!(
        (report.tflite_accuracy, report.keras_accuracy),
        (None, None)
    );
    let verdict = judge(&report, &requirements(DType::Int8, true));
    let checks: Vec<&str> = verdict.failures.iter().map(ModelFailure::check).collect();
    assert_eq!(checks, ["model.not_loaded"]);
}

/// The pipeline's inputs are small and as described: a raw log under 40 KB with a timestamp,
/// raw counts, proximity and messy labels (mixed case, padding, blank and NaN rows); a Keras
/// model under 100 KB; held-out rows with the model's features and a label.
#[test]
fn the_example_pipeline_inputs_are_small_and_messy_where_they_should_be() {
    let raw = fruit().join("raw/fruit_raw.csv");
    let text = fs_err::read_to_string(&raw).unwrap();
    assert!(text.len() < 40 * 1024, "{} bytes", text.len());
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,r,g,b,proximity,label"));
    let rows: Vec<&str> = lines.collect();
    assert!((200..=400).contains(&rows.len()), "{} rows", rows.len());
    assert!(rows.iter().any(|r| r.is_empty()), "a blank row");
    assert!(rows.iter().any(|r| r.contains("nan")), "a NaN row");
    for spelling in ["apple", "APPLE", "Apple", " banana", "orange "] {
        assert!(
            rows.iter().any(|r| r.ends_with(&format!(",{spelling}"))),
            "{spelling:?}"
        );
    }
    let keras = fs_err::metadata(fruit().join("keras/model.keras"))
        .unwrap()
        .len();
    assert!(keras < 100 * 1024, "{keras} bytes");
    let held_out = fs_err::read_to_string(fruit().join("keras/held_out.csv")).unwrap();
    assert!(held_out.starts_with("Red,Green,Blue,label\n"));
    assert_eq!(held_out.lines().count(), 46);
}
