//! The data-processing stage: raw CSV + goal → the LLM proposes operations (validated JSON,
//! bounded) → per operation, code run in the sandbox (`script.py INPUT OUTPUT`) → its declared
//! output checked → the dataset summary refreshed for the next operation. Zero operations done
//! is a failure, never a success; a missing declared output fails the operation.

use std::path::Path;

use autopilot_steps::{
    CsvExpectation, FileStamp, OPERATION_KINDS, PipelineInputs, Plan, RowBounds, StageTemplate,
    check_csv_output, python_code, summarize_csv, validate_plan,
};
use autopilot_toolchain::PythonJob;
use autopilot_trace::{
    AttemptOutcome, CheckVerdict, DpOperation, Event, OperationStatus, OutputCheck, SessionOutcome,
    Stage, StageFile, emit,
};
use serde_json::{Value, json};

use super::stage::{Ending, StageRun, attempt_finished, local, stage_file};

/// The processed dataset's file name in the stage folder.
pub(super) const DATASET: &str = "dataset.csv";

/// The final dataset keeps at least this share of the raw rows (1/2): cleaning drops blank and
/// broken rows, not most of the data.
const MIN_KEPT_SHARE: u64 = 2;

/// Runs the stage; returns the processed dataset.
pub(super) async fn run(
    run: &mut StageRun<'_>,
    inputs: &PipelineInputs,
) -> Result<Vec<StageFile>, Ending> {
    let raw_copy = run.work.join("data_0.csv");
    fs_err::copy(&inputs.raw, &raw_copy).map_err(|e| local("cannot copy the raw data", e))?;
    let raw_name = inputs.raw.file_name().map_or_else(
        || "raw.csv".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let raw_summary = summarize(&raw_copy, &raw_name)?;
    let raw_rows = raw_summary.1;
    let app = &run.setup.app;
    let base = json!({
        "app": {"name": app.name, "description": app.description, "classes": app.classes},
        "goal": inputs.goal,
        "raw": raw_name,
        "features": inputs.features,
        "label_column": inputs.label_column,
        "max_operations": inputs.max_operations,
        "kinds": OPERATION_KINDS,
    });
    let plan = plan(run, &base, &raw_summary.0, inputs.max_operations).await?;
    let total = plan.operations.len();
    let mut done = 0u32;
    let mut summary = raw_summary.0;
    let mut rows = raw_rows;
    let mut code_attempt = 0u32;
    for (i, operation) in plan.operations.iter().enumerate() {
        let index = i + 1;
        let last = index == total;
        let input = format!("data_{i}.csv");
        let output = format!("data_{index}.csv");
        let expect = if last {
            CsvExpectation {
                columns: inputs
                    .features
                    .iter()
                    .chain(std::iter::once(&inputs.label_column))
                    .cloned()
                    .collect(),
                numeric: inputs.features.clone(),
                label_column: Some(inputs.label_column.clone()),
                labels: app.classes.clone(),
                rows: Some(RowBounds {
                    min: (raw_rows / MIN_KEPT_SHARE).max(1),
                    max: Some(rows),
                }),
            }
        } else {
            // No operation kind adds rows; an operation that leaves none broke the data.
            CsvExpectation {
                rows: Some(RowBounds {
                    min: 1,
                    max: Some(rows),
                }),
                ..CsvExpectation::default()
            }
        };
        let mut context = base.clone();
        extend(
            &mut context,
            json!({
                "plan": plan.operations,
                "summary": summary,
                "operation": {"index": index, "total": total, "kind": operation.kind,
                              "description": operation.description, "last": last},
            }),
        );
        let budget = run.setup.policies.attempts.sketch.max(1);
        let mut previous: Option<(String, Vec<String>, String)> = None;
        let mut result = None;
        for _ in 0..budget {
            code_attempt += 1;
            run.totals.attempts += 1;
            let (template, vars) = match &previous {
                None => (StageTemplate::DpCode, context.clone()),
                Some((code, problems, traceback)) => {
                    let mut vars = context.clone();
                    extend(
                        &mut vars,
                        json!({"code": code, "problems": problems, "traceback": traceback}),
                    );
                    (StageTemplate::DpRepair, vars)
                }
            };
            let messages = run
                .prompts
                .messages("dp", template, &vars)
                .map_err(|e| local("cannot render a prompt", e))?;
            let answer = run.ask(Stage::Operation, code_attempt, messages).await?;
            let Some(code) = python_code(&answer) else {
                let problem = "the answer held no single ```python block".to_owned();
                attempt_finished(
                    Stage::Operation,
                    code_attempt,
                    AttemptOutcome::ExtractionFailed,
                    problem.clone(),
                );
                previous = Some((String::new(), vec![problem], String::new()));
                continue;
            };
            let script = run.write_script(&format!("op_{index}_{code_attempt}.py"), &code)?;
            let before = FileStamp::of(&run.work.join(&output));
            let job = PythonJob::new(&script, &run.work).args([&input, &output]);
            let ran = run.run_python(&job, "operation", code_attempt).await?;
            if let Some((problem, traceback)) = run.failure(&ran) {
                attempt_finished(
                    Stage::Operation,
                    code_attempt,
                    AttemptOutcome::RunFailed,
                    problem.clone(),
                );
                previous = Some((code, vec![problem], traceback));
                continue;
            }
            let report =
                check_csv_output(&run.work, &output, before.as_ref(), &expect, code_attempt);
            for check in &report.checks {
                emit(&Event::OutputCheck(OutputCheck::clone(check)));
            }
            if report.passed() {
                attempt_finished(
                    Stage::Operation,
                    code_attempt,
                    AttemptOutcome::Succeeded,
                    String::new(),
                );
                result = Some(report.rows);
                break;
            }
            let problems = report.problems();
            attempt_finished(
                Stage::Operation,
                code_attempt,
                AttemptOutcome::OutputInvalid,
                problems.join("; "),
            );
            previous = Some((code, problems, String::new()));
        }
        let status = if result.is_some() {
            OperationStatus::Done
        } else {
            OperationStatus::Failed
        };
        emit(&Event::DpOperation(DpOperation {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            total: u32::try_from(total).unwrap_or(u32::MAX),
            kind: operation.kind.clone(),
            description: operation.description.clone(),
            status,
            attempts: budget.min(code_attempt),
            outputs: vec![output.clone()],
            rows: result.flatten(),
            message: previous
                .filter(|_| result.is_none())
                .map(|(_, problems, _)| problems.join("; "))
                .unwrap_or_default(),
        }));
        if result.is_none() {
            return Err(SessionOutcome::Exhausted {
                stage: Stage::Operation,
            });
        }
        done += 1;
        let refreshed = summarize(&run.work.join(&output), &output)?;
        summary = refreshed.0;
        rows = refreshed.1;
    }
    // The original reported success with zero operations done: never.
    if done == 0 {
        return Err(SessionOutcome::Exhausted {
            stage: Stage::Operations,
        });
    }
    let dataset = run.out.join(DATASET);
    fs_err::copy(run.work.join(format!("data_{done}.csv")), &dataset)
        .map_err(|e| local("cannot copy the dataset", e))?;
    Ok(vec![stage_file("dataset", &dataset)?])
}

/// The plan: asked, validated, asked again with the problems, within the spec budget.
async fn plan(
    run: &mut StageRun<'_>,
    base: &Value,
    summary: &str,
    max: u32,
) -> Result<Plan, Ending> {
    let budget = run.setup.policies.attempts.spec.max(1);
    let mut context = base.clone();
    extend(&mut context, json!({"summary": summary}));
    let mut previous: Option<(String, Vec<String>)> = None;
    for attempt in 1..=budget {
        let (template, vars) = match &previous {
            None => (StageTemplate::DpPlan, context.clone()),
            Some((answer, problems)) => {
                let mut vars = context.clone();
                extend(
                    &mut vars,
                    json!({"previous_answer": answer, "problems": problems}),
                );
                (StageTemplate::DpPlanRepair, vars)
            }
        };
        let messages = run
            .prompts
            .messages("dp", template, &vars)
            .map_err(|e| local("cannot render a prompt", e))?;
        let answer = run.ask(Stage::Operations, attempt, messages).await?;
        match validate_plan(&answer, max) {
            Ok(plan) => {
                emit(&Event::CheckVerdict(CheckVerdict {
                    stage: Stage::Operations,
                    attempt,
                    check: "dp.plan".to_owned(),
                    passed: true,
                    message: format!("{} operation(s)", plan.operations.len()),
                }));
                attempt_finished(
                    Stage::Operations,
                    attempt,
                    AttemptOutcome::Succeeded,
                    String::new(),
                );
                return Ok(plan);
            }
            Err(problems) => {
                for problem in &problems {
                    emit(&Event::CheckVerdict(CheckVerdict {
                        stage: Stage::Operations,
                        attempt,
                        check: problem.check.to_owned(),
                        passed: false,
                        message: problem.message.clone(),
                    }));
                }
                let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
                attempt_finished(
                    Stage::Operations,
                    attempt,
                    AttemptOutcome::PlanInvalid,
                    messages.join("; "),
                );
                previous = Some((answer, messages));
            }
        }
    }
    Err(SessionOutcome::Exhausted {
        stage: Stage::Operations,
    })
}

fn summarize(path: &Path, display: &str) -> Result<(String, u64), Ending> {
    let summary =
        summarize_csv(path, display, None).map_err(|e| local("cannot read a dataset", e))?;
    let rows = summary.rows as u64;
    let text = autopilot_steps::DatasetSummary {
        files: vec![summary],
    }
    .render();
    Ok((text, rows))
}

fn extend(target: &mut Value, more: Value) {
    if let (Value::Object(target), Value::Object(more)) = (target, more) {
        target.extend(more);
    }
}
