//! The application spec: a JSON object the LLM fills before writing code, built from the app
//! ([`spec_template`]), taken out of the answer ([`extract_json`]) and validated field by field
//! ([`validate_spec`]) into a typed [`Spec`] or a list of exact problems for the repair prompt.
//!
//! The template mixes *facts* (target, classes, model header and tensors), which the answer
//! must keep unchanged, with *fill-ins*: strings `"<fill: …>"` saying what to put there.

use std::fmt::{self, Write as _};

use autopilot_trace::{CheckVerdict, Stage};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::app::{App, ModelKind};
use crate::extract::{fenced_blocks, strip_reasoning};

/// The marker that starts every fill-in of the template.
pub const FILL_MARKER: &str = "<fill:";

/// Serial rates a sketch may use.
pub(crate) const STANDARD_BAUD_RATES: &[u64] = &[
    300, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 31250, 38400, 57600, 74880, 115_200, 230_400,
    250_000, 500_000, 1_000_000, 2_000_000,
];

const MAX_SAMPLE_INTERVAL_MS: u64 = 3_600_000;

/// The groups of spec rules; each becomes one check verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecCheck {
    /// A JSON object could be found and parsed.
    Json,
    /// Required fields present with the right types and sensible values.
    Fields,
    /// No fill-in or placeholder text left.
    Placeholders,
    /// The template's facts kept unchanged.
    Facts,
    /// The board matches the session's target.
    Target,
    /// Only libraries known for the target.
    Libraries,
    /// The output lists exactly the app's classes.
    Classes,
    /// The values mean what their fields ask for: the inference call runs the model, the
    /// board name is a board's name, the line format describes a printed line.
    Semantics,
}

impl SpecCheck {
    pub const ALL: [SpecCheck; 8] = [
        SpecCheck::Json,
        SpecCheck::Fields,
        SpecCheck::Placeholders,
        SpecCheck::Facts,
        SpecCheck::Target,
        SpecCheck::Libraries,
        SpecCheck::Classes,
        SpecCheck::Semantics,
    ];

    /// Stable check id (`spec.placeholders`).
    pub fn id(self) -> &'static str {
        match self {
            SpecCheck::Json => "spec.json",
            SpecCheck::Fields => "spec.fields",
            SpecCheck::Placeholders => "spec.placeholders",
            SpecCheck::Facts => "spec.facts",
            SpecCheck::Target => "spec.target",
            SpecCheck::Libraries => "spec.libraries",
            SpecCheck::Classes => "spec.classes",
            SpecCheck::Semantics => "spec.semantics",
        }
    }
}

/// One exact thing wrong with a spec answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecProblem {
    pub check: SpecCheck,
    /// Dotted path into the JSON (`output.serial_baud`, `libraries[1]`); `$` for the whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

/// The rules a spec is held to, from the app and the target definition.
#[derive(Debug, Clone, Copy)]
pub struct SpecRules<'a> {
    /// The session's target (`run --target` or an experiment's `targets` may differ from the
    /// app's).
    pub target: &'a str,
    pub classes: &'a [String],
    /// Library names allowed for the target (the toolchain's allow-list, including the
    /// pinned TinyML library).
    pub allowed_libraries: &'a [String],
    pub model_kind: Option<ModelKind>,
    /// The board's RAM, to bound the tensor arena.
    pub ram_bytes: Option<u64>,
}

/// A validated spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    pub purpose: String,
    pub board_name: String,
    pub target: String,
    /// With the allow-list's spelling.
    pub libraries: Vec<String>,
    pub sensor_name: String,
    pub sensor_reading: String,
    pub sample_interval_ms: u64,
    pub preprocessing: Vec<String>,
    pub inference_call: String,
    pub tensor_arena_bytes: Option<u64>,
    pub serial_baud: u64,
    pub line_format: String,
    pub classes: Vec<String>,
    /// The whole answer object (extra fields kept), for the sketch prompt.
    pub json: Value,
}

/// The result of validating one spec answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecValidation {
    pub spec: Option<Spec>,
    pub problems: Vec<SpecProblem>,
    /// The checks that were evaluated (all of them once JSON was found, else only `Json`).
    pub checked: Vec<SpecCheck>,
}

impl SpecValidation {
    pub fn is_valid(&self) -> bool {
        self.spec.is_some()
    }

