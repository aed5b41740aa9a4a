//! The header line of a legacy log record (both vocabularies):
//! `YYYY-MM-DD hh:mm:ss,mmm LEVEL <model>_<batch>_<testee>_batch|<trace4>_<short>: <message>`
//! (batch runs) or `… LEVEL <trace_id>: <message>` (standalone runs). Any other line continues
//! the record above it.

/// Log levels of Python's `logging`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// A parsed header line, borrowing from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// `2025-04-10 11:56:35,400`, local time of the machine that wrote the log.
    pub timestamp: &'a str,
    pub level: Level,
    /// The model as the prefix names it (`openai/gpt-4o`, `qwen2.5-coder:32b`); empty for
    /// standalone runs.
    pub model: &'a str,
    /// The batch id (`7677`); empty for standalone runs.
    pub batch: &'a str,
    /// The session (trace) id of the prefix (`63d0`, or 8 hex digits standalone).
    pub session: &'a str,
    pub message: &'a str,
}

const TIMESTAMP_SHAPE: &[u8; 23] = b"dddd-dd-dd dd:dd:dd,ddd";

/// Whether `text` starts with a Python `asctime` (`2025-04-10 11:56:35,400`).
pub fn starts_with_timestamp(text: &[u8]) -> bool {
    // Two bytes first: most lines of a log are continuation lines (compiler output), and the
    // whole shape compared for each of them was a fiftieth of the default mode.
    text.len() >= TIMESTAMP_SHAPE.len()
        && text[0].is_ascii_digit()
        && text[4] == b'-'
        && TIMESTAMP_SHAPE
            .iter()
            .zip(text)
            .all(|(shape, b)| match shape {
                b'd' => b.is_ascii_digit(),
                other => other == b,
            })
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `text.split_once(": ")` through the vectorised `memchr` (this runs on every line).
fn split_colon_space(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b':', bytes)
        .find(|at| bytes.get(at + 1) == Some(&b' '))
        .map(|at| (&text[..at], &text[at + 2..]))
}

/// The batch prefix's separator, searched in every header line: one shared searcher (`str::find`
/// builds one per call).
static BATCH_BAR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"_batch|"));

/// Parses a header line; `None` for a continuation line.
pub fn parse_header(line: &str) -> Option<Header<'_>> {
    if !starts_with_timestamp(line.as_bytes()) {
        return None;
    }
    let timestamp = &line[..23];
    let rest = line[23..].strip_prefix(' ')?;
    let (level_text, rest) = rest.split_once(' ')?;
    let level = match level_text {
        "INFO" => Level::Info,
        "ERROR" => Level::Error,
        "WARNING" => Level::Warning,
        "DEBUG" => Level::Debug,
        "CRITICAL" => Level::Critical,
        _ => return None,
    };
    // Batch prefix: `<model>_<batch>_<testee>_batch|<trace4>_<short>: `.
    if let Some(bar) = BATCH_BAR.find(rest.as_bytes()) {
        let session_id = &rest[..bar];
        let after = &rest[bar + "_batch|".len()..];
        let (trace_short, message) = split_colon_space(after)?;
        let (trace, short) = trace_short.split_once('_')?;
        let mut parts = session_id.rsplitn(3, '_');
        let testee = parts.next()?;
        let batch = parts.next()?;
        let model = parts.next()?;
        let valid = is_hex(batch)
            && is_hex(trace)
            && !model.is_empty()
            && !testee.is_empty()
            && short.bytes().all(|b| b.is_ascii_lowercase());
        return valid.then_some(Header {
            timestamp,
            level,
            model,
            batch,
            session: trace,
            message,
        });
    }
    // Standalone prefix: `<trace_id>: `.
    let (trace, message) = split_colon_space(rest)?;
    (trace.len() == 8 && is_hex(trace)).then_some(Header {
        timestamp,
        level,
        model: "",
        batch: "",
        session: trace,
        message,
    })
}

/// `2025-04-10 11:56:35,400` → `2025-04-10T11:56:35.400Z`. The logs carry local time without a
/// zone; it is taken as UTC.
pub fn to_rfc3339(timestamp: &str) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339(&mut out, timestamp);
    out
}

/// [`to_rfc3339`] into `out`, replacing what it held (one string reused for every record).
pub fn write_rfc3339(out: &mut String, timestamp: &str) {
    out.clear();
    out.push_str(&timestamp[..10]);
    out.push('T');
    out.push_str(&timestamp[11..19]);
    out.push('.');
    out.push_str(&timestamp[20..23]);
    out.push('Z');
}

/// Milliseconds since the Unix epoch of a header timestamp (taken as UTC).
pub fn epoch_ms(timestamp: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| -> i64 {
        timestamp[range]
            .bytes()
            .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    seconds * 1000 + num(20..23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_batch_headers_with_colons_and_slashes_in_the_model() {
        let h = parse_header(
            "2025-04-10 11:56:35,400 INFO openai/gpt-4o_5584_sg_batch|7f79_sg: User input acquired",
        )
        .unwrap();
        assert_eq!(h.model, "openai/gpt-4o");
        assert_eq!(h.batch, "5584");
        assert_eq!(h.session, "7f79");
        assert_eq!(h.level, Level::Info);
        assert_eq!(h.message, "User input acquired");
        let h = parse_header(
            "2025-03-26 14:09:24,001 ERROR qwen2.5-coder:32b_e884_sg_batch|4a88_sg: Error in code execution try NO.1: a.ino:1:1: error: x",
        )
        .unwrap();
        assert_eq!(h.model, "qwen2.5-coder:32b");
        assert_eq!(
            h.message,
            "Error in code execution try NO.1: a.ino:1:1: error: x"
        );
    }

    #[test]
    fn continuation_lines_are_not_headers() {
        for line in [
            "",
            " #include <x.h>",
            "Error during build: exit status 1",
            "2025-04-10 11:56:35,400 NOTICE a_1_sg_batch|2_sg: x",
            "2025-04-10 11:56:35,400 INFO no prefix here",
            "  TF_LITE_REPORT_ERROR(error_reporter, \"x\");",
        ] {
            assert!(parse_header(line).is_none(), "{line:?}");
        }
        let standalone = parse_header("2025-11-02 10:00:00,000 INFO 0123abcd: hello").unwrap();
        assert_eq!(standalone.session, "0123abcd");
        assert_eq!(standalone.model, "");
    }

    #[test]
    fn timestamps_convert_to_rfc3339_and_epoch() {
        assert_eq!(
            to_rfc3339("2025-04-10 11:56:35,400"),
            "2025-04-10T11:56:35.400Z"
        );
        assert_eq!(epoch_ms("2025-04-10 11:56:35,400"), 1_744_286_195_400);
        assert_eq!(epoch_ms("1970-01-01 00:00:01,002"), 1002);
        assert_eq!(
            epoch_ms("2024-03-01 00:00:00,000") - epoch_ms("2024-02-28 00:00:00,000"),
            2 * 86_400_000
        );
    }
}
