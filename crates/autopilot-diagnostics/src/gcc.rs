//! The live-compile diagnostics parser: GCC and linker text (as arduino-builder and arduino-cli print it)
//! to structured [`Diagnostic`]s. Pure: no I/O.
//!
//! It reads `file:line[:col]: severity: message` with its notes, the `In function …:` frames
//! and the `In file included from …` chains, both caret styles (gcc 5/7 echo the source line
//! indented by one space; gcc ≥ 9 prints an `N |` gutter: both are skipped), linker errors
//! (`undefined reference to`, `multiple definition of`, `region … overflowed by N bytes`,
//! `collect2: error: ld returned 1 exit status`), `fatal error: X.h: No such file or
//! directory`, and the tools' trailers. ANSI escapes are stripped, typographic quotes become
//! ASCII, and paths are made relative to the sketch with a [`PathMap`]. Every line it cannot
//! place is returned in [`ParsedDiagnostics::unrecognized`], so nothing is lost silently.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::LazyLock;

use autopilot_trace::{Diagnostic, DiagnosticNote, DiagnosticOrigin, Severity};
use regex::Regex;

use crate::{attach_echo, diagnostic};

/// Rewrites absolute path prefixes (the sketch folder, the build path's sketch copy) so
/// diagnostics name `sketch.ino` instead of `/tmp/…/sketch/sketch.ino`.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    prefixes: Vec<(String, String)>,
}

impl PathMap {
    pub fn new() -> Self {
        PathMap::default()
    }

    /// Maps `dir/x` to `x`.
    pub fn sketch(dir: &Path) -> Self {
        PathMap::new().with(dir, "")
    }

    /// Maps `prefix/x` to `replacement/x` (or `x` when `replacement` is empty).
    #[must_use]
    pub fn with(mut self, prefix: impl AsRef<Path>, replacement: &str) -> Self {
        let mut prefix = prefix.as_ref().to_string_lossy().into_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut replacement = replacement.to_owned();
        if !replacement.is_empty() && !replacement.ends_with('/') {
            replacement.push('/');
        }
        self.prefixes.push((prefix, replacement));
        // Longest prefix first, so a build path inside the sketch folder wins.
        self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        self
    }

    /// Rewrites every mapped path inside a message (`… /tmp/b/x.ino.elf section …`).
    pub fn apply_in(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (prefix, replacement) in &self.prefixes {
            if out.contains(prefix.as_str()) {
                out = out.replace(prefix.as_str(), replacement);
            }
        }
        out
    }

    pub fn apply(&self, path: &str) -> String {
        for (prefix, replacement) in &self.prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return format!("{replacement}{rest}");
            }
        }
        path.to_owned()
    }
}

/// What the parser made of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedDiagnostics {
    pub diagnostics: Vec<Diagnostic>,
    /// Non-blank lines that are neither diagnostics, context, source echo nor known trailers.
    pub unrecognized: Vec<String>,
}

impl ParsedDiagnostics {
    /// Errors and fatal errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
            .count()
    }
}

static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").expect("valid regex"));
static DIAGNOSTIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?):(\d+):(?:(\d+):)? (fatal error|error|warning|note): (.*)$")
        .expect("valid regex")
});
static INCLUDED_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^In file included from (.+?):(\d+)(?::(\d+))?[,:]$").expect("valid regex")
});
static FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+from (.+?):(\d+)(?::(\d+))?[,:]$").expect("valid regex"));
static REQUIRED_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?):(\d+):(?:(\d+):)?\s+(required (?:from|by) .*|in expansion of .*|in definition of .*)$")
        .expect("valid regex")
});
static CONTEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+?): ((?:In|At) .+):$").expect("valid regex"));
static LINKER_LOCATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?):(?:(\d+)|\(\.[^)]*\)): ((?:undefined reference to|multiple definition of|first defined here|relocation truncated to fit).*)$")
        .expect("valid regex")
});
static LINKER_UNLOCATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?\.(?:o|a|elf)(?:\([^)]*\))?): ((?:undefined reference to|multiple definition of).*)$")
        .expect("valid regex")
});
static LD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\S*/)?(?:[\w.+-]*-)?ld(?:\.exe|\.bfd|\.gold)?: (.*)$").expect("valid regex")
});
static COLLECT2: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^collect2(?:\.exe)?: (error|warning): (.*)$").expect("valid regex")
});
static TOOL_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Error during build|Compilation error): (.*)$").expect("valid regex")
});
static EXIT_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:Error during build|Compilation error): )?exit status \d+$")
        .expect("valid regex")
});
static GUTTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\d*\s*\|").expect("valid regex"));

/// Lines arduino-cli and arduino-builder print around the compiler's output.
const KNOWN_TOOL_LINES: &[&str] = &[
    "compilation terminated.",
    "Multiple libraries were found for ",
    "Used: ",
    "Not used: ",
    "Alternatives for ",
    "ResolveLibrary(",
    "Sketch uses ",
    "Global variables use ",
];

