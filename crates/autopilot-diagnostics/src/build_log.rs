//! The recorded-build parser: GCC / GNU ld / arduino-cli output kept in logs, to diagnostics.
//!
//! It reads what `arduino-cli compile` prints on failure and on success: `file:line:col:
//! error: …` lines (with `fatal error`, `warning`, `note`), the `In function '…':` and
//! `In file included from …` frames that give them context, linker `undefined reference`
//! lines, arduino-cli's own `Error during build:` and size lines. Source echoes, carets and
//! fix-it hints are skipped. Paths inside the sketch folder (the folder of the first `.ino`
//! file named) become relative to it.

use std::path::Path;

use autopilot_trace::{Diagnostic, DiagnosticNote, DiagnosticOrigin, Severity, SizeReport};

use crate::{attach_echo, diagnostic};

/// Everything a build printed, structured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOutput {
    /// Diagnostics in output order; notes are attached to the diagnostic they follow.
    pub diagnostics: Vec<Diagnostic>,
    /// Flash and RAM use, when the build printed them.
    pub size: Option<SizeReport>,
    /// The build tool's own status lines that are not diagnostics (`exit status 1`).
    pub status_lines: Vec<String>,
}

impl BuildOutput {
    /// The diagnostics that make a build fail (errors and fatal errors).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
    }
}

/// Substring searchers built once (`str::find` builds one per call, and these run on every
/// line of a build's output).
type Needle = std::sync::LazyLock<memchr::memmem::Finder<'static>>;

macro_rules! needle {
    ($name:ident, $text:literal) => {
        static $name: Needle = Needle::new(|| memchr::memmem::Finder::new($text));
    };
}

needle!(UNDEFINED_REFERENCE, "undefined reference to ");
needle!(MULTIPLE_DEFINITION, "multiple definition of ");
needle!(IN_FUNCTION_LOWER, ": in function `");
needle!(IN_FUNCTION_UPPER, ": In function `");
needle!(FRAME_IN, ": In ");
needle!(FRAME_GLOBAL, ": At global scope");

fn find(needle: &Needle, text: &str) -> Option<usize> {
    needle.find(text.as_bytes())
}

const MARKERS: [(&str, Severity); 4] = [
    (": fatal error: ", Severity::Fatal),
    (": error: ", Severity::Error),
    (": warning: ", Severity::Warning),
    (": note: ", Severity::Note),
];

/// Parses the combined stdout/stderr of a build.
pub fn parse_build_output(text: &str) -> BuildOutput {
    let mut parser = Parser {
        sketch_dir: sketch_dir(text),
        out: BuildOutput {
            // Room for a failed build's diagnostics (they run to dozens; growing the vector
            // copies them each time).
            diagnostics: Vec::with_capacity(64),
            ..BuildOutput::default()
        },
        function: None,
        includes: Vec::new(),
        link_function: None,
        echo_for: None,
    };
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())) {
        if start < end {
            parser.line(text[start..end].trim_end_matches('\r'));
        }
        start = end + 1;
    }
    parser.out
}

/// The folder of the first `.ino` file the output names, with its trailing `/`.
fn sketch_dir(text: &str) -> Option<&str> {
    let at = memchr::memmem::find(text.as_bytes(), b".ino:")?;
    // Step over the whole whitespace character: U+00A0 and U+0085 are two bytes.
    let start = text[..at]
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let path = &text[start..at];
    path.rfind('/').map(|slash| &path[..=slash])
}

struct Parser<'a> {
    sketch_dir: Option<&'a str>,
    out: BuildOutput,
    /// The current `In function '…'` frame.
    function: Option<String>,
    /// The `In file included from` chain for the next diagnostic.
    includes: Vec<String>,
    /// The current linker `in function `…'` frame.
    link_function: Option<String>,
    /// Index of the diagnostic whose source echo has not been seen yet.
    echo_for: Option<usize>,
}