    /// One verdict per evaluated check (stage `spec`); failed ones list their problems.
    pub fn verdicts(&self, attempt: u32) -> Vec<CheckVerdict> {
        self.checked
            .iter()
            .map(|check| {
                let problems: Vec<String> = self
                    .problems
                    .iter()
                    .filter(|p| p.check == *check)
                    .map(ToString::to_string)
                    .collect();
                CheckVerdict {
                    stage: Stage::Spec,
                    attempt,
                    check: check.id().to_owned(),
                    passed: problems.is_empty(),
                    message: problems.join("; "),
                }
            })
            .collect()
    }
}

/// Builds the spec template for an app on its own target: see [`spec_template_for`].
pub fn spec_template(app: &App) -> Value {
    spec_template_for(app, &app.target)
}

/// Builds the spec template for an app built for `target` (the session's target, which
/// `run --target` or an experiment's `targets` may set to another board than the app's): facts
/// filled in, the rest as `"<fill: …>"` strings.
pub fn spec_template_for(app: &App, target: &str) -> Value {
    let fill = |what: &str| Value::String(format!("{FILL_MARKER} {what}>"));
    let mut model = Map::new();
    let mut inference = Map::new();
    inference.insert(
        "call".into(),
        fill("the exact statement that runs the model, as it will appear in loop()"),
    );
    if let Some(m) = &app.model {
        model.insert("kind".into(), json!(m.kind.as_str()));
        model.insert("header".into(), json!(m.header_name));
        if let Some(array) = &m.array {
            model.insert("array".into(), json!(array));
        }
        if let Some(len) = &m.array_len {
            model.insert("array_length".into(), json!(len));
        }
        if let Some(function) = &m.predict_function {
            model.insert("predict_function".into(), json!(function));
        }
        model.insert("input".into(), json!(m.input.describe()));
        model.insert("output".into(), json!(m.output.describe()));
        if m.kind == ModelKind::Tflite {
            inference.insert(
                "tensor_arena_bytes".into(),
                fill("integer: bytes of the TFLite Micro tensor arena"),
            );
        }
    }
    let mut spec = Map::new();
    spec.insert(
        "application".into(),
        json!({ "name": app.name, "purpose": fill("one sentence: what the sketch does") }),
    );
    spec.insert(
        "board".into(),
        json!({ "target": target, "name": fill("the board's full name") }),
    );
    spec.insert(
        "libraries".into(),
        json!([fill(
            "each Arduino library the sketch includes, from the allowed list; [] when none"
        )]),
    );
    spec.insert(
        "sensor".into(),
        json!({
            "name": fill("the sensor, or the fixed sample table when the board has none"),
            "reading": fill("how one input sample is obtained, naming the API calls"),
            "sample_interval_ms": fill("integer: milliseconds between two predictions"),
        }),
    );
    spec.insert(
        "preprocessing".into(),
        json!([fill("each step from raw reading to model input, in order")]),
    );
    if !model.is_empty() {
        spec.insert("model".into(), Value::Object(model));
    }
    spec.insert("inference".into(), Value::Object(inference));
    spec.insert(
        "output".into(),
        json!({
            "serial_baud": fill("integer: the Serial baud rate"),
            "line_format": fill("exactly what one printed prediction line looks like"),
            "classes": app.classes,
        }),
    );
    Value::Object(spec)
}

/// Finds the JSON object in an answer: a ```json block first, then any other block that
/// parses, then the first `{…}` of the bare text.
pub fn extract_json(answer: &str) -> Result<Value, SpecProblem> {
    let text = strip_reasoning(&answer.replace("\r\n", "\n"));
    let blocks = fenced_blocks(&text);
    let mut first_error: Option<String> = None;
    let ordered = blocks
        .iter()
        .filter(|b| b.tag == "json" || b.tag == "jsonc")
        .chain(
            blocks
                .iter()
                .filter(|b| b.tag != "json" && b.tag != "jsonc"),
        );
    for block in ordered {
        match serde_json::from_str::<Value>(&block.content) {
            Ok(value @ Value::Object(_)) => return Ok(value),
            Err(e) if block.tag.starts_with("json") && first_error.is_none() => {
                first_error = Some(format!("the ```json block is not valid JSON: {e}"));
            }
            Ok(_) | Err(_) => {}
        }
    }
    if let Some(message) = first_error {
        return Err(json_problem(message));
    }
    if let Some(start) = text.find('{') {
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        return match values.next() {
            Some(Ok(value @ Value::Object(_))) => Ok(value),
            Some(Err(e)) => Err(json_problem(format!(
                "the JSON object in the answer is not valid JSON: {e}"
            ))),
            _ => Err(json_problem("the answer holds no JSON object".to_owned())),
        };
    }
    Err(json_problem(
        "the answer holds no JSON object; answer with the filled spec in one ```json block"
            .to_owned(),
    ))
}

