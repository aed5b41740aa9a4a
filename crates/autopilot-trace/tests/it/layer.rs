//! The JSONL layer routes events of concurrent sessions to their own files.

use std::thread;

use autopilot_trace::{Event, JsonlLayer, RunDirSink, SessionId, TraceFile, emit, session_span};
use tracing::Instrument;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{attempt, finished, started, stepping_clock};

const EVENTS_PER_SESSION: u32 = 200;

fn run_session(id: &SessionId) {
    let span = session_span(id);
    let _entered = span.enter();
    emit(&started(id.as_str()));
    for n in 1..=EVENTS_PER_SESSION {
        emit(&attempt(n));
        // Events outside the trace target never reach the file.
        tracing::info!(n, "console only");
        if n % 50 == 0 {
            thread::yield_now();
        }
    }
    emit(&finished());
}

fn assert_valid_session(dir: &std::path::Path, id: &SessionId) {
    let path = RunDirSink::session_path(dir, id);
    let file = TraceFile::read(&path).unwrap();
    assert_eq!(file.validate(), vec![], "{}", path.display());
    assert_eq!(file.records.len(), EVENTS_PER_SESSION as usize + 2);
    for (i, numbered) in file.records.iter().enumerate() {
        assert_eq!(numbered.record.seq, i as u64, "gap in {}", path.display());
        assert_eq!(&numbered.record.session, id);
    }
    // The attempts come back in emission order, each with its own payload.
    let attempts: Vec<u32> = file
        .events()
        .filter_map(|e| match e {
            Event::AttemptFinished(a) => Some(a.attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, (1..=EVENTS_PER_SESSION).collect::<Vec<_>>());
    match file.events().next() {
        Some(Event::SessionStarted(s)) => assert_eq!(s.app, id.as_str()),
        other => panic!("first event {other:?}"),
    }
}

#[test]
fn three_concurrent_threads_write_three_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(dir.path())).with_clock(stepping_clock());
    let errors = layer.errors();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let ids: Vec<SessionId> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|s| SessionId::new(*s).unwrap())
        .collect();
    thread::scope(|scope| {
        for id in &ids {
            let dispatch = dispatch.clone();
            scope.spawn(move || tracing::dispatcher::with_default(&dispatch, || run_session(id)));
        }
    });
    assert_eq!(errors.snapshot(), Vec::<String>::new());
    for id in &ids {
        assert_valid_session(dir.path(), id);
    }
    let files = autopilot_trace::collect_trace_files(dir.path()).unwrap();
    assert_eq!(files.len(), 3);
}

#[test]
fn sessions_follow_their_tasks_across_runtime_threads() {
    let dir = tempfile::tempdir().unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(dir.path())).with_clock(stepping_clock());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ids: Vec<SessionId> = (0..3)
        .map(|i| SessionId::new(format!("task-{i}")).unwrap())
        .collect();
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let mut handles = Vec::new();
            for id in ids.clone() {
                let span = session_span(&id);
                handles.push(tokio::spawn(
                    async move {
                        emit(&started(id.as_str()));
                        for n in 1..=EVENTS_PER_SESSION {
                            emit(&attempt(n));
                            if n % 20 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                        emit(&finished());
                    }
                    .instrument(span)
                    .with_subscriber(dispatch.clone()),
                ));
            }
            for handle in handles {
                handle.await.unwrap();
            }
        });
    });
    for id in &ids {
        assert_valid_session(dir.path(), id);
    }
}

#[test]
fn an_existing_session_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId::new("kept").unwrap();
    let path = RunDirSink::session_path(dir.path(), &id);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, "precious\n").unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(dir.path()));
    let errors = layer.errors();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || run_session(&id));
    assert_eq!(fs_err::read_to_string(&path).unwrap(), "precious\n");
    let errors = errors.snapshot();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("kept"), "{errors:?}");
}

#[test]
fn lines_carry_version_and_millisecond_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let layer = JsonlLayer::new(RunDirSink::new(dir.path())).with_clock(stepping_clock());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let id = SessionId::new("one").unwrap();
    tracing::dispatcher::with_default(&dispatch, || run_session(&id));
    let text = fs_err::read_to_string(RunDirSink::session_path(dir.path(), &id)).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"v":1,"session":"one","seq":0,"ts":"2026-11-21T00:00:00.000Z","event":{"type":"session_started""#),
        "{first}"
    );
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.contains(r#""ts":"2026-11-21T00:00:00.001Z""#),
        "{second}"
    );
}

/// A layer that keeps the typed events it is shown by `with_emitted_event`.
struct Typed(std::sync::Arc<std::sync::Mutex<Vec<Option<Event>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Typed {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == autopilot_trace::TRACE_TARGET {
            let typed = autopilot_trace::with_emitted_event(Clone::clone);
            self.0.lock().unwrap().push(typed);
        }
    }
}

/// Layers read the event `emit` dispatches typed; a hand-made event of the trace target has
/// none, and none is left behind after `emit` returns.
#[test]
fn layers_read_emitted_events_typed() {
    let seen = std::sync::Arc::default();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(Typed(std::sync::Arc::clone(&seen))),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        emit(&started("typed"));
        emit(&finished());
        tracing::info!(target: "autopilot::trace", trace_event = "{}", "by hand");
    });
    assert_eq!(autopilot_trace::with_emitted_event(|_| ()), None);
    let seen = seen.lock().unwrap();
    assert_eq!(*seen, [Some(started("typed")), Some(finished()), None]);
}
