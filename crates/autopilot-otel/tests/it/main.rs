//! Integration tests of autopilot-otel: the mapping on a real demo trace, and the exporter
//! against loopback collectors that are down, hang or reflect what they receive.

mod export;
mod map;

use autopilot_trace::{TraceFile, TraceRecord};

/// The records of the committed demo session.
pub fn demo_records() -> Vec<TraceRecord> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo-color_uno.jsonl"
    );
    let file = TraceFile::read(std::path::Path::new(path)).unwrap();
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    file.records.into_iter().map(|r| r.record).collect()
}
