//! Legacy mode: the published jsonizer and substring classifier
//! (`robertmora/embeddedML-autopilot-failures`, `scripts/jsonize_logs.py` and
//! `scripts/classify_errors.py`), reproduced entry by entry with every quirk.
//!
//! Segmentation: any physical line containing the case-sensitive substring `ERROR` opens an
//! entry (its timestamp is the line's leading `YYYY-MM-DD hh:mm:ss,mmm` or `unknown`); the
//! following non-blank lines are its traceback until a blank line. Classification: entries
//! whose timestamp is `unknown` are dropped; each kept entry's stripped first line, lower-cased,
//! gets the category of the first rule R1–R20 it matches. See
//! `reference/failure-taxonomy.md` §2 for the rules and §3 for why they mislabel.

use std::io::{self, BufRead};

use crate::legacy::lines::LineReader;

/// The categories the published classifier assigns, in its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegacyCategory {
    MissingLibraries,
    PromptFormat,
    InvalidTflite,
    InvalidCustomTensorflow,
    SymbolClassApi,
    CodeGenerationFailure,
    MissingMainFunctions,
    SpecificationParsing,
    LlmBackend,
    GenerationProcessFailure,
    PromptExecution,
    SyntaxError,
    SensorHardwareConstant,
    IncludeImport,
    MissingUtilityFunction,
    DoNotCount,
    Uncategorized,
}

impl LegacyCategory {
    /// Every category, in the order of the rules that assign them.
    pub const ALL: [LegacyCategory; 17] = [
        LegacyCategory::MissingLibraries,
        LegacyCategory::PromptFormat,
        LegacyCategory::InvalidTflite,
        LegacyCategory::InvalidCustomTensorflow,
        LegacyCategory::SymbolClassApi,
        LegacyCategory::CodeGenerationFailure,
        LegacyCategory::MissingMainFunctions,
        LegacyCategory::SpecificationParsing,
        LegacyCategory::LlmBackend,
        LegacyCategory::GenerationProcessFailure,
        LegacyCategory::PromptExecution,
        LegacyCategory::SyntaxError,
        LegacyCategory::SensorHardwareConstant,
        LegacyCategory::IncludeImport,
        LegacyCategory::MissingUtilityFunction,
        LegacyCategory::DoNotCount,
        LegacyCategory::Uncategorized,
    ];

    /// The label exactly as the published classifier writes it.
    pub fn name(self) -> &'static str {
        match self {
            LegacyCategory::MissingLibraries => "Missing/Incorrect Libraries",
            LegacyCategory::PromptFormat => "Prompt Handling/Format Error",
            LegacyCategory::InvalidTflite => "Invalid TensorFlow Lite Usage",
            LegacyCategory::InvalidCustomTensorflow => "Invalid Custom TensorFlow Usage",
            LegacyCategory::SymbolClassApi => "Symbol/Class API Issues",
            LegacyCategory::CodeGenerationFailure => "Code Generation Failure",
            LegacyCategory::MissingMainFunctions => "Missing Main Functions",
            LegacyCategory::SpecificationParsing => "Specification Parsing Failure",
            LegacyCategory::LlmBackend => "LLM Runtime/Backend Error",
            LegacyCategory::GenerationProcessFailure => "Generation Process Failure",
            LegacyCategory::PromptExecution => "Prompt Execution Error",
            LegacyCategory::SyntaxError => "Syntax Error in Generated Code",
            LegacyCategory::SensorHardwareConstant => "Sensor/Hardware Constant Not Declared",
            LegacyCategory::IncludeImport => "Include/Import Error",
            LegacyCategory::MissingUtilityFunction => "Missing Utility Function",
            LegacyCategory::DoNotCount => "Do not Count",
            LegacyCategory::Uncategorized => "Uncategorized",
        }
    }
}

