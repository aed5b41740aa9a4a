//! What the model-conversion stage asks of a converted model, from the app and the board: the
//! tensor types of the app's `[model]`, quantization as `[pipeline] quantize` says, a flash
//! budget from the board, the operators TFLM can register, the accuracy policy.

use crate::app::{App, PipelineInputs};
use crate::model_check::ModelRequirements;
use crate::tflite::resolver_method;

/// The share of the board's flash a model may take: the sketch, the TFLM runtime and the core
/// need the rest (TFLM alone is 100–200 KB on a Cortex-M4).
pub const MODEL_FLASH_SHARE: (u64, u64) = (1, 2);

/// The flash budget of a model on a board with `flash_bytes` of flash.
pub fn model_budget(flash_bytes: u64) -> u64 {
    flash_bytes / MODEL_FLASH_SHARE.1 * MODEL_FLASH_SHARE.0
}

/// The operators among `ops` (the interpreter's names) that TFLM's `MicroMutableOpResolver`
/// can register: builtins (`FULLY_CONNECTED`) with an `Add…` method. Custom operators (the
/// TensorFlow "Flex" ops of `SELECT_TF_OPS`, named like `FlexErf`) and StableHLO ops have none,
/// so a model that needs one cannot run on the device. A builtin the pinned TFLM lacks passes
/// here; the host check of the sketch stage reports it (`op_missing`, `unsupported_op`).
pub fn tflm_supported(ops: &[String]) -> Vec<String> {
    ops.iter()
        .filter(|op| {
            op.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && resolver_method(op).is_some()
        })
        .cloned()
        .collect()
}

/// The requirements of the converted model, `None` when the app has no `[model]` (the tensor
/// types come from it) or no `[pipeline]`.
pub fn model_requirements(
    app: &App,
    flash_bytes: u64,
    supported_ops: Option<Vec<String>>,
) -> Option<ModelRequirements> {
    let model = app.model.as_ref()?;
    let pipeline: &PipelineInputs = app.pipeline.as_ref()?;
    Some(ModelRequirements {
        input_dtype: model.input.dtype,
        output_dtype: model.output.dtype,
        quantized: pipeline.quantize,
        max_bytes: Some(model_budget(flash_bytes)),
        supported_ops,
        max_accuracy_drop: pipeline.max_accuracy_drop,
    })
}
