//! The model-conversion stage: the Keras model + representative data (DP's output) + the
//! target's requirements → the LLM writes the conversion script → it runs in the sandbox
//! (`script.py --keras K --data D --out model.tflite`) → the `.tflite` is checked (written by
//! this run, a flatbuffer autopilot can read) and judged on autopilot's evaluation report
//! (`python/autopilot_eval.py`, also sandboxed: it loads an LLM-made model) → on success
//! autopilot's own converter makes the header SG uses.

use std::path::Path;

use autopilot_steps::{
    FileStamp, ModelReport, PipelineInputs, StageTemplate, check_written, inspect_tflite, judge,
    model_budget, model_requirements, python_code, tflite_to_header, tflm_supported,
};
use autopilot_toolchain::PythonJob;
use autopilot_trace::{
    AttemptOutcome, Event, ModelCheck, ModelCheckFailure, OutputCheck, SessionOutcome, Stage,
    StageFile, emit,
};
use serde_json::json;

use super::stage::{Ending, StageRun, attempt_finished, local, stage_file};

/// The converted model and its header in the stage folder.
pub(super) const TFLITE: &str = "model.tflite";
pub(super) const HEADER: &str = "model.h";

/// Runs the stage with `data` as the representative data; returns the model and its header.
pub(super) async fn run(
    run: &mut StageRun<'_>,
    inputs: &PipelineInputs,
    data: &Path,
) -> Result<Vec<StageFile>, Ending> {
    let app = &run.setup.app;
    let Some(model) = &app.model else {
        return Err(local(
            "the app has no [model] section",
            "the conversion needs the model's tensor types",
        ));
    };
    let flash = run.setup.target.flash_bytes;
    let base = json!({
        "app": {"name": app.name, "description": app.description, "classes": app.classes},
        "features": inputs.features,
        "label_column": inputs.label_column,
        "target": {"name": run.setup.target.name, "flash_bytes": flash,
                   "model_budget_bytes": model_budget(flash)},
        "model": {"input_dtype": model.input.dtype.as_str(),
                  "output_dtype": model.output.dtype.as_str(), "quantize": inputs.quantize},
    });
    let budget = run.setup.policies.attempts.sketch.max(1);
    let mut previous: Option<(String, Vec<String>, String)> = None;
    for attempt in 1..=budget {
        run.totals.attempts += 1;
        let vars = match &previous {
            None => base.clone(),
            Some((code, problems, traceback)) => {
                let mut vars = base.clone();
                if let (Some(vars), Some(more)) = (
                    vars.as_object_mut(),
                    json!({"code": code, "problems": problems, "traceback": traceback}).as_object(),
                ) {
                    vars.extend(more.clone());
                }
                vars
            }
        };
        let template = if previous.is_some() {
            StageTemplate::McRepair
        } else {
            StageTemplate::McCode
        };
        let messages = run
            .prompts
            .messages("mc", template, &vars)
            .map_err(|e| local("cannot render a prompt", e))?;
        let answer = run.ask(Stage::Conversion, attempt, messages).await?;
        let Some(code) = python_code(&answer) else {
            let problem = "the answer held no single ```python block".to_owned();
            attempt_finished(
                Stage::Conversion,
                attempt,
                AttemptOutcome::ExtractionFailed,
                problem.clone(),
            );
            previous = Some((String::new(), vec![problem], String::new()));
            continue;
        };
        match convert_once(run, inputs, data, attempt, &code).await? {
            Ok(()) => {
                attempt_finished(
                    Stage::Conversion,
                    attempt,
                    AttemptOutcome::Succeeded,
                    String::new(),
                );
                return finish(run, app.model.as_ref().and_then(|m| m.array.clone()));
            }
            Err((outcome, problems, traceback)) => {
                attempt_finished(Stage::Conversion, attempt, outcome, problems.join("; "));
                previous = Some((code, problems, traceback));
            }
        }
    }
    Err(SessionOutcome::Exhausted {
        stage: Stage::Conversion,
    })
}

type AttemptFailure = (AttemptOutcome, Vec<String>, String);

