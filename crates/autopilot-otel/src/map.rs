//! The pure mapping from one session's trace records to a span tree: session → stage → attempt
//! → LLM call / compile / simulation, timestamps from the trace, GenAI names for LLM calls.
//!
//! No I/O: the exporter and the tests consume the [`MappedTrace`] values this returns.

use autopilot_trace::{
    AttemptOutcome, CompileStatus, Event, LlmCall, LlmCallResult, Role, SessionOutcome, Severity,
    SimulationStatus, Stage, TraceOrigin, TraceRecord, parse_timestamp,
};
use jiff::{SignedDuration, Timestamp};

use crate::names as n;

/// An attribute value (the OTLP scalar types and string arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    StrArray(Vec<String>),
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Str(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Int(i64::from(value))
    }
}

pub type Attributes = Vec<(&'static str, Value)>;

/// `CLIENT` for calls to another service (the LLM), `INTERNAL` for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Client,
}

/// Span status: unset, or an error with its low-cardinality class (`error.type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Unset,
    Error { error_type: String, message: String },
}

/// A timestamped event on a span (a check verdict, a fallback, a note).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub name: &'static str,
    pub time: Timestamp,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MappedSpan {
    pub span_id: [u8; 8],
    /// Index of the parent in [`MappedTrace::spans`]; `None` for the root.
    pub parent: Option<usize>,
    pub name: String,
    pub kind: Kind,
    pub start: Timestamp,
    pub end: Timestamp,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    pub status: Status,
}

impl MappedSpan {
    /// The value of an attribute, if set.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find_map(|(k, v)| (*k == key).then_some(v))
    }
}

/// One session as one trace; `spans[0]` is the root.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedTrace {
    pub session: String,
    pub trace_id: [u8; 16],
    pub spans: Vec<MappedSpan>,
}

impl MappedTrace {
    /// The trace id as collectors show it (32 lowercase hex digits).
    pub fn trace_id_hex(&self) -> String {
        use std::fmt::Write as _;
        self.trace_id.iter().fold(String::new(), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
    }
}

/// What the mapping includes beyond the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Prompts and answers as `gen_ai.input.messages` / `gen_ai.output.messages` (the
    /// conventions' opt-in: off by default for size and secrets).
    pub content: bool,
}

/// Maps the records of one session, in file order, to its span tree; `None` when there are none.
pub fn map_session(records: &[TraceRecord], options: MapOptions) -> Option<MappedTrace> {
    let first = records.first()?;
    let start = parse_timestamp(&first.ts).unwrap_or(Timestamp::UNIX_EPOCH);
    let session = first.session.to_string();
    let trace_id = trace_id(&session, &first.ts);
    let mut builder = Builder {
        spans: Vec::new(),
        explicit: Vec::new(),
        groups: Vec::new(),
        attempts: Vec::new(),
        open_inner: Vec::new(),
        current: None,
        last_ts: start,
        options,
        finished: false,
    };
    builder.push(
        None,
        "invoke_workflow sketch_generation".to_owned(),
        Kind::Internal,
        start,
        (true, true),
    );
    builder.set(0, n::GEN_AI_OPERATION_NAME, "invoke_workflow");
    builder.set(0, n::GEN_AI_WORKFLOW_NAME, "sketch_generation");
    builder.set(0, n::OPENINFERENCE_SPAN_KIND, "CHAIN");
    for record in records {
        let ts = parse_timestamp(&record.ts).unwrap_or(builder.last_ts);
        builder.last_ts = builder.last_ts.max(ts);
        builder.event(&record.event, ts);
    }
    builder.spans[0].end = builder.last_ts;
    if !builder.finished {
        // No `session_finished`: the process died (or is still running when a file is read).
        builder.set(0, n::OUTCOME, "interrupted");
        builder.set(0, n::INTERRUPTED, true);
        builder.spans[0].status = Status::Error {
            error_type: "interrupted".to_owned(),
            message: "the trace ends without session_finished".to_owned(),
        };
    }
    let mut spans = builder.finish();
    let conversation = spans[0]
        .attribute(n::GEN_AI_CONVERSATION_ID)
        .cloned()
        .unwrap_or_else(|| Value::Str(session.clone()));
    for (index, span) in spans.iter_mut().enumerate() {
        span.span_id = span_id(&trace_id, index);
        span.attributes
            .push((n::SESSION_ID, Value::Str(session.clone())));
        if span.kind == Kind::Client && span.attribute(n::GEN_AI_CONVERSATION_ID).is_none() {
            span.attributes
                .push((n::GEN_AI_CONVERSATION_ID, conversation.clone()));
        }
    }
    Some(MappedTrace {
        session,
        trace_id,
        spans,
    })
}

