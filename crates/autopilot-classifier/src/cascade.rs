//! Cascade linking: which error diagnostics of one compile are follow-on errors of an earlier
//! one (its root), so that counts can be of root defects instead of compiler echoes.
//!
//! Pure and streaming: diagnostics are fed in output order and each is linked only to earlier
//! ones, since GCC reports a root before its fallout. Four links, tried in order:
//!
//! 1. **same message**: the same missing header again (the legacy library-install compile and
//!    its unchanged retry), or the same message naming the same identifier (`'tflite' does not
//!    name a type` at every TFLite declaration, `'PIN' was not declared` in every function);
//! 2. **same line**: a parser error (`expected …`) on a line that already has an error;
//! 3. **failed declaration**: the message names an identifier whose declaration failed earlier
//!    (`tflite::MicroInterpreter* interpreter;` failed, so `'interpreter' was not declared`);
//! 4. otherwise the diagnostic is a root.
//!
//! A declaration fails when an error sits on a line that declares a name and the error names an
//! identifier of the declared type (`'MicroInterpreter' in namespace 'tflite' does not name a
//! type`), or names the declared name itself in a `conflicting declaration`.

use foldhash::HashMap;

use crate::keyed::{Hashed, TextMap};

/// What the linker reads of one error diagnostic.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiagnosticView<'a> {
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    /// The source line GCC echoed, when known.
    pub source_line: Option<&'a str>,
}

/// Why a diagnostic was linked to its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    SameMessage,
    SameLine,
    FailedDeclaration,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::SameMessage => "same_message",
            Link::SameLine => "same_line",
            Link::FailedDeclaration => "failed_declaration",
        }
    }
}

/// Linking state of one compile (or of one attempt whose compile was retried unchanged).
#[derive(Debug, Default)]
pub struct CascadeLinker {
    next: u32,
    /// Message → the root of its first occurrence.
    messages: TextMap<u32>,
    /// File → its number in `lines` (a file name is copied once per compile, not once per
    /// diagnostic).
    files: HashMap<String, u32>,
    /// (file number, line) → the root of the first error on it.
    lines: HashMap<(u32, u32), u32>,
    /// Declared name → the root of the error that made its declaration fail.
    failed: HashMap<String, u32>,
}

impl CascadeLinker {
    /// Forgets every diagnostic (a new compile), keeping the memory.
    pub fn reset(&mut self) {
        self.next = 0;
        self.messages.clear();
        self.files.clear();
        self.lines.clear();
        self.failed.clear();
    }

    /// Links the next diagnostic; returns its id (0-based, in feed order) and, for a cascade,
    /// the id of its root and why.
    pub fn link(&mut self, view: &DiagnosticView<'_>) -> (u32, Option<(u32, Link)>) {
        self.link_named(
            view,
            &quoted_identifiers(view.message),
            Hashed::new(view.message),
        )
    }

    /// [`CascadeLinker::link`] with the message's [`quoted_identifiers`] already found (the
    /// classifier keeps them as evidence too) and the message hashed (the label cache looks
    /// it up too).
    pub(crate) fn link_named(
        &mut self,
        view: &DiagnosticView<'_>,
        names: &[&str],
        message: Hashed<'_>,
    ) -> (u32, Option<(u32, Link)>) {
        let id = self.next;
        self.next += 1;
        let header = view.message.ends_with("No such file or directory");
        let parser = is_parser_error(view.message);
        // The message is hashed once (hashing long messages is a good part of the cost).
        let seen = self.messages.get(message).copied();
        let mut link = None;
        if (header || (!parser && !names.is_empty()))
            && let Some(root) = seen
        {
            link = Some((root, Link::SameMessage));
        }
        let location = view
            .file
            .zip(view.line)
            .map(|(f, l)| (self.file_number(f), l));
        if link.is_none()
            && parser
            && let Some(root) = location.as_ref().and_then(|at| self.lines.get(at))
        {
            link = Some((*root, Link::SameLine));
        }
        if link.is_none()
            && let Some(root) = names.iter().find_map(|n| self.failed.get(*n))
        {
            link = Some((*root, Link::FailedDeclaration));
        }
        let root = link.map_or(id, |(root, _)| root);
        // Allocate a key only the first time it is seen.
        if seen.is_none() {
            self.messages.insert(message, root);
        }
        if let Some(at) = location {
            self.lines.entry(at).or_insert(root);
        }
        if let Some(declared) = failed_declaration(view.message, names, view.source_line) {
            self.failed.entry(declared.to_owned()).or_insert(root);
        }
        (id, link)
    }

