//! The symbols a model header declares at file scope: arrays and their length symbols,
//! constants and macros, functions, variables and types, so prechecks can spot clashes.

use serde::Serialize;

use crate::cpp::{self, Token, TokenKind};

/// What kind of thing a header symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// `const unsigned char g_model[] = {…};`
    Array,
    /// A constant or macro holding the length of an array (`g_model_len`).
    Length,
    /// `const int kClasses = 3;`, `constexpr float kScale = …;`
    Constant,
    /// `#define NAME …`
    Macro,
    /// A function defined (with a body) in the header.
    Function,
    /// A function declared without a body: the sketch may (or must) define it.
    Prototype,
    /// A non-const variable.
    Variable,
    /// `struct`, `class`, `enum`, `union`, `typedef`, `using`.
    Type,
}

impl SymbolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Array => "array",
            SymbolKind::Length => "length",
            SymbolKind::Constant => "constant",
            SymbolKind::Macro => "macro",
            SymbolKind::Function => "function",
            SymbolKind::Prototype => "prototype",
            SymbolKind::Variable => "variable",
            SymbolKind::Type => "type",
        }
    }
}

/// One file-scope symbol of a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderSymbol {
    pub name: String,
    pub kind: SymbolKind,
    /// 1-based line of the declaration.
    pub line: u32,
    /// The declaration without its initializer or body, on one line (`const unsigned char
    /// model[]`, `int color_model_predict(const float input[3])`).
    pub declaration: String,
    /// For arrays: the number of elements (from the initializer or the bound), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elements: Option<usize>,
    /// For length symbols: the array they measure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_of: Option<String>,
    /// For constants and macros: the value as written, when short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The symbols of a header, with the bytes of its byte arrays (for `.tflite` inspection).
#[derive(Debug, Clone, Default)]
pub struct HeaderScan {
    pub symbols: Vec<HeaderSymbol>,
    /// `(array name, bytes)` for `unsigned char`/`uint8_t` arrays whose initializer is all
    /// integer literals.
    pub byte_arrays: Vec<(String, Vec<u8>)>,
}

impl HeaderScan {
    pub fn get(&self, name: &str) -> Option<&HeaderSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The largest byte array, taken to be the model data.
    pub fn model_array(&self) -> Option<&HeaderSymbol> {
        self.byte_arrays
            .iter()
            .max_by_key(|(_, bytes)| bytes.len())
            .and_then(|(name, _)| self.get(name))
    }

    /// The length symbol of an array, if the header declares one.
    pub fn length_of(&self, array: &str) -> Option<&HeaderSymbol> {
        self.symbols
            .iter()
            .find(|s| s.kind == SymbolKind::Length && s.length_of.as_deref() == Some(array))
    }

    pub fn bytes_of(&self, array: &str) -> Option<&[u8]> {
        self.byte_arrays
            .iter()
            .find(|(name, _)| name == array)
            .map(|(_, bytes)| bytes.as_slice())
    }
}

const LENGTH_SUFFIXES: &[&str] = &[
    "_len", "_length", "_size", "_bytes", "Len", "Length", "Size",
];
const MAX_VALUE_LEN: usize = 40;
const MAX_DECLARATION_LEN: usize = 160;