/// Removes ANSI escape sequences.
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if text.contains('\x1b') {
        ANSI.replace_all(text, "")
    } else {
        Cow::Borrowed(text)
    }
}

fn ascii_quotes(text: &str) -> Cow<'_, str> {
    if text.contains(['\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}']) {
        Cow::Owned(
            text.replace(['\u{2018}', '\u{2019}'], "'")
                .replace(['\u{201c}', '\u{201d}'], "\""),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn number(text: Option<regex::Match<'_>>) -> Option<u32> {
    text.and_then(|m| m.as_str().parse().ok())
        .filter(|n| *n > 0)
}

fn severity(word: &str) -> Severity {
    match word {
        "fatal error" => Severity::Fatal,
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Note,
    }
}

fn is_object(file: &str) -> bool {
    Path::new(file)
        .extension()
        .is_some_and(|ext| ext == "o" || ext == "a")
}

/// An `In function '…':` line: the file it names and the text.
struct Frame {
    file: String,
    text: String,
    /// Printed by the linker for an object file: it applies to the linker messages that
    /// follow (see `context_for`).
    object: bool,
}

#[derive(Default)]
struct Parser<'a> {
    paths: Option<&'a PathMap>,
    out: ParsedDiagnostics,
    /// The last `In file included from` chain. It applies to every later diagnostic in the
    /// file it leads to (GCC prints it once per file change), which the first diagnostic or
    /// note after it tells.
    chain: Vec<String>,
    chain_file: Option<String>,
    /// `required from here` lines waiting for the next diagnostic.
    required: Vec<String>,
    /// The last `file: In function '…':` frame.
    frame: Option<Frame>,
    /// Index of the diagnostic notes attach to.
    current: Option<usize>,
    /// Index of the compiler diagnostic whose source echo has not been seen yet.
    echo_for: Option<usize>,
}

impl Parser<'_> {
    fn path(&self, path: &str) -> String {
        self.paths
            .map_or_else(|| path.to_owned(), |p| p.apply(path))
    }

    fn location(&self, file: &str, line: Option<u32>, column: Option<u32>) -> String {
        let file = self.path(file);
        match (line, column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file,
        }
    }

    fn push(&mut self, mut diagnostic: Diagnostic) {
        if let Some(paths) = self.paths {
            diagnostic.message = paths.apply_in(&diagnostic.message);
        }
        self.out.diagnostics.push(diagnostic);
        self.current = Some(self.out.diagnostics.len() - 1);
        self.echo_for = None;
    }

    fn context_for(&mut self, file: Option<&str>, linker: bool) -> Vec<String> {
        let mut context = Vec::new();
        if !self.chain.is_empty()
            && let Some(file) = file
        {
            let leads_here = self.chain_file.get_or_insert_with(|| file.to_owned()) == file;
            if leads_here {
                context.extend(self.chain.iter().cloned());
            }
        }
        context.append(&mut self.required);
        // An object file's frame names no source file: it applies to the linker messages
        // that follow, when they point into source (or into that same object).
        let object_frame = |frame: &Frame| {
            linker && frame.object && file.is_some_and(|f| !is_object(f) || f == frame.file)
        };
        if let Some(frame) = &self.frame
            && (file == Some(frame.file.as_str()) || object_frame(frame))
        {
            context.push(frame.text.clone());
        }
        context
    }

    fn set_frame(&mut self, file: String, text: String) {
        let object = is_object(&file);
        self.frame = Some(Frame { file, text, object });
    }

    fn note(
        &mut self,
        file: Option<String>,
        line: Option<u32>,
        column: Option<u32>,
        message: String,
    ) {
        let message = match self.paths {
            Some(paths) => paths.apply_in(&message),
            None => message,
        };
        self.required.clear();
        // The echo after a note is the note's, not its diagnostic's.
        self.echo_for = None;
        if !self.chain.is_empty()
            && self.chain_file.is_none()
            && let Some(file) = &file
        {
            self.chain_file = Some(file.clone());
        }
        if let Some(index) = self.current {
            self.out.diagnostics[index].notes.push(DiagnosticNote {
                file,
                line,
                column,
                message,
            });
        } else {
            self.out.diagnostics.push(Diagnostic {
                file,
                line,
                column,
                ..diagnostic(Severity::Note, DiagnosticOrigin::Compiler, message)
            });
        }
    }

    fn linker(
        &mut self,
        file: Option<String>,
        line: Option<u32>,
        message: String,
        severity: Severity,
    ) {
        if message == "first defined here" {
            self.note(file, line, None, message);
            return;
        }
        let context = self.context_for(file.as_deref(), true);
        self.push(Diagnostic {
            file,
            line,
            context,
            ..diagnostic(severity, DiagnosticOrigin::Linker, message)
        });
    }

    /// Linker messages, with or without the `ld:` prefix. `true` when the text was one.
    fn linker_line(&mut self, text: &str) -> bool {
        if let Some(caps) = LINKER_LOCATED.captures(text) {
            let file = self.path(&caps[1]);
            self.linker(
                Some(file),
                number(caps.get(2)),
                caps[3].to_owned(),
                Severity::Error,
            );
            return true;
        }
        if let Some(caps) = LINKER_UNLOCATED.captures(text) {
            let file = self.path(&caps[1]);
            self.linker(Some(file), None, caps[2].to_owned(), Severity::Error);
            return true;
        }
        false
    }

    fn line(&mut self, raw: &str) {
        let stripped = strip_ansi(raw);
        let quoted = ascii_quotes(stripped.trim_end_matches('\r'));
        let line: &str = &quoted;
        if line.trim().is_empty() {
            return;
        }
        if let Some(caps) = INCLUDED_FROM.captures(line) {
            let location = self.location(&caps[1], number(caps.get(2)), None);
            self.chain = vec![format!("In file included from {location}")];
            self.chain_file = None;
            return;
        }
        if let Some(caps) = FROM.captures(line) {
            let location = self.location(&caps[1], number(caps.get(2)), None);
            self.chain.push(format!("from {location}"));
            return;
        }
        if EXIT_STATUS.is_match(line) {
            return;
        }
        if let Some(caps) = TOOL_ERROR.captures(line) {
            self.push(diagnostic(
                Severity::Error,
                DiagnosticOrigin::Tool,
                caps[1].to_owned(),
            ));
            return;
        }
        if let Some(caps) = REQUIRED_FROM.captures(line) {
            let location = self.location(&caps[1], number(caps.get(2)), number(caps.get(3)));
            self.required
                .push(format!("{location}: {}", caps[4].trim()));
            return;
        }
        if let Some(caps) = DIAGNOSTIC.captures(line) {
            let file = self.path(&caps[1]);
            let (line_no, column) = (number(caps.get(2)), number(caps.get(3)));
            // Sub-notes are indented (`note:   candidate expects 2 arguments`).
            let message = caps[5].trim_start().to_owned();
            let severity = severity(&caps[4]);
            if severity == Severity::Note {
                self.note(Some(file), line_no, column, message);
                return;
            }
            let context = self.context_for(Some(&file), false);
            self.push(Diagnostic {
                file: Some(file),
                line: line_no,
                column,
                context,
                ..diagnostic(severity, DiagnosticOrigin::Compiler, message)
            });
            self.echo_for = self.current;
            return;
        }
        if let Some(caps) = COLLECT2.captures(line) {
            let severity = severity(&caps[1]);
            let message = caps[2].to_owned();
            self.linker(None, None, message, severity);
            return;
        }
        if let Some(caps) = LD.captures(line) {
            let message = caps[1].to_owned();
            if let Some(rest) = message.strip_suffix(':')
                && let Some((object, frame)) = rest.split_once(": in function ")
            {
                let object = self.path(object);
                self.set_frame(object, format!("In function {frame}"));
                return;
            }
            if self.linker_line(&message) {
                return;
            }
            let (severity, message) = match message.strip_prefix("warning: ") {
                Some(rest) => (Severity::Warning, rest.to_owned()),
                None => (Severity::Error, message),
            };
            self.linker(None, None, message, severity);
            return;
        }
        if self.linker_line(line) {
            return;
        }
        if let Some(caps) = CONTEXT.captures(line) {
            let file = self.path(&caps[1]);
            self.set_frame(file, caps[2].to_owned());
            return;
        }
        if line.starts_with([' ', '\t']) || GUTTER.is_match(line) {
            // Source echo, caret, gutter or fix-it lines; the first echo is the diagnostic's.
            attach_echo(&mut self.out.diagnostics, &mut self.echo_for, line);
            return;
        }
        if KNOWN_TOOL_LINES.iter().any(|known| line.starts_with(known)) {
            return;
        }
        self.out.unrecognized.push(line.to_owned());
    }
}

/// Parses compiler and linker output. `paths` rewrites absolute paths (see [`PathMap`]).
pub fn parse_gcc_output(text: &str, paths: &PathMap) -> ParsedDiagnostics {
    let mut parser = Parser {
        paths: Some(paths),
        ..Parser::default()
    };
    for line in text.lines() {
        parser.line(line);
    }
    parser.out
}

/// The diagnostic's first line as `file:line:col: severity: message`, for prompts and logs.
pub fn render(diagnostic: &Diagnostic) -> String {
    let mut out = String::new();
    if let Some(file) = &diagnostic.file {
        out.push_str(file);
        if let Some(line) = diagnostic.line {
            let _ = write!(out, ":{line}");
            if let Some(column) = diagnostic.column {
                let _ = write!(out, ":{column}");
            }
        }
        out.push_str(": ");
    }
    out.push_str(match diagnostic.severity {
        Severity::Fatal => "fatal error: ",
        Severity::Error => "error: ",
        Severity::Warning => "warning: ",
        Severity::Note => "note: ",
    });
    out.push_str(&diagnostic.message);
    out
}
