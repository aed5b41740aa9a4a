//! The reader: streams records back from a trace file, reporting a truncated or corrupt line
//! with its line number and reading on; and the checks `autopilot trace validate` runs.

use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::event::Event;
use crate::record::{FORMAT_VERSION, TraceRecord, parse_timestamp};

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblemKind {
    /// The last line ends without a newline and is not complete JSON (a killed writer).
    Truncated,
    /// Not a trace record.
    Invalid,
    /// Written by a newer format version than this build reads.
    NewerVersion(u32),
    /// Valid JSON records that break the session rules (sequence, order, ids).
    Inconsistent,
}

/// A problem on a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub kind: LineProblemKind,
    pub message: String,
}

/// A record and the line it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberedRecord {
    pub line: u64,
    pub record: TraceRecord,
}

/// The longest trace line read (an `llm_call` with its whole conversation is a few MiB at
/// most; answers are capped at 4 MiB). A longer line is skipped as a problem, unread.
pub const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

/// Streams records from any buffered reader. Problems are items too, so a caller can report
/// them and go on.
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    max_line: u64,
}

impl<R: BufRead> TraceReader<R> {
    pub fn new(input: R) -> Self {
        TraceReader {
            input,
            line: 0,
            buf: Vec::with_capacity(4096),
            max_line: MAX_LINE_BYTES,
        }
    }

    /// The same reader with another line cap than [`MAX_LINE_BYTES`].
    #[must_use]
    pub fn with_max_line(mut self, bytes: u64) -> Self {
        self.max_line = bytes;
        self
    }
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Parses one line (without its newline) into a record, or says why not.
pub fn parse_line(bytes: &[u8], complete: bool) -> Result<TraceRecord, (LineProblemKind, String)> {
    match serde_json::from_slice::<TraceRecord>(bytes) {
        Ok(record) if record.v > FORMAT_VERSION => Err((
            LineProblemKind::NewerVersion(record.v),
            format!(
                "format version {} is newer than this build reads ({FORMAT_VERSION})",
                record.v
            ),
        )),
        Ok(record) => Ok(record),
        Err(err) => {
            if let Ok(VersionOnly { v }) = serde_json::from_slice::<VersionOnly>(bytes)
                && v > FORMAT_VERSION
            {
                return Err((
                    LineProblemKind::NewerVersion(v),
                    format!("format version {v} is newer than this build reads ({FORMAT_VERSION})"),
                ));
            }
            if !complete && (err.is_eof() || err.is_syntax()) {
                Err((
                    LineProblemKind::Truncated,
                    format!("truncated line ({} bytes, no newline): {err}", bytes.len()),
                ))
            } else if bytes.iter().all(u8::is_ascii_whitespace) {
                Err((LineProblemKind::Invalid, "empty line".to_owned()))
            } else {
                Err((
                    LineProblemKind::Invalid,
                    format!("not a trace record: {err}"),
                ))
            }
        }
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = io::Result<Result<NumberedRecord, LineProblem>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        match (&mut self.input)
            .take(self.max_line + 1)
            .read_until(b'\n', &mut self.buf)
        {
            Ok(0) => None,
            Ok(n) if n as u64 > self.max_line => {
                // Over the cap without its newline: skip the rest of the line unread.
                self.line += 1;
                let skipped = match skip_line(&mut self.input) {
                    Ok(skipped) => skipped,
                    Err(err) => return Some(Err(err)),
                };
                self.buf.clear();
                Some(Ok(Err(LineProblem {
                    line: self.line,
                    kind: LineProblemKind::Invalid,
                    message: format!(
                        "line longer than {} bytes ({} bytes); skipped",
                        self.max_line,
                        n as u64 + skipped
                    ),
                })))
            }
            Ok(_) => {
                self.line += 1;
                let complete = self.buf.last() == Some(&b'\n');
                let mut bytes = self.buf.as_slice();
                if complete {
                    bytes = &bytes[..bytes.len() - 1];
                }
                if bytes.last() == Some(&b'\r') {
                    bytes = &bytes[..bytes.len() - 1];
                }
                let line = self.line;
                Some(Ok(match parse_line(bytes, complete) {
                    Ok(record) => Ok(NumberedRecord { line, record }),
                    Err((kind, message)) => Err(LineProblem {
                        line,
                        kind,
                        message,
                    }),
                }))
            }
            Err(err) => Some(Err(err)),
        }
    }
}

/// Consumes input up to and including the next newline; returns how many bytes.
fn skip_line(input: &mut impl BufRead) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(skipped);
        }
        let (n, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        input.consume(n);
        skipped += n as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// A whole trace file, read.
#[derive(Debug, Clone)]
pub struct TraceFile {
    pub path: PathBuf,
    pub records: Vec<NumberedRecord>,
    /// Lines that could not be read, in line order.
    pub problems: Vec<LineProblem>,
}

impl TraceFile {
    /// Reads every line; I/O errors (missing file) are `Err`, bad lines are `problems`.
    /// A path that is not a regular file (a device, a FIFO) is an `InvalidInput` error: reading
    /// `/dev/zero` as a trace would never end.
    pub fn read(path: &Path) -> io::Result<TraceFile> {
        let file = fs_err::File::open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        let reader = TraceReader::new(io::BufReader::with_capacity(64 * 1024, file));
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for item in reader {
            match item? {
                Ok(record) => records.push(record),
                Err(problem) => problems.push(problem),
            }
        }
        Ok(TraceFile {
            path: path.to_owned(),
            records,
            problems,
        })
    }

    /// The events in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.records.iter().map(|r| &r.record.event)
    }

    /// Every problem: unreadable lines and broken session rules, in line order.
    pub fn validate(&self) -> Vec<LineProblem> {
        let mut problems = self.problems.clone();
        problems.extend(check_session_rules(&self.path, &self.records));
        problems.sort_by_key(|p| p.line);
        problems
    }
}