impl std::fmt::Display for LegacyCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The published rules R1–R20, in order, on the lower-cased message line.
pub fn legacy_category(message: &str) -> LegacyCategory {
    let msg = message.to_lowercase();
    let has = |needle: &str| msg.contains(needle);
    let any = |needles: &[&str]| needles.iter().any(|n| msg.contains(n));
    if any(&["no such file or directory", "not found"]) {
        LegacyCategory::MissingLibraries
    } else if any(&["unsupported output format", "no code blocks found"]) {
        LegacyCategory::PromptFormat
    } else if has("interpreter") && has("tflite") {
        LegacyCategory::InvalidTflite
    } else if has("tensorflow::") && any(&["interpreter", "microtensorarena"]) {
        LegacyCategory::InvalidCustomTensorflow
    } else if any(&["does not name a type", "has no member named"]) {
        if any(&["tflite", "tensorflow"]) {
            LegacyCategory::InvalidTflite
        } else {
            LegacyCategory::SymbolClassApi
        }
    } else if any(&[
        "code generation process failed",
        "failed to generate valid code",
    ]) {
        LegacyCategory::CodeGenerationFailure
    } else if any(&[
        "undefined reference to `setup'",
        "undefined reference to `loop'",
    ]) {
        LegacyCategory::MissingMainFunctions
    } else if any(&[
        "failed to parse application specifications",
        "failed to generate valid application specifications",
    ]) {
        LegacyCategory::SpecificationParsing
    } else if any(&[
        "serviceunavailableerror",
        "connection refused",
        "ollama error occurred",
        "api connection error",
    ]) {
        LegacyCategory::LlmBackend
    } else if any(&["generation failed", "sketch generation failed"]) {
        LegacyCategory::GenerationProcessFailure
    } else if has("exception caught in prompting attempt") {
        LegacyCategory::PromptExecution
    } else if any(&[
        "stray",
        "conflicting declaration",
        "expected primary-expression",
        "expected unqualified-id",
    ]) {
        LegacyCategory::SyntaxError
    } else if has("was not declared in this scope")
        && any(&["tcs34725", "integrationtime", "hardware", "sensor"])
    {
        LegacyCategory::SensorHardwareConstant
    } else if any(&["tensor_arena_size", "tensor_arena"]) {
        LegacyCategory::InvalidTflite
    } else if any(&[
        "in function `main'",
        "in function 'void setup()'",
        "in function 'int error_reporter_printf",
    ]) {
        LegacyCategory::CodeGenerationFailure
    } else if has("in file included from") {
        LegacyCategory::IncludeImport
    } else if has("loadbinaryfile") && has("not declared in this scope") {
        LegacyCategory::MissingUtilityFunction
    } else if any(&[
        // R18 and R19, one category.
        "'tflite' is not a namespace-name",
        "'tflite' has not been declared",
        "'micromutableopresolver' in namespace 'tflite'",
    ]) {
        LegacyCategory::InvalidTflite
    } else if has("keyboard interrupt received") {
        LegacyCategory::DoNotCount
    } else {
        LegacyCategory::Uncategorized
    }
}

/// One entry as the jsonizer cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyEntry {
    /// 0-based position among all entries of the file (`index_in_parsed_json`).
    pub parsed_index: usize,
    /// 0-based position among the kept entries (`index_in_cleaned_json`); `None` for an entry
    /// the classifier drops (timestamp `unknown`).
    pub index: Option<usize>,
    /// `YYYY-MM-DD hh:mm:ss,mmm`, or `unknown`.
    pub timestamp: String,
    /// The whole line, stripped of surrounding whitespace.
    pub message: String,
    /// Following lines up to the first blank one, each with its `\n` (only when asked for).
    pub traceback: String,
}

impl LegacyEntry {
    /// Whether the published classifier keeps the entry.
    pub fn kept(&self) -> bool {
        self.index.is_some()
    }

    /// The published category of a kept entry.
    pub fn category(&self) -> LegacyCategory {
        legacy_category(&self.message)
    }
}

