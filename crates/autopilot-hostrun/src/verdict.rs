//! The verdict of a host run: pure judgement of an [`Observation`] against its [`Scene`] under a
//! [`Policy`]. Pass = built, invoked, printed accuracy within the policy's margin of the model's
//! own accuracy on the same inputs, inputs close to the dataset's, no inference while nothing is
//! presented. An operator the host lacks is "unsupported", never a pass.

use autopilot_trace::HostVerdictKind;

use crate::Scene;
use crate::run::Observation;

/// Thresholds of the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Printed accuracy may be at most this far below the model's own (0.10 = 10 points).
    pub accuracy_margin: f64,
    /// Largest tolerated difference between an input and the dataset's value.
    pub input_tolerance: f64,
    /// Invokes without an object tolerated, as a share of the objects presented.
    pub idle_invoke_share: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            accuracy_margin: 0.10,
            input_tolerance: 0.05,
            idle_invoke_share: 0.10,
        }
    }
}

/// The verdict and the figures behind it (unknown figures are `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: HostVerdictKind,
    /// Plain words for the trace and the repair prompt.
    pub summary: String,
    pub allocate_ok: Option<bool>,
    pub arena_used_bytes: Option<u64>,
    pub objects: usize,
    pub invokes: usize,
    pub invokes_without_object: usize,
    pub max_input_deviation: Option<f64>,
    pub printed_accuracy: Option<f64>,
    pub model_accuracy: Option<f64>,
    pub unsupported: Vec<String>,
}