impl Parser<'_> {
    fn relative(&self, path: &str) -> String {
        match self.sketch_dir {
            Some(dir) => path.strip_prefix(dir).unwrap_or(path).to_owned(),
            None => path.to_owned(),
        }
    }

    fn line(&mut self, line: &str) {
        // The leading blanks scanned once: they tell a blank line, and an indented line's text
        // starts after them (echoes and carets start with long runs of spaces).
        let Some(text) = line.bytes().position(|b| !b.is_ascii_whitespace()) else {
            return;
        };
        if line.starts_with([' ', '\t']) {
            // Source echo, caret, fix-it; or the rest of an include chain. (`trim_start` for
            // what `is_ascii_whitespace` leaves: a vertical tab, Unicode blanks.)
            let trimmed = line[text..].trim_start();
            if let Some(from) = trimmed.strip_prefix("from ")
                && (from.ends_with(',') || from.ends_with(':'))
            {
                let from = self.location_text(&from[..from.len() - 1]);
                self.includes.push(format!("from {from}"));
            } else {
                attach_echo(&mut self.out.diagnostics, &mut self.echo_for, line);
            }
            return;
        }
        if let Some(from) = line.strip_prefix("In file included from ") {
            let from = from.trim_end_matches([',', ':']);
            self.includes = vec![format!(
                "In file included from {}",
                self.location_text(from)
            )];
            return;
        }
        if line == "compilation terminated." {
            return;
        }
        if line.starts_with("exit status ") {
            // arduino-builder's own exit line.
            self.out.status_lines.push(line.to_owned());
            return;
        }
        if let Some(rest) = line.strip_prefix("Error during build: ") {
            if rest.starts_with("exit status ") {
                self.out.status_lines.push(line.to_owned());
            } else {
                self.push(tool(Severity::Error, rest));
            }
            return;
        }
        if self.size_line(line) {
            return;
        }
        if let Some(rest) = line.strip_prefix("WARNING: ") {
            self.push(tool(Severity::Warning, rest));
            return;
        }
        if self.diagnostic_line(line) || self.linker_line(line) {
            return;
        }
        if let Some(frame) = frame(line) {
            if frame.starts_with("At global scope") {
                self.function = None;
            } else {
                self.function = Some(frame.to_owned());
            }
        }
        // Anything else (arduino-cli library resolution chatter, tables) is not a diagnostic.
    }

    /// `path:line:col` with the path made relative.
    fn location_text(&self, location: &str) -> String {
        let (file, line, column) = split_location(location);
        let mut text = self.relative(file);
        for n in [line, column].into_iter().flatten() {
            text.push(':');
            text.push_str(&n.to_string());
        }
        text
    }

    fn diagnostic_line(&mut self, line: &str) -> bool {
        let found = find_marker(line);
        let (location, message, severity) = if let Some((at, marker, severity)) = found {
            (Some(&line[..at]), &line[at + marker.len()..], severity)
        } else {
            let bare = [
                ("fatal error: ", Severity::Fatal),
                ("error: ", Severity::Error),
                ("warning: ", Severity::Warning),
                ("note: ", Severity::Note),
            ]
            .into_iter()
            .find_map(|(prefix, severity)| line.strip_prefix(prefix).map(|m| (m, severity)));
            let Some((message, severity)) = bare else {
                return false;
            };
            (None, message, severity)
        };
        let (file, line_no, column) = match location {
            Some(location) => {
                let (file, l, c) = split_location(location);
                (Some(file), l, c)
            }
            None => (None, None, None),
        };
        // Programs (`cc1plus`, `collect2`) never carry a line number; files may lack a dot.
        let program = file.filter(|f| line_no.is_none() && is_program(f));
        let origin = match program {
            Some(p) if is_linker(p) => DiagnosticOrigin::Linker,
            _ => DiagnosticOrigin::Compiler,
        };
        let file = if program.is_some() {
            None
        } else {
            file.map(|f| self.relative(f))
        };
        if severity == Severity::Note {
            let note = DiagnosticNote {
                file,
                line: line_no,
                column,
                message: message.to_owned(),
            };
            self.includes.clear();
            // The echo after a note is the note's.
            self.echo_for = None;
            match self
                .out
                .diagnostics
                .iter_mut()
                .rev()
                .find(|d| d.severity != Severity::Note)
            {
                Some(parent) => parent.notes.push(note),
                None => self.push(Diagnostic {
                    file: note.file,
                    line: note.line,
                    column: note.column,
                    ..diagnostic(Severity::Note, origin, note.message)
                }),
            }
            return true;
        }
        // The driver's summary of a link that already reported its errors.
        if origin == DiagnosticOrigin::Linker
            && message.starts_with("ld returned ")
            && self
                .out
                .diagnostics
                .iter()
                .any(|d| d.origin == DiagnosticOrigin::Linker)
        {
            self.out.status_lines.push(line.to_owned());
            return true;
        }
        let mut context: Vec<String> = self.function.iter().cloned().collect();
        context.append(&mut self.includes);
        self.push(Diagnostic {
            file,
            line: line_no,
            column,
            context,
            ..diagnostic(severity, origin, message.to_owned())
        });
        self.echo_for = Some(self.out.diagnostics.len() - 1);
        true
    }

    /// GNU ld: `…/ld: x.o: in function `main':`, `main.cpp:(.text+0x8): undefined reference
    /// to `setup'`, `…/ld: region `FLASH' overflowed by 12 bytes`.
    fn linker_line(&mut self, line: &str) -> bool {
        for marker in [&UNDEFINED_REFERENCE, &MULTIPLE_DEFINITION] {
            if let Some(at) = find(marker, line) {
                // `main.cpp:46: ` or `main.cpp:(.text+0x8): `.
                let location = line[..at].trim_end_matches(": ");
                let location = location.split(":(").next().unwrap_or(location);
                let (file, line_no, column) = split_location(location);
                let file = Some(file).filter(|f| !f.is_empty() && !is_linker(f));
                let context = self.link_function.iter().cloned().collect();
                self.push(Diagnostic {
                    file: file.map(|f| self.relative(f)),
                    line: line_no,
                    column,
                    context,
                    ..diagnostic(
                        Severity::Error,
                        DiagnosticOrigin::Linker,
                        line[at..].to_owned(),
                    )
                });
                return true;
            }
        }
        let lower_in_function =
            find(&IN_FUNCTION_LOWER, line).or_else(|| find(&IN_FUNCTION_UPPER, line));
        if let Some(at) = lower_in_function
            && line.ends_with("':")
        {
            self.link_function = Some(line[at + 2..line.len() - 1].to_owned());
            return true;
        }
        if let Some((program, message)) = line.split_once(": ")
            && is_program(program)
            && is_linker(program)
        {
            self.push(diagnostic(
                Severity::Error,
                DiagnosticOrigin::Linker,
                message.to_owned(),
            ));
            return true;
        }
        false
    }

    /// `Sketch uses 485216 bytes (49%) of program storage space. Maximum is 983040 bytes.`
    /// and `Global variables use 78656 bytes (30%) of dynamic memory, … Maximum is 262144
    /// bytes.`
    fn size_line(&mut self, line: &str) -> bool {
        let numbers = |text: &str| -> Vec<u64> {
            text.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect()
        };
        let maximum = |text: &str| {
            text.split_once("Maximum is ")
                .and_then(|(_, m)| numbers(m).first().copied())
        };
        if let Some(rest) = line.strip_prefix("Sketch uses ") {
            let used = numbers(rest).first().copied().unwrap_or(0);
            let size = self.out.size.get_or_insert(SizeReport {
                flash_used: 0,
                flash_max: None,
                ram_used: None,
                ram_max: None,
            });
            size.flash_used = used;
            size.flash_max = maximum(rest);
            return true;
        }
        if let Some(rest) = line.strip_prefix("Global variables use ") {
            let size = self.out.size.get_or_insert(SizeReport {
                flash_used: 0,
                flash_max: None,
                ram_used: None,
                ram_max: None,
            });
            size.ram_used = numbers(rest).first().copied();
            size.ram_max = maximum(rest);
            return true;
        }
        false
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.diagnostics.push(diagnostic);
        self.echo_for = None;
    }
}