/// Streams the jsonizer's entries of one log, in order, in memory bounded by one entry.
#[derive(Debug)]
pub struct LegacyEntries<R> {
    lines: LineReader<R>,
    error: memchr::memmem::Finder<'static>,
    with_traceback: bool,
    open: Option<LegacyEntry>,
    collecting: bool,
    parsed: usize,
    kept: usize,
    done: bool,
}

impl<R: BufRead> LegacyEntries<R> {
    /// `with_traceback`: also collect each entry's traceback (the classifier never reads it).
    pub fn new(input: R, with_traceback: bool) -> Self {
        LegacyEntries {
            lines: LineReader::new(input),
            error: memchr::memmem::Finder::new(b"ERROR"),
            with_traceback,
            open: None,
            collecting: false,
            parsed: 0,
            kept: 0,
            done: false,
        }
    }

    fn start(&mut self, line: &str) -> LegacyEntry {
        let timestamp = leading_timestamp(line).map_or("unknown", |ts| ts);
        let index = (timestamp != "unknown").then(|| {
            self.kept += 1;
            self.kept - 1
        });
        self.parsed += 1;
        LegacyEntry {
            parsed_index: self.parsed - 1,
            index,
            timestamp: timestamp.to_owned(),
            message: py_strip(line).to_owned(),
            traceback: String::new(),
        }
    }
}

impl<R: BufRead> Iterator for LegacyEntries<R> {
    type Item = io::Result<LegacyEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let (line, terminated) = match self.lines.next_line_ending() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return self.open.take().map(Ok);
                }
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            };
            if self.error.find(line).is_some() {
                let text = crate::legacy::lines::text(line).into_owned();
                let next = self.start(&text);
                self.collecting = true;
                if let Some(done) = self.open.replace(next) {
                    return Some(Ok(done));
                }
            } else if self.collecting && self.open.is_some() {
                if py_blank(line) {
                    self.collecting = false;
                } else if self.with_traceback
                    && let Some(entry) = self.open.as_mut()
                {
                    entry.traceback.push_str(&crate::legacy::lines::text(line));
                    if terminated {
                        entry.traceback.push('\n');
                    }
                }
            }
        }
    }
}

/// Python's `re.match(r'^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})', line)` (ASCII digits;
/// the logs hold no others).
fn leading_timestamp(line: &str) -> Option<&str> {
    const SHAPE: &[u8; 23] = b"dddd-dd-dd dd:dd:dd,ddd";
    let bytes = line.as_bytes();
    let ok = bytes.len() >= SHAPE.len()
        && SHAPE.iter().zip(bytes).all(|(shape, b)| match shape {
            b'd' => b.is_ascii_digit(),
            other => other == b,
        });
    ok.then(|| &line[..SHAPE.len()])
}

/// Python's whitespace for `str.strip()` within ASCII (it adds `\x1c`–`\x1f` to the usual set).
fn py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f)
}

