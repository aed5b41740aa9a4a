//! The legacy importer: the original system's text logs (April-2025 vocabulary, and the
//! session, spec, compile and end templates of November 2025) turned into our session traces,
//! one per session, streamed session by session.
//!
//! A record is a header line plus its continuation lines; a session is the run of records
//! with the same model, batch and session id. Each record updates a small state machine that
//! emits typed events with the record's timestamp (local time in the log, taken as UTC). What
//! the log does not say is not invented: LLM calls carry no prompt and, except for failed spec
//! answers the log quotes, no answer text; bookkeeping records (`Failed to generate valid code
//! after the max 5 attempts` copies, `process failed after maximum attempts` markers) become
//! the session outcome, not failures of their own.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use autopilot_trace::{
    AttemptFinished, AttemptOutcome, CheckVerdict, CompileFinished, CompileStatus, Diagnostic,
    DiagnosticOrigin, Event, FORMAT_VERSION, LibraryInstalled, LibraryResolved, LlmAnswer, LlmCall,
    LlmCallResult, LlmErrorKind, LlmFailure, Note, ResolutionSource, SamplingParams,
    SessionFinished, SessionId, SessionOutcome, SessionStarted, SessionTotals, Severity, Stage,
    TokenUsage, TraceOrigin, TraceRecord,
};

use crate::legacy::lines::LineReader;
use crate::legacy::logline::{
    Header, Level, epoch_ms, parse_header, starts_with_timestamp, to_rfc3339, write_rfc3339,
};
use autopilot_diagnostics::parse_build_output;
use foldhash::{HashSet, HashSetExt as _};

/// The application every published session generated.
pub const LEGACY_APP: &str = "fruit_to_emoji";
/// The board every published session compiled for.
pub const LEGACY_TARGET: &str = "nano33ble_sense";
/// The FQBN the original passed to `arduino-cli compile`.
pub const LEGACY_FQBN: &str = "arduino:mbed:nano33ble";
const BACKEND: &str = "arduino-cli";

/// An event with the time the log gives it (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    pub ts: String,
    pub event: Event,
}

/// One imported session: its identity and its events, `session_started` first and, unless the
/// log was cut off, `session_finished` last.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacySession {
    pub id: SessionId,
    /// The log file name (no directory).
    pub file: String,
    pub model: String,
    pub provider: String,
    pub batch: String,
    /// The session id of the log prefix (`63d0`).
    pub legacy_session: String,
    pub events: Vec<TimedEvent>,
}

/// The per-session line of `autopilot import --format csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub file: String,
    pub model: String,
    pub batch: String,
    pub session: String,
    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, or `truncated`.
    pub outcome: &'static str,
    pub attempts: u32,
    pub success_attempt: Option<u32>,
    pub compile_attempts: u32,
    pub llm_calls: u32,
    pub start: String,
    pub end: String,
}

impl ImportRow {
    pub const CSV_HEADER: &'static str = "file,model,batch,session,outcome,attempts,success_attempt,compile_attempts,llm_calls,start,end";
}

impl LegacySession {
    /// How the session ended; `None` when the log stops inside it.
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        match self.events.last().map(|e| &e.event) {
            Some(Event::SessionFinished(finished)) => Some(&finished.outcome),
            _ => None,
        }
    }

    /// The summary row of the session.
    pub fn row(&self) -> ImportRow {
        let mut row = ImportRow {
            file: self.file.clone(),
            model: self.model.clone(),
            batch: self.batch.clone(),
            session: self.legacy_session.clone(),
            outcome: self.outcome().map_or("truncated", SessionOutcome::as_str),
            attempts: 0,
            success_attempt: None,
            compile_attempts: 0,
            llm_calls: 0,
            start: self
                .events
                .first()
                .map(|e| e.ts.clone())
                .unwrap_or_default(),
            end: self.events.last().map(|e| e.ts.clone()).unwrap_or_default(),
        };
        for TimedEvent { event, .. } in &self.events {
            match event {
                Event::LlmCall(call) => {
                    row.llm_calls += 1;
                    if call.stage == Stage::Sketch {
                        row.attempts = row.attempts.max(call.attempt);
                    }
                }
                Event::CompileFinished(_) => row.compile_attempts += 1,
                Event::AttemptFinished(a) if a.stage == Stage::Sketch => {
                    row.attempts = row.attempts.max(a.attempt);
                }
                Event::SessionFinished(SessionFinished {
                    outcome: SessionOutcome::Success { attempt },
                    ..
                }) => row.success_attempt = Some(*attempt),
                _ => {}
            }
        }
        if let Some(Event::SessionFinished(finished)) = self.events.last().map(|e| &e.event) {
            row.attempts = row.attempts.max(finished.totals.attempts);
        }
        row
    }

    /// The trace lines of the session, sequence numbers from 0.
    pub fn records(&self) -> impl Iterator<Item = TraceRecord> + '_ {
        self.events.iter().zip(0u64..).map(|(e, seq)| TraceRecord {
            v: FORMAT_VERSION,
            session: self.id.clone(),
            seq,
            ts: e.ts.clone(),
            event: e.event.clone(),
        })
    }

    /// Writes the session as JSON Lines.
    pub fn write_jsonl(&self, mut out: impl Write) -> io::Result<()> {
        for record in self.records() {
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Writes `<run_dir>/sessions/<id>.jsonl`. An existing file is an error unless
    /// `overwrite`.
    pub fn write_to_run_dir(
        &self,
        run_dir: &Path,
        overwrite: bool,
    ) -> Result<PathBuf, ImportError> {
        let dir = run_dir.join("sessions");
        fs_err::create_dir_all(&dir).map_err(|source| ImportError::Write {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(format!("{}.jsonl", self.id));
        let mut options = fs_err::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = match options.open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ImportError::Exists { path });
            }
            Err(source) => return Err(ImportError::Write { path, source }),
        };
        self.write_jsonl(io::BufWriter::with_capacity(64 * 1024, file))
            .map_err(|source| ImportError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path} is not a legacy autopilot log: no line has the `<timestamp> <LEVEL> <model>_<batch>_sg_batch|<session>_sg: ` prefix"
    )]
    NotALegacyLog { path: PathBuf },
    #[error(
        "two sessions get the session id {id} (from {first} and {second}); import the logs separately"
    )]
    DuplicateId {
        id: SessionId,
        first: String,
        second: String,
    },
    #[error("{path} exists; pass --force to overwrite it")]
    Exists { path: PathBuf },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Opens a legacy log for import.
