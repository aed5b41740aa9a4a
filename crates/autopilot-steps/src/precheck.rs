//! Static prechecks: cheap facts about extracted code that must hold before any compile.
//!
//! Each check has a stable id and gives a verdict with a message precise enough to go into the
//! next prompt. All checks run (none short-circuits), so one repair can fix everything.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use autopilot_trace::{CheckVerdict, Stage};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::app::{ModelInfo, ModelKind};
use crate::cpp;
use crate::extract::defines_setup_and_loop;
use crate::header::SymbolKind;

pub const CHECK_SETUP_LOOP: &str = "precheck.setup_loop";
pub const CHECK_MODEL_INCLUDE: &str = "precheck.model_include";
pub const CHECK_MODEL_SYMBOL_CLASH: &str = "precheck.model_symbol_clash";
pub const CHECK_INFERENCE_CALL: &str = "precheck.inference_call";
pub const CHECK_PLACEHOLDERS: &str = "precheck.placeholders";
pub const CHECK_FORBIDDEN_API: &str = "precheck.forbidden_api";
/// `#include` (or `__has_include`) of an absolute path, a `..` path or a computed name: the
/// sketch may include its own files, the core's and the libraries', nothing else of the host.
pub const CHECK_INCLUDE_PATH: &str = "precheck.include_path";
/// `.incbin`: the assembler would paste a host file into the firmware.
pub const CHECK_INCBIN: &str = "precheck.incbin";
/// simavr's `.mmcu` section (`AVR_MCU`, `avr_mcu_section.h`, `section(".mmcu")`): its tags
/// make the simulator open host files.
pub const CHECK_SIMAVR_SECTION: &str = "precheck.simavr_section";

/// A symbol or header the target's pinned TinyML library lacks (or that must not be used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForbiddenApi {
    /// A header path (`tensorflow/lite/version.h`, anything ending in `.h` or containing `/`)
    /// or a symbol (`AllOpsResolver`, `tflite::ops::micro::Register_FULLY_CONNECTED`).
    pub symbol_or_header: String,
    /// Why, and what to use instead.
    pub reason: String,
}

impl ForbiddenApi {
    pub fn is_header(&self) -> bool {
        let s = self.symbol_or_header.as_str();
        let extension = std::path::Path::new(s)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        matches!(extension.as_deref(), Some("h" | "hpp")) || s.contains('/')
    }
}

/// What the prechecks know besides the code.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrecheckInput<'a> {
    pub model: Option<&'a ModelInfo>,
    pub forbidden: &'a [ForbiddenApi],
}

/// One precheck's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrecheckVerdict {
    pub check: &'static str,
    pub passed: bool,
    /// Empty when passed.
    pub message: String,
}

impl PrecheckVerdict {
    fn pass(check: &'static str) -> Self {
        PrecheckVerdict {
            check,
            passed: true,
            message: String::new(),
        }
    }

    fn fail(check: &'static str, message: String) -> Self {
        PrecheckVerdict {
            check,
            passed: false,
            message,
        }
    }

    fn from_findings(check: &'static str, findings: &[String]) -> Self {
        if findings.is_empty() {
            Self::pass(check)
        } else {
            Self::fail(check, findings.join("; "))
        }
    }

    /// The trace event (stage `check`).
    pub fn event(&self, attempt: u32) -> CheckVerdict {
        CheckVerdict {
            stage: Stage::Check,
            attempt,
            check: self.check.to_owned(),
            passed: self.passed,
            message: self.message.clone(),
        }
    }
}

/// All verdicts of one run of the prechecks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecheckReport {
    pub verdicts: Vec<PrecheckVerdict>,
}

impl PrecheckReport {
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &PrecheckVerdict> {
        self.verdicts.iter().filter(|v| !v.passed)
    }

    pub fn events(&self, attempt: u32) -> Vec<CheckVerdict> {
        self.verdicts.iter().map(|v| v.event(attempt)).collect()
    }
}