/// Lists the symbols a header declares at file scope (inside `namespace` and `extern "C"`
/// blocks too). Tolerant: it never fails, it skips what it does not understand.
pub fn scan_header(source: &str) -> HeaderScan {
    let blanked = cpp::blank(source, false);
    let (tokens, directives) = cpp::tokenize(&blanked.text);
    let mut scan = HeaderScan::default();
    for directive in &directives {
        if let Some(symbol) = macro_symbol(&directive.text, directive.line) {
            scan.symbols.push(symbol);
        }
    }
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        // Transparent scopes.
        if t.is("namespace") {
            let mut j = i + 1;
            while j < tokens.len() && !tokens[j].is("{") && !tokens[j].is(";") {
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if t.is("extern")
            && tokens
                .get(i + 1)
                .is_some_and(|n| n.kind == TokenKind::Literal)
            && tokens.get(i + 2).is_some_and(|n| n.is("{"))
        {
            i += 3;
            continue;
        }
        if t.is("}") || t.is(";") {
            i += 1;
            continue;
        }
        i = statement(&tokens, i, &mut scan);
    }
    mark_lengths(&mut scan.symbols);
    scan.symbols.sort_by_key(|s| s.line);
    scan
}

fn macro_symbol(text: &str, line: u32) -> Option<HeaderSymbol> {
    let rest = text
        .strip_prefix('#')?
        .trim_start()
        .strip_prefix("define")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if name.is_empty() || name.ends_with("_H") || name.ends_with("_H_") {
        // Include guards are not symbols a sketch would reuse.
        return None;
    }
    let value = rest[name_len..].trim();
    Some(HeaderSymbol {
        name: name.to_owned(),
        kind: SymbolKind::Macro,
        line,
        declaration: truncate(&format!("#define {name}"), MAX_DECLARATION_LEN),
        elements: None,
        length_of: None,
        value: (!value.is_empty() && value.len() <= MAX_VALUE_LEN).then(|| value.to_owned()),
    })
}

/// Parses one file-scope statement starting at `start`; returns the index after it.
fn statement(tokens: &[Token<'_>], start: usize, scan: &mut HeaderScan) -> usize {
    let mut i = start;
    let mut head: Vec<&Token<'_>> = Vec::new();
    let mut initializer: Option<Vec<&Token<'_>>> = None;
    let mut braced_init: Option<(usize, usize)> = None;
    let mut body_head_len: Option<usize> = None;
    let mut depth = 0usize;
    while i < tokens.len() {
        let t = &tokens[i];
        if depth == 0 && t.is(";") {
            i += 1;
            break;
        }
        if depth == 0 && t.is("{") {
            let close = matching_brace(tokens, i);
            let last = initializer
                .as_ref()
                .and_then(|init| init.last().copied())
                .or_else(|| head.last().copied());
            let is_function_body = initializer.is_none()
                && head.iter().any(|t| t.is("("))
                && last.is_some_and(|l| l.is(")") || l.is("const") || l.is("noexcept"));
            if is_function_body {
                record_function(&head, true, scan);
                return close + 1;
            }
            if initializer.is_some() {
                braced_init = Some((i, close));
            } else if let Some(kpos) = head
                .iter()
                .position(|t| matches!(t.text, "struct" | "class" | "enum" | "union"))
            {
                if let Some(name) = head.get(kpos + 1).filter(|t| t.kind == TokenKind::Ident) {
                    push_type(scan, name, &head);
                }
                // Declarators after the body (`} instance;`, `typedef struct {…} Name;`)
                // follow the keyword.
                head.truncate(kpos + 1);
                body_head_len = Some(head.len());
            }
            i = close + 1;
            continue;
        }
        if t.is("(") || t.is("[") {
            depth += 1;
        } else if (t.is(")") || t.is("]")) && depth > 0 {
            depth -= 1;
        }
        // `const float a = 1, b = 2;`: the next declarator shares the specifiers.
        if depth == 0
            && t.is(",")
            && body_head_len.is_none()
            && !head.iter().any(|h| h.is("typedef"))
        {
            let prefix = declarator_prefix(&head);
            declaration(&head, initializer.as_deref(), braced_init, tokens, scan);
            head = prefix;
            initializer = None;
            braced_init = None;
            i += 1;
            continue;
        }
        if depth == 0 && t.is("=") && initializer.is_none() {
            initializer = Some(Vec::new());
        } else if let Some(init) = initializer.as_mut() {
            init.push(t);
        } else {
            head.push(t);
        }
        i += 1;
    }
    if body_head_len == Some(head.len()) {
        return i;
    }
    declaration(&head, initializer.as_deref(), braced_init, tokens, scan);
    i
}

/// The specifiers of a declaration (`static const float`), without the declarator's name,
/// pointer marks and bounds.
fn declarator_prefix<'t, 'a>(head: &[&'t Token<'a>]) -> Vec<&'t Token<'a>> {
    let name = match head.iter().position(|t| t.is("[")) {
        Some(bracket) => bracket.checked_sub(1),
        None => head.iter().rposition(|t| t.kind == TokenKind::Ident),
    };
    let mut prefix: Vec<&Token<'_>> = head[..name.unwrap_or(0)].to_vec();
    while prefix.last().is_some_and(|t| t.is("*") || t.is("&")) {
        prefix.pop();
    }
    prefix
}

/// The index of the `}` closing the `{` at `open`, or `tokens.len()` when the text ends first
/// (a truncated header): `tokens[open + 1..close]` is then the rest of the text.
fn matching_brace(tokens: &[Token<'_>], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        if t.is("{") {
            depth += 1;
        } else if t.is("}") {
            depth -= 1;
            if depth == 0 {
                return j;
            }
        }
    }
    tokens.len()
}

fn declaration(
    head: &[&Token<'_>],
    initializer: Option<&[&Token<'_>]>,
    braced_init: Option<(usize, usize)>,
    tokens: &[Token<'_>],
    scan: &mut HeaderScan,
) {
    let Some(first) = head.first() else { return };
    match first.text {
        "typedef" => {
            if let Some(name) = typedef_name(head) {
                push_type(scan, name, head);
            }
            return;
        }
        "using" => {
            if let Some(name) = head.get(1).filter(|t| t.kind == TokenKind::Ident) {
                push_type(scan, name, head);
            }
            return;
        }
        "static_assert" | "friend" => return,
        _ if head.iter().any(|t| t.is("template")) => return,
        _ => {}
    }
    // A prototype: `(` before any `[`, with an identifier just before it.
    let paren = head.iter().position(|t| t.is("("));
    let bracket = head.iter().position(|t| t.is("["));
    if let Some(p) = paren
        && initializer.is_none()
        && bracket.is_none_or(|b| p < b)
        && p > 0
        && head[p - 1].kind == TokenKind::Ident
        && !head[..p]
            .iter()
            .any(|t| t.is("*") && p >= 2 && head[p - 2].is("("))
    {
        record_function(head, false, scan);
        return;
    }
    let is_const = head.iter().any(|t| t.is("const") || t.is("constexpr"));
    // The name: the identifier before the first `[`, or the last identifier.
    let name_index = match bracket {
        Some(b) if b > 0 => Some(b - 1),
        _ => head.iter().rposition(|t| t.kind == TokenKind::Ident),
    };
    let Some(name_index) = name_index else { return };
    let name = head[name_index];
    if name.kind != TokenKind::Ident || name_index == 0 {
        return;
    }
    let declaration_tokens = head;
    if bracket.is_some() {
        let bound = head
            .get(name_index + 2)
            .filter(|t| t.kind == TokenKind::Number)
            .and_then(|t| parse_int(t.text))
            .and_then(|v| usize::try_from(v).ok());
        let mut elements = bound;
        if let Some((open, close)) = braced_init {
            let items = top_level_items(&tokens[open + 1..close]);
            elements = elements.or(Some(items.len()));
            let byte_type = head[..name_index]
                .iter()
                .any(|t| t.is("uint8_t") || t.is("char") || t.is("int8_t"));
            if byte_type {
                let bytes: Option<Vec<u8>> = items
                    .iter()
                    .map(|item| match item.as_slice() {
                        [t] if t.kind == TokenKind::Number => {
                            parse_int(t.text).and_then(|v| u8::try_from(v & 0xff).ok())
                        }
                        _ => None,
                    })
                    .collect();
                if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                    scan.byte_arrays.push((name.text.to_owned(), bytes));
                }
            }
        }
        push(
            scan,
            name.text,
            SymbolKind::Array,
            name.line,
            declaration_tokens,
            elements,
            None,
        );
        return;
    }
    let value = initializer
        .map(|init| join_tokens(init.iter().copied()))
        .filter(|v| !v.is_empty() && v.len() <= MAX_VALUE_LEN);
    let kind = if is_const {
        SymbolKind::Constant
    } else {
        SymbolKind::Variable
    };
    push(
        scan,
        name.text,
        kind,
        name.line,
        declaration_tokens,
        None,
        value,
    );
}

fn typedef_name<'t, 'a>(head: &[&'t Token<'a>]) -> Option<&'t Token<'a>> {
    // `typedef int (*callback)(int);` names the identifier after `(*`.
    if let Some(star) = head.windows(2).position(|w| w[0].is("(") && w[1].is("*")) {
        return head
            .get(star + 2)
            .copied()
            .filter(|t| t.kind == TokenKind::Ident);
    }
    head.iter()
        .rev()
        .find(|t| t.kind == TokenKind::Ident)
        .copied()
}

fn record_function(head: &[&Token<'_>], has_body: bool, scan: &mut HeaderScan) {
    if head.iter().any(|t| t.is("template")) {
        return;
    }
    let Some(p) = head.iter().position(|t| t.is("(")) else {
        return;
    };
    let Some(name) = p.checked_sub(1).and_then(|i| head.get(i)) else {
        return;
    };
    if name.kind != TokenKind::Ident || p < 2 {
        return;
    }
    let kind = if has_body {
        SymbolKind::Function
    } else {
        SymbolKind::Prototype
    };
    push(scan, name.text, kind, name.line, head, None, None);
}

fn push_type(scan: &mut HeaderScan, name: &Token<'_>, head: &[&Token<'_>]) {
    push(
        scan,
        name.text,
        SymbolKind::Type,
        name.line,
        head,
        None,
        None,
    );
}

fn push(
    scan: &mut HeaderScan,
    name: &str,
    kind: SymbolKind,
    line: u32,
    head: &[&Token<'_>],
    elements: Option<usize>,
    value: Option<String>,
) {
    if scan.symbols.iter().any(|s| s.name == name) {
        return;
    }
    scan.symbols.push(HeaderSymbol {
        name: name.to_owned(),
        kind,
        line,
        declaration: truncate(&join_tokens(head.iter().copied()), MAX_DECLARATION_LEN),
        elements,
        length_of: None,
        value,
    });
}

/// Splits tokens at top-level commas (ignoring a trailing comma).
fn top_level_items<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<Vec<&'t Token<'a>>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for t in tokens {
        if t.is("{") || t.is("(") || t.is("[") {
            depth += 1;
        } else if (t.is("}") || t.is(")") || t.is("]")) && depth > 0 {
            depth -= 1;
        }
        if depth == 0 && t.is(",") {
            items.push(Vec::new());
        } else if let Some(last) = items.last_mut() {
            last.push(t);
        }
    }
    items.retain(|item| !item.is_empty());
    items
}

/// Joins tokens with single spaces where C would need or show one.
pub(crate) fn join_tokens<'t, 'a: 't>(tokens: impl IntoIterator<Item = &'t Token<'a>>) -> String {
    let mut out = String::new();
    let mut previous: Option<&Token<'_>> = None;
    for t in tokens {
        if let Some(p) = previous {
            let word = |t: &Token<'_>| {
                matches!(
                    t.kind,
                    TokenKind::Ident | TokenKind::Number | TokenKind::Literal
                )
            };
            let space = (word(p) && word(t))
                || (p.is(","))
                || ((p.is("*") || p.is("&")) && word(t) && !out.ends_with("(*"))
                || (p.is(")") && word(t));
            if space {
                out.push(' ');
            }
        }
        out.push_str(t.text);
        previous = Some(t);
    }
    out
}

fn parse_int(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(|c| *c != '\'').collect();
    let trimmed = digits.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = trimmed
        .strip_prefix("0b")
        .or_else(|| trimmed.strip_prefix("0B"))
    {
        i64::from_str_radix(bin, 2).ok()
    } else if trimmed.len() > 1 && trimmed.starts_with('0') {
        i64::from_str_radix(&trimmed[1..], 8).ok()
    } else {
        trimmed.parse().ok()
    }
}

/// The first `max` bytes of `text` (on a character boundary), with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Marks constants and macros named `<array><suffix>` as that array's length.
fn mark_lengths(symbols: &mut [HeaderSymbol]) {
    let arrays: Vec<String> = symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::Array)
        .map(|s| s.name.clone())
        .collect();
    for symbol in symbols.iter_mut() {
        if !matches!(symbol.kind, SymbolKind::Constant | SymbolKind::Macro) {
            continue;
        }
        let of = arrays.iter().find(|array| {
            symbol
                .name
                .strip_prefix(array.as_str())
                .is_some_and(|suffix| LENGTH_SUFFIXES.contains(&suffix))
        });
        if let Some(array) = of {
            symbol.length_of = Some(array.clone());
            symbol.kind = SymbolKind::Length;
        }
    }
}