pub fn import_legacy(
    path: &Path,
) -> Result<LegacyImporter<io::BufReader<fs_err::File>>, ImportError> {
    let file = fs_err::File::open(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(LegacyImporter::new(
        io::BufReader::with_capacity(256 * 1024, file),
        &name,
    ))
}

/// Imports every session of a log into memory (for tests and small logs; the iterator
/// streams).
pub fn import_legacy_all(path: &Path) -> Result<Vec<LegacySession>, ImportError> {
    let sessions = import_legacy(path)?
        .collect::<io::Result<Vec<_>>>()
        .map_err(|source| ImportError::Read {
            path: path.to_owned(),
            source,
        })?;
    if sessions.is_empty() {
        return Err(ImportError::NotALegacyLog {
            path: path.to_owned(),
        });
    }
    Ok(sessions)
}

/// One log record: the header and its continuation lines.
#[derive(Debug, Default)]
struct RawRecord {
    timestamp: String,
    level_error: bool,
    model: String,
    batch: String,
    session: String,
    /// The header's message, a newline, then every continuation line with its newline: a
    /// compile's output (the message's tail and the body) is a slice of it, not copied into a
    /// buffer of its own.
    text: String,
    /// Where the message ends in `text` (the newline after it).
    message_end: usize,
    /// Continuation lines read since the header, each with its newline, not yet checked to be
    /// UTF-8: they are checked all at once by [`RawRecord::seal`] (one check of a build's
    /// whole output instead of one per line of it was a twentieth of the default mode).
    pending: Vec<u8>,
}

impl RawRecord {
    fn set(&mut self, header: &Header<'_>) {
        self.timestamp.clear();
        self.timestamp.push_str(header.timestamp);
        self.level_error = header.level == Level::Error;
        self.model.clear();
        self.model.push_str(header.model);
        self.batch.clear();
        self.batch.push_str(header.batch);
        self.session.clear();
        self.session.push_str(header.session);
        self.text.clear();
        self.text.push_str(header.message);
        self.message_end = self.text.len();
        self.text.push('\n');
        self.pending.clear();
    }

    /// Adds a continuation line, as read; it is text once the record is sealed.
    fn push_line(&mut self, line: &[u8]) {
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
    }

    /// Moves the continuation lines into `text`, invalid UTF-8 replaced as
    /// [`crate::legacy::lines::text`] replaces it line by line (a newline never belongs to a
    /// multi-byte sequence, so checking the lines together gives the same text).
    fn seal(&mut self) {
        self.text
            .push_str(&crate::legacy::lines::text(&self.pending));
        self.pending.clear();
    }

    fn message(&self) -> &str {
        &self.text[..self.message_end]
    }

    /// The continuation lines, each ending in a newline.
    fn body(&self) -> &str {
        &self.text[self.message_end + 1..]
    }

    /// `tail` (a suffix of the message), a newline and the body, as one slice.
    fn tail_and_body(&self, tail: &str) -> &str {
        debug_assert!(self.message().ends_with(tail));
        &self.text[self.message_end - tail.len()..]
    }

    /// The first non-blank continuation line.
    fn first_body_line(&self) -> &str {
        self.body()
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }
}

/// Streams the sessions of one legacy log.
#[derive(Debug)]
pub struct LegacyImporter<R> {
    lines: LineReader<R>,
    file: String,
    stem: String,
    used_ids: HashSet<String>,
    /// The record being read (its continuation lines still arriving).
    current: Option<RawRecord>,
    /// A finished record that starts the next session.
    spare: RawRecord,
    session: Option<SessionBuilder>,
    done: bool,
}

impl<R: BufRead> LegacyImporter<R> {
    /// `file`: the log's file name, recorded in every session's origin.
    pub fn new(input: R, file: &str) -> Self {
        let stem = Path::new(file)
            .file_stem()
            .map_or_else(|| file.to_owned(), |s| s.to_string_lossy().into_owned());
        LegacyImporter {
            lines: LineReader::new(input),
            file: file.to_owned(),
            stem,
            used_ids: HashSet::new(),
            current: None,
            spare: RawRecord::default(),
            session: None,
            done: false,
        }
    }

    fn session_id(&mut self, record: &RawRecord) -> SessionId {
        let base = if record.batch.is_empty() {
            format!("{}-{}", self.stem, record.session)
        } else {
            format!("{}-{}-{}", self.stem, record.batch, record.session)
        };
        let base = SessionId::sanitized(&base).to_string();
        let mut id = base.clone();
        let mut n = 1;
        while !self.used_ids.insert(id.clone()) {
            n += 1;
            id = format!("{base}-{n}");
        }
        SessionId::sanitized(&id)
    }

    /// Feeds a complete record (sealing it first); returns a session that it ended.
    fn record(&mut self, record: &mut RawRecord) -> Option<LegacySession> {
        record.seal();
        let record = &*record;
        let finished = match &self.session {
            Some(builder) if builder.same_session(record) => None,
            Some(_) => self.session.take().map(SessionBuilder::finish),
            None => None,
        };
        if self.session.is_none() {
            let id = self.session_id(record);
            self.session = Some(SessionBuilder::new(id, &self.file, record));
        }
        if let Some(builder) = self.session.as_mut() {
            builder.record(record);
        }
        finished
    }
}

impl<R: BufRead> Iterator for LegacyImporter<R> {
    type Item = io::Result<LegacySession>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return self.session.take().map(|builder| Ok(builder.finish()));
            }
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    if let Some(mut record) = self.current.take()
                        && let Some(session) = self.record(&mut record)
                    {
                        return Some(Ok(session));
                    }
                    continue;
                }
                Err(err) => {
                    self.done = true;
                    self.session = None;
                    return Some(Err(err));
                }
            };
            // Only a line that starts with a timestamp can be a header; the others wait in
            // the record, unchecked, until it is sealed.
            let text = starts_with_timestamp(line).then(|| crate::legacy::lines::text(line));
            if let Some(header) = text.as_deref().and_then(parse_header) {
                let mut next = std::mem::take(&mut self.spare);
                next.set(&header);
                if let Some(mut previous) = self.current.replace(next) {
                    let finished = self.record(&mut previous);
                    self.spare = previous;
                    if let Some(session) = finished {
                        return Some(Ok(session));
                    }
                }
            } else if let Some(record) = self.current.as_mut() {
                record.push_line(line);
            }
        }
    }
}

