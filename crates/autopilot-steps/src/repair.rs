//! What a sketch-repair prompt carries besides the code: the first errors with short paths,
//! what recurred across attempts (error signatures, identical code), and the build-environment
//! block grounded in the installed toolchain (after CRANE-LLM's runtime information).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::LazyLock;

use autopilot_trace::{
    ComponentVersion, Declaration, Diagnostic, RepairContext, Severity, SizeReport,
};
use regex::Regex;
use serde::Serialize;

use crate::app::{ModelInfo, ModelKind};
use crate::header::truncate;

/// How much of the diagnostics and declarations a repair prompt quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairLimits {
    /// Errors quoted (the first ones: later errors are mostly consequences).
    pub max_errors: usize,
    pub max_notes_per_error: usize,
    pub max_declarations: usize,
    /// Characters of one declaration's text.
    pub max_declaration_chars: usize,
}

impl Default for RepairLimits {
    fn default() -> Self {
        RepairLimits {
            max_errors: 3,
            max_notes_per_error: 2,
            max_declarations: 8,
            max_declaration_chars: 400,
        }
    }
}

static QUOTES: LazyLock<Regex> = LazyLock::new(|| Regex::new("[‘’`´]").expect("valid regex"));
static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[A-Za-z]:)?(?:[\w.+~-]*[/\\])+([\w.+-]+)").expect("valid regex")
});
static LINE_COL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\.[A-Za-z]+):\d+(?::\d+)?").expect("valid regex"));
static SKETCH_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[\w.-]+\.ino(?:\.cpp)?\b").expect("valid regex"));
static TEMP_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bcc\w{6}\.(?:ltrans\d*\.)*(?:ltrans\.)?o\b").expect("valid regex")
});
static HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b0x[0-9a-fA-F]+\b").expect("valid regex"));
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("valid regex"));
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'([^']+)'").expect("valid regex"));

/// Normalises a diagnostic message so the same error compares equal across attempts: unified
/// quotes, paths reduced to file names, line and column numbers, temporary sketch and object
/// names and addresses removed, whitespace collapsed.
pub fn normalize_message(message: &str) -> String {
    let text = QUOTES.replace_all(message, "'");
    let text = text.replace(['“', '”'], "\"");
    let text = PATH.replace_all(&text, "$1");
    let text = LINE_COL.replace_all(&text, "$1");
    let text = SKETCH_FILE.replace_all(&text, "sketch.ino");
    let text = TEMP_OBJECT.replace_all(&text, "tmp.o");
    let text = HEX.replace_all(&text, "0x…");
    SPACES.replace_all(text.trim(), " ").into_owned()
}

/// The signature of a diagnostic for recurrence detection: severity, file name and normalised
/// message (`error: sketch.ino: 'g_model' was not declared in this scope`).
pub fn error_signature(diagnostic: &Diagnostic) -> String {
    let severity = severity_str(diagnostic.severity);
    match &diagnostic.file {
        Some(file) => format!(
            "{severity}: {}: {}",
            normalize_message(&display_path(file)),
            normalize_message(&diagnostic.message)
        ),
        None => format!("{severity}: {}", normalize_message(&diagnostic.message)),
    }
}

fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Fatal => "fatal error",
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A short path for prompts: sketch-relative paths as they are; files of a library from the
/// library folder (`Arduino_APDS9960/src/Arduino_APDS9960.h`); core files from `cores/` or
/// `variants/`; anything else by its last two components.
pub fn display_path(path: &str) -> String {
    let normalized = path.replace('\\', "/");
    if !normalized.starts_with('/') && !normalized.contains(":/") {
        return normalized;
    }
    for marker in ["/libraries/", "/cores/", "/variants/"] {
        if let Some(at) = normalized.rfind(marker) {
            let keep = if marker == "/libraries/" {
                at + marker.len()
            } else {
                at + 1
            };
            return normalized[keep..].to_owned();
        }
    }
    let parts: Vec<&str> = normalized.split('/').filter(|p| !p.is_empty()).collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

/// Whether a diagnostic is an error (compiler, linker or tool).
fn is_error(diagnostic: &Diagnostic) -> bool {
    matches!(diagnostic.severity, Severity::Error | Severity::Fatal)
}

/// Bytes of one diagnostic message (or note) quoted in a repair prompt; a longer one (a
/// template backtrace, a hostile `#error`) is cut with `…`.
pub const MAX_DIAGNOSTIC_MESSAGE_BYTES: usize = 1000;

/// Renders one diagnostic for a prompt: its context frames, `file:line:col: severity: message`
/// (cut at [`MAX_DIAGNOSTIC_MESSAGE_BYTES`]), and its first notes.
pub fn render_diagnostic(diagnostic: &Diagnostic, max_notes: usize) -> String {
    let mut out = String::new();
    for frame in &diagnostic.context {
        let _ = writeln!(out, "{}", normalize_frame(frame));
    }
    let _ = writeln!(
        out,
        "{}{}: {}",
        location(
            diagnostic.file.as_deref(),
            diagnostic.line,
            diagnostic.column
        ),
        severity_str(diagnostic.severity),
        truncate(&diagnostic.message, MAX_DIAGNOSTIC_MESSAGE_BYTES)
    );
    for note in diagnostic.notes.iter().take(max_notes) {
        let _ = writeln!(
            out,
            "  {}note: {}",
            location(note.file.as_deref(), note.line, note.column),
            truncate(&note.message, MAX_DIAGNOSTIC_MESSAGE_BYTES)
        );
    }
    out.trim_end().to_owned()
}

fn normalize_frame(frame: &str) -> String {
    PATH.replace_all(frame, |caps: &regex::Captures<'_>| display_path(&caps[0]))
        .into_owned()
}

fn location(file: Option<&str>, line: Option<u32>, column: Option<u32>) -> String {
    let Some(file) = file else {
        return String::new();
    };
    let mut out = display_path(file);
    if let Some(line) = line {
        let _ = write!(out, ":{line}");
        if let Some(column) = column {
            let _ = write!(out, ":{column}");
        }
    }
    out.push_str(": ");
    out
}

/// The symbols the errors name, for looking up their real declarations: quoted identifiers
/// (`'GetModel' was not declared`), classes (`'class tflite::MicroInterpreter' has no member
/// named 'input_tensor'` gives both), functions without their parameters.
pub fn symbols_in_diagnostics(diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for diagnostic in diagnostics.iter().filter(|d| is_error(d)) {
        let message = QUOTES.replace_all(&diagnostic.message, "'");
        for caps in QUOTED.captures_iter(&message) {
            let mut text = caps[1].trim();
            for prefix in ["class ", "struct ", "enum ", "union ", "const "] {
                text = text.strip_prefix(prefix).unwrap_or(text);
            }
            let name = text.split('(').next().unwrap_or_default().trim();
            let name = name.trim_end_matches(['*', '&', ' ']).trim();
            let is_symbol = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && !matches!(
                    name,
                    "int" | "float" | "char" | "void" | "bool" | "double" | "long" | "unsigned"
                );
            if is_symbol && !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// An error signature seen before, with the attempts it appeared in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recurrence {
    pub signature: String,
    pub attempts: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AttemptMemory {
    attempt: u32,
    code_sha256: String,
    diagnostics: Vec<Diagnostic>,
    signatures: BTreeSet<String>,
}

/// Memory of a session's sketch attempts: which code was compiled and which errors it gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairTracker {
    attempts: Vec<AttemptMemory>,
}

impl RepairTracker {
    pub fn new() -> Self {
        RepairTracker::default()
    }

    /// The first earlier attempt whose code had this hash: the code need not be compiled again.
    pub fn identical_code(&self, code_sha256: &str) -> Option<u32> {
        self.attempts
            .iter()
            .find(|a| a.code_sha256 == code_sha256)
            .map(|a| a.attempt)
    }

    /// Records an attempt's code and the errors it produced (none for a precheck failure).
    pub fn record(&mut self, attempt: u32, code_sha256: &str, diagnostics: &[Diagnostic]) {
        let signatures = diagnostics
            .iter()
            .filter(|d| is_error(d))
            .map(error_signature)
            .collect();
        self.attempts.push(AttemptMemory {
            attempt,
            code_sha256: code_sha256.to_owned(),
            diagnostics: diagnostics.to_vec(),
            signatures,
        });
    }

    /// The diagnostics recorded for an attempt: what identical code would produce again.
    pub fn diagnostics_of(&self, attempt: u32) -> Option<&[Diagnostic]> {
        self.attempts
            .iter()
            .find(|a| a.attempt == attempt)
            .map(|a| a.diagnostics.as_slice())
    }

    /// The errors of `diagnostics` already seen in recorded attempts, in diagnostic order.
    pub fn recurring(&self, diagnostics: &[Diagnostic]) -> Vec<Recurrence> {
        let mut out: Vec<Recurrence> = Vec::new();
        for signature in diagnostics
            .iter()
            .filter(|d| is_error(d))
            .map(error_signature)
        {
            if out.iter().any(|r| r.signature == signature) {
                continue;
            }
            let attempts: Vec<u32> = self
                .attempts
                .iter()
                .filter(|a| a.signatures.contains(&signature))
                .map(|a| a.attempt)
                .collect();
            if !attempts.is_empty() {
                out.push(Recurrence {
                    signature,
                    attempts,
                });
            }
        }
        out
    }

    /// How many attempts in a row (ending with the last recorded one) share their first error.
    pub fn same_first_error_streak(&self, diagnostics: &[Diagnostic]) -> u32 {
        let Some(first) = diagnostics
            .iter()
            .find(|d| is_error(d))
            .map(error_signature)
        else {
            return 0;
        };
        u32::try_from(
            self.attempts
                .iter()
                .rev()
                .take_while(|a| a.signatures.contains(&first))
                .count(),
        )
        .unwrap_or(u32::MAX)
    }
}

/// The board facts the environment block states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardFacts {
    pub name: String,
    pub fqbn: String,
    pub flash_bytes: Option<u64>,
    pub ram_bytes: Option<u64>,
}

/// Facts of the build environment, found by the toolchain in the installed cores and libraries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildEnvironment {
    /// Real declarations of the symbols the errors name (see [`symbols_in_diagnostics`]).
    pub declarations: Vec<Declaration>,
    /// Core, libraries and tools with their versions.
    pub versions: Vec<ComponentVersion>,
    pub board: Option<BoardFacts>,
    /// The last successful build's size report, if any.
    pub last_size: Option<SizeReport>,
}

/// Everything a sketch-repair prompt needs about the failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct RepairInput<'a> {
    /// The attempt the repair prompt is for.
    pub attempt: u32,
    /// The last *extracted* code (never stale code from an earlier attempt).
    pub code: &'a str,
    /// The compiler's diagnostics (empty when the attempt failed before compiling).
    pub diagnostics: &'a [Diagnostic],
    /// Failed precheck, extraction, size or simulation messages.
    pub problems: &'a [String],
    /// The earlier attempt the failed code was byte-identical to, if any.
    pub identical_to: Option<u32>,
    pub environment: &'a BuildEnvironment,
    pub model: Option<&'a ModelInfo>,
}

/// The repair material, ready for the template, and the trace event describing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepairMaterial {
    /// The first errors, each rendered on one or more lines.
    pub diagnostics: Vec<String>,
    pub diagnostics_shown: u32,
    pub diagnostics_total: u32,
    pub problems: Vec<String>,
    pub recurring: Vec<Recurrence>,
    pub identical_to: Option<u32>,
    /// The build-environment block as it goes into the prompt.
    pub environment: String,
    #[serde(skip)]
    pub context: RepairContext,
}