/// The first `: error: ` (or `: fatal error: `, `: warning: `, `: note: `) of a line: one pass
/// over its colons rather than a substring search per marker.
fn find_marker(line: &str) -> Option<(usize, &'static str, Severity)> {
    let bytes = line.as_bytes();
    memchr::memchr_iter(b':', bytes).find_map(|at| {
        let rest = &bytes[at..];
        MARKERS
            .iter()
            .find(|(marker, _)| rest.starts_with(marker.as_bytes()))
            .map(|(marker, severity)| (at, *marker, *severity))
    })
}

fn tool(severity: Severity, message: &str) -> Diagnostic {
    diagnostic(severity, DiagnosticOrigin::Tool, message.to_owned())
}

/// `text` without its trailing `:<number>` and the number: the digits after the last colon,
/// read from the right (a location is split once per diagnostic; searching for the colon and
/// checking and parsing the digits apart was a thirtieth of an import). `None` when the text
/// does not end that way or the number does not fit a `u32`.
fn split_number(text: &str) -> Option<(&str, u32)> {
    let bytes = text.as_bytes();
    let digits = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let colon = bytes.len().checked_sub(digits + 1)?;
    if digits == 0 || bytes[colon] != b':' {
        return None;
    }
    // The slices' ends are next to ASCII bytes: char boundaries.
    Some((&text[..colon], text[colon + 1..].parse().ok()?))
}

