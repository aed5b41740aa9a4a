//! The exporter: mapped sessions to OTLP/HTTP protobuf through `opentelemetry-otlp`, on one
//! background thread behind a bounded queue, so a collector that is slow or down never slows
//! or fails a session; whatever cannot be sent is counted as dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use autopilot_trace::TraceRecord;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};

use crate::map::{Kind, MapOptions, MappedTrace, Status, Value, map_session};

/// Where and how to export.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The traces URL (`http://127.0.0.1:6006/v1/traces`); see [`traces_url`].
    pub endpoint: String,
    /// Extra HTTP headers (authentication). Values never appear in reports or errors.
    pub headers: Vec<(String, String)>,
    /// Bound on one export request (connect, send, answer).
    pub request_timeout: Duration,
    /// Sessions waiting to be sent; a full queue drops the newest session.
    pub queue_sessions: usize,
    pub options: MapOptions,
}

impl ExportConfig {
    pub fn new(endpoint: impl Into<String>) -> Self {
        ExportConfig {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            request_timeout: Duration::from_secs(5),
            queue_sessions: 256,
            options: MapOptions::default(),
        }
    }
}

/// The OTLP traces URL of a collector's base endpoint, as the `OTEL_EXPORTER_OTLP_ENDPOINT`
/// convention has it: `/v1/traces` appended unless the URL already names it.
pub fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with("/v1/traces") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k1=v1,k2=v2`, values percent-decoded).
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, OtelError> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| OtelError::Headers(format!("`{}` has no `=`", redact_pair(part))))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(OtelError::Headers("a header has an empty name".to_owned()));
            }
            Ok((key.to_owned(), percent_decode(value.trim())))
        })
        .collect()
}

/// A header item with its value hidden (it may be a key).
fn redact_pair(part: &str) -> String {
    let name: String = part
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("{name}…")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Infrastructure problems of the exporter itself (bad configuration).
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    #[error("invalid OTLP headers: {0}")]
    Headers(String),
    #[error("cannot build the OTLP exporter for {endpoint}: {message}")]
    Build { endpoint: String, message: String },
    #[error("cannot start the OTLP export thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// What an export did, for the end-of-run line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub exported_sessions: u64,
    pub exported_spans: u64,
    pub dropped_sessions: u64,
    pub dropped_spans: u64,
    /// Distinct failure messages (at most a few), secrets removed.
    pub errors: Vec<String>,
}

#[derive(Debug, Default)]
struct Stats {
    exported_sessions: AtomicU64,
    exported_spans: AtomicU64,
    dropped_sessions: AtomicU64,
    dropped_spans: AtomicU64,
    /// The request being sent: (sessions, spans).
    in_flight: Mutex<(u64, u64)>,
    errors: Mutex<Vec<String>>,
}

impl Stats {
    fn drop_trace(&self, spans: usize) {
        self.dropped_sessions.fetch_add(1, Ordering::Relaxed);
        self.dropped_spans
            .fetch_add(spans as u64, Ordering::Relaxed);
    }

    fn error(&self, message: String) {
        let mut errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        if errors.len() < 5 && !errors.contains(&message) {
            errors.push(message);
        }
    }

    fn report(&self) -> ExportReport {
        ExportReport {
            exported_sessions: self.exported_sessions.load(Ordering::Relaxed),
            exported_spans: self.exported_spans.load(Ordering::Relaxed),
            dropped_sessions: self.dropped_sessions.load(Ordering::Relaxed),
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// One session to send: records read from a file, or the bytes a session's trace writer wrote
/// (parsed on the export thread, off the session's path).
#[derive(Debug)]
enum Job {
    Records(Vec<TraceRecord>),
    Lines(Vec<u8>),
    Mapped(MappedTrace),
}

impl Job {
    fn map(self, options: MapOptions) -> Option<MappedTrace> {
        match self {
            Job::Records(records) => map_session(&records, options),
            Job::Mapped(trace) => Some(trace),
            Job::Lines(bytes) => {
                let records: Vec<TraceRecord> = bytes
                    .split(|b| *b == b'\n')
                    .filter(|line| !line.is_empty())
                    .filter_map(|line| autopilot_trace::parse_line(line, true).ok())
                    .collect();
                map_session(&records, options)
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    stats: Stats,
    /// Set by [`Exporter::finish`]: no new sessions; the thread ends once the queue is empty.
    closed: AtomicBool,
    /// Set when the drain time is up: the thread drops (and counts) what is left.
    abandon: AtomicBool,
    options: MapOptions,
    /// Knows the header values and the endpoint's credentials: error texts pass it.
    redactor: autopilot_trace::Redactor,
}

/// A cheap handle that queues sessions for the exporter; never blocks.
#[derive(Debug, Clone)]
pub struct ExportHandle {
    sender: SyncSender<Job>,
    shared: Arc<Shared>,
}

impl ExportHandle {
    /// Queues one session's records. A full queue or a finished exporter drops the session
    /// (counted).
    pub fn submit_records(&self, records: Vec<TraceRecord>) {
        self.submit(Job::Records(records));
    }

    /// Queues the JSONL bytes of one session, as its trace file holds them.
    pub fn submit_lines(&self, bytes: Vec<u8>) {
        self.submit(Job::Lines(bytes));
    }

    /// Queues a mapped session, waiting for room (after-the-fact export, where every session
    /// should go and nothing is slowed by waiting).
    pub fn send_mapped(&self, trace: MappedTrace) {
        if let Err(err) = self.sender.send(Job::Mapped(trace)) {
            self.refuse(err.0);
        }
    }

    fn refuse(&self, job: Job) {
        let spans = job.map(self.shared.options).map_or(0, |t| t.spans.len());
        self.shared.stats.drop_trace(spans);
        self.shared
            .stats
            .error("the export queue was full or closed (collector slow or down)".to_owned());
    }

    fn submit(&self, job: Job) {
        let refused = if self.shared.closed.load(Ordering::Relaxed) {
            Some(job)
        } else {
            match self.sender.try_send(job) {
                Ok(()) => None,
                Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => Some(job),
            }
        };
        if let Some(job) = refused {
            // Rare path: mapped here only to count what is lost.
            self.refuse(job);
        }
    }
}

/// The background exporter. Submitting never blocks; [`Exporter::finish`] waits a bounded time
/// for the queue to drain.
#[derive(Debug)]
pub struct Exporter {
    handle: ExportHandle,
    thread: Option<JoinHandle<()>>,
    /// Shared with the thread, so the end can count what a hung thread left queued.
    receiver: Arc<Mutex<Receiver<Job>>>,
}

/// Sessions sent in one request at most.
const BATCH_SESSIONS: usize = 32;

impl Exporter {
    /// Builds the OTLP exporter and starts its thread.
    pub fn start(config: &ExportConfig) -> Result<Self, OtelError> {
        let exporter = build_exporter(config)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(config.queue_sessions.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared {
            stats: Stats::default(),
            closed: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            options: config.options,
            redactor: redactor(config),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let receiver = Arc::clone(&receiver);
            let timeout = config.request_timeout;
            std::thread::Builder::new()
                .name("otlp-export".to_owned())
                .spawn(move || export_loop(&exporter, &receiver, &shared, timeout))
                .map_err(OtelError::Thread)?
        };
        Ok(Exporter {
            handle: ExportHandle { sender, shared },
            thread: Some(thread),
            receiver,
        })
    }

    pub fn handle(&self) -> ExportHandle {
        self.handle.clone()
    }

    /// Stops taking sessions and waits up to `wait` for the queue to drain; what is still
    /// queued then is counted as dropped.
    pub fn finish(mut self, wait: Duration) -> ExportReport {
        let shared = &self.handle.shared;
        shared.closed.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + wait;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                // The thread drops (and counts) what is left without sending; the process
                // does not wait for a request in flight.
                shared.abandon.store(true, Ordering::Relaxed);
                let grace = Instant::now() + Duration::from_millis(200);
                while !thread.is_finished() && Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if !thread.is_finished() {
                    // A request still hangs: its spans are lost to this report.
                    let (sessions, spans) = *shared
                        .stats
                        .in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    shared
                        .stats
                        .dropped_sessions
                        .fetch_add(sessions, Ordering::Relaxed);
                    shared
                        .stats
                        .dropped_spans
                        .fetch_add(spans, Ordering::Relaxed);
                    shared
                        .stats
                        .error("the collector did not answer before the end of the run".to_owned());
                    let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner);
                    while let Ok(job) = receiver.try_recv() {
                        let spans = job.map(shared.options).map_or(0, |t| t.spans.len());
                        shared.stats.drop_trace(spans);
                    }
                }
            }
        }
        shared.stats.report()
    }
}

fn build_exporter(config: &ExportConfig) -> Result<opentelemetry_otlp::SpanExporter, OtelError> {
    let build_error = |message: String| OtelError::Build {
        endpoint: autopilot_trace::redact_url(&config.endpoint),
        message,
    };
    // rustls with ring, as the LLM client (no aws-lc, no OpenSSL); idempotent.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(config.request_timeout)
        .timeout(config.request_timeout)
        .build()
        .map_err(|err| build_error(err.to_string()))?;
    let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.clone())
        .with_timeout(config.request_timeout)
        .with_headers(headers)
        // A request that fails is counted as dropped; retrying would hold the queue.
        .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
        .build()
        .map_err(|err| build_error(err.to_string()))?;
    exporter.set_resource(&resource());
    Ok(exporter)
}

fn redactor(config: &ExportConfig) -> autopilot_trace::Redactor {
    let mut redactor = autopilot_trace::Redactor::new();
    redactor.add_url(&config.endpoint);
    for (_, value) in &config.headers {
        redactor.add_secret(&autopilot_trace::Secret::new(value.clone()));
        // `Basic <base64>` and `Bearer <token>`: the credential alone, too.
        if let Some((_, credential)) = value.split_once(' ') {
            redactor.add_secret(&autopilot_trace::Secret::new(credential.to_owned()));
        }
    }
    redactor
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "autopilot"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ])
        .build()
}

fn export_loop(
    exporter: &opentelemetry_otlp::SpanExporter,
    receiver: &Mutex<Receiver<Job>>,
    shared: &Shared,
    timeout: Duration,
) {
    let stats = &shared.stats;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            stats.error(format!("cannot start the export runtime: {err}"));
            None
        }
    };
    loop {
        let mut jobs = Vec::new();
        {
            // Held while taking jobs only, never while sending.
            let receiver = receiver.lock().unwrap_or_else(PoisonError::into_inner);
            match receiver.recv_timeout(Duration::from_millis(20)) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) if shared.closed.load(Ordering::Relaxed) => return,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while jobs.len() < BATCH_SESSIONS {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        let traces: Vec<MappedTrace> = jobs
            .into_iter()
            .filter_map(|job| job.map(shared.options))
            .collect();
        let Some(runtime) = runtime
            .as_ref()
            .filter(|_| !shared.abandon.load(Ordering::Relaxed))
        else {
            for trace in &traces {
                stats.drop_trace(trace.spans.len());
            }
            continue;
        };
        let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
        let batch: Vec<SpanData> = traces.iter().flat_map(span_data).collect();
        *stats
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (traces.len() as u64, spans as u64);
        let result = runtime.block_on(async {
            tokio::time::timeout(timeout + Duration::from_millis(500), exporter.export(batch)).await
        });
        *stats
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (0, 0);
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(shared.redactor.redact_string(err.to_string())),
            Err(_) => Some(format!("the collector did not answer within {timeout:?}")),
        };
        match failure {
            None => {
                stats
                    .exported_sessions
                    .fetch_add(traces.len() as u64, Ordering::Relaxed);
                stats
                    .exported_spans
                    .fetch_add(spans as u64, Ordering::Relaxed);
            }
            Some(message) => {
                for trace in &traces {
                    stats.drop_trace(trace.spans.len());
                }
                stats.error(message);
            }
        }
    }
}

fn key_value(key: &'static str, value: &Value) -> KeyValue {
    match value {
        Value::Str(text) => KeyValue::new(key, text.clone()),
        Value::Int(number) => KeyValue::new(key, *number),
        Value::Float(number) => KeyValue::new(key, *number),
        Value::Bool(flag) => KeyValue::new(key, *flag),
        Value::StrArray(items) => KeyValue::new(
            key,
            opentelemetry::Value::Array(opentelemetry::Array::String(
                items.iter().cloned().map(StringValue::from).collect(),
            )),
        ),
    }
}

fn system_time(ts: jiff::Timestamp) -> SystemTime {
    SystemTime::from(ts)
}

/// The SDK's span records for one mapped session, ready for any `SpanExporter`.
pub fn span_data(trace: &MappedTrace) -> Vec<SpanData> {
    let trace_id = TraceId::from_bytes(trace.trace_id);
    let scope = InstrumentationScope::builder("autopilot")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    trace
        .spans
        .iter()
        .map(|span| {
            let mut events = SpanEvents::default();
            events.events = span
                .events
                .iter()
                .map(|event| {
                    opentelemetry::trace::Event::new(
                        event.name,
                        system_time(event.time),
                        event
                            .attributes
                            .iter()
                            .map(|(k, v)| key_value(k, v))
                            .collect(),
                        0,
                    )
                })
                .collect();
            let mut attributes: Vec<KeyValue> = span
                .attributes
                .iter()
                .map(|(k, v)| key_value(k, v))
                .collect();
            let status = match &span.status {
                Status::Unset => opentelemetry::trace::Status::Unset,
                Status::Error {
                    error_type,
                    message,
                } => {
                    if !attributes.iter().any(|kv| kv.key.as_str() == "error.type") {
                        attributes.push(KeyValue::new("error.type", error_type.clone()));
                    }
                    opentelemetry::trace::Status::error(if message.is_empty() {
                        error_type.clone()
                    } else {
                        message.clone()
                    })
                }
            };
            SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    SpanId::from_bytes(span.span_id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: span.parent.map_or(SpanId::INVALID, |p| {
                    SpanId::from_bytes(trace.spans[p].span_id)
                }),
                parent_span_is_remote: false,
                span_kind: match span.kind {
                    Kind::Internal => opentelemetry::trace::SpanKind::Internal,
                    Kind::Client => opentelemetry::trace::SpanKind::Client,
                },
                name: span.name.clone().into(),
                start_time: system_time(span.start),
                end_time: system_time(span.end),
                attributes,
                dropped_attributes_count: 0,
                events,
                links: SpanLinks::default(),
                status,
                instrumentation_scope: scope.clone(),
            }
        })
        .collect()
}
