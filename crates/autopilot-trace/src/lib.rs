//! The session trace: the contract between the code that runs sessions and the code that
//! analyses them.
//!
//! The orchestrator writes traces, the classifier and reports read them, and neither knows the
//! other: everything they share is here. This crate has no async runtime, no network and no
//! process code; it is serde types, a `tracing` layer and a reader.
//!
//! # Wire format
//!
//! One file per session, `<run-dir>/sessions/<session-id>.jsonl`, in [JSON Lines]: one UTF-8
//! JSON object per line, each ending in `\n`. Every line is a [`TraceRecord`]:
//!
//! | field     | type   | meaning |
//! |-----------|--------|---------|
//! | `v`       | int    | format version ([`FORMAT_VERSION`]) |
//! | `session` | string | the session id, equal to the file stem (`[A-Za-z0-9._-]{1,128}`) |
//! | `seq`     | int    | 0-based, gap-free sequence number within the file |
//! | `ts`      | string | RFC 3339 UTC timestamp with milliseconds |
//! | `event`   | object | one [`Event`], tagged by `"type"` |
//!
//! The first event is `session_started`; a finished session's last is `session_finished`. A
//! file without `session_finished` is a session that was interrupted (a killed process leaves a
//! valid prefix: each line is written and flushed whole). Nested enums are tagged too
//! (`"status"` for results and outcomes, `"kind"` for origins); empty optional fields are
//! omitted. The JSON Schema generated from these types is committed as
//! `data/trace-schema.json`.
//!
//! ```text
//! {"v":1,"session":"uno-demo-1","seq":0,"ts":"2026-11-21T02:03:41.120Z","event":{"type":"session_started","app":"color_classifier","target":"uno","fqbn":"arduino:avr:uno","provider":"replay","model":"demo","prompt_variant":"default","sampling":{"temperature":0.1},"autopilot_version":"0.1.0","origin":{"kind":"native"}}}
//! {"v":1,"session":"uno-demo-1","seq":1,"ts":"2026-11-21T02:03:42.551Z","event":{"type":"compile_finished","attempt":1,"backend":"arduino-builder","fqbn":"arduino:avr:uno","status":"failed","diagnostics":[{"file":"sketch.ino","line":12,"column":3,"severity":"error","message":"'foo' was not declared in this scope","origin":"compiler"}],"duration_ms":402,"cache_hit":false}}
//! {"v":1,"session":"uno-demo-1","seq":2,"ts":"2026-11-21T02:03:49.003Z","event":{"type":"session_finished","outcome":{"status":"success","attempt":2},"totals":{"attempts":2,"llm_calls":3,"input_tokens":5120,"output_tokens":1830,"wall_ms":7883,"compiles":2,"cache_hits":0}}}
//! ```
//!
//! # Versioning
//!
//! Adding an event type, a variant or an optional field keeps the version; readers of the same
//! version must then be updated before they meet the new data. Renaming or removing anything, or
//! changing a meaning, bumps [`FORMAT_VERSION`]. Readers accept every version up to theirs and
//! name newer ones as such.
//!
//! Changelog: **1** — first version. Additions within 1: `host_check_finished` (the host
//! TinyML check of a sketch, [`HostCheckFinished`]); `llm_error_kind` `body_too_large` (an HTTP
//! body or answer over its size cap; fatal); `Diagnostic::source_line` (the source line gcc
//! echoed under a diagnostic); `session_finished.totals.input_tokens` / `output_tokens`
//! optional (absent when no call reported a count, e.g. legacy imports; older files with
//! numbers still read); `session_finished.outcome.kind` of an `infrastructure_error` is one
//! of the names of [`InfraErrorKind`] (the strings written before; an unknown one reads as
//! `unknown`); `attempt_outcome` `answer_truncated` (the answer stopped at the token limit,
//! `finish_reason: length`, or at the call's time limit); infrastructure kind `llm_timed_out`
//! (the backend was up but gave no whole answer within the call's time limit); the lifecycle
//! stages (`autopilot pipeline`): events `pipeline_stage_started` / `pipeline_stage_ended` (a
//! session that is one stage of a pipeline, [`PipelineStage`] `dp`/`mc`/`sg`), `dp_operation`,
//! `python_run`, `output_check`, `model_check`, the stages `operations`, `operation`,
//! `conversion` of LLM calls and attempts, and the attempt outcomes `plan_invalid`, `run_failed`,
//! `output_invalid`.
//!
//! # Writing
//!
//! Install [`JsonlLayer`] in the subscriber (only the binary does that), open a
//! [`session_span`], and [`emit`] typed events inside it, from any task or thread that runs in
//! the span. Events outside a session span reach the other layers only.
//!
//! # Secrets
//!
//! API keys live in [`Secret`], which cannot be serialized; endpoints are stored through
//! [`redact_url`]. Text from outside (error bodies, answers, log lines) passes a [`Redactor`]
//! that knows the configured secret values before it is traced or shown.
//!
//! [JSON Lines]: https://jsonlines.org

mod event;
mod layer;
mod model;
mod reader;
mod record;
mod secret;
mod summary;

pub use event::*;
pub use layer::{
    Clock, JsonlLayer, RunDirSink, SESSION_SPAN_NAME, SessionSink, TRACE_TARGET, WriteErrors, emit,
    session_span, with_emitted_event,
};
pub use model::{ModelRef, ModelRefError, Provider};
pub use reader::{
    LineProblem, LineProblemKind, NumberedRecord, TraceFile, TraceReader, check_session_rules,
    collect_trace_files, parse_line,
};
pub use record::{
    FORMAT_VERSION, InvalidSessionId, SessionId, TraceRecord, format_timestamp, parse_timestamp,
};
pub use secret::{Redactor, Secret, redact_header, redact_url};
pub use summary::{AttemptLine, FailedCheck, SessionSummary};

/// The JSON Schema of one trace line, as committed in `data/trace-schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(TraceRecord)).unwrap_or(serde_json::Value::Null)
}

/// Hex SHA-256 of bytes: the hash used for code, requests and compile inputs across the trace.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