fn argmax(values: &[f64]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// The class named in a serial line (the longest name that occurs, so "pineapple" is not "apple").
fn class_in(line: &str, classes: &[String]) -> Option<usize> {
    let lower = line.to_lowercase();
    classes
        .iter()
        .enumerate()
        .filter(|(_, c)| lower.contains(&c.to_lowercase()))
        .max_by_key(|(_, c)| c.len())
        .map(|(i, _)| i)
}

fn share(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| count as f64 / of as f64)
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

/// Judges one run.
pub fn judge(obs: &Observation, scene: &Scene, policy: &Policy) -> Verdict {
    let objects = scene.rows.len();
    let classes = &scene.classes;
    let unsupported: Vec<String> = obs
        .messages
        .iter()
        .filter_map(|m| m.strip_prefix("autopilot-host: unsupported_op "))
        .map(str::to_owned)
        .collect();
    let allocate_ok = obs.allocations.last().map(|(ok, _)| *ok);
    let arena_used_bytes = obs
        .allocations
        .iter()
        .rev()
        .find(|(ok, _)| *ok)
        .map(|(_, used)| *used);

    // Per object: the model's last answer and the last class printed while it was presented.
    let mut model_answer: Vec<Option<usize>> = vec![None; objects];
    let mut printed: Vec<Option<usize>> = vec![None; objects];
    let mut max_dev: Option<f64> = None;
    let mut idle = 0;
    for invoke in &obs.invokes {
        match invoke.object.filter(|o| *o < objects) {
            Some(o) => {
                if invoke.ok {
                    model_answer[o] = argmax(&invoke.outputs);
                }
                let row = &scene.rows[o].features;
                for (got, want) in invoke.inputs.iter().zip(row) {
                    let d = (got - want).abs();
                    max_dev = Some(max_dev.map_or(d, |m: f64| m.max(d)));
                }
            }
            None => idle += 1,
        }
    }
    let mut printed_without_object = 0;
    for line in &obs.serial {
        if let Some(class) = class_in(&line.text, classes) {
            match line.object.filter(|o| *o < objects) {
                Some(o) => printed[o] = Some(class),
                None => printed_without_object += 1,
            }
        }
    }
    let labels: Vec<usize> = scene.rows.iter().map(|r| r.label).collect();
    let right = |answers: &[Option<usize>]| {
        answers
            .iter()
            .zip(&labels)
            .filter(|(a, l)| **a == Some(**l))
            .count()
    };
    let model_right = right(&model_answer);
    let printed_right = right(&printed);
    let invoked = !obs.invokes.is_empty();
    let printed_any = printed.iter().any(Option::is_some) || printed_without_object > 0;
    let model_accuracy = if invoked {
        share(model_right, objects)
    } else {
        None
    };
    let printed_accuracy = if printed_any || invoked {
        share(printed_right, objects)
    } else {
        None
    };

    let mut verdict = Verdict {
        kind: HostVerdictKind::Pass,
        summary: String::new(),
        allocate_ok,
        arena_used_bytes,
        objects,
        invokes: obs.invokes.len(),
        invokes_without_object: idle,
        max_input_deviation: max_dev,
        printed_accuracy,
        model_accuracy,
        unsupported: unsupported.clone(),
    };
    let missing_op = obs
        .messages
        .iter()
        .find(|m| m.contains("Didn't find op"))
        .cloned();
    let (kind, summary) = if !unsupported.is_empty() {
        (
            HostVerdictKind::UnsupportedOp,
            format!(
                "the model needs {} which the host TFLM lacks; not judged",
                unsupported.join(", ")
            ),
        )
    } else if let Some(message) = missing_op {
        (
            HostVerdictKind::OpMissing,
            format!("an operator the model needs is not registered: TFLM says \"{message}\""),
        )
    } else if allocate_ok == Some(false) {
        let detail = obs.messages.last().cloned().unwrap_or_default();
        (
            HostVerdictKind::AllocateFailed,
            format!("AllocateTensors() failed: {detail}"),
        )
    } else if !obs.setup_done {
        let how = obs
            .abnormal_end
            .clone()
            .unwrap_or_else(|| "the whole dataset was presented meanwhile".to_owned());
        (
            HostVerdictKind::BlockedInSetup,
            format!("setup() never returned ({how})"),
        )
    } else if !invoked {
        (
            HostVerdictKind::NoInvoke,
            format!(
                "Invoke() was never called while {objects} objects were presented{}",
                if printed_any {
                    ", yet class names were printed"
                } else {
                    ""
                }
            ),
        )
    } else if idle as f64 > policy.idle_invoke_share * objects as f64 {
        (
            HostVerdictKind::PredictsWithoutObject,
            format!(
                "{idle} inferences ran while nothing was in front of the sensor ({objects} objects presented)"
            ),
        )
    } else if max_dev.is_some_and(|d| d > policy.input_tolerance) {
        (
            HostVerdictKind::WrongInput,
            format!(
                "the inputs given to the model differ from the dataset's by up to {:.3} (tolerance {}); the model was right for {model_right} of {objects}",
                max_dev.unwrap_or_default(),
                policy.input_tolerance
            ),
        )
    } else if printed_accuracy.unwrap_or(0.0) + policy.accuracy_margin
        < model_accuracy.unwrap_or(0.0)
    {
        (
            HostVerdictKind::WrongOutput,
            wrong_output_words(
                &printed,
                &model_answer,
                &labels,
                classes,
                printed_right,
                model_right,
            ),
        )
    } else {
        (
            HostVerdictKind::Pass,
            format!(
                "printed the right class for {printed_right} of {objects} objects ({}); the model itself was right for {model_right} ({})",
                percent(printed_accuracy),
                percent(model_accuracy)
            ),
        )
    };
    verdict.kind = kind;
    verdict.summary = summary;
    verdict
}

/// "printed 'banana' for 70 of 75 apples; the model itself says apple for 73"
fn wrong_output_words(
    printed: &[Option<usize>],
    model: &[Option<usize>],
    labels: &[usize],
    classes: &[String],
    printed_right: usize,
    model_right: usize,
) -> String {
    let objects = labels.len();
    let mut worst: Option<(usize, usize, usize)> = None; // (count, label, printed)
    for label in 0..classes.len() {
        for shown in 0..classes.len() {
            if shown == label {
                continue;
            }
            let count = printed
                .iter()
                .zip(labels)
                .filter(|(p, l)| **l == label && **p == Some(shown))
                .count();
            if count > worst.map_or(0, |w| w.0) {
                worst = Some((count, label, shown));
            }
        }
    }
    match worst {
        Some((count, label, shown)) => {
            let of = labels.iter().filter(|l| **l == label).count();
            let model_says = model
                .iter()
                .zip(labels)
                .filter(|(m, l)| **l == label && **m == Some(label))
                .count();
            format!(
                "printed '{}' for {count} of {of} {}s; the model itself says {} for {model_says} (printed right {printed_right} of {objects}, model right {model_right})",
                classes[shown], classes[label], classes[label]
            )
        }
        None => format!(
            "printed the right class for {printed_right} of {objects} objects; the model itself was right for {model_right}"
        ),
    }
}