/// What follows `Failed to parse application specifications: ` in a message. Asked of most
/// records, so the searcher is built once (`str::split_once` builds one per call: 3% of the
/// default mode's instructions on the corpus).
fn after_spec_failure(message: &str) -> Option<&str> {
    const MARKER: &str = "Failed to parse application specifications: ";
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER));
    FINDER
        .find(message.as_bytes())
        .map(|at| &message[at + MARKER.len()..])
}

/// A compile whose result has not been logged yet.
#[derive(Debug)]
struct PendingCompile {
    start_ms: i64,
    /// The header the original found missing (it then searched a library and recompiled).
    missing_header: Option<(String, i64)>,
    candidates: Vec<String>,
    /// Whether a `library_resolved` was emitted for the missing header.
    resolved: bool,
    library: Option<String>,
}

/// The state machine of one session.
#[derive(Debug)]
struct SessionBuilder {
    key_model: String,
    key_batch: String,
    key_session: String,
    session: LegacySession,
    start_ms: i64,
    last_ms: i64,
    last_ts: String,
    /// When the pipeline started waiting for the LLM (the call's latency runs from here).
    llm_wait_ms: i64,
    spec_tries: u32,
    attempt: u32,
    max_attempt: u32,
    compile: Option<PendingCompile>,
    /// The backend failure that aborted the session, if any.
    infrastructure: Option<String>,
    end: Option<SessionOutcome>,
    llm_calls: u32,
    compiles: u32,
}