fn json_problem(message: String) -> SpecProblem {
    SpecProblem {
        check: SpecCheck::Json,
        path: "$".to_owned(),
        message,
    }
}

/// Validates a spec answer against the template it was asked to fill and the rules.
pub fn validate_spec(answer: &str, template: &Value, rules: &SpecRules<'_>) -> SpecValidation {
    let value = match extract_json(answer) {
        Ok(value) => value,
        Err(problem) => {
            return SpecValidation {
                spec: None,
                problems: vec![problem],
                checked: vec![SpecCheck::Json],
            };
        }
    };
    let mut v = Validator {
        root: &value,
        problems: Vec::new(),
    };
    v.placeholders(&value, "");
    v.facts(template, "");
    let purpose = v.string("application.purpose");
    let board_name = v.string("board.name");
    let target = v.string("board.target");
    if let Some(target) = &target
        && target != rules.target
    {
        v.problem(
            SpecCheck::Target,
            "board.target",
            format!(
                "is `{target}` but this session builds for target `{}`",
                rules.target
            ),
        );
    }
    let libraries = v.libraries(rules.allowed_libraries);
    let sensor_name = v.string("sensor.name");
    let sensor_reading = v.string("sensor.reading");
    let sample_interval_ms = v.integer("sensor.sample_interval_ms", 0, MAX_SAMPLE_INTERVAL_MS);
    let preprocessing = v.string_list("preprocessing", true);
    let inference_call = v.string("inference.call");
    let tensor_arena_bytes = if rules.model_kind == Some(ModelKind::Tflite) {
        v.integer(
            "inference.tensor_arena_bytes",
            256,
            rules.ram_bytes.unwrap_or(u64::MAX),
        )
    } else {
        None
    };
    let serial_baud = v.integer("output.serial_baud", 1, u64::MAX);
    if let Some(baud) = serial_baud
        && !STANDARD_BAUD_RATES.contains(&baud)
    {
        v.problem(
            SpecCheck::Fields,
            "output.serial_baud",
            format!("{baud} is not a standard baud rate (e.g. 9600, 115200)"),
        );
    }
    let line_format = v.string("output.line_format");
    let classes = v.string_list("output.classes", false);
    if let Some(classes) = &classes {
        let missing: Vec<&str> = rules
            .classes
            .iter()
            .filter(|c| !classes.contains(c))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = classes
            .iter()
            .filter(|c| !rules.classes.contains(c))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let mut message = format!("must list exactly the classes {}", rules.classes.join(", "));
            if !missing.is_empty() {
                let _ = write!(message, "; missing {}", missing.join(", "));
            }
            if !extra.is_empty() {
                let _ = write!(message, "; not classes: {}", extra.join(", "));
            }
            v.problem(SpecCheck::Classes, "output.classes", message);
        }
    }
    v.semantics(
        template,
        rules,
        (
            inference_call.as_deref(),
            board_name.as_deref(),
            line_format.as_deref(),
        ),
    );
    let problems = v.problems;
    let spec = if problems.is_empty() {
        (|| {
            Some(Spec {
                purpose: purpose?,
                board_name: board_name?,
                target: target?,
                libraries: libraries?,
                sensor_name: sensor_name?,
                sensor_reading: sensor_reading?,
                sample_interval_ms: sample_interval_ms?,
                preprocessing: preprocessing?,
                inference_call: inference_call?,
                tensor_arena_bytes,
                serial_baud: serial_baud?,
                line_format: line_format?,
                classes: classes?,
                json: value.clone(),
            })
        })()
    } else {
        None
    };
    SpecValidation {
        spec,
        problems,
        checked: SpecCheck::ALL.to_vec(),
    }
}

struct Validator<'v> {
    root: &'v Value,
    problems: Vec<SpecProblem>,
}

/// Names of tensor and C element types: what a line format is not.
const TYPE_NAMES: &[&str] = &[
    "float", "float16", "float32", "float64", "double", "int", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "char", "byte", "string",
];

/// Whether a value is a type name (`float32`, `int8_t`, `kTfLiteFloat32`, `float32[1, 4]`).
fn is_type_name(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    let base = lower
        .split(['[', '(', ' '])
        .next()
        .unwrap_or_default()
        .trim_start_matches("ktflite")
        .trim_end_matches("_t");
    TYPE_NAMES.contains(&base) || lower.contains("tensor")
}

