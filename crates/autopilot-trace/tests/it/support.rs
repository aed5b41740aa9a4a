//! Helpers shared by the trace tests: a fixed clock and sample events.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use autopilot_trace::{
    AttemptFinished, AttemptOutcome, Clock, Event, SamplingParams, SessionFinished, SessionOutcome,
    SessionStarted, SessionTotals, Stage, TraceOrigin,
};

/// A clock that starts at a fixed instant and advances 1 ms per reading.
pub fn stepping_clock() -> Clock {
    let start: jiff::Timestamp = "2026-11-21T00:00:00Z".parse().unwrap();
    let ticks = Arc::new(AtomicI64::new(0));
    Arc::new(move || {
        start + jiff::SignedDuration::from_millis(ticks.fetch_add(1, Ordering::SeqCst))
    })
}

pub fn started(app: &str) -> Event {
    Event::SessionStarted(SessionStarted {
        app: app.to_owned(),
        app_path: None,
        target: "uno".to_owned(),
        fqbn: Some("arduino:avr:uno".to_owned()),
        provider: "replay".to_owned(),
        model: "demo".to_owned(),
        endpoint: None,
        prompt_variant: "default".to_owned(),
        sampling: SamplingParams {
            temperature: Some(0.1),
            ..SamplingParams::default()
        },
        seed: Some(7),
        tool_versions: vec![],
        autopilot_version: "0.1.0".to_owned(),
        batch: None,
        origin: TraceOrigin::Native,
    })
}

pub fn attempt(n: u32) -> Event {
    Event::AttemptFinished(AttemptFinished {
        stage: Stage::Sketch,
        attempt: n,
        outcome: AttemptOutcome::CompileFailed,
        message: format!("attempt {n}"),
    })
}

pub fn finished() -> Event {
    Event::SessionFinished(SessionFinished {
        outcome: SessionOutcome::Exhausted {
            stage: Stage::Sketch,
        },
        totals: SessionTotals::default(),
    })
}
