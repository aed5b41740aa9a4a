//! The verdict on a converted model: the report `python/autopilot_eval.py` writes (what the
//! TFLite interpreter found when it loaded, allocated and ran the model on held-out rows) as
//! types, and [`judge`], the pure check of that report against what the target needs.
//!
//! The op check compares the report's op names (the interpreter's builtin names, `FULLY_CONNECTED`)
//! with a list the caller passes: the ops the target's TFLM registers, e.g. the host TFLM
//! library's list or the `Add…` methods of `tflite::resolver_method` mapped back. `None` means
//! nobody knows that list, and the check is reported as not done rather than passed.

use serde::{Deserialize, Serialize};

use crate::app::DType;

/// One input or output tensor as the interpreter reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    /// numpy's name of the element type (`float32`, `int8`, `uint8`, …).
    pub dtype: String,
    pub shape: Vec<i64>,
    /// `(scale, zero_point)` when the tensor is quantized (a non-zero scale), else `None`.
    #[serde(default)]
    pub quantization: Option<Quantization>,
}

impl TensorInfo {
    /// The element type, when it is one autopilot models.
    pub fn dtype(&self) -> Option<DType> {
        parse_dtype(&self.dtype)
    }
}

/// Per-tensor affine quantization: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantization {
    pub scale: f64,
    pub zero_point: i64,
}

/// What `autopilot_eval.py` found (its `--out` JSON). Fields the script could not measure are
/// `None`, never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// The model loaded and its tensors were allocated.
    pub loaded: bool,
    /// Why loading (or evaluating) failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Which interpreter ran it (`ai_edge_litert` or `tf.lite`).
    #[serde(default)]
    pub interpreter: Option<String>,
    #[serde(default)]
    pub input: Option<TensorInfo>,
    #[serde(default)]
    pub output: Option<TensorInfo>,
    /// Builtin op names in the order the graph uses them, deduplicated.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Float32 tensors other than the model's inputs and outputs (weights, activations): zero
    /// in a fully integer-quantized model.
    #[serde(default)]
    pub float_tensors: Option<u64>,
    pub size_bytes: u64,
    #[serde(default)]
    pub tflite_accuracy: Option<f64>,
    #[serde(default)]
    pub keras_accuracy: Option<f64>,
    /// Why the Keras model could not be evaluated (when one was given).
    #[serde(default)]
    pub keras_error: Option<String>,
    /// Held-out rows evaluated.
    #[serde(default)]
    pub rows: u64,
}

/// What the target needs from the converted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequirements {
    pub input_dtype: DType,
    pub output_dtype: DType,
    /// The model must be integer-quantized: quantization parameters on integer inputs and
    /// outputs, and no float32 tensors inside.
    pub quantized: bool,
    /// The flash budget for the model, when known.
    pub max_bytes: Option<u64>,
    /// The ops the target's TFLM supports; `None` = unknown, the check is not done.
    pub supported_ops: Option<Vec<String>>,
    /// The largest accuracy (a fraction, 0–1) the model may lose against the Keras model.
    pub max_accuracy_drop: f64,
}

/// One failed check, with what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum ModelFailure {
    /// The interpreter could not load or allocate the model.
    NotLoaded {
        error: String,
    },
    WrongInputDtype {
        expected: DType,
        actual: Option<String>,
    },
    WrongOutputDtype {
        expected: DType,
        actual: Option<String>,
    },
    /// A quantized model was asked for; `detail` says what is still float or lacks parameters.
    NotQuantized {
        detail: String,
    },
    UnsupportedOp {
        op: String,
    },
    TooLarge {
        size_bytes: u64,
        max_bytes: u64,
    },
    AccuracyDrop {
        keras: f64,
        tflite: f64,
        max_drop: f64,
    },
    /// An accuracy needed for the comparison was not measured.
    AccuracyUnknown {
        reason: String,
    },
}