/// Builds the repair material for `input`, comparing with the attempts the tracker recorded
/// (call it before recording the failed attempt itself).
pub fn build_repair(
    input: &RepairInput<'_>,
    tracker: &RepairTracker,
    limits: &RepairLimits,
) -> RepairMaterial {
    let errors: Vec<&Diagnostic> = input.diagnostics.iter().filter(|d| is_error(d)).collect();
    let shown: Vec<String> = errors
        .iter()
        .take(limits.max_errors)
        .map(|d| render_diagnostic(d, limits.max_notes_per_error))
        .collect();
    let recurring = tracker.recurring(input.diagnostics);
    let named = symbols_in_diagnostics(input.diagnostics);
    // Declarations of the symbols the quoted errors name come first.
    let mut declarations: Vec<Declaration> = input
        .environment
        .declarations
        .iter()
        .filter(|d| {
            named
                .iter()
                .any(|n| n == &d.symbol || n.ends_with(&format!("::{}", d.symbol)))
        })
        .chain(input.environment.declarations.iter())
        .fold(Vec::new(), |mut acc: Vec<Declaration>, d| {
            if !acc.contains(d) {
                acc.push(d.clone());
            }
            acc
        });
    declarations.truncate(limits.max_declarations);
    let environment = render_environment(input.environment, &declarations, input.model, limits);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let context = RepairContext {
        attempt: input.attempt,
        diagnostics_shown: count(shown.len()),
        diagnostics_total: count(errors.len()),
        recurring: recurring.iter().map(|r| r.signature.clone()).collect(),
        identical_to_attempt: input.identical_to,
        declarations,
        versions: input.environment.versions.clone(),
        block: environment.clone(),
    };
    RepairMaterial {
        diagnostics_shown: count(shown.len()),
        diagnostics_total: count(errors.len()),
        diagnostics: shown,
        problems: input.problems.to_vec(),
        recurring,
        identical_to: input.identical_to,
        environment,
        context,
    }
}

