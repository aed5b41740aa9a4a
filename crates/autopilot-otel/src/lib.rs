//! Session traces as OpenTelemetry spans: maps a session's typed trace events to one trace
//! (session → stage → attempt → LLM call / compile / simulation) with the GenAI semantic
//! conventions' names, and exports it over OTLP/HTTP protobuf, after the fact or live.
//!
//! [`map_session`] is pure (timestamps come from the trace, never from export time);
//! [`Exporter`] sends mapped sessions from one background thread behind a bounded queue, so
//! a collector that is slow or down never slows or fails a session: what cannot be sent is
//! counted in the [`ExportReport`]. [`ExportingSink`] feeds it live from the bytes the JSONL
//! layer writes. Prompts and answers are exported only with [`MapOptions::content`]; header
//! values (API keys) never reach a span, a report or an error.

mod export;
mod map;
pub mod names;
mod sink;

pub use export::{
    ExportConfig, ExportHandle, ExportReport, Exporter, OtelError, parse_headers, span_data,
    traces_url,
};
pub use map::{
    Attributes, Kind, MapOptions, MappedSpan, MappedTrace, SpanEvent, Status, Value, map_session,
};
pub use sink::ExportingSink;
