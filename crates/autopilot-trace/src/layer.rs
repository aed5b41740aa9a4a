//! The writer: a `tracing_subscriber::Layer` that routes typed events emitted inside a session
//! span to that session's JSONL file, one flushed line per event.
//!
//! Call sites stay typed: [`emit`] takes an [`Event`]; the layer sees it as a `tracing` event
//! with target [`TRACE_TARGET`] (so console and OpenTelemetry layers see it too) whose
//! `trace_event` field carries the serialized event. The sequence number is assigned and the line
//! written under one lock per session, so file order equals sequence order and a killed process
//! leaves a valid prefix.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::event::Event;
use crate::record::{FORMAT_VERSION, SessionId, format_timestamp};

/// The `tracing` target of session spans and trace events.
pub const TRACE_TARGET: &str = "autopilot::trace";
/// The name of the span that delimits one session.
pub const SESSION_SPAN_NAME: &str = "session";
const SESSION_FIELD: &str = "session_id";
const EVENT_FIELD: &str = "trace_event";

/// Opens the span inside which emitted events go to the file of `session`.
pub fn session_span(session: &SessionId) -> tracing::Span {
    tracing::info_span!(target: "autopilot::trace", "session", session_id = session.as_str())
}

thread_local! {
    /// The typed event [`emit`] is dispatching on this thread, for [`with_emitted_event`].
    static EMITTING: std::cell::RefCell<Option<Event>> = const { std::cell::RefCell::new(None) };
}

/// Emits a typed trace event. Inside a [`session_span`] the [`JsonlLayer`] writes it to the
/// session's file; other layers see an INFO event whose message is the event kind, and may
/// read the typed event with [`with_emitted_event`].
pub fn emit(event: &Event) {
    if !tracing::enabled!(target: "autopilot::trace", tracing::Level::INFO) {
        return;
    }
    // Serializing our own types cannot fail: no maps with non-string keys, no custom impls.
    let json = serde_json::to_string(event).unwrap_or_else(|err| {
        format!(
            r#"{{"type":"note","kind":"serialization_error","message":{:?}}}"#,
            err.to_string()
        )
    });
    // Layers run synchronously inside `info!` on this thread: they find the event in the slot.
    // The previous value is put back, so a layer that emits from `on_event` nests correctly.
    let outer = EMITTING.with(|slot| slot.replace(Some(event.clone())));
    tracing::info!(target: "autopilot::trace", trace_event = json.as_str(), "{}", event.kind());
    EMITTING.with(|slot| slot.replace(outer));
}

/// Calls `f` with the typed event being emitted, from a layer's `on_event` for an event of
/// target [`TRACE_TARGET`]; `None` outside of [`emit`] (a hand-made `tracing` event with that
/// target). Layers that show events read them typed here instead of parsing the
/// `trace_event` field back. `f` must not emit.
pub fn with_emitted_event<R>(f: impl FnOnce(&Event) -> R) -> Option<R> {
    EMITTING.with(|slot| slot.borrow().as_ref().map(f))
}

/// Where session files go.
pub trait SessionSink: Send + Sync + 'static {
    /// Opens the output of a new session. Called once per session span.
    fn open(&self, session: &SessionId) -> io::Result<Box<dyn Write + Send>>;
}

/// Writes `<run-dir>/sessions/<id>.jsonl`, creating the folder. Refuses to overwrite an
/// existing session file.
#[derive(Debug, Clone)]
pub struct RunDirSink {
    run_dir: PathBuf,
    /// Set once `sessions/` exists: a batch opens thousands of traces in it, and asking for
    /// the folder each time was a failing `mkdir` per session.
    sessions_dir_made: Arc<AtomicBool>,
}

