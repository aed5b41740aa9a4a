//! Text from outside made safe to show: known secrets redacted and control sequences escaped,
//! in every writer the CLI prints through and in its log lines.
//!
//! Everything the CLI writes passes [`safe_text`] (or a [`SafeWriter`], which applies it line by
//! line): the process's known secrets (the configured API keys and URL credentials, registered
//! with [`add_secrets`]) become `***`, and escape sequences, C0/C1 controls (but `\n` and
//! `\t`) and bidirectional overrides become visible escapes (`\x1b`, `\u{9b}`, `\u{202e}`), so
//! a hostile `#error`, spec field, answer or error body can neither retitle the window, clear
//! the screen nor forge a message. This happens whatever the colour setting; colour itself
//! comes only from our own formatting (the log layer's level names), never from the text.
//!
//! Human output is always escaped. Data output (`--format json|jsonl|csv`, the `chat` answer)
//! is escaped only when stdout is a terminal: piped, it is the data as it is (secrets still
//! redacted), so `autopilot chat … > file` keeps the answer byte for byte.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::sync::{PoisonError, RwLock};

use autopilot_trace::Redactor;
use tracing_subscriber::field::MakeExt as _;

/// The secrets this process knows, from the environment and the resolved LLM settings.
static SECRETS: RwLock<Option<Redactor>> = RwLock::new(None);

/// Adds secrets to redact from everything shown from now on.
pub fn add_secrets(redactor: &Redactor) {
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    secrets.get_or_insert_with(Redactor::new).merge(redactor);
}

/// Registers the secrets the environment configures (`OPENAI_API_KEY`, the credentials of
/// `OPENAI_BASE_URL` and `OLLAMA_HOST`), for every command: even one that talks to no LLM may
/// show text (a trace, a log) that holds them.
pub fn add_environment_secrets() {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let resolved = autopilot_llm::resolve_settings(
        &autopilot_llm::LlmConfigFile::default(),
        &env,
        &autopilot_llm::LlmOverrides::default(),
    );
    let mut redactor = match resolved {
        Ok(settings) => settings.redactor(),
        // A malformed variable: the command reports it if it needs it; redact what is there.
        Err(_) => Redactor::new(),
    };
    if let Some(key) = env("OPENAI_API_KEY") {
        redactor.add_secret(&autopilot_trace::Secret::new(key));
    }
    for name in ["OPENAI_BASE_URL", "OLLAMA_HOST"] {
        if let Some(url) = env(name) {
            redactor.add_url(&url);
        }
    }
    add_secrets(&redactor);
}

/// The text with the known secrets redacted.
pub fn redacted(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    match secrets.as_ref() {
        Some(redactor) if !redactor.is_empty() => Cow::Owned(redactor.redact(text).into_owned()),
        _ => Cow::Borrowed(text),
    }
}

/// The one function for showing text from outside on a terminal: secrets redacted, control
/// characters escaped.
pub fn safe_text(text: &str) -> String {
    escape_controls(&redacted(text)).into_owned()
}

/// Whether a character must not reach a terminal as it is.
fn is_unsafe(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        // C0 (ESC, BEL, CR, backspace, …), DEL and C1 (CSI U+009B, OSC U+009D, …).
        c if c.is_control() => true,
        // Bidirectional embeddings, overrides and isolates: text that reads differently than
        // it is.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Control characters as visible escapes: `\x1b` for C0 and DEL, `\u{9b}` for the others.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// A writer that passes whole lines through [`redacted`] and, when `escape`, through
/// [`escape_controls`]. Lines are held until their newline (or a flush), so a secret split
/// across writes is still found.
pub struct SafeWriter<W: Write> {
    inner: W,
    escape: bool,
    line: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for SafeWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeWriter")
            .field("escape", &self.escape)
            .finish_non_exhaustive()
    }
}

impl<W: Write> SafeWriter<W> {
    pub fn new(inner: W, escape: bool) -> Self {
        SafeWriter {
            inner,
            escape,
            line: Vec::new(),
        }
    }

    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        let text = redacted(&text);
        if self.escape {
            self.inner.write_all(escape_controls(&text).as_bytes())
        } else {
            self.inner.write_all(text.as_bytes())
        }
    }
}

impl<W: Write> Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        if let Some(last_newline) = self.line.iter().rposition(|b| *b == b'\n') {
            let rest = self.line.split_off(last_newline + 1);
            let lines = std::mem::replace(&mut self.line, rest);
            self.write_out(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            let pending = std::mem::take(&mut self.line);
            self.write_out(&pending)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for SafeWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Standard output for human renderings: always escaped.
pub fn stdout_human() -> SafeWriter<io::StdoutLock<'static>> {
    SafeWriter::new(io::stdout().lock(), true)
}

/// Standard output for data (JSON, CSV, an answer): escaped when it is a terminal, the data as
/// it is when piped; secrets redacted either way.
pub fn stdout_data() -> SafeWriter<io::StdoutLock<'static>> {
    SafeWriter::new(io::stdout().lock(), io::stdout().is_terminal())
}

/// Standard error: messages, always escaped.
pub fn stderr() -> SafeWriter<io::StderrLock<'static>> {
    SafeWriter::new(io::stderr().lock(), true)
}

/// The most characters one field of a log line shows (async-openai logs whole bodies).
const LOG_FIELD_LIMIT: usize = 2000;

/// The field formatter of the console log layer: each field (the message included) redacted,
/// escaped and shortened, so log lines of libraries that quote server text are safe too.
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(
        |writer: &mut tracing_subscriber::fmt::format::Writer<'_>,
         field: &tracing::field::Field,
         value: &dyn std::fmt::Debug| {
            let text = if field.name() == "message" {
                format!("{value:?}")
            } else {
                format!("{}={value:?}", field.name())
            };
            let mut shown = safe_text(&text);
            if shown.chars().count() > LOG_FIELD_LIMIT {
                let cut: String = shown.chars().take(LOG_FIELD_LIMIT).collect();
                shown = format!("{cut}… ({} more bytes)", shown.len() - cut.len());
            }
            writer.write_str(&shown)
        },
    )
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        let table = [
            ("plain text\n\twith tabs", "plain text\n\twith tabs"),
            ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),
            ("\x1b[2J\x1b[Hclear", "\\x1b[2J\\x1b[Hclear"),
            ("fake\rerror: ok", "fake\\x0derror: ok"),
            ("c1 \u{9b}31m csi", "c1 \\u{9b}31m csi"),
            ("del\x7f", "del\\x7f"),
            ("bidi \u{202e}txt", "bidi \\u{202e}txt"),
            ("unicode é 日本", "unicode é 日本"),
        ];
        for (input, expected) in table {
            assert_eq!(escape_controls(input), expected, "{input:?}");
        }
    }

    #[test]
    fn the_writer_escapes_whole_lines_and_flushes_the_rest() {
        let mut out = Vec::new();
        {
            let mut writer = SafeWriter::new(&mut out, true);
            write!(writer, "a\x1b[31").unwrap();
            writeln!(writer, "m red").unwrap();
            write!(writer, "tail\x07").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "a\\x1b[31m red\ntail\\x07");
        let mut raw = Vec::new();
        {
            let mut writer = SafeWriter::new(&mut raw, false);
            writeln!(writer, "data\x1b[0m").unwrap();
        }
        assert_eq!(String::from_utf8(raw).unwrap(), "data\x1b[0m\n");
    }
}