/// Stable ids: exporting a session twice gives the same trace, so a collector that keeps span
/// ids unique does not show it twice.
fn trace_id(session: &str, first_ts: &str) -> [u8; 16] {
    let hash =
        autopilot_trace::sha256_hex(format!("autopilot-otel\0{session}\0{first_ts}").as_bytes());
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap_or(1);
    }
    if id == [0; 16] {
        id[15] = 1;
    }
    id
}

fn span_id(trace_id: &[u8; 16], index: usize) -> [u8; 8] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(trace_id);
    hasher.update((index as u64).to_le_bytes());
    let digest = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    // An all-zero span id is invalid in OTLP.
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

/// The stages that own attempts (LLM steps); the others happen inside an attempt.
fn owns_attempts(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Spec | Stage::Outline | Stage::Design | Stage::Sketch
    )
}

struct Builder {
    spans: Vec<MappedSpan>,
    /// Whether a span's start and end came from the trace (else they grow to cover children).
    explicit: Vec<(bool, bool)>,
    groups: Vec<(Stage, usize)>,
    attempts: Vec<((Stage, u32), usize)>,
    /// Inner stages (compile, simulate, …) started and not finished: (stage, attempt, span).
    open_inner: Vec<(Stage, u32, usize)>,
    /// The attempt the session is in (the last one an event named).
    current: Option<(Stage, u32)>,
    last_ts: Timestamp,
    options: MapOptions,
    finished: bool,
}

impl Builder {
    fn push(
        &mut self,
        parent: Option<usize>,
        name: String,
        kind: Kind,
        at: Timestamp,
        explicit: (bool, bool),
    ) -> usize {
        self.spans.push(MappedSpan {
            span_id: [0; 8],
            parent,
            name,
            kind,
            start: at,
            end: at,
            attributes: Vec::new(),
            events: Vec::new(),
            status: Status::Unset,
        });
        self.explicit.push(explicit);
        self.spans.len() - 1
    }