impl RunDirSink {
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        RunDirSink {
            run_dir: run_dir.into(),
            sessions_dir_made: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The file a session of this run directory is written to.
    pub fn session_path(run_dir: &Path, session: &SessionId) -> PathBuf {
        run_dir.join("sessions").join(format!("{session}.jsonl"))
    }
}

impl SessionSink for RunDirSink {
    fn open(&self, session: &SessionId) -> io::Result<Box<dyn Write + Send>> {
        let path = Self::session_path(&self.run_dir, session);
        let open = || {
            fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
        };
        if self.sessions_dir_made.load(Ordering::Relaxed) {
            // Made by this sink before; someone may have removed it since, so a missing
            // folder still gets made again.
            match open() {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                opened => return Ok(Box::new(opened?)),
            }
        }
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        self.sessions_dir_made.store(true, Ordering::Relaxed);
        Ok(Box::new(open()?))
    }
}

/// Supplies timestamps; tests pass a fixed clock.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Problems the layer met while writing (it cannot return errors to the code that emits).
#[derive(Debug, Clone, Default)]
pub struct WriteErrors(Arc<Mutex<Vec<String>>>);

impl WriteErrors {
    /// Every problem so far, oldest first.
    pub fn snapshot(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, message: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message);
    }
}

/// The JSONL session-trace layer.
pub struct JsonlLayer {
    sink: Arc<dyn SessionSink>,
    clock: Clock,
    errors: WriteErrors,
}

impl fmt::Debug for JsonlLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonlLayer").finish_non_exhaustive()
    }
}

impl JsonlLayer {
    /// A layer writing through `sink` with the system clock.
    pub fn new(sink: impl SessionSink) -> Self {
        JsonlLayer {
            sink: Arc::new(sink),
            clock: Arc::new(jiff::Timestamp::now),
            errors: WriteErrors::default(),
        }
    }

    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A handle on the write problems (a session that could not be opened, a full disk).
    pub fn errors(&self) -> WriteErrors {
        self.errors.clone()
    }
}

struct SessionFile {
    id: SessionId,
    state: Mutex<SessionFileState>,
}

struct SessionFileState {
    out: Box<dyn Write + Send>,
    next_seq: u64,
    broken: bool,
}

#[derive(Default)]
struct FieldGrab {
    wanted: &'static str,
    value: Option<String>,
}

impl Visit for FieldGrab {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == self.wanted {
            self.value = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == self.wanted && self.value.is_none() {
            self.value = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for JsonlLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        if meta.target() != TRACE_TARGET || meta.name() != SESSION_SPAN_NAME {
            return;
        }
        let mut grab = FieldGrab {
            wanted: SESSION_FIELD,
            value: None,
        };
        attrs.record(&mut grab);
        let Some(raw) = grab.value else {
            self.errors
                .push("session span without a session_id field".to_owned());
            return;
        };
        let session = match SessionId::new(raw) {
            Ok(session) => session,
            Err(err) => {
                self.errors.push(err.to_string());
                return;
            }
        };
        match self.sink.open(&session) {
            Ok(out) => {
                let file = SessionFile {
                    id: session,
                    state: Mutex::new(SessionFileState {
                        out,
                        next_seq: 0,
                        broken: false,
                    }),
                };
                if let Some(span) = ctx.span(id) {
                    span.extensions_mut().insert(Arc::new(file));
                }
            }
            Err(err) => self
                .errors
                .push(format!("cannot open the trace of session {session}: {err}")),
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TRACE_TARGET {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let Some(file) = scope
            .into_iter()
            .find_map(|span| span.extensions().get::<Arc<SessionFile>>().cloned())
        else {
            return;
        };
        let mut grab = FieldGrab {
            wanted: EVENT_FIELD,
            value: None,
        };
        event.record(&mut grab);
        let Some(event_json) = grab.value else {
            return;
        };
        let ts = format_timestamp((self.clock)());
        let mut state = file.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.broken {
            return;
        }
        let line = format!(
            "{{\"v\":{FORMAT_VERSION},\"session\":\"{}\",\"seq\":{},\"ts\":\"{ts}\",\"event\":{event_json}}}\n",
            file.id, state.next_seq
        );
        let written = state
            .out
            .write_all(line.as_bytes())
            .and_then(|()| state.out.flush());
        match written {
            Ok(()) => state.next_seq += 1,
            Err(err) => {
                state.broken = true;
                self.errors.push(format!(
                    "cannot write the trace of session {}: {err}",
                    file.id
                ));
            }
        }
    }
}