impl<'v> Validator<'v> {
    /// What the fields mean, beyond their shape (only for fields that passed the structural
    /// checks): the issue's real-model answers had `"inference.call": "1.1.1.1"`, `"board.name":
    /// "uno"` and a tensor type as the line format, and all of them validated.
    fn semantics(
        &mut self,
        template: &Value,
        rules: &SpecRules<'_>,
        (call, board, line): (Option<&str>, Option<&str>, Option<&str>),
    ) {
        let model = template.get("model");
        let predict = model
            .and_then(|m| m.get("predict_function"))
            .and_then(Value::as_str);
        let tflite = model.and_then(|m| m.get("kind")).and_then(Value::as_str)
            == Some(ModelKind::Tflite.as_str());
        if let Some(call) = call {
            let compact: String = call.chars().filter(|c| !c.is_whitespace()).collect();
            if let Some(function) = predict
                && !compact.contains(&format!("{function}("))
            {
                self.problem(
                    SpecCheck::Semantics,
                    "inference.call",
                    format!("must call the model's predict function: `{function}(…)`"),
                );
            } else if predict.is_none() && tflite && !compact.contains("Invoke(") {
                self.problem(
                    SpecCheck::Semantics,
                    "inference.call",
                    "must run the TFLite Micro interpreter: `interpreter->Invoke()`",
                );
            }
        }
        if let Some(board) = board {
            let normal = |s: &str| {
                s.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase()
            };
            if normal(board) == normal(rules.target) {
                self.problem(
                    SpecCheck::Semantics,
                    "board.name",
                    format!(
                        "`{board}` is the target id, not the board's full name (e.g. `Arduino Uno`)"
                    ),
                );
            }
        }
        if let Some(line) = line {
            let lower = line.to_ascii_lowercase();
            let names_output = rules
                .classes
                .iter()
                .any(|c| lower.contains(&c.to_ascii_lowercase()))
                || ["class", "label", "name", "predict", "colo", "<", "{", "%s"]
                    .iter()
                    .any(|word| lower.contains(word));
            if is_type_name(line) {
                self.problem(
                    SpecCheck::Semantics,
                    "output.line_format",
                    format!("`{line}` is a data type, not what a printed line looks like"),
                );
            } else if !names_output {
                self.problem(
                    SpecCheck::Semantics,
                    "output.line_format",
                    "must show the printed line with the predicted class in it \
                     (e.g. `<class name>`)",
                );
            }
        }
    }

    fn problem(&mut self, check: SpecCheck, path: &str, message: impl Into<String>) {
        self.problems.push(SpecProblem {
            check,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn has_problem_at(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.path == path)
    }

    fn get(&self, path: &str) -> Option<&'v Value> {
        path.split('.')
            .try_fold(self.root, |value, key| value.get(key))
    }

    /// A required non-empty string.
    fn string(&mut self, path: &str) -> Option<String> {
        match self.get(path) {
            None | Some(Value::Null) => {
                self.problem(SpecCheck::Fields, path, "is missing");
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.problem(SpecCheck::Fields, path, "is empty");
                None
            }
            Some(Value::String(s)) => (!self.has_problem_at(path)).then(|| s.trim().to_owned()),
            Some(other) => {
                self.problem(
                    SpecCheck::Fields,
                    path,
                    format!("must be a string, got {}", kind(other)),
                );
                None
            }
        }
    }

    /// A required integer within `[min, max]` (a numeric string is accepted).
    fn integer(&mut self, path: &str, min: u64, max: u64) -> Option<u64> {
        let value = self.get(path);
        let number = match value {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if !s.contains(FILL_MARKER) => s.trim().parse().ok(),
            None | Some(Value::Null) => {
                self.problem(SpecCheck::Fields, path, "is missing");
                return None;
            }
            _ => None,
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                let bound = if max == u64::MAX {
                    format!("at least {min}")
                } else {
                    format!("between {min} and {max}")
                };
                self.problem(
                    SpecCheck::Fields,
                    path,
                    format!("is {n}; it must be {bound}"),
                );
                None
            }
            None => {
                if !self.has_problem_at(path) {
                    let got = value.map_or_else(|| "nothing".to_owned(), kind);
                    self.problem(
                        SpecCheck::Fields,
                        path,
                        format!("must be a non-negative integer, got {got}"),
                    );
                }
                None
            }
        }
    }