/// Whether two logged model names are the same name, one of them possibly read from damaged
/// bytes: each invalid byte was read as U+FFFD, so a bad byte in one header line must not start
/// a new session. The damaged name matches when its undamaged pieces appear in order in the
/// other (the first at its start, the last at its end).
fn same_logged_name(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (damaged, other) = match (a.contains('\u{FFFD}'), b.contains('\u{FFFD}')) {
        (true, _) => (a, b),
        (false, true) => (b, a),
        (false, false) => return false,
    };
    let mut pieces = damaged.split('\u{FFFD}');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = other.strip_prefix(first) else {
        return false;
    };
    let mut pieces: Vec<&str> = pieces.collect();
    let last = pieces.pop().unwrap_or("");
    for piece in pieces {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// `openai/gpt-4o` → (`openai`, `gpt-4o`); a bare name is an OpenAI model when it looks like
/// one and an Ollama model otherwise (the original ran every open model on Ollama).
pub fn provider_and_model(logged: &str) -> (String, String) {
    if let Some((provider, model)) = logged.split_once('/') {
        return (provider.to_owned(), model.to_owned());
    }
    if logged.is_empty() {
        return ("unknown".to_owned(), "unknown".to_owned());
    }
    let lower = logged.to_ascii_lowercase();
    let openai = ["gpt-", "chatgpt", "o1", "o3", "o4"]
        .iter()
        .any(|p| lower.starts_with(p));
    let provider = if openai { "openai" } else { "ollama" };
    (provider.to_owned(), logged.to_owned())
}

/// The number right after `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<u32> {
    let at = text.find(marker)? + marker.len();
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The typed reason behind an LLM backend error message.
fn llm_error_kind(message: &str) -> LlmErrorKind {
    let lower = message.to_ascii_lowercase();
    if lower.contains("connection refused") {
        LlmErrorKind::ConnectionRefused
    } else if lower.contains("timed out") || lower.contains("timeout") {
        LlmErrorKind::Timeout
    } else if lower.contains("rate limit") || lower.contains("ratelimit") {
        LlmErrorKind::RateLimited
    } else if lower.contains("cuda error")
        || lower.contains("runner process has terminated")
        || lower.contains("serviceunavailable")
        || lower.contains("internal server error")
    {
        LlmErrorKind::ServerError
    } else {
        LlmErrorKind::Other
    }
}

/// Whether an exception text in the prompting loop is the LLM backend failing (rather than a
/// reply without code).
fn is_backend_failure(cause: &str) -> bool {
    [
        "[FATAL]",
        "APIConnectionError",
        "CUDA error",
        "OllamaException",
        "ServiceUnavailable",
    ]
    .iter()
    .any(|m| cause.contains(m))
}

/// The last `SomeError: …` line of a Python traceback, or the first line.
fn exception_line(body: &str) -> &str {
    body.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            l.split_once(": ").is_some_and(|(name, _)| {
                !name.contains(' ') && (name.ends_with("Error") || name.ends_with("Exception"))
            })
        })
        .or_else(|| body.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
}

/// `returncode=1` and the `stderr='…'` text of a logged `CompletedProcess(...)`.
fn completed_process(text: &str) -> (Option<i32>, String) {
    let code = text.find("returncode=").and_then(|at| {
        let rest = &text[at + "returncode=".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    });
    let quoted = |key: &str| -> Option<String> {
        let at = text.find(key)? + key.len();
        let rest = &text[at..];
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &rest[1..];
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c if c == quote => break,
                c => out.push(c),
            }
        }
        Some(out.trim().to_owned())
    };
    let message = quoted("stderr=")
        .filter(|s| !s.is_empty())
        .or_else(|| quoted("stdout="))
        .unwrap_or_default();
    (code, message)
}

fn answered(text: String) -> LlmCallResult {
    LlmCallResult::Answered(LlmAnswer {
        text,
        reasoning: None,
        finish_reason: None,
        response_model: None,
        usage: TokenUsage::default(),
        time_to_first_token_ms: None,
    })
}

fn millis(from: i64, to: i64) -> u64 {
    u64::try_from(to - from).unwrap_or(0)
}

impl SessionBuilder {
    fn new(id: SessionId, file: &str, first: &RawRecord) -> Self {
        let (provider, model) = provider_and_model(&first.model);
        let session = LegacySession {
            id,
            file: file.to_owned(),
            model,
            provider,
            batch: first.batch.clone(),
            legacy_session: first.session.clone(),
            // Room for a typical session's events: growing a vector of events copies them all
            // (a thirtieth of the default mode's instructions).
            events: Vec::with_capacity(64),
        };
        let ms = epoch_ms(&first.timestamp);
        let mut builder = SessionBuilder {
            key_model: first.model.clone(),
            key_batch: first.batch.clone(),
            key_session: first.session.clone(),
            session,
            start_ms: ms,
            last_ms: ms,
            last_ts: to_rfc3339(&first.timestamp),
            llm_wait_ms: ms,
            spec_tries: 0,
            attempt: 0,
            max_attempt: 0,
            compile: None,
            infrastructure: None,
            end: None,
            llm_calls: 0,
            compiles: 0,
        };
        let started = Event::SessionStarted(SessionStarted {
            app: LEGACY_APP.to_owned(),
            app_path: None,
            target: LEGACY_TARGET.to_owned(),
            fqbn: Some(LEGACY_FQBN.to_owned()),
            provider: builder.session.provider.clone(),
            model: builder.session.model.clone(),
            endpoint: None,
            prompt_variant: "legacy".to_owned(),
            sampling: SamplingParams::default(),
            seed: None,
            tool_versions: Vec::new(),
            autopilot_version: env!("CARGO_PKG_VERSION").to_owned(),
            batch: None,
            origin: TraceOrigin::LegacyImport {
                file: file.to_owned(),
                batch: first.batch.clone(),
                session: first.session.clone(),
            },
        });
        builder.emit(started);
        builder
    }

