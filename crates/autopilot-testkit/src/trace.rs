//! The trace writer of the tests: sessions written through the real JSONL layer (from events,
//! or by running a future under it), sample events and a fixed clock.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use autopilot_trace::{
    AttemptFinished, AttemptOutcome, Clock, Event, JsonlLayer, RunDirSink, SamplingParams,
    SessionFinished, SessionId, SessionOutcome, SessionStarted, SessionTotals, Stage, TraceOrigin,
    emit, session_span,
};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

/// Writes `events` as the session `<run_dir>/sessions/<id>.jsonl` through the real layer and
/// returns the file's path.
pub fn write_events(run_dir: &Path, id: &str, events: &[Event]) -> PathBuf {
    let id = SessionId::new(id).unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(run_dir));
    let errors = layer.errors();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = session_span(&id);
        let _entered = span.enter();
        for event in events {
            emit(event);
        }
    });
    assert_eq!(errors.snapshot(), Vec::<String>::new(), "the layer failed");
    RunDirSink::session_path(run_dir, &id)
}

/// Runs `future` with the real JSONL layer writing sessions into `run_dir` (the future opens its
/// session span, or is instrumented with one), and asserts the layer reported no error.
pub async fn capture<F: Future>(run_dir: &Path, future: F) -> F::Output {
    let layer = JsonlLayer::new(RunDirSink::new(run_dir));
    let errors = layer.errors();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let output = future.with_subscriber(dispatch).await;
    assert_eq!(errors.snapshot(), Vec::<String>::new(), "the layer failed");
    output
}

/// Writes a small finished session (a failed compile, then success at attempt 2) into
/// `<run_dir>/sessions/<id>.jsonl`.
pub fn write_session(run_dir: &Path, id: &str) -> PathBuf {
    write_events(
        run_dir,
        id,
        &[
            session_started(None, TraceOrigin::Native),
            attempt_finished(1, "'foo' was not declared in this scope"),
            Event::SessionFinished(SessionFinished {
                outcome: SessionOutcome::Success { attempt: 2 },
                totals: SessionTotals::default(),
            }),
        ],
    )
}

/// A `session_started` of the uno demo answered by `replay:demo`.
pub fn session_started(app_path: Option<&str>, origin: TraceOrigin) -> Event {
    Event::SessionStarted(SessionStarted {
        app_path: app_path.map(Into::into),
        ..sample_started(origin)
    })
}

/// The fields of [`session_started`], for tests that change a few with struct update syntax
/// (`SessionStarted { model: "m".into(), ..sample_started(origin) }`).
pub fn sample_started(origin: TraceOrigin) -> SessionStarted {
    SessionStarted {
        app: "color_classifier".into(),
        app_path: None,
        target: "uno".into(),
        fqbn: Some("arduino:avr:uno".into()),
        provider: "replay".into(),
        model: "demo".into(),
        endpoint: None,
        prompt_variant: "default".into(),
        sampling: SamplingParams::default(),
        seed: None,
        tool_versions: vec![],
        autopilot_version: "0.1.0".into(),
        batch: None,
        origin,
    }
}

/// A sketch attempt that failed to compile with `message`.
pub fn attempt_finished(attempt: u32, message: &str) -> Event {
    Event::AttemptFinished(AttemptFinished {
        stage: Stage::Sketch,
        attempt,
        outcome: AttemptOutcome::CompileFailed,
        message: message.into(),
    })
}

/// A clock that starts at 2026-11-21T00:00:00Z and advances 1 ms per reading.
pub fn stepping_clock() -> Clock {
    let start: jiff::Timestamp = "2026-11-21T00:00:00Z".parse().unwrap();
    let ticks = Arc::new(AtomicI64::new(0));
    Arc::new(move || {
        start + jiff::SignedDuration::from_millis(ticks.fetch_add(1, Ordering::SeqCst))
    })
}
