//! Just enough C/C++ lexing for headers and sketches: blanking comments and literals, tokens.
//!
//! Everything keeps byte offsets and line breaks, so a position in the blanked text is the same
//! position (and line) in the original.

/// Source text with comments (and optionally string and char literal contents) replaced by
/// spaces, plus the comments that were removed.
#[derive(Debug, Clone)]
pub(crate) struct Blanked {
    pub text: String,
    /// `(line, comment text)`, 1-based lines, comment markers included.
    pub comments: Vec<(u32, String)>,
}

/// Blanks comments, and the contents of string and char literals when `literals` is true (the
/// quotes stay, so `"model.h"` becomes `"       "`).
pub(crate) fn blank(source: &str, literals: bool) -> Blanked {
    let bytes = source.as_bytes();
    let mut out = bytes.to_vec();
    let mut comments = Vec::new();
    let mut line: u32 = 1;
    let mut i = 0;
    let blank_range = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = memchr_newline(bytes, i);
                comments.push((line, source[i..end].to_owned()));
                blank_range(&mut out, i, end);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = find(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2);
                comments.push((line, source[i..end].to_owned()));
                blank_range(&mut out, i, end);
                line += count_newlines(&bytes[i..end]);
                i = end;
            }
            quote @ (b'"' | b'\'') => {
                // A quote after an identifier character in a number (`1'000`) is a digit
                // separator, not a literal.
                if quote == b'\''
                    && i > 0
                    && bytes[i - 1].is_ascii_hexdigit()
                    && is_in_number(bytes, i)
                {
                    i += 1;
                    continue;
                }
                let end = literal_end(bytes, i, quote);
                if literals && end > i + 1 {
                    let inner_end = if bytes.get(end - 1) == Some(&quote) && end - 1 > i {
                        end - 1
                    } else {
                        end
                    };
                    blank_range(&mut out, i + 1, inner_end);
                }
                line += count_newlines(&bytes[i..end]);
                i = end;
            }
            _ => i += 1,
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces inside whole comments/literals, so the
    // result is valid UTF-8 whenever the input was; fall back to lossy just in case.
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Blanked { text, comments }
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn count_newlines(bytes: &[u8]) -> u32 {
    u32::try_from(
        bytes
            .iter()
            .fold(0usize, |n, b| n + usize::from(*b == b'\n')),
    )
    .unwrap_or(u32::MAX)
}

fn is_in_number(bytes: &[u8], quote: usize) -> bool {
    let mut start = quote;
    while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'\'') {
        start -= 1;
    }
    bytes[start].is_ascii_digit()
}

/// The index just past a string or char literal starting at `start`; an unterminated literal
/// ends at the line end.
fn literal_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> u32 {
    let upto = &text.as_bytes()[..offset.min(text.len())];
    count_newlines(upto).saturating_add(1)
}

/// A C token: enough to find declarations at file scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    Number,
    /// A string or char literal, quotes included.
    Literal,
    Punct,
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub line: u32,
}

impl Token<'_> {
    pub(crate) fn is(&self, text: &str) -> bool {
        self.text == text
    }
}

/// A preprocessor directive: its 1-based line and text with continuations joined.
#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub line: u32,
    pub text: String,
}

/// Tokenizes comment-blanked source, setting preprocessor directives apart.
pub(crate) fn tokenize(blanked: &str) -> (Vec<Token<'_>>, Vec<Directive>) {
    let bytes = blanked.as_bytes();
    let mut tokens = Vec::new();
    let mut directives = Vec::new();
    let mut line: u32 = 1;
    let mut at_line_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            line += 1;
            at_line_start = true;
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'#' && at_line_start {
            let start = i;
            let start_line = line;
            // A directive runs to the end of the line, continued by trailing backslashes.
            loop {
                let end = memchr_newline(bytes, i);
                let continued = blanked[i..end].trim_end().ends_with('\\');
                i = end;
                if continued && i < bytes.len() {
                    line += 1;
                    i += 1;
                } else {
                    break;
                }
            }
            let text = blanked[start..i]
                .lines()
                .map(|l| l.trim_end().trim_end_matches('\\').trim())
                .collect::<Vec<_>>()
                .join(" ");
            directives.push(Directive {
                line: start_line,
                text,
            });
            continue;
        }
        at_line_start = false;
        let start = i;
        let kind = if b.is_ascii_alphabetic() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            TokenKind::Ident
        } else if b.is_ascii_digit()
            || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'.'
                    || bytes[i] == b'\''
                    || ((bytes[i] == b'+' || bytes[i] == b'-')
                        && matches!(bytes[i - 1], b'e' | b'E' | b'p' | b'P')
                        && !blanked[start..i].starts_with("0x")))
            {
                i += 1;
            }
            TokenKind::Number
        } else if b == b'"' || b == b'\'' {
            i = literal_end(bytes, i, b);
            TokenKind::Literal
        } else if b == b':' && bytes.get(i + 1) == Some(&b':') {
            i += 2;
            TokenKind::Punct
        } else if b == b'.' && blanked[i..].starts_with("...") {
            i += 3;
            TokenKind::Punct
        } else {
            // One (possibly multi-byte UTF-8) character.
            i += blanked[i..].chars().next().map_or(1, char::len_utf8);
            TokenKind::Punct
        };
        tokens.push(Token {
            kind,
            text: &blanked[start..i],
            line,
        });
        line += count_newlines(&bytes[start..i]);
    }
    (tokens, directives)
}

/// The `#include` targets of a source, with their lines: `("model.h", 3)`.
pub(crate) fn includes(source: &str) -> Vec<(String, u32)> {
    let blanked = blank(source, false);
    let (_, directives) = tokenize(&blanked.text);
    directives
        .iter()
        .filter_map(|d| {
            let rest = d.text.strip_prefix('#')?.trim_start();
            let rest = rest.strip_prefix("include")?.trim();
            let (open, close) = match rest.chars().next()? {
                '"' => ('"', '"'),
                '<' => ('<', '>'),
                _ => return None,
            };
            let inner = rest.strip_prefix(open)?;
            let end = inner.find(close)?;
            Some((inner[..end].trim().to_owned(), d.line))
        })
        .collect()
}