fn inconsistent(line: u64, message: String) -> LineProblem {
    LineProblem {
        line,
        kind: LineProblemKind::Inconsistent,
        message,
    }
}

/// The rules of one session file: one session id (the file stem), gap-free sequence from 0,
/// parsable timestamps, `session_started` first and only once, nothing after
/// `session_finished`.
pub fn check_session_rules(path: &Path, records: &[NumberedRecord]) -> Vec<LineProblem> {
    let mut problems = Vec::new();
    let stem = path.file_stem().and_then(|s| s.to_str());
    let mut expected_seq = 0u64;
    let mut finished_at: Option<u64> = None;
    for (index, NumberedRecord { line, record }) in records.iter().enumerate() {
        let line = *line;
        if let Some(stem) = stem
            && record.session.as_str() != stem
        {
            problems.push(inconsistent(
                line,
                format!(
                    "session id {} differs from the file name {stem}",
                    record.session
                ),
            ));
        }
        if record.seq != expected_seq {
            problems.push(inconsistent(
                line,
                format!(
                    "sequence number {} where {expected_seq} was expected",
                    record.seq
                ),
            ));
        }
        expected_seq = record.seq + 1;
        if parse_timestamp(&record.ts).is_none() {
            problems.push(inconsistent(
                line,
                format!("timestamp {:?} is not RFC 3339", record.ts),
            ));
        }
        let is_start = matches!(record.event, Event::SessionStarted(_));
        if index == 0 && !is_start {
            problems.push(inconsistent(
                line,
                format!(
                    "first event is {}, not session_started",
                    record.event.kind()
                ),
            ));
        }
        if index > 0 && is_start {
            problems.push(inconsistent(line, "a second session_started".to_owned()));
        }
        if let Some(finished) = finished_at {
            problems.push(inconsistent(
                line,
                format!("event after session_finished (line {finished})"),
            ));
        }
        if matches!(record.event, Event::SessionFinished(_)) {
            finished_at = Some(line);
        }
    }
    problems
}

/// The trace files a path names: a `.jsonl` file itself, or the `sessions/*.jsonl` (or
/// `*.jsonl`) of a run directory, sorted.
pub fn collect_trace_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        // Let the caller's open report a missing file with its path.
        return Ok(vec![path.to_owned()]);
    }
    let sessions = path.join("sessions");
    let dir = if sessions.is_dir() {
        sessions
    } else {
        path.to_owned()
    };
    let mut files = Vec::new();
    for entry in fs_err::read_dir(&dir)? {
        let entry = entry?;
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "jsonl") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_cap_is_skipped_as_a_problem_and_reading_goes_on() {
        let good = r#"{"v":1,"session":"s","seq":0,"ts":"2026-01-01T00:00:00.000Z","event":{"type":"note","kind":"k","message":"m"}}"#;
        let input = format!("{good}\n{}\n{good}\n", "x".repeat(5000));
        let items: Vec<_> = TraceReader::new(io::BufReader::with_capacity(64, input.as_bytes()))
            .with_max_line(1000)
            .map(Result::unwrap)
            .collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok(), "{:?}", items[0]);
        let problem = items[1].as_ref().unwrap_err();
        assert_eq!(problem.line, 2);
        assert_eq!(
            problem.message,
            "line longer than 1000 bytes (5001 bytes); skipped"
        );
        assert_eq!(items[2].as_ref().unwrap().line, 3);
    }

    #[test]
    fn a_line_from_a_newer_version_is_named_as_such() {
        let line = br#"{"v":99,"session":"s","seq":0,"ts":"2026-01-01T00:00:00.000Z","event":{"type":"hologram"}}"#;
        let (kind, _) = parse_line(line, true).unwrap_err();
        assert_eq!(kind, LineProblemKind::NewerVersion(99));
    }

    #[test]
    fn garbage_is_invalid_and_a_cut_line_is_truncated() {
        assert_eq!(
            parse_line(b"hello", true).unwrap_err().0,
            LineProblemKind::Invalid
        );
        assert_eq!(
            parse_line(br#"{"v":1,"sess"#, false).unwrap_err().0,
            LineProblemKind::Truncated
        );
        assert_eq!(
            parse_line(b"", true).unwrap_err().0,
            LineProblemKind::Invalid
        );
    }
}