/// The model facts as lines (`header: model.h (TensorFlow Lite Micro flatbuffer)` …).
pub(crate) fn model_facts(model: &ModelInfo) -> Vec<String> {
    let mut lines = Vec::new();
    match model.kind {
        ModelKind::Tflite => {
            let mut line = format!("header `{}`: TFLite flatbuffer", model.header_name);
            if let Some(array) = &model.array {
                let _ = write!(line, " in `{array}`");
            }
            if let Some(len) = &model.array_len {
                let _ = write!(line, ", length in `{len}`");
            }
            if let Some(facts) = &model.tflite {
                let _ = write!(
                    line,
                    " ({} bytes, schema {})",
                    facts.size_bytes, facts.schema_version
                );
            }
            lines.push(line);
        }
        ModelKind::Dense => {
            let mut line = format!("header `{}`: dense network as C arrays", model.header_name);
            if let Some(function) = &model.predict_function
                && let Some(symbol) = model.scan.get(function)
            {
                let _ = write!(line, "; run it with `{}`", symbol.declaration);
            }
            lines.push(line);
        }
    }
    let tensor_line =
        |role: &str, spec: &crate::app::TensorSpec, facts: Option<&crate::tflite::TensorFacts>| {
            let mut line = format!("{role} tensor {}", spec.describe());
            if let Some((scale, zero)) = facts.and_then(|f| f.quantization) {
                let _ = write!(line, ", quantised: scale {scale}, zero point {zero}");
            }
            line
        };
    let facts = model.tflite.as_ref();
    lines.push(tensor_line(
        "input",
        &model.input,
        facts.and_then(|f| f.inputs.first()),
    ));
    lines.push(tensor_line(
        "output",
        &model.output,
        facts.and_then(|f| f.outputs.first()),
    ));
    if let Some(facts) = facts
        && !facts.operators.is_empty()
    {
        lines.push(format!(
            "operators {} (MicroMutableOpResolver<{}>: {})",
            facts.operators.join(", "),
            facts.operators.len(),
            facts.resolver_methods().join(", ")
        ));
    }
    lines
}

fn render_environment(
    env: &BuildEnvironment,
    declarations: &[Declaration],
    model: Option<&ModelInfo>,
    limits: &RepairLimits,
) -> String {
    let mut out = String::new();
    if let Some(board) = &env.board {
        let _ = write!(out, "board: {} ({})", board.name, board.fqbn);
        if let Some(flash) = board.flash_bytes {
            let _ = write!(out, ", flash {flash} bytes");
        }
        if let Some(ram) = board.ram_bytes {
            let _ = write!(out, ", RAM {ram} bytes");
        }
        out.push('\n');
    }
    if let Some(size) = &env.last_size {
        let _ = write!(out, "last size report: flash {}", size.flash_used);
        if let Some(max) = size.flash_max {
            let _ = write!(out, "/{max}");
        }
        out.push_str(" bytes");
        if let Some(percent) = size.flash_percent() {
            let _ = write!(out, " ({percent:.0}%)");
        }
        if let Some(ram) = size.ram_used {
            let _ = write!(out, ", RAM {ram}");
            if let Some(max) = size.ram_max {
                let _ = write!(out, "/{max}");
            }
            out.push_str(" bytes");
            if let Some(percent) = size.ram_percent() {
                let _ = write!(out, " ({percent:.0}%)");
            }
        }
        out.push('\n');
    }
    if !env.versions.is_empty() {
        let versions: Vec<String> = env
            .versions
            .iter()
            .map(|v| format!("{} {}", v.name, v.version))
            .collect();
        let _ = writeln!(out, "installed: {}", versions.join(", "));
    }
    if let Some(model) = model {
        for line in model_facts(model) {
            let _ = writeln!(out, "model: {line}");
        }
    }
    if !declarations.is_empty() {
        out.push_str("declarations of the symbols in the errors, from the installed headers:\n");
        for d in declarations {
            let mut text = d.text.split_whitespace().collect::<Vec<_>>().join(" ");
            if text.len() > limits.max_declaration_chars {
                let mut end = limits.max_declaration_chars;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push('…');
            }
            let _ = writeln!(
                out,
                "- `{}` at {}:{}: {}",
                d.symbol,
                display_path(&d.file),
                d.line,
                text
            );
        }
    }
    out.trim_end().to_owned()
}
