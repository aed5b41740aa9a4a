//! The pure parts of the lifecycle stages (data processing, model conversion): their prompts,
//! the validation of a data-processing plan, and the checks of the files a sandboxed Python run
//! declared it would write.
//!
//! A stage is inputs → LLM calls with these prompts → untrusted Python run in the sandbox →
//! validated outputs → typed trace events; the engines that run it live in
//! `autopilot-orchestrator` (`pipeline/`). Everything here is a plain function of values and
//! files read.

mod dp;
mod mc;
mod output;
mod prompts;

pub use dp::{
    CHECK_PLAN_EMPTY, CHECK_PLAN_JSON, CHECK_PLAN_KIND, CHECK_PLAN_SHAPE, CHECK_PLAN_TOO_MANY,
    OPERATION_KINDS, Operation, Plan, PlanProblem, validate_plan,
};
pub use mc::{MODEL_FLASH_SHARE, model_budget, model_requirements, tflm_supported};
pub use output::{
    CsvExpectation, FileStamp, OutputReport, RowBounds, check_csv_output, check_written,
    python_code, tail,
};
pub use prompts::{StagePromptError, StagePrompts, StageTemplate};