    fn file_number(&mut self, file: &str) -> u32 {
        if let Some(number) = self.files.get(file) {
            return *number;
        }
        let number = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        self.files.insert(file.to_owned(), number);
        number
    }
}

/// `expected …` errors and their kin: the parser lost track, usually because of an earlier
/// error on the same line.
fn is_parser_error(message: &str) -> bool {
    // The searcher built once: `str::contains` builds one per call, for every diagnostic.
    static TOKEN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("' token"));
    message.starts_with("expected ") || TOKEN.find(message.as_bytes()).is_some()
}

/// Keywords and builtin types: never the name a diagnostic is about. A `match` (compiled to
/// a switch on the length, then compares) rather than a scan of a list: it runs on every
/// quoted identifier.
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "auto"
            | "bool"
            | "char"
            | "class"
            | "const"
            | "constexpr"
            | "double"
            | "float"
            | "int"
            | "long"
            | "new"
            | "operator"
            | "short"
            | "signed"
            | "static"
            | "struct"
            | "unsigned"
            | "void"
            | "volatile"
            | "int8_t"
            | "uint8_t"
            | "int16_t"
            | "uint16_t"
            | "int32_t"
            | "uint32_t"
            | "size_t"
            | "nullptr"
            | "true"
            | "false"
            | "this"
            | "return"
            | "if"
            | "else"
            | "for"
            | "while"
            | "switch"
            | "case"
            | "sizeof"
            | "delete"
            | "std"
    )
}

/// Identifiers inside the message's quotes (`'…'`, or GCC's typographic ‘…’), keywords and
/// builtin types left out: the names a diagnostic is about.
pub fn quoted_identifiers(message: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = message;
    while let Some((open, open_len)) = find_quote(rest, "\u{2018}") {
        let body = &rest[open + open_len..];
        let Some((close, close_len)) = find_quote(body, "\u{2019}") else {
            break;
        };
        for name in identifiers(&body[..close]) {
            if !is_keyword(name) && !names.contains(&name) {
                names.push(name);
            }
        }
        rest = &body[close + close_len..];
    }
    names
}

/// The first `'` or `typographic` quote (GCC's ‘ or ’) in `text`: its position and length in
/// bytes. Searched with `memchr` for `'` and the quote's lead byte (a char-set `str::find`
/// decodes every char; this runs on every diagnostic).
fn find_quote(text: &str, typographic: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let lead = typographic.as_bytes()[0];
    memchr::memchr2_iter(b'\'', lead, bytes).find_map(|at| {
        if bytes[at] == b'\'' {
            Some((at, 1))
        } else {
            bytes[at..]
                .starts_with(typographic.as_bytes())
                .then_some((at, typographic.len()))
        }
    })
}

/// C identifiers of a piece of text, in order: runs of ASCII letters, digits and `_` that do
/// not start with a digit. Read byte by byte (every non-ASCII byte separates, as its char
/// does), without decoding chars: this runs on every diagnostic and echoed line.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            while at < bytes.len() && !word(bytes[at]) {
                at += 1;
            }
            if at == bytes.len() {
                return None;
            }
            let start = at;
            while at < bytes.len() && word(bytes[at]) {
                at += 1;
            }
            // Both ends are next to ASCII bytes or the text's ends: char boundaries.
            if !bytes[start].is_ascii_digit() {
                return Some(&text[start..at]);
            }
        }
    })
}

/// Statement keywords that start a line which declares nothing.
fn is_statement(word: &str) -> bool {
    matches!(
        word,
        "return"
            | "else"
            | "delete"
            | "new"
            | "case"
            | "goto"
            | "throw"
            | "using"
            | "namespace"
            | "if"
            | "while"
            | "for"
            | "switch"
            | "do"
            | "sizeof"
            | "#include"
            | "#define"
    )
}