/// Whether `line.strip() == ""` in Python.
fn py_blank(line: &[u8]) -> bool {
    // One pass that stops at the first ASCII non-space (the common case: a traceback line);
    // from the first non-ASCII byte on, Python's Unicode whitespace decides. The ASCII spaces
    // before it are stripped either way, so the rest alone tells.
    match line.iter().position(|b| !py_space(*b)) {
        None => true,
        Some(at) if line[at].is_ascii() => false,
        Some(at) => py_strip(&String::from_utf8_lossy(&line[at..])).is_empty(),
    }
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\x1c'..='\x1f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<LegacyEntry> {
        LegacyEntries::new(text.as_bytes(), true)
            .collect::<io::Result<_>>()
            .unwrap()
    }

    #[test]
    fn cuts_at_any_error_line_and_stops_collecting_at_a_blank_line() {
        let log = "2025-04-10 11:57:04,310 INFO a|b_sg: start\n\
                   2025-04-10 11:57:04,311 ERROR a|b_sg: Error in code execution try NO.1: x.ino:3:10: fatal error: y.h: No such file or directory\n\
                   \x20#include <y.h>\n\
                   compilation terminated.\n\
                   \n\
                   ignored after the blank line\n\
                   \x20 TF_LITE_REPORT_ERROR(reporter, \"x\");\n\
                   more\n\
                   2025-04-10 11:57:05,000 INFO a|b_sg: next\n";
        let got = entries(log);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].timestamp, "2025-04-10 11:57:04,311");
        assert_eq!(got[0].index, Some(0));
        assert_eq!(
            got[0].traceback,
            " #include <y.h>\ncompilation terminated.\n"
        );
        assert_eq!(got[0].category(), LegacyCategory::MissingLibraries);
        // The echoed source line holding `ERROR` opens a bogus entry that swallows INFO lines.
        assert_eq!(got[1].timestamp, "unknown");
        assert_eq!(got[1].index, None);
        assert_eq!(got[1].parsed_index, 1);
        assert_eq!(got[1].message, "TF_LITE_REPORT_ERROR(reporter, \"x\");");
        assert!(got[1].traceback.ends_with("INFO a|b_sg: next\n"));
    }

    #[test]
    fn rule_order_is_the_published_one() {
        let cases = [
            (
                "After 1 attempts, Failed to parse application specifications: `x` not found in the app specifications.. ",
                LegacyCategory::MissingLibraries,
            ),
            (
                "After 2 attempts, Failed to parse application specifications: list index out of range. ",
                LegacyCategory::SpecificationParsing,
            ),
            (
                "x.ino:15:22: error: conflicting declaration 'const tflite::Model* model'",
                LegacyCategory::SyntaxError,
            ),
            (
                "x.ino: In function 'void setup()':",
                LegacyCategory::CodeGenerationFailure,
            ),
            (
                "x.ino:9:1: error: 'colorSensor' was not declared in this scope",
                LegacyCategory::SensorHardwareConstant,
            ),
            (
                "Exception caught in prompting attempt 2, loop continues.",
                LegacyCategory::PromptExecution,
            ),
            (
                "x.ino:25:10: error: no matching function for call to 'APDS9960::APDS9960()'",
                LegacyCategory::Uncategorized,
            ),
            (
                "Sketch code generation process failed after maximum attempts.",
                LegacyCategory::CodeGenerationFailure,
            ),
            (
                "x.ino:1:1: error: 'Foo' does not name a type",
                LegacyCategory::SymbolClassApi,
            ),
            ("Keyboard interrupt received", LegacyCategory::DoNotCount),
        ];
        for (message, want) in cases {
            assert_eq!(legacy_category(message), want, "{message}");
        }
    }

    #[test]
    fn timestamps_need_the_full_shape_at_line_start() {
        assert_eq!(
            leading_timestamp("2025-04-10 11:57:04,310 ERROR x"),
            Some("2025-04-10 11:57:04,310")
        );
        assert_eq!(leading_timestamp(" 2025-04-10 11:57:04,310 ERROR"), None);
        assert_eq!(leading_timestamp("2025-04-10 11:57:04.310 ERROR"), None);
        assert_eq!(py_strip("\x1c a \t\n"), "a");
    }

    #[test]
    fn a_blank_line_is_one_python_strips_to_nothing() {
        for blank in [
            &b""[..],
            b" \t\r\x0b\x0c\x1c\x1f",
            " \u{a0}\u{3000} ".as_bytes(),
            "\u{2028}".as_bytes(),
        ] {
            assert!(py_blank(blank), "{blank:?}");
        }
        for not_blank in [
            &b"x"[..],
            b"   x   ",
            " \u{a0}é".as_bytes(),
            "é ".as_bytes(),
            b" \xff ",
            // A non-space ASCII byte ends the check even with invalid bytes after it.
            b" ) \xff",
        ] {
            assert!(!py_blank(not_blank), "{not_blank:?}");
        }
    }
}