    fn same_session(&self, record: &RawRecord) -> bool {
        self.key_session == record.session
            && self.key_batch == record.batch
            && same_logged_name(&self.key_model, &record.model)
    }

    fn emit(&mut self, event: Event) {
        self.session.events.push(TimedEvent {
            ts: self.last_ts.clone(),
            event,
        });
    }

    fn llm_call(&mut self, stage: Stage, attempt: u32, result: LlmCallResult, now: i64) {
        self.llm_calls += 1;
        let call = Event::LlmCall(LlmCall {
            stage,
            attempt,
            retry: 0,
            repeat: 0,
            provider: self.session.provider.clone(),
            model: self.session.model.clone(),
            request_hash: String::new(),
            messages: Vec::new(),
            sampling: SamplingParams::default(),
            stream: false,
            result,
            latency_ms: millis(self.llm_wait_ms, now),
            cost_usd: None,
            source: autopilot_trace::AnswerSource::Live,
            retry_in_ms: None,
        });
        self.emit(call);
    }

    fn attempt_finished(
        &mut self,
        stage: Stage,
        attempt: u32,
        outcome: AttemptOutcome,
        message: &str,
    ) {
        self.emit(Event::AttemptFinished(AttemptFinished {
            stage,
            attempt,
            outcome,
            message: message.to_owned(),
        }));
    }

    fn current_attempt(&self) -> u32 {
        self.attempt.max(1)
    }

    fn spec_failed(&mut self, attempt: u32, check: &str, reason: &str, reply: String, now: i64) {
        self.spec_tries = self.spec_tries.max(attempt);
        self.llm_call(Stage::Spec, attempt, answered(reply), now);
        self.emit(Event::CheckVerdict(CheckVerdict {
            stage: Stage::Spec,
            attempt,
            check: check.to_owned(),
            passed: false,
            message: reason.to_owned(),
        }));
        self.attempt_finished(Stage::Spec, attempt, AttemptOutcome::SpecInvalid, reason);
        self.llm_wait_ms = now;
    }

    fn start_attempt(&mut self, attempt: u32, now: i64) {
        self.attempt = attempt;
        self.max_attempt = self.max_attempt.max(attempt);
        self.llm_wait_ms = now;
    }

    fn backend_failed(&mut self, attempt: u32, cause: &str, now: i64) {
        let kind = llm_error_kind(cause);
        let failure = LlmFailure {
            kind,
            transient: kind.is_transient(),
            http_status: None,
            message: cause.to_owned(),
            retry_after_ms: None,
        };
        self.llm_call(Stage::Sketch, attempt, LlmCallResult::Failed(failure), now);
        self.attempt_finished(Stage::Sketch, attempt, AttemptOutcome::LlmFailed, cause);
        self.infrastructure = Some(cause.to_owned());
    }

    /// The first compile of an attempt failed on a missing header, and the original
    /// recompiled after its library step: that first compile's output is not in the log,
    /// except for the header it named.
    fn finish_reconstructed_compile(&mut self, pending: PendingCompile) {
        let Some((header, at)) = pending.missing_header else {
            return;
        };
        self.compiles += 1;
        self.emit(Event::CompileFinished(CompileFinished {
            attempt: self.current_attempt(),
            backend: BACKEND.to_owned(),
            backend_version: None,
            fqbn: LEGACY_FQBN.to_owned(),
            status: CompileStatus::Failed,
            diagnostics: vec![Diagnostic {
                file: None,
                line: None,
                column: None,
                severity: Severity::Fatal,
                message: format!("{header}: No such file or directory"),
                origin: DiagnosticOrigin::Compiler,
                context: Vec::new(),
                notes: Vec::new(),
                source_line: None,
            }],
            size: None,
            duration_ms: millis(pending.start_ms, at),
            cache_hit: false,
            input_hash: None,
            detail: Some(
                "reconstructed from the log's missing-library record; the log keeps only the recompile's output"
                    .to_owned(),
            ),
        }));
    }

    fn resolve_not_found(&mut self, reason: &str) {
        let attempt = self.current_attempt();
        if let Some(pending) = self.compile.as_mut()
            && let Some((header, _)) = &pending.missing_header
            && !pending.resolved
        {
            pending.resolved = true;
            let event = Event::LibraryResolved(LibraryResolved {
                attempt,
                header: header.clone(),
                library: None,
                source: ResolutionSource::NotFound,
                candidates: std::mem::take(&mut pending.candidates),
                allowed: false,
                reason: reason.to_owned(),
            });
            self.emit(event);
        }
    }

