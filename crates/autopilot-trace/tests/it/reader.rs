//! The reader returns every complete event of a damaged file and names the bad lines.

use std::io::Write;

use autopilot_trace::{
    JsonlLayer, LineProblemKind, RunDirSink, SessionId, TraceFile, emit, session_span,
};
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{attempt, started, stepping_clock};

fn write_session(dir: &std::path::Path, id: &SessionId, attempts: u32) -> std::path::PathBuf {
    let layer = JsonlLayer::new(RunDirSink::new(dir)).with_clock(stepping_clock());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = session_span(id);
        let _entered = span.enter();
        emit(&started("cut"));
        for n in 1..=attempts {
            emit(&attempt(n));
        }
    });
    RunDirSink::session_path(dir, id)
}

#[test]
fn a_file_cut_mid_line_returns_every_complete_event_and_names_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId::new("cut").unwrap();
    let path = write_session(dir.path(), &id, 9);
    let bytes = fs_err::read(&path).unwrap();
    // Cut in the middle of the last (10th) line, as a killed writer would leave it.
    let last_line_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    let cut = last_line_start + (bytes.len() - last_line_start) / 2;
    fs_err::write(&path, &bytes[..cut]).unwrap();

    let file = TraceFile::read(&path).unwrap();
    assert_eq!(file.records.len(), 9);
    assert_eq!(file.problems.len(), 1);
    assert_eq!(file.problems[0].line, 10);
    assert_eq!(file.problems[0].kind, LineProblemKind::Truncated);
}

#[test]
fn a_corrupt_line_in_the_middle_is_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId::new("corrupt").unwrap();
    let path = write_session(dir.path(), &id, 5);
    let text = fs_err::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"v\":1,\"session\":\"corrupt\",\"seq\":2, garbage";
    let mut out = fs_err::File::create(&path).unwrap();
    for line in &lines {
        writeln!(out, "{line}").unwrap();
    }
    drop(out);

    let file = TraceFile::read(&path).unwrap();
    assert_eq!(file.records.len(), 5);
    let problems = file.validate();
    // The corrupt line itself, then the sequence gap it leaves.
    assert_eq!(problems[0].line, 3);
    assert_eq!(problems[0].kind, LineProblemKind::Invalid);
    assert!(
        problems
            .iter()
            .any(|p| p.line == 4 && p.message.contains("sequence number 3 where 2")),
        "{problems:?}"
    );
}

/// Token totals nobody reported are absent, not 0; files that hold numbers (every file written
/// before they became optional) still read.
#[test]
fn unknown_token_totals_are_absent_and_old_numbers_still_read() {
    use autopilot_trace::{Event, SessionOutcome, SessionTotals};
    let unknown = Event::SessionFinished(autopilot_trace::SessionFinished {
        outcome: SessionOutcome::Exhausted {
            stage: autopilot_trace::Stage::Sketch,
        },
        totals: SessionTotals {
            llm_calls: 3,
            ..SessionTotals::default()
        },
    });
    let json = serde_json::to_string(&unknown).unwrap();
    assert!(!json.contains("tokens"), "{json}");
    let old = r#"{"type":"session_finished","outcome":{"status":"exhausted","stage":"sketch"},"totals":{"attempts":5,"llm_calls":6,"input_tokens":120,"output_tokens":0,"wall_ms":10}}"#;
    let Event::SessionFinished(old) = serde_json::from_str::<Event>(old).unwrap() else {
        panic!()
    };
    assert_eq!(
        (old.totals.input_tokens, old.totals.output_tokens),
        (Some(120), Some(0))
    );
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, unknown);
}
