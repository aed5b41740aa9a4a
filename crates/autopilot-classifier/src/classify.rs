//! Default mode: one failure record per piece of failure evidence in a session (every error
//! diagnostic of every failed compile, every failed check, every LLM call that failed for
//! good, every failed simulation; an attempt that failed without any of these), each labelled
//! by the taxonomy; and one verdict per session.
//!
//! Bookkeeping is not counted: legacy end-of-session markers and copies of the last error
//! never become events (the importer turns them into the session outcome), `skip` rules drop
//! summary lines, and wrapper lines (`In function …`, `Exception caught …`) are context of the
//! diagnostic or check they wrap, not failures of their own.

use std::collections::HashMap;
use std::sync::Arc;

use autopilot_trace::{
    AttemptOutcome, CompileStatus, Event, LlmCallResult, SessionOutcome, Severity,
    SimulationStatus, Stage, TraceOrigin,
};
use serde::Serialize;

use crate::taxonomy::{FailureSource, FailureStage, Label, Taxonomy};

/// Who and what a session was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub session: String,
    pub model: String,
    pub provider: String,
    pub target: String,
    pub prompt_variant: String,
    pub app: String,
    /// The trace file or legacy log it was read from.
    pub source: String,
}

/// One classified failure.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRecord {
    pub session: Arc<SessionInfo>,
    pub source: FailureSource,
    /// The attempt of the phase it belongs to (spec tries and sketch attempts count apart).
    pub attempt: u32,
    /// 0-based index of the diagnostic within its compile (0 for other sources).
    pub index: u32,
    pub label: Arc<Label>,
    pub message: String,
}

/// The wire form of a [`FailureRecord`]: one line of `autopilot classify --format jsonl`.
#[derive(Debug, Serialize)]
struct FailureLine<'a> {
    session: &'a str,
    model: &'a str,
    provider: &'a str,
    target: &'a str,
    prompt_variant: &'a str,
    app: &'a str,
    input: &'a str,
    source: FailureSource,
    stage: FailureStage,
    attempt: u32,
    index: u32,
    group: &'a str,
    category: &'a str,
    category_id: &'a str,
    symptom: &'a str,
    root_cause: &'a str,
    rule: &'a str,
    message: &'a str,
}

impl Serialize for FailureRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let info = &self.session;
        let label = &self.label;
        FailureLine {
            session: &info.session,
            model: &info.model,
            provider: &info.provider,
            target: &info.target,
            prompt_variant: &info.prompt_variant,
            app: &info.app,
            input: &info.source,
            source: self.source,
            stage: label.stage,
            attempt: self.attempt,
            index: self.index,
            group: &label.group,
            category: &label.category,
            category_id: &label.category_id,
            symptom: &label.symptom,
            root_cause: &label.root_cause,
            rule: &label.rule,
            message: &self.message,
        }
        .serialize(serializer)
    }
}

/// How a session ended, and which failure it ended on.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionVerdict {
    pub session: Arc<SessionInfo>,
    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, or `unfinished`.
    pub outcome: &'static str,
    /// Failure records of the session.
    pub failures: u32,
    /// The label of the first failure of the last failed attempt (none for a session that
    /// succeeded or had no failure).
    pub final_failure: Option<Arc<Label>>,
}

/// A classified session.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedSession {
    pub verdict: SessionVerdict,
    pub records: Vec<FailureRecord>,
    /// Trace lines that could not be read (reported, not classified).
    pub unreadable_lines: usize,
}

/// Spec tries and sketch attempts are numbered apart.
fn phase(stage: Stage) -> u8 {
    match stage {
        Stage::Spec => 0,
        Stage::Outline | Stage::Design => 1,
        _ => 2,
    }
}

fn check_stage(stage: Stage) -> FailureStage {
    match stage {
        Stage::Spec | Stage::Outline | Stage::Design => FailureStage::SpecFill,
        Stage::Extract | Stage::Sketch => FailureStage::Extract,
        Stage::Check | Stage::Library => FailureStage::Precheck,
        Stage::Compile => FailureStage::Compile,
        Stage::Size => FailureStage::Size,
        Stage::Simulate => FailureStage::Simulate,
    }
}

fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Labels already decided, per source and message: compile errors repeat a lot (the corpus's
/// 10,022 failures have about 2,000 distinct messages). Bounded; cleared when full.
#[derive(Debug, Default)]
pub(crate) struct LabelCache {
    by_source: [HashMap<Box<str>, Option<Arc<Label>>>; FailureSource::ALL.len()],
}

impl LabelCache {
    const CAPACITY: usize = 8192;

    fn label(
        &mut self,
        taxonomy: &Taxonomy,
        source: FailureSource,
        subject: &str,
    ) -> Option<Arc<Label>> {
        let map = &mut self.by_source[source as usize];
        if let Some(label) = map.get(subject) {
            return label.clone();
        }
        let label = taxonomy.classify(source, subject).cloned();
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(subject.into(), label.clone());
        label
    }
}

struct Classifier<'t, 'c> {
    taxonomy: &'t Taxonomy,
    cache: &'c mut LabelCache,
    info: Arc<SessionInfo>,
    records: Vec<FailureRecord>,
    /// (phase, attempt) pairs that have failure records.
    evidenced: Vec<(u8, u32)>,
    /// Index into `records` of the first record of the latest failed attempt.
    last_failed_attempt: Option<usize>,
}

impl Classifier<'_, '_> {
    /// Labels `subject` and records the failure; `stage` overrides the fallback stage of an
    /// unmatched message.
    fn push(
        &mut self,
        source: FailureSource,
        phase_attempt: (u8, u32),
        index: u32,
        subject: &str,
        message: &str,
        fallback_stage: Option<FailureStage>,
    ) {
        let label = match self.cache.label(self.taxonomy, source, subject) {
            None => return,
            Some(label) if label.is_uncategorized() => match fallback_stage {
                Some(stage) => self.taxonomy.uncategorized(stage),
                None => label,
            },
            Some(label) => label,
        };
        if !self.evidenced.contains(&phase_attempt) {
            self.evidenced.push(phase_attempt);
            self.last_failed_attempt = Some(self.records.len());
        }
        self.records.push(FailureRecord {
            session: Arc::clone(&self.info),
            source,
            attempt: phase_attempt.1,
            index,
            label,
            message: message.to_owned(),
        });
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::CompileFinished(compile) if compile.status != CompileStatus::Succeeded => {
                let at = (2, compile.attempt);
                let mut index = 0;
                for diagnostic in &compile.diagnostics {
                    if !matches!(diagnostic.severity, Severity::Error | Severity::Fatal) {
                        continue;
                    }
                    self.push(
                        FailureSource::Diagnostic,
                        at,
                        index,
                        &diagnostic.message,
                        &diagnostic.message,
                        None,
                    );
                    index += 1;
                }
                if index == 0 {
                    let status = wire_name(&compile.status);
                    let detail = compile.detail.as_deref().unwrap_or("");
                    let subject = format!("{status}: {detail}");
                    self.push(FailureSource::Compile, at, 0, &subject, &subject, None);
                }
            }
            Event::CheckVerdict(check) if !check.passed => {
                let subject = format!("{}: {}", check.check, check.message);
                self.push(
                    FailureSource::Check,
                    (phase(check.stage), check.attempt),
                    0,
                    &subject,
                    &check.message,
                    Some(check_stage(check.stage)),
                );
            }
            Event::LlmCall(call) => {
                if let LlmCallResult::Failed(failure) = &call.result
                    && call.retry_in_ms.is_none()
                {
                    let subject = format!("{}: {}", wire_name(&failure.kind), failure.message);
                    self.push(
                        FailureSource::Llm,
                        (phase(call.stage), call.attempt),
                        0,
                        &subject,
                        &failure.message,
                        None,
                    );
                }
            }
            Event::SimulationFinished(sim)
                if !matches!(sim.status, SimulationStatus::Predicted) =>
            {
                let serial = sim.serial.last().map_or("", String::as_str);
                let subject = format!("{}: {serial}", wire_name(&sim.status));
                self.push(
                    FailureSource::Simulation,
                    (2, sim.attempt),
                    0,
                    &subject,
                    &subject,
                    None,
                );
            }
            Event::AttemptFinished(attempt) if attempt.outcome != AttemptOutcome::Succeeded => {
                let at = (phase(attempt.stage), attempt.attempt);
                if !self.evidenced.contains(&at) {
                    let subject = format!("{}: {}", wire_name(&attempt.outcome), attempt.message);
                    let stage = match attempt.outcome {
                        AttemptOutcome::SpecInvalid => Some(FailureStage::SpecFill),
                        AttemptOutcome::ExtractionFailed => Some(FailureStage::Extract),
                        AttemptOutcome::PrecheckFailed | AttemptOutcome::IdenticalCode => {
                            Some(FailureStage::Precheck)
                        }
                        AttemptOutcome::SizeExceeded => Some(FailureStage::Size),
                        AttemptOutcome::SimulationFailed => Some(FailureStage::Simulate),
                        AttemptOutcome::LlmFailed => Some(FailureStage::Backend),
                        _ => None,
                    };
                    self.push(
                        FailureSource::Attempt,
                        at,
                        0,
                        &subject,
                        &attempt.message,
                        stage,
                    );
                }
            }
            _ => {}
        }
    }
}