    /// A required list of non-empty strings.
    fn string_list(&mut self, path: &str, non_empty: bool) -> Option<Vec<String>> {
        match self.get(path) {
            Some(Value::Array(items)) => {
                if non_empty && items.is_empty() {
                    self.problem(SpecCheck::Fields, path, "is empty");
                    return None;
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    match item {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        Value::String(_) => {
                            self.problem(SpecCheck::Fields, &item_path, "is empty");
                            ok = false;
                        }
                        other => {
                            self.problem(
                                SpecCheck::Fields,
                                &item_path,
                                format!("must be a string, got {}", kind(other)),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            None | Some(Value::Null) => {
                self.problem(SpecCheck::Fields, path, "is missing");
                None
            }
            Some(other) => {
                self.problem(
                    SpecCheck::Fields,
                    path,
                    format!("must be a list of strings, got {}", kind(other)),
                );
                None
            }
        }
    }

    /// `libraries`: every entry on the allow-list (matched ignoring case), no duplicates.
    fn libraries(&mut self, allowed: &[String]) -> Option<Vec<String>> {
        let names = self.string_list("libraries", false)?;
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, name) in names.iter().enumerate() {
            let path = format!("libraries[{i}]");
            if self.has_problem_at(&path) {
                ok = false;
                continue;
            }
            let canonical = allowed.iter().find(|a| a.eq_ignore_ascii_case(name));
            match canonical {
                Some(canonical) if out.contains(canonical) => {
                    self.problem(
                        SpecCheck::Libraries,
                        &path,
                        format!("`{name}` is listed twice"),
                    );
                    ok = false;
                }
                Some(canonical) => out.push(canonical.clone()),
                None => {
                    let hint = if name.to_ascii_lowercase().ends_with(".h") {
                        " (that is a header; name the library that provides it)"
                    } else {
                        ""
                    };
                    let choices = if allowed.is_empty() {
                        "no libraries are available for this target; use []".to_owned()
                    } else {
                        format!("allowed: {}", allowed.join(", "))
                    };
                    self.problem(
                        SpecCheck::Libraries,
                        &path,
                        format!(
                            "`{name}` is not a library available for this target{hint}; {choices}"
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Every string still holding a fill-in or placeholder text.
    fn placeholders(&mut self, value: &Value, path: &str) {
        match value {
            Value::String(s) => {
                if let Some(reason) = placeholder_reason(s) {
                    let shown: String = s.chars().take(60).collect();
                    self.problem(
                        SpecCheck::Placeholders,
                        if path.is_empty() { "$" } else { path },
                        format!("{reason}: \"{shown}\""),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.placeholders(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let child = child_path(path, key);
                    self.placeholders(item, &child);
                }
            }
            _ => {}
        }
    }

    /// Every fact of the template (a leaf that is not a fill-in) must be in the answer unchanged.
    fn facts(&mut self, template: &Value, path: &str) {
        match template {
            Value::Object(map) => {
                for (key, item) in map {
                    let child = child_path(path, key);
                    self.facts(item, &child);
                }
            }
            Value::String(s) if s.starts_with(FILL_MARKER) => {}
            Value::Array(items)
                if items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| s.starts_with(FILL_MARKER))) => {}
            fact => {
                // The classes and the target have their own checks with better messages.
                if path == "output.classes" || path == "board.target" {
                    return;
                }
                match self.get(path) {
                    Some(actual) if same_fact(actual, fact) => {}
                    Some(actual) => self.problem(
                        SpecCheck::Facts,
                        path,
                        format!("is a given fact and must stay {fact}, not {actual}"),
                    ),
                    None => self.problem(
                        SpecCheck::Facts,
                        path,
                        format!("is a given fact and must stay {fact}; it is missing"),
                    ),
                }
            }
        }
    }
}

/// Facts compare equal when only spacing or letter case differs (`float32[1,3]` is
/// `float32[1, 3]`).
fn same_fact(actual: &Value, fact: &Value) -> bool {
    match (actual, fact) {
        (Value::String(a), Value::String(f)) => {
            let squash = |s: &str| -> String {
                s.chars()
                    .filter(|c| !c.is_whitespace())
                    .flat_map(char::to_lowercase)
                    .collect()
            };
            squash(a) == squash(f)
        }
        _ => actual == fact,
    }
}

/// `a.b` from `a` and `b`; `b` at the root.
fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Why a string counts as an unfilled placeholder, if it does.
pub(crate) fn placeholder_reason(text: &str) -> Option<&'static str> {
    let trimmed = text.trim();
    if trimmed.contains(FILL_MARKER) {
        Some("still a fill-in")
    } else if trimmed.contains("{decide_") || trimmed.contains("decide_when") {
        Some("still a placeholder")
    } else if matches!(trimmed, "..." | "…" | "?" | "??" | "TBD" | "N/A" | "tbd")
        || trimmed.starts_with("TODO")
    {
        Some("not filled in")
    } else {
        None
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.contains(FILL_MARKER) => "an unfilled fill-in".to_owned(),
        Value::String(s) => format!("the string \"{}\"", s.chars().take(40).collect::<String>()),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}