    fn compile_result(&mut self, attempt: u32, output: &str, now: i64, succeeded: bool) {
        self.resolve_not_found("`arduino-cli lib search` found no library");
        let pending = self.compile.take();
        let parsed = parse_build_output(output);
        let detail = (!parsed.status_lines.is_empty()).then(|| parsed.status_lines.join("\n"));
        let first_error = parsed.errors().next().map_or_else(
            || output.lines().next().unwrap_or("").to_owned(),
            |d| d.message.clone(),
        );
        self.compiles += 1;
        self.emit(Event::CompileFinished(CompileFinished {
            attempt,
            backend: BACKEND.to_owned(),
            backend_version: None,
            fqbn: LEGACY_FQBN.to_owned(),
            status: if succeeded {
                CompileStatus::Succeeded
            } else {
                CompileStatus::Failed
            },
            diagnostics: parsed.diagnostics,
            size: parsed.size,
            duration_ms: pending.map_or(0, |p| millis(p.start_ms, now)),
            cache_hit: false,
            input_hash: None,
            detail,
        }));
        if !succeeded {
            self.attempt_finished(
                Stage::Sketch,
                attempt,
                AttemptOutcome::CompileFailed,
                &first_error,
            );
        }
    }

    fn session_failed(&mut self) {
        if self.end.is_none() {
            self.end = Some(match &self.infrastructure {
                Some(message) => SessionOutcome::InfrastructureError {
                    kind: autopilot_trace::InfraErrorKind::BackendCrash,
                    message: message.clone(),
                },
                None => SessionOutcome::Exhausted {
                    stage: Stage::Sketch,
                },
            });
        }
    }

    fn session_succeeded(&mut self) {
        if self.end.is_none() {
            self.end = Some(SessionOutcome::Success {
                attempt: self.current_attempt(),
            });
        }
    }

    fn note(&mut self, kind: &str, message: &str) {
        self.emit(Event::Note(Note {
            kind: kind.to_owned(),
            message: message.to_owned(),
        }));
    }