/// The name a source line declares and the identifiers of its type: `static
/// tflite::MicroInterpreter* interpreter = nullptr;` → (`interpreter`, [`tflite`,
/// `MicroInterpreter`]); `TfLiteStatus setupModel() {` → (`setupModel`, [`TfLiteStatus`]).
pub fn declaration(source_line: &str) -> Option<(&str, Vec<&str>)> {
    let (head, declared) = declaration_head(source_line)?;
    let mut ty: Vec<&str> = identifiers(head).collect();
    ty.pop();
    Some((declared, ty))
}

/// [`declaration`] without collecting the type: the text before the line's first terminator
/// (the type's identifiers, then the declared name) and the declared name.
fn declaration_head(source_line: &str) -> Option<(&str, &str)> {
    let line = source_line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    // Byte by byte: the terminators are ASCII, so their byte offset is a char boundary (this
    // runs on every diagnostic's echoed line; a char-set `find` decodes every char).
    let end = line
        .bytes()
        .position(|b| matches!(b, b'=' | b';' | b'(' | b'[' | b'{' | b',' | b')'))?;
    let head = &line[..end];
    // Only names, `::`, `*`, `&`, template brackets and blanks before the terminator; a
    // non-ASCII head is judged char by char (Unicode blanks count).
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c.is_whitespace() || "*&:<>".contains(c);
    let ascii_ok = head.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'_' | b'*' | b'&' | b':' | b'<' | b'>')
            || char::from(b).is_ascii_whitespace()
            || b == 0x0b
    });
    if !ascii_ok && (head.is_ascii() || !head.chars().all(allowed)) {
        return None;
    }
    let mut words = identifiers(head);
    let first = words.next()?;
    // One word declares nothing (no type).
    let declared = words.last()?;
    if is_statement(first) || is_statement(declared) {
        return None;
    }
    Some((head, declared))
}

/// The name whose declaration this error made fail, if any.
fn failed_declaration<'a>(
    message: &str,
    names: &[&str],
    source_line: Option<&'a str>,
) -> Option<&'a str> {
    // Both reasons need a quoted name: without one the line is not read.
    if names.is_empty() {
        return None;
    }
    let (head, declared) = declaration_head(source_line?)?;
    // A name other than the declared one (the head's last word) is of the type when the head
    // holds it.
    let about_type = names
        .iter()
        .any(|n| *n != declared && identifiers(head).any(|word| word == *n));
    let clash = names.contains(&declared)
        && (message.starts_with("conflicting declaration") || message.contains("redefinition"));
    (about_type || clash).then_some(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_identifiers_skip_keywords() {
        assert_eq!(
            quoted_identifiers("conflicting declaration 'const tflite::Model* model'"),
            ["tflite", "Model", "model"]
        );
        assert_eq!(
            quoted_identifiers("\u{2018}PIN\u{2019} was not declared in this scope"),
            ["PIN"]
        );
        assert!(quoted_identifiers("expected ';' before '}' token").is_empty());
    }

    #[test]
    fn identifiers_are_runs_of_word_bytes_not_starting_with_a_digit() {
        let got: Vec<&str> = identifiers("é_a1 2b::c\u{a0}d(é)e9 ").collect();
        assert_eq!(got, ["_a1", "c", "d", "e9"]);
        assert_eq!(identifiers("").count(), 0);
    }

    #[test]
    fn declarations_are_read_from_the_echoed_line() {
        assert_eq!(
            declaration("static tflite::MicroInterpreter* interpreter = nullptr;"),
            Some(("interpreter", vec!["static", "tflite", "MicroInterpreter"]))
        );
        assert_eq!(
            declaration("uint8_t tensor_arena[kTensorArenaSize];"),
            Some(("tensor_arena", vec!["uint8_t"]))
        );
        assert_eq!(declaration("return interpreter->Invoke();"), None);
        assert_eq!(declaration("Serial.begin(9600);"), None);
        assert_eq!(declaration("x = 5;"), None);
        assert_eq!(declaration("} else if (x) {"), None);
        // Any Unicode blank separates words; other non-ASCII text is no declaration.
        assert_eq!(declaration("int\u{a0}x\x0b= 1;"), Some(("x", vec!["int"])));
        assert_eq!(declaration("int é = 1;"), None);
        assert_eq!(declaration("int x.y = 1;"), None);
    }
}