    fn set(&mut self, span: usize, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        let attributes = &mut self.spans[span].attributes;
        if let Some(slot) = attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            attributes.push((key, value));
        }
    }

    fn set_opt<V: Into<Value>>(&mut self, span: usize, key: &'static str, value: Option<V>) {
        if let Some(value) = value {
            self.set(span, key, value);
        }
    }

    /// Widens a span with no explicit bounds to cover `at`.
    fn touch(&mut self, span: usize, at: Timestamp) {
        let (explicit_start, explicit_end) = self.explicit[span];
        let span = &mut self.spans[span];
        if !explicit_start && at < span.start {
            span.start = at;
        }
        if !explicit_end && at > span.end {
            span.end = at;
        }
    }

    fn add_event(
        &mut self,
        span: usize,
        name: &'static str,
        at: Timestamp,
        attributes: Attributes,
    ) {
        self.touch(span, at);
        self.spans[span].events.push(SpanEvent {
            name,
            time: at,
            attributes,
        });
    }

    /// The stage span grouping the attempts of `stage` (created on first use).
    fn group(&mut self, stage: Stage, at: Timestamp) -> usize {
        if let Some((_, span)) = self.groups.iter().find(|(s, _)| *s == stage) {
            return *span;
        }
        let span = self.push(
            Some(0),
            format!("autopilot.stage {stage}"),
            Kind::Internal,
            at,
            (false, false),
        );
        self.set(span, n::STAGE, stage.as_str());
        self.set(span, n::OPENINFERENCE_SPAN_KIND, "CHAIN");
        self.groups.push((stage, span));
        span
    }

    /// The span of one attempt of an LLM stage (created on first use: legacy imports have no
    /// stage events).
    fn attempt(&mut self, stage: Stage, attempt: u32, at: Timestamp) -> usize {
        self.current = Some((stage, attempt));
        if let Some((_, span)) = self
            .attempts
            .iter()
            .find(|(key, _)| *key == (stage, attempt))
        {
            return *span;
        }
        let group = self.group(stage, at);
        let span = self.push(
            Some(group),
            format!("autopilot.attempt {attempt}"),
            Kind::Internal,
            at,
            (false, false),
        );
        self.set(span, n::STAGE, stage.as_str());
        self.set(span, n::ATTEMPT, attempt);
        self.set(
            span,
            n::ATTEMPT_KIND,
            if attempt <= 1 { "initial" } else { "repair" },
        );
        self.set(span, n::OPENINFERENCE_SPAN_KIND, "CHAIN");
        self.attempts.push(((stage, attempt), span));
        span
    }

    /// The attempt an event of `stage` and `attempt` belongs to: its own stage when that owns
    /// attempts, else the LLM stage the session is in (sketch when none yet).
    fn attempt_for(&mut self, stage: Stage, attempt: u32, at: Timestamp) -> usize {
        let owner = if owns_attempts(stage) {
            stage
        } else {
            self.current.map_or(Stage::Sketch, |(s, _)| s)
        };
        self.attempt(owner, attempt, at)
    }

    /// Where an event without an attempt goes: the current attempt, else the root.
    fn current_span(&mut self, at: Timestamp) -> usize {
        match self.current {
            Some((stage, attempt)) => self.attempt(stage, attempt, at),
            None => 0,
        }
    }

    /// The open inner-stage span of `stage` for `attempt`, or a new one ending at `at` and
    /// lasting `duration_ms` (records without stage events: legacy imports, host checks).
    fn inner(&mut self, stage: Stage, attempt: u32, at: Timestamp, duration_ms: u64) -> usize {
        if let Some((_, _, span)) = self
            .open_inner
            .iter()
            .rev()
            .find(|(s, a, _)| *s == stage && *a == attempt)
        {
            return *span;
        }
        let parent = self.attempt_for(stage, attempt, at);
        let start = at - SignedDuration::from_millis(i64::try_from(duration_ms).unwrap_or(0));
        let span = self.new_inner(parent, stage, attempt, start);
        self.spans[span].end = at;
        self.explicit[span] = (true, true);
        self.touch(parent, start);
        self.touch(parent, at);
        span
    }

    fn new_inner(&mut self, parent: usize, stage: Stage, attempt: u32, start: Timestamp) -> usize {
        let tool = match stage {
            Stage::Compile => Some("arduino_compile"),
            Stage::Simulate => Some("simavr_run"),
            Stage::Library => Some("arduino_library"),
            _ => None,
        };
        let name = match tool {
            Some(tool) => format!("execute_tool {tool}"),
            None => format!("autopilot.stage {stage}"),
        };
        let span = self.push(Some(parent), name, Kind::Internal, start, (true, false));
        if let Some(tool) = tool {
            self.set(span, n::GEN_AI_OPERATION_NAME, "execute_tool");
            self.set(span, n::GEN_AI_TOOL_NAME, tool);
            self.set(span, n::GEN_AI_TOOL_TYPE, "function");
            self.set(span, n::OPENINFERENCE_SPAN_KIND, "TOOL");
        } else {
            self.set(span, n::OPENINFERENCE_SPAN_KIND, "CHAIN");
        }
        self.set(span, n::STAGE, stage.as_str());
        self.set(span, n::ATTEMPT, attempt);
        span
    }

    fn event(&mut self, event: &Event, at: Timestamp) {
        match event {
            Event::SessionStarted(started) => {
                self.set(0, n::APP, started.app.as_str());
                self.set(0, n::TARGET, started.target.as_str());
                self.set_opt(0, n::BOARD_FQBN, started.fqbn.clone());
                self.set(0, n::PROVIDER, started.provider.as_str());
                self.set(0, n::MODEL, started.model.as_str());
                self.set(0, n::PROMPT_VARIANT, started.prompt_variant.as_str());
                self.set(0, n::VERSION, started.autopilot_version.as_str());
                match &started.origin {
                    TraceOrigin::Native => self.set(0, n::ORIGIN, "native"),
                    TraceOrigin::LegacyImport { file, batch, .. } => {
                        self.set(0, n::ORIGIN, "legacy_import");
                        self.set(0, n::LEGACY_FILE, file.as_str());
                        self.set(0, n::GEN_AI_CONVERSATION_ID, batch.as_str());
                    }
                }
                if let Some(cell) = &started.batch {
                    self.set(0, n::BATCH_EXPERIMENT, cell.experiment.as_str());
                    self.set(0, n::BATCH_CELL, cell.cell.as_str());
                    self.set(0, n::REPEAT_INDEX, cell.repeat);
                    // The experiment groups hundreds of sessions together.
                    self.set(0, n::GEN_AI_CONVERSATION_ID, cell.experiment.as_str());
                }
                if let Some(endpoint) = &started.endpoint {
                    self.set(0, n::SERVER_ADDRESS, endpoint.as_str());
                }
            }
            Event::StageStarted(started) => {
                let attempt = started
                    .attempt
                    .or(self.current.map(|(_, a)| a))
                    .unwrap_or(1);
                if owns_attempts(started.stage) {
                    let span = self.attempt(started.stage, attempt, at);
                    self.spans[span].start = at;
                    self.explicit[span].0 = true;
                    let group = self.group(started.stage, at);
                    self.touch(group, at);
                } else {
                    let parent = self.attempt_for(started.stage, attempt, at);
                    self.touch(parent, at);
                    let span = self.new_inner(parent, started.stage, attempt, at);
                    self.open_inner.push((started.stage, attempt, span));
                }
            }
            Event::StageFinished(finished) => {
                let attempt = finished
                    .attempt
                    .or(self.current.map(|(_, a)| a))
                    .unwrap_or(1);
                let span = if owns_attempts(finished.stage) {
                    self.attempt(finished.stage, attempt, at)
                } else if let Some(position) = self
                    .open_inner
                    .iter()
                    .rposition(|(s, a, _)| *s == finished.stage && *a == attempt)
                {
                    let span = self.open_inner[position].2;
                    self.open_inner.truncate(position);
                    span
                } else {
                    self.inner(finished.stage, attempt, at, finished.duration_ms)
                };
                self.spans[span].end = at;
                self.explicit[span].1 = true;
                self.set(span, n::SUCCEEDED, finished.succeeded);
            }
            Event::LlmCall(call) => self.llm_call(call, at),
            Event::CodeExtracted(code) => {
                let span = self.attempt_for(Stage::Sketch, code.attempt, at);
                let mut attributes: Attributes = vec![
                    ("autopilot.extract.lines", code.lines.into()),
                    ("autopilot.extract.blocks", code.blocks.into()),
                    ("autopilot.extract.chosen_block", code.chosen_block.into()),
                    ("autopilot.extract.sha256", code.sha256.as_str().into()),
                ];
                if let Some(same) = code.identical_to_attempt {
                    attributes.push(("autopilot.extract.identical_to_attempt", same.into()));
                }
                self.add_event(span, "autopilot.extract", at, attributes);
            }
            Event::CheckVerdict(check) => {
                let span = self.attempt_for(check.stage, check.attempt, at);
                let mut attributes: Attributes = vec![
                    ("autopilot.check.id", check.check.as_str().into()),
                    ("autopilot.check.stage", check.stage.as_str().into()),
                    ("autopilot.check.passed", check.passed.into()),
                ];
                if !check.message.is_empty() {
                    attributes.push(("autopilot.check.message", check.message.as_str().into()));
                }
                self.add_event(span, "autopilot.check", at, attributes);
            }
            Event::CompileFinished(compile) => {
                let span = self.inner(Stage::Compile, compile.attempt, at, compile.duration_ms);
                let status = match compile.status {
                    CompileStatus::Succeeded => "succeeded",
                    CompileStatus::Failed => "failed",
                    CompileStatus::TimedOut => "timed_out",
                    CompileStatus::ToolchainMissing => "toolchain_missing",
                };
                let errors = compile
                    .diagnostics
                    .iter()
                    .filter(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
                    .count() as u64;
                self.set(span, n::COMPILE_BACKEND, compile.backend.as_str());
                self.set(span, n::COMPILE_OUTCOME, status);
                self.set(span, n::COMPILE_ERRORS, errors);
                self.set(span, n::DIAGNOSTICS, compile.diagnostics.len() as u64);
                self.set(span, n::CACHE_HIT, compile.cache_hit);
                if let Some(size) = compile.size {
                    self.set(span, n::FLASH_BYTES, size.flash_used);
                    self.set_opt(span, n::FLASH_MAX, size.flash_max);
                    self.set_opt(span, n::RAM_BYTES, size.ram_used);
                    self.set_opt(span, n::RAM_MAX, size.ram_max);
                }
                // A failed compile is an outcome (attributes); a missing toolchain is
                // infrastructure (status error).
                if compile.status == CompileStatus::ToolchainMissing {
                    self.spans[span].status = Status::Error {
                        error_type: "toolchain_missing".to_owned(),
                        message: compile.detail.clone().unwrap_or_default(),
                    };
                }
            }
            Event::LibraryResolved(library) => {
                let span = self.attempt_for(Stage::Library, library.attempt, at);
                let mut attributes: Attributes = vec![
                    ("autopilot.library.header", library.header.as_str().into()),
                    ("autopilot.library.allowed", library.allowed.into()),
                ];
                if let Some(name) = &library.library {
                    attributes.push(("autopilot.library.name", name.as_str().into()));
                }
                self.add_event(span, "autopilot.library_resolved", at, attributes);
            }
            Event::LibraryInstalled(library) => {
                let span = self.attempt_for(Stage::Library, library.attempt, at);
                let attributes: Attributes = vec![
                    ("autopilot.library.name", library.library.as_str().into()),
                    ("autopilot.library.installed", library.succeeded.into()),
                ];
                self.add_event(span, "autopilot.library_installed", at, attributes);
            }
            Event::RepairContext(repair) => {
                let span = self.attempt_for(Stage::Sketch, repair.attempt, at);
                let attributes: Attributes = vec![
                    (
                        "autopilot.repair.diagnostics_shown",
                        repair.diagnostics_shown.into(),
                    ),
                    (
                        "autopilot.repair.diagnostics_total",
                        repair.diagnostics_total.into(),
                    ),
                    (
                        "autopilot.repair.recurring",
                        (repair.recurring.len() as u64).into(),
                    ),
                    (
                        "autopilot.repair.declarations",
                        (repair.declarations.len() as u64).into(),
                    ),
                ];
                self.add_event(span, "autopilot.repair_context", at, attributes);
            }
            Event::SimulationFinished(simulation) => {
                let span = self.inner(
                    Stage::Simulate,
                    simulation.attempt,
                    at,
                    simulation.duration_ms,
                );
                let status = match simulation.status {
                    SimulationStatus::Predicted => "predicted",
                    SimulationStatus::NoPrediction => "no_prediction",
                    SimulationStatus::Failed => "failed",
                    SimulationStatus::SimulatorMissing => "simulator_missing",
                };
                self.set(span, n::SIMULATION_STATUS, status);
                self.set_opt(span, n::SIMULATION_MATCHED, simulation.matched.clone());
                if simulation.status == SimulationStatus::SimulatorMissing {
                    self.spans[span].status = Status::Error {
                        error_type: "simulator_missing".to_owned(),
                        message: String::new(),
                    };
                }
            }
            Event::HostCheckFinished(host) => {
                let duration = host.build_ms + host.run_ms.unwrap_or(0);
                let parent = self.attempt_for(Stage::Simulate, host.attempt, at);
                let start = at - SignedDuration::from_millis(i64::try_from(duration).unwrap_or(0));
                let span = self.push(
                    Some(parent),
                    "execute_tool host_check".to_owned(),
                    Kind::Internal,
                    start,
                    (true, true),
                );
                self.spans[span].end = at;
                self.touch(parent, start);
                self.touch(parent, at);
                self.set(span, n::GEN_AI_OPERATION_NAME, "execute_tool");
                self.set(span, n::GEN_AI_TOOL_NAME, "host_check");
                self.set(span, n::GEN_AI_TOOL_TYPE, "function");
                self.set(span, n::OPENINFERENCE_SPAN_KIND, "TOOL");
                self.set(span, n::ATTEMPT, host.attempt);
                let verdict = serde_json::to_value(host.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.set(span, n::HOST_VERDICT, verdict);
                self.set(span, n::DIAGNOSTICS, host.diagnostics.len() as u64);
            }
            Event::FallbackApplied(fallback) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![
                    ("autopilot.fallback.policy", fallback.policy.as_str().into()),
                    ("autopilot.fallback.from", fallback.from.as_str().into()),
                    ("autopilot.fallback.to", fallback.to.as_str().into()),
                    ("autopilot.fallback.reason", fallback.reason.as_str().into()),
                ];
                self.add_event(span, "autopilot.fallback", at, attributes);
            }
            Event::AttemptFinished(finished) => {
                let span = self.attempt_for(finished.stage, finished.attempt, at);
                let outcome = attempt_outcome(finished.outcome);
                self.set(span, n::ATTEMPT_OUTCOME, outcome);
                if finished.outcome != AttemptOutcome::Succeeded {
                    self.set(span, n::FAILURE_CATEGORY, outcome);
                }
                let mut attributes: Attributes =
                    vec![("autopilot.attempt.outcome", outcome.into())];
                if !finished.message.is_empty() {
                    attributes.push((
                        "autopilot.attempt.message",
                        finished.message.as_str().into(),
                    ));
                }
                self.add_event(span, "autopilot.attempt_finished", at, attributes);
            }
            // The lifecycle stages' events are span events of the session root: the pipeline
            // id and stage say which stage session this is; the checks say what was judged.
            Event::PipelineStageStarted(started) => {
                let attributes: Attributes = vec![
                    ("autopilot.pipeline.id", started.pipeline.as_str().into()),
                    ("autopilot.pipeline.stage", started.stage.as_str().into()),
                ];
                self.add_event(0, "autopilot.pipeline_stage_started", at, attributes);
            }
            Event::PipelineStageEnded(ended) => {
                let attributes: Attributes = vec![
                    ("autopilot.pipeline.id", ended.pipeline.as_str().into()),
                    ("autopilot.pipeline.stage", ended.stage.as_str().into()),
                    ("autopilot.pipeline.succeeded", ended.succeeded.into()),
                ];
                self.add_event(0, "autopilot.pipeline_stage_ended", at, attributes);
            }
            Event::DpOperation(operation) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![
                    ("autopilot.operation.index", operation.index.into()),
                    ("autopilot.operation.kind", operation.kind.as_str().into()),
                    (
                        "autopilot.operation.done",
                        (operation.status == autopilot_trace::OperationStatus::Done).into(),
                    ),
                ];
                self.add_event(span, "autopilot.dp_operation", at, attributes);
            }
            Event::PythonRun(run) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![
                    ("autopilot.python.purpose", run.purpose.as_str().into()),
                    (
                        "autopilot.python.termination",
                        format!("{:?}", run.termination).into(),
                    ),
                ];
                self.add_event(span, "autopilot.python_run", at, attributes);
            }
            Event::OutputCheck(check) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![
                    ("autopilot.check.id", check.check.as_str().into()),
                    ("autopilot.check.passed", check.passed.into()),
                ];
                self.add_event(span, "autopilot.output_check", at, attributes);
            }
            Event::ModelCheck(check) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![("autopilot.check.passed", check.passed.into())];
                self.add_event(span, "autopilot.model_check", at, attributes);
            }
            Event::Note(note) => {
                let span = self.current_span(at);
                let attributes: Attributes = vec![
                    ("autopilot.note.kind", note.kind.as_str().into()),
                    ("autopilot.note.message", note.message.as_str().into()),
                ];
                self.add_event(span, "autopilot.note", at, attributes);
            }
            Event::SessionFinished(finished) => {
                self.finished = true;
                let outcome = &finished.outcome;
                self.set(0, n::OUTCOME, outcome.as_str());
                match outcome {
                    SessionOutcome::Success { attempt } => {
                        self.set(0, n::OUTCOME_ATTEMPT, *attempt);
                    }
                    SessionOutcome::Exhausted { stage } => {
                        self.set(0, n::OUTCOME_STAGE, stage.as_str());
                    }
                    SessionOutcome::Aborted { reason } => {
                        self.set(0, n::OUTCOME_REASON, reason.as_str());
                    }
                    SessionOutcome::InfrastructureError { kind, message } => {
                        self.set(0, n::OUTCOME_REASON, kind.as_str());
                        self.spans[0].status = Status::Error {
                            error_type: kind.to_string(),
                            message: message.clone(),
                        };
                    }
                }
                let totals = &finished.totals;
                self.set(0, n::ATTEMPTS, totals.attempts);
                self.set(0, n::LLM_CALLS, totals.llm_calls);
                self.set(0, n::COMPILES, totals.compiles);
                self.set(0, n::CACHE_HITS, totals.cache_hits);
                self.set(0, n::WALL_MS, totals.wall_ms);
                // Unknown totals stay absent, never 0.
                self.set_opt(0, n::INPUT_TOKENS, totals.input_tokens);
                self.set_opt(0, n::OUTPUT_TOKENS, totals.output_tokens);
                self.set_opt(0, n::COST_USD, totals.cost_usd);
            }
        }
    }

    fn llm_call(&mut self, call: &LlmCall, at: Timestamp) {
        let parent = self.attempt_for(call.stage, call.attempt, at);
        let start = at - SignedDuration::from_millis(i64::try_from(call.latency_ms).unwrap_or(0));
        self.touch(parent, start);
        self.touch(parent, at);
        let span = self.push(
            Some(parent),
            format!("chat {}", call.model),
            Kind::Client,
            start,
            (true, true),
        );
        self.spans[span].end = at;
        self.set(span, n::GEN_AI_OPERATION_NAME, "chat");
        self.set(span, n::GEN_AI_PROVIDER_NAME, call.provider.as_str());
        self.set(span, n::GEN_AI_REQUEST_MODEL, call.model.as_str());
        self.set(span, n::OPENINFERENCE_SPAN_KIND, "LLM");
        self.set_opt(
            span,
            n::GEN_AI_REQUEST_TEMPERATURE,
            call.sampling.temperature,
        );
        self.set_opt(span, n::GEN_AI_REQUEST_TOP_P, call.sampling.top_p);
        self.set_opt(span, n::GEN_AI_REQUEST_SEED, call.sampling.seed);
        self.set_opt(span, n::GEN_AI_REQUEST_MAX_TOKENS, call.sampling.max_tokens);
        if call.stream {
            self.set(span, n::GEN_AI_REQUEST_STREAM, true);
        }
        self.set(span, n::STAGE, call.stage.as_str());
        self.set(span, n::ATTEMPT, call.attempt);
        self.set(span, n::RETRY, call.retry);
        self.set_opt(span, n::RETRY_IN_MS, call.retry_in_ms);
        if !call.request_hash.is_empty() {
            self.set(span, n::REQUEST_HASH, call.request_hash.as_str());
        }
        self.set(
            span,
            n::LLM_SOURCE,
            match call.source {
                autopilot_trace::AnswerSource::Live => "live",
                autopilot_trace::AnswerSource::Replay => "replay",
            },
        );
        self.set_opt(span, n::COST_USD, call.cost_usd);
        if self.options.content {
            self.set(span, n::GEN_AI_INPUT_MESSAGES, input_messages(call));
        }
        match &call.result {
            LlmCallResult::Answered(answer) => {
                self.set_opt(
                    span,
                    n::GEN_AI_RESPONSE_MODEL,
                    answer.response_model.clone(),
                );
                self.set_opt(span, n::GEN_AI_USAGE_INPUT_TOKENS, answer.usage.input);
                self.set_opt(span, n::GEN_AI_USAGE_OUTPUT_TOKENS, answer.usage.output);
                if let Some(reason) = &answer.finish_reason {
                    self.set(
                        span,
                        n::GEN_AI_RESPONSE_FINISH_REASONS,
                        Value::StrArray(vec![reason.clone()]),
                    );
                }
                if let Some(ttft) = answer.time_to_first_token_ms {
                    self.set(
                        span,
                        n::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                        ttft as f64 / 1000.0,
                    );
                }
                if self.options.content {
                    let output = serde_json::json!([{
                        "role": "assistant",
                        "parts": [{"type": "text", "content": answer.text}],
                        "finish_reason": answer.finish_reason.as_deref().unwrap_or("stop"),
                    }]);
                    self.set(span, n::GEN_AI_OUTPUT_MESSAGES, output.to_string());
                }
            }
            LlmCallResult::Failed(failure) => {
                let kind = serde_json::to_value(failure.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "other".to_owned());
                self.set(span, n::ERROR_TYPE, kind.as_str());
                self.set_opt(span, n::LLM_HTTP_STATUS, failure.http_status.map(u32::from));
                self.spans[span].status = Status::Error {
                    error_type: kind,
                    message: failure.message.clone(),
                };
            }
        }
    }

    /// Gives spans without explicit bounds the extent of their children, children first.
    fn finish(mut self) -> Vec<MappedSpan> {
        // Open at the end of the trace (interrupted): close at the last record.
        for (_, _, span) in &self.open_inner {
            self.spans[*span].end = self.spans[*span].end.max(self.last_ts);
        }
        for index in (1..self.spans.len()).rev() {
            let (start, end) = (self.spans[index].start, self.spans[index].end);
            if let Some(parent) = self.spans[index].parent {
                self.touch(parent, start);
                self.touch(parent, end);
            }
            let span = &mut self.spans[index];
            if span.end < span.start {
                span.end = span.start;
            }
        }
        self.spans
    }
}

fn input_messages(call: &LlmCall) -> String {
    let messages: Vec<serde_json::Value> = call
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            serde_json::json!({"role": role, "parts": [{"type": "text", "content": m.content}]})
        })
        .collect();
    serde_json::Value::Array(messages).to_string()
}

fn attempt_outcome(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Succeeded => "succeeded",
        AttemptOutcome::ExtractionFailed => "extraction_failed",
        AttemptOutcome::SpecInvalid => "spec_invalid",
        AttemptOutcome::PrecheckFailed => "precheck_failed",
        AttemptOutcome::IdenticalCode => "identical_code",
        AttemptOutcome::CompileFailed => "compile_failed",
        AttemptOutcome::CompileTimedOut => "compile_timed_out",
        AttemptOutcome::SizeExceeded => "size_exceeded",
        AttemptOutcome::SimulationFailed => "simulation_failed",
        AttemptOutcome::LlmFailed => "llm_failed",
        AttemptOutcome::AnswerTruncated => "answer_truncated",
        AttemptOutcome::PlanInvalid => "plan_invalid",
        AttemptOutcome::RunFailed => "run_failed",
        AttemptOutcome::OutputInvalid => "output_invalid",
    }
}
