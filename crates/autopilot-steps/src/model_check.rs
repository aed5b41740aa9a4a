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