    fn record(&mut self, r: &RawRecord) {
        let now = epoch_ms(&r.timestamp);
        self.last_ms = now;
        write_rfc3339(&mut self.last_ts, &r.timestamp);
        let m = r.message();
        if m.starts_with("User input acquired")
            || m.starts_with("Sketch generation started")
            || m.starts_with("Starting SketchGenerator run with trace ID")
            || m.starts_with("First attempt code received")
            || m.starts_with("Error handling attempt NO.")
            || m.starts_with("Sketch compilation successful")
        {
            // Progress markers that the events below already imply.
        } else if let Some(path) = m.strip_prefix("Dataset summary generated for ") {
            // The next LLM call waits from here: its latency starts at the last preparation step.
            self.note("dataset_summary", path);
            self.llm_wait_ms = now;
        } else if m.starts_with("Network latency to ") {
            self.note("latency_probe", m);
            self.llm_wait_ms = now;
        } else if m.starts_with("Network latency measurement failed") {
            // A failed probe starts no wait: the original goes on to the same call.
            self.note("latency_probe_failed", m);
        } else if m.starts_with("Error generating dataset summary") {
            // The session continues without a summary, so this is a note, not a failure.
            self.note("dataset_summary_failed", m);
        } else if let Some(reason) = after_spec_failure(m) {
            let attempt = number_after(m, "After ").unwrap_or(self.spec_tries + 1);
            let reason = reason.trim_end().trim_end_matches('.').trim_end();
            // The check id names the cause the message shows: a dropped template placeholder, or
            // Python's `list index out of range` when the answer had no fenced block.
            let check = if reason.contains("not found in the app specifications") {
                "spec.guideline_placeholder"
            } else if reason.contains("list index out of range") {
                "spec.fenced_block"
            } else {
                "spec.parse"
            };
            let reply = r
                .body()
                .split_once("The last response was:")
                .map(|(_, reply)| reply.trim_start_matches(' ').trim_end().to_owned())
                .unwrap_or_default();
            self.spec_failed(attempt, check, reason, reply, now);
        } else if m.starts_with("Attempt ") && m.contains("failed validation") {
            // The log announces the next attempt's number, so the failed one is one before it (never
            // before an attempt already counted).
            let next = number_after(m, "Attempt ").unwrap_or(self.spec_tries + 2);
            let attempt = next.saturating_sub(1).max(self.spec_tries + 1);
            let reason = exception_line(r.body()).to_owned();
            self.spec_failed(attempt, "spec.validation", &reason, String::new(), now);
        } else if m.starts_with("Specification filling completed") {
            // The only trace of the answering call: one call and one succeeded spec attempt.
            let attempt = self.spec_tries + 1;
            self.spec_tries = attempt;
            self.llm_call(Stage::Spec, attempt, answered(String::new()), now);
            self.attempt_finished(Stage::Spec, attempt, AttemptOutcome::Succeeded, "");
        } else if m.starts_with("Failed to fill specifications") {
            // An end already set (a backend failure, say) is more precise than this summary line.
            if self.end.is_none() {
                self.end = Some(SessionOutcome::Exhausted { stage: Stage::Spec });
            }
        } else if m.starts_with("An unexpected error occurred outside of the loop") {
            // Also a summary: only the first end counts.
            if self.end.is_none() {
                let reason = format!(
                    "unexpected error outside the loop: {}",
                    exception_line(r.body())
                );
                self.end = Some(SessionOutcome::Aborted { reason });
            }
        } else if m.starts_with("STARTED: First attempt") {
            self.start_attempt(1, now);
        } else if m.starts_with("Trying to solve the error") {
            // A repair attempt: its number when the log gives one, else the next.
            let attempt = number_after(m, "Attempt ").unwrap_or(self.attempt + 1);
            self.start_attempt(attempt, now);
        } else if m.starts_with("Found ") && m.contains("cpp/ino code blocks") {
            // The log's only sign that a sketch answer arrived.
            let attempt = self.current_attempt();
            self.llm_call(Stage::Sketch, attempt, answered(String::new()), now);
            self.note("code_blocks", m);
        } else if m.starts_with("Exception caught in prompting attempt") {
            let attempt = number_after(m, "prompting attempt ").unwrap_or(self.current_attempt());
            let cause = r.first_body_line().trim();
            let cause = cause.strip_prefix("Error: ").unwrap_or(cause).to_owned();
            // A connection or HTTP fault is infrastructure; anything else means the answer held no
            // usable code block, an extraction failure of the attempt.
            if is_backend_failure(&cause) {
                self.backend_failed(attempt, &cause, now);
            } else {
                self.llm_call(Stage::Sketch, attempt, answered(String::new()), now);
                self.emit(Event::CheckVerdict(CheckVerdict {
                    stage: Stage::Extract,
                    attempt,
                    check: "extract.code_block".to_owned(),
                    passed: false,
                    message: cause.clone(),
                }));
                self.attempt_finished(
                    Stage::Sketch,
                    attempt,
                    AttemptOutcome::ExtractionFailed,
                    &cause,
                );
            }
        } else if m.starts_with("Ollama error occurred") {
            // The cause is in the body; a body-less record keeps its header as the cause.
            let cause = r.first_body_line().trim();
            let cause = cause.strip_prefix("Error: ").unwrap_or(cause).to_owned();
            let cause = if cause.is_empty() {
                m.to_owned()
            } else {
                cause
            };
            let attempt = self.current_attempt();
            self.backend_failed(attempt, &cause, now);
        } else if m.starts_with("Executing/compiling the code snippet") {
            // A new compile closes one the log left without a result.
            if let Some(previous) = self.compile.take() {
                self.finish_reconstructed_compile(previous);
            }
            self.compile = Some(PendingCompile {
                start_ms: now,
                missing_header: None,
                candidates: Vec::new(),
                resolved: false,
                library: None,
            });
        } else if let Some(header) =
            m.strip_suffix(" related library is missing, searching and installing...")
        {
            // The compile may not have been announced before its missing library: start one.
            let pending = self.compile.get_or_insert(PendingCompile {
                start_ms: now,
                missing_header: None,
                candidates: Vec::new(),
                resolved: false,
                library: None,
            });
            pending.missing_header = Some((header.to_owned(), now));
        } else if m.starts_with("Arduino library search results") {
            // Candidates belong to the lookup of the pending compile; without one they are dropped.
            let names = r
                .body()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Name: "))
                .map(|n| n.trim_matches('"').to_owned());
            if let Some(pending) = self.compile.as_mut() {
                pending.candidates.extend(names);
            }
        } else if let Some(rest) = m.strip_prefix("Installing library, name: ") {
            // The legacy library model picked from the search results; `None` means it picked nothing,
            // which is recorded as a resolution to no allowed library.
            let name = rest
                .split_once(" (given by")
                .map_or(rest, |(name, _)| name)
                .trim_matches('"')
                .to_owned();
            let attempt = self.current_attempt();
            if let Some(pending) = self.compile.as_mut() {
                pending.resolved = true;
                pending.library = Some(name.clone());
                let header = pending
                    .missing_header
                    .as_ref()
                    .map(|(h, _)| h.clone())
                    .unwrap_or_default();
                let real = name != "None";
                let event = Event::LibraryResolved(LibraryResolved {
                    attempt,
                    header,
                    library: real.then(|| name.clone()),
                    source: ResolutionSource::LibSearch,
                    candidates: std::mem::take(&mut pending.candidates),
                    allowed: real,
                    reason: "picked by the legacy library model from `arduino-cli lib search`"
                        .to_owned(),
                });
                self.emit(event);
            }
        } else if m.starts_with("Arduino library installation succeeded") {
            // Whether it succeeded is the logged process's return code, not the message's wording.
            let (exit_code, message) = completed_process(m);
            let attempt = self.current_attempt();
            let library = self
                .compile
                .as_ref()
                .and_then(|p| p.library.clone())
                .unwrap_or_default();
            self.emit(Event::LibraryInstalled(LibraryInstalled {
                attempt,
                library,
                version: None,
                succeeded: exit_code == Some(0),
                exit_code,
                message,
            }));
        } else if let Some(rest) =
            m.strip_prefix("Arduino library installation failed, exception: ")
        {
            let exception = rest
                .strip_suffix(". Ignore and continue the program.")
                .unwrap_or(rest);
            self.resolve_not_found(&format!("library lookup failed: {exception}"));
        } else if m.starts_with("Error in code execution") {
            // The header carries the compiler output's first line, the body the rest.
            let attempt = number_after(m, "NO.").unwrap_or(self.current_attempt());
            let first = m.split_once(": ").map_or("", |(_, first)| first);
            self.compile_result(attempt, r.tail_and_body(first), now, false);
        } else if let Some(first) = m.strip_prefix("Program output: ") {
            // A successful compile: its output (size lines) is parsed like a failed one.
            let attempt = self.current_attempt();
            self.compile_result(attempt, r.tail_and_body(first), now, true);
        } else if m.starts_with("Sketch code generation process completed successfully")
            || m.starts_with("Successfully generated and validated sketch code")
        {
            let attempt = self.current_attempt();
            self.attempt_finished(Stage::Sketch, attempt, AttemptOutcome::Succeeded, "");
            self.session_succeeded();
        } else if m.starts_with("SketchGenerator run finished successfully") {
            // A run-level marker: it ends the session, whose attempt may already be closed.
            self.session_succeeded();
        } else if m.starts_with("Failed to generate valid code") {
            // A copy of the last error (bookkeeping); a fatal backend error shows here too.
            if m.contains("[FATAL]") && self.infrastructure.is_none() {
                self.infrastructure = Some(m.to_owned());
            }
        } else if m.starts_with("Sketch code generation process failed")
            || m.starts_with("SketchGenerator run finished with failure")
        {
            self.session_failed();
        } else if m.starts_with("Generated code is not complete") {
            // The original's completeness check: a failed precheck of the attempt, not a compile.
            let attempt = self.current_attempt();
            self.emit(Event::CheckVerdict(CheckVerdict {
                stage: Stage::Check,
                attempt,
                check: "precheck.complete_sketch".to_owned(),
                passed: false,
                message: m.to_owned(),
            }));
            self.attempt_finished(Stage::Sketch, attempt, AttemptOutcome::PrecheckFailed, m);
        } else if m.starts_with("Keyboard interrupt received") {
            // Only the first end counts, as for the summaries above.
            if self.end.is_none() {
                self.end = Some(SessionOutcome::Aborted {
                    reason: "keyboard interrupt".to_owned(),
                });
            }
        } else {
            let level = if r.level_error { "ERROR" } else { "INFO" };
            // A record this importer does not know is kept as a note, so nothing is lost silently.
            self.note("legacy_record", &format!("{level} {m}"));
        }
    }