/// Runs every precheck on extracted code. Checks that do not apply (no model) pass.
pub fn run_prechecks(code: &str, input: &PrecheckInput<'_>) -> PrecheckReport {
    let no_comments = cpp::blank(code, false);
    let bare = cpp::blank(code, true);
    let includes = cpp::includes(code);
    let verdicts = vec![
        check_setup_loop(code),
        check_model_include(&includes, input.model),
        check_symbol_clash(&bare.text, input.model),
        check_inference_call(&bare.text, input.model),
        check_placeholders(&no_comments.text, &no_comments.comments),
        check_forbidden(&bare.text, &includes, input.forbidden),
        check_include_paths(&no_comments.text),
        check_incbin(&no_comments.text),
        check_simavr_section(&no_comments.text),
    ];
    PrecheckReport { verdicts }
}

/// An answer as models write them, for [`warm_up_prechecks`].
const WARM_UP_ANSWER: &str = "```cpp\n#include <Arduino.h>\n#include \"model.h\"\n\n\
    void setup() {\n  Serial.begin(9600);\n}\n\nvoid loop() {\n  float x[3] = {0};\n  \
    Serial.println(predict(x));\n  delay(1000);\n}\n```\n";

/// Builds, once per process, what the first attempt's extraction and prechecks build on first
/// use (their regexes, the patterns of this session's names), on a sample answer. A batch calls
/// it while its first requests are out: otherwise the sessions of the first wave build it at the
/// moment their answers arrive together.
pub fn warm_up_prechecks(input: &PrecheckInput<'_>) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    if let Ok(extraction) = crate::extract::extract_code(WARM_UP_ANSWER) {
        let _report = run_prechecks(&extraction.code, input);
    }
}

/// `#include`-like directives: `#include`, `#include_next`, `#import`.
static INCLUDE_DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^#\s*(include_next|include|import)\b\s*(.*)$").expect("valid regex")
});
static HAS_INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"__has_include(?:_next)?\s*\(\s*(?:"([^"]*)"|<([^>]*)>)"#).expect("valid regex")
});

/// Why an include target reaches outside the sketch, core and libraries, if it does.
fn host_path_problem(path: &str) -> Option<&'static str> {
    let path = path.trim();
    if path.starts_with('/') || path.starts_with('\\') || path.starts_with('~') {
        Some("an absolute path")
    } else if path.split(['/', '\\']).any(|part| part == "..") {
        Some("a `..` path")
    } else {
        None
    }
}

fn check_include_paths(code: &str) -> PrecheckVerdict {
    let (_, directives) = cpp::tokenize(code);
    let mut findings = Vec::new();
    for directive in &directives {
        let Some(caps) = INCLUDE_DIRECTIVE.captures(directive.text.trim()) else {
            continue;
        };
        let rest = caps.get(2).map_or("", |m| m.as_str()).trim();
        let target = match rest.chars().next() {
            Some('"') => rest[1..].split('"').next(),
            Some('<') => rest[1..].split('>').next(),
            _ => None,
        };
        let problem = match target {
            Some(path) => host_path_problem(path).map(|why| format!("`{path}` is {why}")),
            // `#include MACRO` can name any file: only literal names are allowed.
            None => Some(format!("`{rest}` is not a literal file name")),
        };
        if let Some(problem) = problem {
            findings.push(format!("line {}: #{} {problem}", directive.line, &caps[1]));
        }
    }
    for caps in HAS_INCLUDE.captures_iter(code) {
        let path = caps
            .get(1)
            .or_else(|| caps.get(2))
            .map_or("", |m| m.as_str());
        if let Some(why) = host_path_problem(path) {
            let line = caps.get(0).map_or(0, |m| cpp::line_of(code, m.start()));
            findings.push(format!("line {line}: __has_include of `{path}`, {why}"));
        }
    }
    if !findings.is_empty() {
        findings.push(
            "include only the sketch's own files, the core's and the libraries' headers by plain \
             name (`#include \"model.h\"`, `#include <Arduino.h>`)"
                .to_owned(),
        );
    }
    PrecheckVerdict::from_findings(CHECK_INCLUDE_PATH, &findings)
}

fn check_incbin(code: &str) -> PrecheckVerdict {
    let findings: Vec<String> = code
        .match_indices(".incbin")
        .map(|(at, _)| {
            format!(
                "line {}: `.incbin` pastes a file of the build machine into the firmware; \
                 define the data in the sketch (a `const` array) instead",
                cpp::line_of(code, at)
            )
        })
        .collect();
    PrecheckVerdict::from_findings(CHECK_INCBIN, &findings)
}

