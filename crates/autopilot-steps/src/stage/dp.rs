//! The data-processing plan: the JSON list of operations the LLM proposes, validated before any
//! code is written — a bounded, non-empty list of known operation kinds, each with a
//! description. The original accepted any dictionary and could end "successfully" with zero
//! operations done; here an empty plan is a problem, never a success.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answer held no JSON object.
pub const CHECK_PLAN_JSON: &str = "dp.plan.json";
/// The object is not `{"operations": [{"kind", "description"}, …]}`.
pub const CHECK_PLAN_SHAPE: &str = "dp.plan.shape";
/// The plan has no operation.
pub const CHECK_PLAN_EMPTY: &str = "dp.plan.empty";
/// The plan has more operations than allowed.
pub const CHECK_PLAN_TOO_MANY: &str = "dp.plan.too_many";
/// An operation kind autopilot does not know.
pub const CHECK_PLAN_KIND: &str = "dp.plan.kind";

/// The operation kinds a plan may use, with what each does (shown to the LLM). None adds rows,
/// which the row checks rely on.
pub const OPERATION_KINDS: &[(&str, &str)] = &[
    ("select_columns", "keep only some columns"),
    ("drop_columns", "remove columns"),
    ("rename_columns", "rename columns"),
    ("drop_missing", "remove rows with empty or NaN cells"),
    ("fill_missing", "fill empty or NaN cells"),
    (
        "normalize_labels",
        "make class names consistent (case, whitespace, spelling)",
    ),
    (
        "filter_rows",
        "remove rows that fail a condition (outliers, invalid values)",
    ),
    ("deduplicate", "remove duplicate rows"),
    ("cast_types", "convert column types"),
    ("derive_features", "compute new columns from existing ones"),
    ("scale_features", "rescale numeric columns"),
    ("sort_rows", "reorder rows"),
];

/// One planned operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub kind: String,
    pub description: String,
}

/// A validated plan: 1 to `max` operations of known kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub operations: Vec<Operation>,
}

/// Why a plan answer was refused (a stable check id and a sentence for the repair prompt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    pub check: &'static str,
    pub message: String,
}

impl PlanProblem {
    fn new(check: &'static str, message: impl Into<String>) -> Self {
        PlanProblem {
            check,
            message: message.into(),
        }
    }
}

/// Validates a plan answer: its JSON object, then every operation. Returns every problem found
/// (so one repair prompt can name them all).
pub fn validate_plan(answer: &str, max: u32) -> Result<Plan, Vec<PlanProblem>> {
    let value = crate::extract_json(answer)
        .map_err(|p| vec![PlanProblem::new(CHECK_PLAN_JSON, p.message)])?;
    let Some(list) = value.get("operations").and_then(Value::as_array) else {
        return Err(vec![PlanProblem::new(
            CHECK_PLAN_SHAPE,
            "the answer must be a JSON object with an `operations` array",
        )]);
    };
    let mut problems = Vec::new();
    if list.is_empty() {
        problems.push(PlanProblem::new(
            CHECK_PLAN_EMPTY,
            "the plan has no operation; propose at least one",
        ));
    }
    if list.len() > max as usize {
        problems.push(PlanProblem::new(
            CHECK_PLAN_TOO_MANY,
            format!(
                "the plan has {} operations; at most {max} are allowed",
                list.len()
            ),
        ));
    }
    let mut operations = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let n = i + 1;
        let kind = item.get("kind").and_then(Value::as_str).map(str::trim);
        let description = item
            .get("description")
            .and_then(Value::as_str)
            .map(str::trim);
        match (kind, description) {
            (Some(kind), Some(description)) if !description.is_empty() => {
                if OPERATION_KINDS.iter().any(|(k, _)| *k == kind) {
                    operations.push(Operation {
                        kind: kind.to_owned(),
                        description: description.to_owned(),
                    });
                } else {
                    problems.push(PlanProblem::new(
                        CHECK_PLAN_KIND,
                        format!(
                            "operation {n}: `{kind}` is not a known kind ({})",
                            OPERATION_KINDS
                                .iter()
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            _ => problems.push(PlanProblem::new(
                CHECK_PLAN_SHAPE,
                format!("operation {n} needs a `kind` and a non-empty `description` (strings)"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(Plan { operations })
    } else {
        Err(problems)
    }
}