    fn finish(mut self) -> LegacySession {
        if let Some(outcome) = self.end.take() {
            let totals = SessionTotals {
                attempts: self.max_attempt,
                llm_calls: self.llm_calls,
                // The logs never record token counts: unknown, not 0.
                input_tokens: None,
                output_tokens: None,
                cost_usd: None,
                wall_ms: millis(self.start_ms, self.last_ms),
                compiles: self.compiles,
                cache_hits: 0,
            };
            self.emit(Event::SessionFinished(SessionFinished { outcome, totals }));
        }
        self.session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_guessed_from_the_model_name() {
        assert_eq!(
            provider_and_model("openai/gpt-4o"),
            ("openai".to_owned(), "gpt-4o".to_owned())
        );
        assert_eq!(
            provider_and_model("qwen2.5-coder:32b"),
            ("ollama".to_owned(), "qwen2.5-coder:32b".to_owned())
        );
        assert_eq!(provider_and_model("gpt-4o-mini").0, "openai");
    }

    #[test]
    fn completed_process_gives_the_real_return_code() {
        let text = r#"Arduino library installation succeeded, result(raw): CompletedProcess(args=['arduino-cli', 'lib', 'install', 'None'], returncode=1, stdout='', stderr="Error installing None: Library 'None@latest' not found\n"), retrying the program..."#;
        let (code, message) = completed_process(text);
        assert_eq!(code, Some(1));
        assert_eq!(
            message,
            "Error installing None: Library 'None@latest' not found"
        );
    }

    #[test]
    fn exception_lines_are_found_from_the_end() {
        let body = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad spec\n. \n";
        assert_eq!(exception_line(body), "ValueError: bad spec");
        assert_eq!(number_after("Attempt 12...", "Attempt "), Some(12));
    }
}