static SIMAVR_SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.mmcu\b|\bAVR_MCU\w*|avr_mcu_section\.h").expect("valid regex"));

fn check_simavr_section(code: &str) -> PrecheckVerdict {
    let findings: Vec<String> = SIMAVR_SECTION
        .find_iter(code)
        .map(|m| {
            format!(
                "line {}: `{}` declares simavr's `.mmcu` section, which the simulator would obey; \
                 remove it (the board's simulator needs no configuration from the sketch)",
                cpp::line_of(code, m.start()),
                m.as_str()
            )
        })
        .collect();
    PrecheckVerdict::from_findings(CHECK_SIMAVR_SECTION, &findings)
}

fn check_setup_loop(code: &str) -> PrecheckVerdict {
    match defines_setup_and_loop(code) {
        (true, true) => PrecheckVerdict::pass(CHECK_SETUP_LOOP),
        (false, true) => PrecheckVerdict::fail(
            CHECK_SETUP_LOOP,
            "the sketch does not define `void setup()`".into(),
        ),
        (true, false) => PrecheckVerdict::fail(
            CHECK_SETUP_LOOP,
            "the sketch does not define `void loop()`".into(),
        ),
        (false, false) => PrecheckVerdict::fail(
            CHECK_SETUP_LOOP,
            "the sketch defines neither `void setup()` nor `void loop()`; write a complete sketch"
                .into(),
        ),
    }
}

fn check_model_include(includes: &[(String, u32)], model: Option<&ModelInfo>) -> PrecheckVerdict {
    let Some(model) = model else {
        return PrecheckVerdict::pass(CHECK_MODEL_INCLUDE);
    };
    let wanted = &model.header_name;
    let found = includes
        .iter()
        .any(|(path, _)| path == wanted || path.strip_prefix("./").is_some_and(|p| p == wanted));
    if found {
        PrecheckVerdict::pass(CHECK_MODEL_INCLUDE)
    } else {
        PrecheckVerdict::fail(
            CHECK_MODEL_INCLUDE,
            format!(
                "the sketch does not `#include \"{wanted}\"`, which holds the model; include it and do not copy its contents"
            ),
        )
    }
}

/// Keywords that can precede a name without declaring it (`return model;`).
const NOT_TYPES: &[&str] = &[
    "return",
    "else",
    "case",
    "goto",
    "delete",
    "new",
    "sizeof",
    "throw",
    "co_return",
    "co_yield",
    "typeid",
    "alignof",
    "decltype",
    "using",
    "namespace",
    "operator",
    "and",
    "or",
    "not",
];

/// Patterns built from a session's names (the model's symbols, its predict function, the
/// policies' forbidden APIs), compiled once per process: a batch asks for the same few patterns
/// in every attempt, and compiling the declaration pattern (large, Unicode classes) was a
/// quarter of a session's own cost. Shared through an `Arc`, not cloned: a cloned `Regex`
/// starts with an empty cache. Bounded: past `MAX_SHARED_PATTERNS` the map starts over.
static SHARED_PATTERNS: LazyLock<Mutex<HashMap<String, Option<Arc<Regex>>>>> =
    LazyLock::new(Mutex::default);
const MAX_SHARED_PATTERNS: usize = 256;

/// `pattern` compiled, or `None` when it does not compile (remembered too).
fn shared_regex(pattern: String) -> Option<Arc<Regex>> {
    let mut patterns = SHARED_PATTERNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(compiled) = patterns.get(&pattern) {
        return compiled.clone();
    }
    if patterns.len() >= MAX_SHARED_PATTERNS {
        patterns.clear();
    }
    let compiled = Regex::new(&pattern).ok().map(Arc::new);
    patterns.insert(pattern, compiled.clone());
    compiled
}

/// A declaration found in the sketch.
struct Found {
    name: String,
    line: u32,
    /// The declaration up to the name (`const tflite::Model* model`).
    text: String,
    /// `Type name(…) {`: a function definition (a prototype ends in `;`).
    function_body: bool,
}

