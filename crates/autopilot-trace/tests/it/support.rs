//! Helpers shared by the trace tests: sample events, and the fixed clock of `autopilot-testkit`.

use autopilot_trace::{
    AttemptFinished, AttemptOutcome, Event, SamplingParams, SessionFinished, SessionOutcome,
    SessionStarted, SessionTotals, Stage, TraceOrigin,
};

pub use autopilot_testkit::trace::stepping_clock;

pub fn started(app: &str) -> Event {
    Event::SessionStarted(SessionStarted {
        app: app.to_owned(),
        sampling: SamplingParams {
            temperature: Some(0.1),
            ..SamplingParams::default()
        },
        seed: Some(7),
        ..autopilot_testkit::trace::sample_started(TraceOrigin::Native)
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