/// Reads the session's identity from its `session_started` event.
pub fn session_info<'e>(events: impl IntoIterator<Item = &'e Event>, source: &str) -> SessionInfo {
    let mut info = SessionInfo {
        source: source.to_owned(),
        ..SessionInfo::default()
    };
    if let Some(Event::SessionStarted(started)) = events.into_iter().next() {
        info.model.clone_from(&started.model);
        info.provider.clone_from(&started.provider);
        info.target.clone_from(&started.target);
        info.prompt_variant.clone_from(&started.prompt_variant);
        info.app.clone_from(&started.app);
        if let TraceOrigin::LegacyImport { file, .. } = &started.origin {
            info.source.clone_from(file);
        }
    }
    info
}

/// Classifies one session's events (in trace order).
pub fn classify_events<'e>(
    taxonomy: &Taxonomy,
    session: &str,
    source: &str,
    events: impl IntoIterator<Item = &'e Event> + Clone,
) -> ClassifiedSession {
    classify_events_cached(
        taxonomy,
        &mut LabelCache::default(),
        session,
        source,
        events,
    )
}

/// [`classify_events`] with labels remembered across the sessions of one input.
pub(crate) fn classify_events_cached<'e>(
    taxonomy: &Taxonomy,
    cache: &mut LabelCache,
    session: &str,
    source: &str,
    events: impl IntoIterator<Item = &'e Event> + Clone,
) -> ClassifiedSession {
    let mut info = session_info(events.clone(), source);
    session.clone_into(&mut info.session);
    let mut classifier = Classifier {
        taxonomy,
        cache,
        info: Arc::new(info),
        records: Vec::new(),
        evidenced: Vec::new(),
        last_failed_attempt: None,
    };
    let mut outcome = "unfinished";
    for event in events {
        if let Event::SessionFinished(finished) = event {
            outcome = finished.outcome.as_str();
            if let SessionOutcome::Success { .. } = finished.outcome {
                classifier.last_failed_attempt = None;
            }
        }
        classifier.event(event);
    }
    let final_failure = classifier
        .last_failed_attempt
        .filter(|_| outcome != "success")
        .map(|i| Arc::clone(&classifier.records[i].label));
    ClassifiedSession {
        verdict: SessionVerdict {
            session: Arc::clone(&classifier.info),
            outcome,
            failures: u32::try_from(classifier.records.len()).unwrap_or(u32::MAX),
            final_failure,
        },
        records: classifier.records,
        unreadable_lines: 0,
    }
}