/// Declarations of any of `names` in blanked code: `Type name =`, `Type* name;`,
/// `Type name[…]`, `Type name(…)`. One regex for all names.
fn declarations_of(bare: &str, names: &[&str]) -> Vec<Found> {
    if names.is_empty() {
        return Vec::new();
    }
    let alternation = names
        .iter()
        .map(|n| regex::escape(n))
        .collect::<Vec<_>>()
        .join("|");
    let pattern = format!(
        r"(?m)(?:^|[;{{}}(,])[ \t]*((?:(?:const|static|constexpr|volatile|unsigned|signed|extern|inline|struct|class|alignas\s*\([^)]*\))\s+)*([A-Za-z_][\w:]*(?:\s*<[^;(){{}}]*>)?)(?:\s*[*&]+\s*|\s+)(?:const\s*)?(?:[*&]\s*)*({alternation})\s*(?:[=;\[(,{{]))"
    );
    let Some(re) = shared_regex(pattern) else {
        return Vec::new();
    };
    re.captures_iter(bare)
        .filter_map(|caps| {
            let whole = caps.get(1)?;
            let type_name = caps.get(2)?.as_str();
            if NOT_TYPES.contains(&type_name) || whole.as_str().trim_start().starts_with("extern") {
                return None;
            }
            let function_body = whole.as_str().ends_with('(') && body_follows(bare, whole.end());
            let text = whole
                .as_str()
                .trim_end_matches(['=', ';', '[', '(', ',', '{'])
                .trim();
            Some(Found {
                name: caps.get(3)?.as_str().to_owned(),
                line: cpp::line_of(bare, whole.start()),
                text: squash(text),
                function_body,
            })
        })
        .collect()
}

/// Whether the parameter list starting just after `(` at `from` is followed by a body.
fn body_follows(bare: &str, from: usize) -> bool {
    let mut depth = 1usize;
    for (i, c) in bare[from..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let rest = bare[from + i + 1..].trim_start();
                    let rest = rest.strip_prefix("const").unwrap_or(rest).trim_start();
                    let rest = rest.strip_prefix("noexcept").unwrap_or(rest).trim_start();
                    return rest.starts_with('{');
                }
            }
            _ => {}
        }
    }
    false
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_symbol_clash(bare: &str, model: Option<&ModelInfo>) -> PrecheckVerdict {
    let Some(model) = model else {
        return PrecheckVerdict::pass(CHECK_MODEL_SYMBOL_CLASH);
    };
    // A prototype is a function the sketch is meant to define.
    let names: Vec<&str> = model
        .symbols()
        .iter()
        .filter(|s| s.kind != SymbolKind::Prototype)
        .map(|s| s.name.as_str())
        .collect();
    let mut findings = Vec::new();
    for found in declarations_of(bare, &names) {
        let Some(symbol) = model.symbols().iter().find(|s| s.name == found.name) else {
            continue;
        };
        // Repeating a function's prototype is legal C++; defining it again is not.
        if symbol.kind == SymbolKind::Function && !found.function_body {
            continue;
        }
        let advice = if symbol.kind == SymbolKind::Array {
            format!(
                "; use the array as it is (e.g. `tflite::GetModel({})`) and give your own variable another name",
                symbol.name
            )
        } else {
            "; use it as it is and give your own symbol another name".to_owned()
        };
        findings.push(format!(
            "line {}: `{}` declares `{}`, which {} already declares as {} (`{}`){advice}",
            found.line,
            found.text,
            symbol.name,
            model.header_name,
            symbol.kind.as_str(),
            symbol.declaration
        ));
    }
    PrecheckVerdict::from_findings(CHECK_MODEL_SYMBOL_CLASH, &findings)
}

static INVOKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\.|->)\s*Invoke\s*\(").expect("valid regex"));

fn check_inference_call(bare: &str, model: Option<&ModelInfo>) -> PrecheckVerdict {
    let Some(model) = model else {
        return PrecheckVerdict::pass(CHECK_INFERENCE_CALL);
    };
    match model.kind {
        ModelKind::Tflite => {
            if INVOKE.is_match(bare) {
                PrecheckVerdict::pass(CHECK_INFERENCE_CALL)
            } else {
                PrecheckVerdict::fail(
                    CHECK_INFERENCE_CALL,
                    "the sketch never calls `interpreter.Invoke()` (or `->Invoke()`), so the model never runs".into(),
                )
            }
        }
        ModelKind::Dense => {
            let Some(function) = model.predict_function.as_deref() else {
                return PrecheckVerdict::pass(CHECK_INFERENCE_CALL);
            };
            let call = shared_regex(format!(r"\b{}\s*\(", regex::escape(function)))
                .expect("an escaped name is a valid pattern");
            let definitions = declarations_of(bare, &[function]).len();
            if call.find_iter(bare).count() > definitions {
                PrecheckVerdict::pass(CHECK_INFERENCE_CALL)
            } else {
                PrecheckVerdict::fail(
                    CHECK_INFERENCE_CALL,
                    format!(
                        "the sketch never calls `{function}(…)` from {}, so the model never runs",
                        model.header_name
                    ),
                )
            }
        }
    }
}

static PLACEHOLDER_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:\byour_\w*|\bYOUR_\w*|\{decide_\w*\}?|<fill:|(?:^|[{;])[ \t]*(?:\.\.\.|…)[ \t]*(?:$|[;}]))")
        .expect("valid regex")
});
static PLACEHOLDER_COMMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\bTODO\b|\bFIXME\b|rest of (?:the )?(?:code|sketch|implementation)|(?:existing|remaining|same|previous|other) code|your code here|implement (?:this|here|me)|\bplaceholder\b|^\s*(?://|/\*)\s*(?:\.\.\.|…)\s*(?:\*/)?\s*$)",
    )
    .expect("valid regex")
});

fn check_placeholders(code: &str, comments: &[(u32, String)]) -> PrecheckVerdict {
    let mut findings = Vec::new();
    for m in PLACEHOLDER_CODE.find_iter(code) {
        let text = m.as_str().trim();
        let text = if text.contains("...") || text.contains('…') {
            text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '{' | ';' | '}'))
        } else {
            text
        };
        findings.push(format!(
            "line {}: placeholder `{text}` in the code",
            cpp::line_of(code, m.start())
        ));
    }
    for (line, comment) in comments {
        for text in comment.lines() {
            if let Some(m) = PLACEHOLDER_COMMENT.find(text) {
                findings.push(format!(
                    "line {line}: placeholder comment `{}`",
                    m.as_str().trim()
                ));
                break;
            }
        }
    }
    if !findings.is_empty() {
        findings.push("write every part of the sketch in full".to_owned());
    }
    PrecheckVerdict::from_findings(CHECK_PLACEHOLDERS, &findings)
}

fn check_forbidden(
    bare: &str,
    includes: &[(String, u32)],
    forbidden: &[ForbiddenApi],
) -> PrecheckVerdict {
    let mut findings = Vec::new();
    for api in forbidden {
        let name = api.symbol_or_header.trim();
        if name.is_empty() {
            continue;
        }
        if api.is_header() {
            for (path, line) in includes {
                if path == name || path.ends_with(&format!("/{name}")) {
                    findings.push(format!("line {line}: `#include <{path}>`: {}", api.reason));
                }
            }
            continue;
        }
        let starts_word = name.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        let ends_word = name.ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let pattern = format!(
            "{}{}{}",
            if starts_word { r"\b" } else { "" },
            regex::escape(name).replace("::", r"\s*::\s*"),
            if ends_word { r"\b" } else { "" }
        );
        let Some(re) = shared_regex(pattern) else {
            continue;
        };
        if let Some(m) = re.find(bare) {
            findings.push(format!(
                "line {}: `{name}`: {}",
                cpp::line_of(bare, m.start()),
                api.reason
            ));
        }
    }
    PrecheckVerdict::from_findings(CHECK_FORBIDDEN_API, &findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once_and_shared_not_cloned() {
        let first = shared_regex(r"\bshared_once_probe\s*\(".to_owned()).unwrap();
        let second = shared_regex(r"\bshared_once_probe\s*\(".to_owned()).unwrap();
        // The same compiled regex (and so the same match cache), not an equal copy.
        assert!(Arc::ptr_eq(&first, &second));
        assert!(second.is_match("shared_once_probe ("));
        assert!(shared_regex("(unclosed".to_owned()).is_none());
    }
}