impl ModelFailure {
    /// The check's name in traces and reports (`model.not_quantized`).
    pub fn check(&self) -> &'static str {
        match self {
            ModelFailure::NotLoaded { .. } => "model.not_loaded",
            ModelFailure::WrongInputDtype { .. } => "model.wrong_input_dtype",
            ModelFailure::WrongOutputDtype { .. } => "model.wrong_output_dtype",
            ModelFailure::NotQuantized { .. } => "model.not_quantized",
            ModelFailure::UnsupportedOp { .. } => "model.unsupported_op",
            ModelFailure::TooLarge { .. } => "model.too_large",
            ModelFailure::AccuracyDrop { .. } => "model.accuracy_drop",
            ModelFailure::AccuracyUnknown { .. } => "model.accuracy_unknown",
        }
    }

    /// One sentence for a repair prompt or a report.
    pub fn reason(&self) -> String {
        let shown = |dtype: &Option<String>| dtype.clone().unwrap_or_else(|| "unknown".into());
        match self {
            ModelFailure::NotLoaded { error } => {
                format!("the interpreter could not load the model: {error}")
            }
            ModelFailure::WrongInputDtype { expected, actual } => format!(
                "the input tensor is {}, the target needs {}",
                shown(actual),
                expected.as_str()
            ),
            ModelFailure::WrongOutputDtype { expected, actual } => format!(
                "the output tensor is {}, the target needs {}",
                shown(actual),
                expected.as_str()
            ),
            ModelFailure::NotQuantized { detail } => {
                format!("the model is not integer-quantized: {detail}")
            }
            ModelFailure::UnsupportedOp { op } => {
                format!("the op {op} is not supported by the target's TFLM")
            }
            ModelFailure::TooLarge {
                size_bytes,
                max_bytes,
            } => format!("the model is {size_bytes} bytes, the budget is {max_bytes}"),
            ModelFailure::AccuracyDrop {
                keras,
                tflite,
                max_drop,
            } => format!(
                "accuracy fell from {keras:.4} (Keras) to {tflite:.4} (TFLite), more than the \
                 allowed {max_drop:.4}"
            ),
            ModelFailure::AccuracyUnknown { reason } => {
                format!("the accuracy could not be compared: {reason}")
            }
        }
    }
}

/// The outcome of [`judge`]: every failed check, and the checks that could not be done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVerdict {
    pub failures: Vec<ModelFailure>,
    /// Checks skipped because an input was unknown (`model.supported_ops` when no op list).
    pub unchecked: Vec<String>,
}

impl ModelVerdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// numpy's dtype name to [`DType`].
pub fn parse_dtype(name: &str) -> Option<DType> {
    match name {
        "float32" => Some(DType::Float32),
        "int8" => Some(DType::Int8),
        "uint8" => Some(DType::Uint8),
        "int16" => Some(DType::Int16),
        "int32" => Some(DType::Int32),
        _ => None,
    }
}

/// Checks `report` against `req`. A model that did not load fails with `not_loaded` only:
/// nothing else was measured.
pub fn judge(report: &ModelReport, req: &ModelRequirements) -> ModelVerdict {
    let mut failures = Vec::new();
    let mut unchecked = Vec::new();
    if !report.loaded {
        failures.push(ModelFailure::NotLoaded {
            error: report
                .error
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned()),
        });
        return ModelVerdict {
            failures,
            unchecked,
        };
    }
    let actual = |tensor: &Option<TensorInfo>| tensor.as_ref().map(|t| t.dtype.clone());
    let dtype_of = |tensor: &Option<TensorInfo>| tensor.as_ref().and_then(TensorInfo::dtype);
    if dtype_of(&report.input) != Some(req.input_dtype) {
        failures.push(ModelFailure::WrongInputDtype {
            expected: req.input_dtype,
            actual: actual(&report.input),
        });
    }
    if dtype_of(&report.output) != Some(req.output_dtype) {
        failures.push(ModelFailure::WrongOutputDtype {
            expected: req.output_dtype,
            actual: actual(&report.output),
        });
    }
    if req.quantized
        && let Some(detail) = unquantized(report)
    {
        failures.push(ModelFailure::NotQuantized { detail });
    }
    match &req.supported_ops {
        Some(supported) => {
            for op in &report.ops {
                if !supported.iter().any(|s| s == op) {
                    failures.push(ModelFailure::UnsupportedOp { op: op.clone() });
                }
            }
        }
        // Unknown is not "all supported".
        None => unchecked.push("model.supported_ops".to_owned()),
    }
    if let Some(max_bytes) = req.max_bytes
        && report.size_bytes > max_bytes
    {
        failures.push(ModelFailure::TooLarge {
            size_bytes: report.size_bytes,
            max_bytes,
        });
    }
    match (report.keras_accuracy, report.tflite_accuracy) {
        _ if report.rows == 0 => failures.push(ModelFailure::AccuracyUnknown {
            reason: "no held-out rows were evaluated".to_owned(),
        }),
        (Some(keras), Some(tflite)) => {
            // A tiny tolerance so that a drop of exactly the threshold passes despite rounding.
            if keras - tflite > req.max_accuracy_drop + 1e-9 {
                failures.push(ModelFailure::AccuracyDrop {
                    keras,
                    tflite,
                    max_drop: req.max_accuracy_drop,
                });
            }
        }
        (None, _) => failures.push(ModelFailure::AccuracyUnknown {
            reason: report.keras_error.clone().map_or_else(
                || "the Keras model's accuracy was not measured".to_owned(),
                |e| format!("the Keras model could not be evaluated: {e}"),
            ),
        }),
        (Some(_), None) => failures.push(ModelFailure::AccuracyUnknown {
            reason: report.error.clone().map_or_else(
                || "the TFLite model's accuracy was not measured".to_owned(),
                |e| format!("the TFLite model could not be evaluated: {e}"),
            ),
        }),
    }
    ModelVerdict {
        failures,
        unchecked,
    }
}