/// One conversion attempt: run the script, check its output, evaluate and judge the model.
async fn convert_once(
    run: &mut StageRun<'_>,
    inputs: &PipelineInputs,
    data: &Path,
    attempt: u32,
    code: &str,
) -> Result<Result<(), AttemptFailure>, Ending> {
    let script = run.write_script(&format!("convert_{attempt}.py"), code)?;
    let before = FileStamp::of(&run.work.join(TFLITE));
    let job = PythonJob::new(&script, &run.work)
        .arg("--keras")
        .arg(&inputs.keras)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(TFLITE)
        .read_only(&inputs.keras)
        .read_only(data);
    let ran = run.run_python(&job, "conversion", attempt).await?;
    if let Some((problem, traceback)) = run.failure(&ran) {
        return Ok(Err((AttemptOutcome::RunFailed, vec![problem], traceback)));
    }
    let written = check_written(&run.work, TFLITE, before.as_ref(), attempt);
    for check in &written.checks {
        emit(&Event::OutputCheck(check.clone()));
    }
    if !written.passed() {
        return Ok(Err((
            AttemptOutcome::OutputInvalid,
            written.problems(),
            String::new(),
        )));
    }
    let bytes =
        fs_err::read(run.work.join(TFLITE)).map_err(|e| local("cannot read the model", e))?;
    let facts = inspect_tflite(&bytes);
    emit(&Event::OutputCheck(OutputCheck {
        attempt,
        check: "output.tflite".to_owned(),
        file: TFLITE.to_owned(),
        passed: facts.is_ok(),
        message: facts
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }));
    if let Err(error) = facts {
        return Ok(Err((
            AttemptOutcome::OutputInvalid,
            vec![format!("{TFLITE} is not a TFLite flatbuffer: {error}")],
            String::new(),
        )));
    }
    let report = evaluate(run, inputs, attempt).await?;
    let report = match report {
        Ok(report) => report,
        Err(problem) => {
            return Ok(Err((
                AttemptOutcome::OutputInvalid,
                vec![problem],
                String::new(),
            )));
        }
    };
    // The op check uses TFLM's resolver rule: every op the model uses must be a builtin TFLM
    // can register.
    let supported = Some(tflm_supported(&report.ops));
    let Some(requirements) =
        model_requirements(&run.setup.app, run.setup.target.flash_bytes, supported)
    else {
        return Err(local(
            "the app has no [model] or [pipeline] section",
            "nothing to judge against",
        ));
    };
    let verdict = judge(&report, &requirements);
    emit(&Event::ModelCheck(ModelCheck {
        attempt,
        passed: verdict.passed(),
        failures: verdict
            .failures
            .iter()
            .map(|f| ModelCheckFailure {
                check: f.check().to_owned(),
                message: f.reason(),
            })
            .collect(),
        input_dtype: report.input.as_ref().map(|t| t.dtype.clone()),
        output_dtype: report.output.as_ref().map(|t| t.dtype.clone()),
        ops: report.ops.clone(),
        size_bytes: report.loaded.then_some(report.size_bytes),
        tflite_accuracy: report.tflite_accuracy,
        keras_accuracy: report.keras_accuracy,
    }));
    if verdict.passed() {
        Ok(Ok(()))
    } else {
        Ok(Err((
            AttemptOutcome::OutputInvalid,
            verdict
                .failures
                .iter()
                .map(autopilot_steps::ModelFailure::reason)
                .collect(),
            String::new(),
        )))
    }
}

/// Runs autopilot's evaluation script on the converted model (in the sandbox) and reads its
/// report; `Err` is a problem for the repair prompt (no report: the script could not judge).
async fn evaluate(
    run: &mut StageRun<'_>,
    inputs: &PipelineInputs,
    attempt: u32,
) -> Result<Result<ModelReport, String>, Ending> {
    let report_name = format!("report_{attempt}.json");
    let classes = run.setup.app.classes.join(",");
    let job = PythonJob::new(&run.setup.eval_script, &run.work)
        .arg("--tflite")
        .arg(TFLITE)
        .arg("--keras")
        .arg(&inputs.keras)
        .arg("--data")
        .arg(&inputs.held_out)
        .arg("--features")
        .arg(inputs.features.join(","))
        .arg("--label-column")
        .arg(&inputs.label_column)
        .arg("--classes")
        .arg(classes)
        .arg("--out")
        .arg(&report_name)
        .read_only(&inputs.keras)
        .read_only(&inputs.held_out);
    let ran = run.run_python(&job, "evaluation", attempt).await?;
    if let Some((problem, traceback)) = run.failure(&ran) {
        // Our own script failing is not the model's fault: infrastructure.
        return Err(SessionOutcome::InfrastructureError {
            kind: crate::session::infra::TOOLCHAIN_FAILED,
            message: format!("the evaluation script failed: {problem}: {traceback}"),
        });
    }
    let text = fs_err::read_to_string(run.work.join(&report_name))
        .map_err(|e| local("the evaluation script wrote no report", e))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| format!("the evaluation report is not readable: {e}")))
}

/// Copies the judged model to the stage folder and makes its header with autopilot's converter.
fn finish(run: &StageRun<'_>, symbol: Option<String>) -> Result<Vec<StageFile>, Ending> {
    let tflite = run.out.join(TFLITE);
    fs_err::copy(run.work.join(TFLITE), &tflite).map_err(|e| local("cannot copy the model", e))?;
    let bytes = fs_err::read(&tflite).map_err(|e| local("cannot read the model", e))?;
    let symbol = symbol.unwrap_or_else(|| "g_model_data".to_owned());
    let header = tflite_to_header(&bytes, &symbol, TFLITE)
        .map_err(|e| local("cannot convert the model", e))?;
    let header_path = run.out.join(HEADER);
    fs_err::write(&header_path, header).map_err(|e| local("cannot write the header", e))?;
    Ok(vec![
        stage_file("tflite", &tflite)?,
        stage_file("header", &header_path)?,
    ])
}