/// `file:12:5` → (`file`, 12, 5); `file:12` → (`file`, 12, None); `file` → (`file`, None, None).
fn split_location(location: &str) -> (&str, Option<u32>, Option<u32>) {
    match split_number(location) {
        Some((head, last)) => match split_number(head) {
            Some((file, middle)) => (file, Some(middle), Some(last)),
            None => (head, Some(last), None),
        },
        None => (location, None, None),
    }
}

/// A program name rather than a file (`cc1plus`, `collect2`, `…/arm-none-eabi-ld`).
fn is_program(text: &str) -> bool {
    let name = text.rsplit('/').next().unwrap_or(text);
    let lower = name.to_ascii_lowercase();
    !name.contains('.')
        || Path::new(&lower).extension().is_some_and(|e| e == "exe")
        || lower.ends_with("ld.bfd")
}

fn is_linker(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    let name = name.trim_end_matches(".exe");
    name == "collect2" || name == "ld" || name.ends_with("-ld") || name.ends_with("ld.bfd")
}

/// The frame named by `file: In function 'void setup()':` (and `In member function`,
/// `In constructor`, `In instantiation of`, `At global scope`, …), without the trailing colon.
fn frame(line: &str) -> Option<&str> {
    let body = line.strip_suffix(':')?;
    let at = find(&FRAME_IN, body).or_else(|| find(&FRAME_GLOBAL, body))?;
    Some(&body[at + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_from_the_right() {
        assert_eq!(
            split_location("/a/b.ino:3:10"),
            ("/a/b.ino", Some(3), Some(10))
        );
        assert_eq!(split_location("b.ino:3"), ("b.ino", Some(3), None));
        assert_eq!(split_location("cc1plus"), ("cc1plus", None, None));
        assert_eq!(
            split_location("C:/x.ino:1:2"),
            ("C:/x.ino", Some(1), Some(2))
        );
        // Only a whole number after the last colon counts; one too big for a u32 is text.
        assert_eq!(split_location("a.ino:3x"), ("a.ino:3x", None, None));
        assert_eq!(split_location("a.ino:x3"), ("a.ino:x3", None, None));
        assert_eq!(split_location("a.ino:"), ("a.ino:", None, None));
        assert_eq!(split_location(":7"), ("", Some(7), None));
        assert_eq!(split_location("7"), ("7", None, None));
        assert_eq!(split_location("a.ino::5"), ("a.ino:", Some(5), None));
        assert_eq!(
            split_location("a.ino:99999999999:4"),
            ("a.ino:99999999999", Some(4), None)
        );
        assert_eq!(
            split_location("a.ino:2:99999999999"),
            ("a.ino:2:99999999999", None, None)
        );
        assert_eq!(split_location("é.ino:1:2"), ("é.ino", Some(1), Some(2)));
    }

    #[test]
    fn frames_and_programs() {
        assert_eq!(
            frame("/a/b.ino: In function 'void setup()':"),
            Some("In function 'void setup()'")
        );
        assert_eq!(
            frame("/a/model.h: At global scope:"),
            Some("At global scope")
        );
        assert_eq!(frame("   model = x;"), None);
        assert!(is_program("collect2") && is_linker("collect2"));
        assert!(is_linker("/opt/bin/arm-none-eabi-ld"));
        assert!(!is_program("/a/b.ino"));
    }
}