/// Why the model is not integer-quantized, if it is not.
fn unquantized(report: &ModelReport) -> Option<String> {
    let mut problems = Vec::new();
    for (role, tensor) in [("input", &report.input), ("output", &report.output)] {
        if let Some(tensor) = tensor
            && matches!(tensor.dtype(), Some(DType::Int8 | DType::Uint8))
            && tensor.quantization.is_none_or(|q| q.scale == 0.0)
        {
            problems.push(format!("the {role} tensor has no quantization parameters"));
        }
    }
    match report.float_tensors {
        Some(0) => {}
        Some(n) => problems.push(format!("{n} float32 tensors inside the model")),
        None => problems.push("the tensor types inside the model are unknown".to_owned()),
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: &str, quantization: Option<(f64, i64)>) -> TensorInfo {
        TensorInfo {
            name: "t".into(),
            dtype: dtype.into(),
            shape: vec![1, 3],
            quantization: quantization
                .map(|(scale, zero_point)| Quantization { scale, zero_point }),
        }
    }

    /// A fully int8-quantized model that meets [`int8_requirements`].
    fn int8_report() -> ModelReport {
        ModelReport {
            loaded: true,
            error: None,
            interpreter: Some("ai_edge_litert".into()),
            input: Some(tensor("int8", Some((0.0039, -128)))),
            output: Some(tensor("int8", Some((0.0039, -128)))),
            ops: vec!["FULLY_CONNECTED".into(), "SOFTMAX".into()],
            float_tensors: Some(0),
            size_bytes: 2600,
            tflite_accuracy: Some(0.96),
            keras_accuracy: Some(0.98),
            keras_error: None,
            rows: 45,
        }
    }

    fn int8_requirements() -> ModelRequirements {
        ModelRequirements {
            input_dtype: DType::Int8,
            output_dtype: DType::Int8,
            quantized: true,
            max_bytes: Some(64 * 1024),
            supported_ops: Some(vec!["FULLY_CONNECTED".into(), "SOFTMAX".into()]),
            max_accuracy_drop: 0.05,
        }
    }

    fn checks(verdict: &ModelVerdict) -> Vec<&'static str> {
        verdict.failures.iter().map(ModelFailure::check).collect()
    }

    #[test]
    fn a_model_that_meets_every_requirement_passes() {
        let verdict = judge(&int8_report(), &int8_requirements());
        assert!(verdict.passed(), "{verdict:?}");
        assert!(verdict.unchecked.is_empty());
    }

    #[test]
    fn a_model_that_did_not_load_fails_with_the_interpreter_error_only() {
        let report = ModelReport {
            loaded: false,
            error: Some("ValueError: The model is not a valid Flatbuffer buffer".into()),
            input: None,
            output: None,
            ops: vec![],
            float_tensors: None,
            tflite_accuracy: None,
            rows: 0,
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(checks(&verdict), ["model.not_loaded"]);
        assert!(
            verdict.failures[0]
                .reason()
                .contains("not a valid Flatbuffer")
        );
    }

    #[test]
    fn a_float_model_where_int8_is_needed_fails_dtype_and_quantization() {
        let report = ModelReport {
            input: Some(tensor("float32", None)),
            output: Some(tensor("float32", None)),
            float_tensors: Some(6),
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(
            checks(&verdict),
            [
                "model.wrong_input_dtype",
                "model.wrong_output_dtype",
                "model.not_quantized"
            ]
        );
        assert_eq!(
            verdict.failures[0],
            ModelFailure::WrongInputDtype {
                expected: DType::Int8,
                actual: Some("float32".into())
            }
        );
        assert_eq!(
            verdict.failures[0].reason(),
            "the input tensor is float32, the target needs int8"
        );
        assert!(verdict.failures[2].reason().contains("6 float32 tensors"));
    }

    #[test]
    fn uint8_output_where_int8_is_needed_fails_the_output_dtype_only() {
        let report = ModelReport {
            output: Some(tensor("uint8", Some((0.0039, 0)))),
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(checks(&verdict), ["model.wrong_output_dtype"]);
    }

    #[test]
    fn integer_tensors_without_quantization_parameters_are_not_quantized() {
        let report = ModelReport {
            input: Some(tensor("int8", None)),
            output: Some(tensor("int8", Some((0.0, 0)))),
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(checks(&verdict), ["model.not_quantized"]);
        let reason = verdict.failures[0].reason();
        assert!(
            reason.contains("input tensor has no quantization")
                && reason.contains("output tensor has no quantization"),
            "{reason}"
        );
        // Unknown inner types are not "quantized" either.
        let report = ModelReport {
            float_tensors: None,
            ..int8_report()
        };
        assert_eq!(
            checks(&judge(&report, &int8_requirements())),
            ["model.not_quantized"]
        );
    }

    #[test]
    fn an_op_the_target_lacks_fails_per_op_and_an_unknown_op_list_is_unchecked() {
        let report = ModelReport {
            ops: vec!["FULLY_CONNECTED".into(), "TANH".into(), "SOFTMAX".into()],
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(
            verdict.failures,
            [ModelFailure::UnsupportedOp { op: "TANH".into() }]
        );
        let unknown = ModelRequirements {
            supported_ops: None,
            ..int8_requirements()
        };
        let verdict = judge(&report, &unknown);
        assert!(verdict.passed());
        assert_eq!(verdict.unchecked, ["model.supported_ops"]);
    }

    #[test]
    fn a_model_over_the_budget_is_too_large() {
        let report = ModelReport {
            size_bytes: 70_000,
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(
            verdict.failures,
            [ModelFailure::TooLarge {
                size_bytes: 70_000,
                max_bytes: 65_536
            }]
        );
        let no_budget = ModelRequirements {
            max_bytes: None,
            ..int8_requirements()
        };
        assert!(judge(&report, &no_budget).passed());
    }

    #[test]
    fn an_accuracy_drop_over_the_threshold_fails_and_one_at_it_passes() {
        let report = ModelReport {
            tflite_accuracy: Some(0.90),
            ..int8_report()
        };
        let verdict = judge(&report, &int8_requirements());
        assert_eq!(
            verdict.failures,
            [ModelFailure::AccuracyDrop {
                keras: 0.98,
                tflite: 0.90,
                max_drop: 0.05
            }]
        );
        assert!(verdict.failures[0].reason().contains("0.9800"));
        let at_threshold = ModelReport {
            tflite_accuracy: Some(0.93),
            ..int8_report()
        };
        assert!(judge(&at_threshold, &int8_requirements()).passed());
        // Better than Keras is no drop.
        let better = ModelReport {
            tflite_accuracy: Some(1.0),
            ..int8_report()
        };
        assert!(judge(&better, &int8_requirements()).passed());
    }

    #[test]
    fn an_unmeasured_accuracy_is_unknown_not_zero() {
        for (report, needle) in [
            (
                ModelReport {
                    keras_accuracy: None,
                    keras_error: Some("ValueError: bad file".into()),
                    ..int8_report()
                },
                "Keras model could not be evaluated: ValueError: bad file",
            ),
            (
                ModelReport {
                    keras_accuracy: None,
                    ..int8_report()
                },
                "Keras model's accuracy was not measured",
            ),
            (
                ModelReport {
                    tflite_accuracy: None,
                    error: Some("the input tensor [1, 4] does not take 3 features".into()),
                    ..int8_report()
                },
                "TFLite model could not be evaluated: the input tensor",
            ),
            (
                ModelReport {
                    rows: 0,
                    ..int8_report()
                },
                "no held-out rows",
            ),
        ] {
            let verdict = judge(&report, &int8_requirements());
            assert_eq!(checks(&verdict), ["model.accuracy_unknown"], "{report:?}");
            assert!(verdict.failures[0].reason().contains(needle), "{verdict:?}");
        }
    }

    #[test]
    fn the_script_report_and_the_failures_round_trip_as_json() {
        let json = r#"{"loaded": true, "error": null, "interpreter": "ai_edge_litert",
            "input": {"name": "in", "dtype": "float32", "shape": [1, 3], "quantization": null},
            "output": {"name": "out", "dtype": "int8", "shape": [1, 3],
                       "quantization": {"scale": 0.00390625, "zero_point": -128}},
            "ops": ["FULLY_CONNECTED"], "float_tensors": 0, "size_bytes": 1972,
            "tflite_accuracy": 0.97, "keras_accuracy": null, "keras_error": null, "rows": 45}"#;
        let report: ModelReport = serde_json::from_str(json).unwrap();
        assert_eq!(report.input.as_ref().unwrap().dtype(), Some(DType::Float32));
        assert_eq!(
            report.output.as_ref().unwrap().quantization,
            Some(Quantization {
                scale: 0.003_906_25,
                zero_point: -128
            })
        );
        assert_eq!(report.keras_accuracy, None);
        let failure = ModelFailure::UnsupportedOp { op: "TANH".into() };
        assert_eq!(
            serde_json::to_value(&failure).unwrap(),
            serde_json::json!({"check": "unsupported_op", "op": "TANH"})
        );
    }
}
