//! Default mode: one failure record per piece of failure evidence in a session (every error
//! diagnostic of every failed compile, every failed check, every LLM call that failed for
//! good, every failed simulation; an attempt that failed without any of these), each labelled
//! by the taxonomy; and one verdict per session.
//!
//! Bookkeeping is not counted: legacy end-of-session markers and copies of the last error
//! never become events (the importer turns them into the session outcome), `skip` rules drop
//! summary lines, and wrapper lines (`In function …`, `Exception caught …`) are context of the
//! diagnostic or check they wrap, not failures of their own.

use foldhash::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use autopilot_trace::{
    AttemptOutcome, CompileStatus, Diagnostic, Event, LlmCallResult, SessionOutcome, Severity,
    SimulationStatus, Stage, TraceOrigin,
};
use serde::Serialize;

use crate::cascade::{CascadeLinker, DiagnosticView, quoted_identifiers};
use crate::keyed::{Hashed, TextMap};
use crate::taxonomy::{Evidence, FailureSource, FailureStage, Label, Taxonomy};

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
    /// The evidence around a diagnostic (empty for other sources).
    pub evidence: RecordEvidence,
}

/// What a diagnostic record carries besides its message: what GCC printed around it, where it
/// sits in its compile, and its link to the root defect it follows from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordEvidence {
    /// The source line GCC echoed (legacy logs and traces both carry it when GCC printed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
    /// GCC's notes on the diagnostic (`previous declaration as …`, `suggested alternative`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The identifiers the message quotes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
    /// Error diagnostics of its compile (its position is `index` of `errors`).
    pub errors: u32,
    /// The record's id among the diagnostics of its attempt (a legacy library-install compile
    /// and its retry count as one).
    pub id: u32,
    /// The id of the root defect this record is a cascade of (none for a root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<u32>,
    /// Why it was linked: `same_message`, `same_line` or `failed_declaration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<&'static str>,
}

impl FailureRecord {
    /// A root defect (not a cascade of an earlier diagnostic).
    pub fn is_root(&self) -> bool {
        self.evidence.root.is_none()
    }
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
    #[serde(flatten)]
    evidence: &'a RecordEvidence,
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
            evidence: &self.evidence,
        }
        .serialize(serializer)
    }
}

/// Writes records as `autopilot classify --format jsonl` lines: the same bytes as their
/// `Serialize` ([`FailureLine`]), with the session's fields escaped once for all the records
/// of a session rather than once per record (escaping was a seventh of a jsonl run).
pub fn write_jsonl_records<'r>(
    records: impl IntoIterator<Item = &'r FailureRecord>,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    fn field(out: &mut Vec<u8>, key: &str, value: &str) -> serde_json::Result<()> {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut *out, value)
    }
    fn fields(out: &mut Vec<u8>, pairs: &[(&str, &str)]) -> serde_json::Result<()> {
        pairs
            .iter()
            .try_for_each(|(key, value)| field(out, key, value))
    }
    let mut head = Vec::new();
    let mut head_of: Option<&Arc<SessionInfo>> = None;
    // The label's fields escaped once per distinct label of the call (a session's records
    // share a few labels, and there are no more than the taxonomy has): `fragments[range]`
    // for each label seen.
    let mut fragments = Vec::new();
    let mut labels: Vec<(&Arc<Label>, std::ops::Range<usize>)> = Vec::new();
    for record in records {
        if !head_of.is_some_and(|info| Arc::ptr_eq(info, &record.session)) {
            let info = &record.session;
            head.clear();
            head.extend_from_slice(b"{\"session\":");
            serde_json::to_writer(&mut head, &info.session)?;
            fields(
                &mut head,
                &[
                    ("model", &info.model),
                    ("provider", &info.provider),
                    ("target", &info.target),
                    ("prompt_variant", &info.prompt_variant),
                    ("app", &info.app),
                    ("input", &info.source),
                ],
            )?;
            head_of = Some(&record.session);
        }
        out.extend_from_slice(&head);
        let label = &record.label;
        field(out, "source", record.source.as_str())?;
        field(out, "stage", label.stage.as_str())?;
        write!(
            out,
            ",\"attempt\":{},\"index\":{}",
            record.attempt, record.index
        )
        .map_err(serde_json::Error::io)?;
        let seen = labels.iter().find(|(seen, _)| Arc::ptr_eq(seen, label));
        let range = if let Some((_, range)) = seen {
            range.clone()
        } else {
            let start = fragments.len();
            fields(
                &mut fragments,
                &[
                    ("group", &label.group),
                    ("category", &label.category),
                    ("category_id", &label.category_id),
                    ("symptom", &label.symptom),
                    ("root_cause", &label.root_cause),
                    ("rule", &label.rule),
                ],
            )?;
            labels.push((label, start..fragments.len()));
            start..fragments.len()
        };
        out.extend_from_slice(&fragments[range]);
        field(out, "message", &record.message)?;
        let evidence = &record.evidence;
        if let Some(line) = &evidence.source_line {
            field(out, "source_line", line)?;
        }
        if !evidence.notes.is_empty() {
            out.extend_from_slice(b",\"notes\":");
            serde_json::to_writer(&mut *out, &evidence.notes)?;
        }
        if !evidence.identifiers.is_empty() {
            out.extend_from_slice(b",\"identifiers\":");
            serde_json::to_writer(&mut *out, &evidence.identifiers)?;
        }
        write!(
            out,
            ",\"errors\":{},\"id\":{}",
            evidence.errors, evidence.id
        )
        .map_err(serde_json::Error::io)?;
        if let Some(root) = evidence.root {
            write!(out, ",\"root\":{root}").map_err(serde_json::Error::io)?;
        }
        if let Some(link) = evidence.link {
            field(out, "link", link)?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

/// How a session ended, and which failure it ended on.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionVerdict {
    pub session: Arc<SessionInfo>,
    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, `truncated` (a legacy log
    /// that stops inside the session) or `unfinished` (a trace without `session_finished`).
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
        // The lifecycle stages' code answers: extraction is where their checks start.
        Stage::Extract
        | Stage::Sketch
        | Stage::Operations
        | Stage::Operation
        | Stage::Conversion => FailureStage::Extract,
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
    /// Per source, message → what its label depends on and, when that is the message alone,
    /// the label: one lookup for most records (hashing long messages is a good part of the
    /// cost).
    by_source: [TextMap<Decided>; FailureSource::ALL.len()],
    /// Per source, the labels of messages whose rules read the evidence, keyed by the message
    /// and the evidence read (line, notes or both).
    by_evidence: [HashMap<Box<str>, Option<Arc<Label>>>; FailureSource::ALL.len()],
    /// The taxonomy has rules on the source line or notes.
    evidence: bool,
    /// The cascade linker, reset for every attempt: kept here so its maps keep their capacity
    /// from one attempt and session to the next (growing them afresh was a thirtieth of the
    /// default mode's instructions).
    linker: CascadeLinker,
}

/// What is known of one message.
#[derive(Debug)]
struct Decided {
    /// Whether its label depends on the (source line, notes).
    needs: (bool, bool),
    /// Its label, when it depends on the message alone.
    label: Option<Arc<Label>>,
}

impl LabelCache {
    const CAPACITY: usize = 8192;

    pub(crate) fn new(taxonomy: &Taxonomy) -> Self {
        LabelCache {
            evidence: taxonomy.uses_evidence(),
            ..LabelCache::default()
        }
    }

    fn label(
        &mut self,
        taxonomy: &Taxonomy,
        source: FailureSource,
        key: Hashed<'_>,
        evidence: &Evidence<'_>,
    ) -> Option<Arc<Label>> {
        let subject = key.text();
        let map = &mut self.by_source[source as usize];
        let needed = if let Some(decided) = map.get(key) {
            if decided.needs == (false, false) {
                return decided.label.clone();
            }
            decided.needs
        } else {
            let needed = if self.evidence {
                taxonomy.evidence_needed(source, subject)
            } else {
                (false, false)
            };
            // Most messages need no evidence: their label is cached with them.
            let label = (needed == (false, false))
                .then(|| {
                    taxonomy
                        .classify_evidence(source, subject, evidence)
                        .cloned()
                })
                .flatten();
            if map.len() >= Self::CAPACITY {
                map.clear();
            }
            map.insert(
                key,
                Decided {
                    needs: needed,
                    label: label.clone(),
                },
            );
            if needed == (false, false) {
                return label;
            }
            needed
        };
        // The others are keyed by the message and the evidence their rules read.
        let mut key = String::with_capacity(subject.len() + 80);
        key.push_str(subject);
        let line = evidence.source_line.filter(|_| needed.0);
        let notes = evidence.notes.iter().filter(|_| needed.1);
        for part in line.into_iter().chain(notes.map(String::as_str)) {
            key.push('\u{1}');
            key.push_str(part);
        }
        let map = &mut self.by_evidence[source as usize];
        if let Some(label) = map.get(key.as_str()) {
            return label.clone();
        }
        let label = taxonomy
            .classify_evidence(source, subject, evidence)
            .cloned();
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(key.into(), label.clone());
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
    /// The (phase, attempt) whose diagnostics `cache.linker` links now.
    linking: Option<(u8, u32)>,
}

impl Classifier<'_, '_> {
    /// Labels `subject` and records the failure; `stage` overrides the fallback stage of an
    /// unmatched message.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per evidence source"
    )]
    fn push(
        &mut self,
        source: FailureSource,
        phase_attempt: (u8, u32),
        index: u32,
        subject: Hashed<'_>,
        message: &str,
        fallback_stage: Option<FailureStage>,
        evidence: RecordEvidence,
    ) {
        let view = Evidence {
            source_line: evidence.source_line.as_deref(),
            notes: &evidence.notes,
        };
        let label = match self.cache.label(self.taxonomy, source, subject, &view) {
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
            evidence,
        });
    }

    /// The evidence of one error diagnostic, linked to its root within the attempt.
    fn diagnostic_evidence(
        &mut self,
        at: (u8, u32),
        diagnostic: &Diagnostic,
        message: Hashed<'_>,
    ) -> RecordEvidence {
        if self.linking != Some(at) {
            self.linking = Some(at);
            self.cache.linker.reset();
        }
        let source_line = diagnostic.source_line.as_deref();
        let names = quoted_identifiers(&diagnostic.message);
        let (id, link) = self.cache.linker.link_named(
            &DiagnosticView {
                message: &diagnostic.message,
                file: diagnostic.file.as_deref(),
                line: diagnostic.line,
                source_line,
            },
            &names,
            message,
        );
        RecordEvidence {
            source_line: source_line.map(str::to_owned),
            notes: diagnostic.notes.iter().map(|n| n.message.clone()).collect(),
            identifiers: names.into_iter().map(str::to_owned).collect(),
            errors: 0,
            id,
            root: link.map(|(root, _)| root),
            link: link.map(|(_, link)| link.as_str()),
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::CompileFinished(compile) if compile.status != CompileStatus::Succeeded => {
                let at = (2, compile.attempt);
                let mut index = 0;
                let first = self.records.len();
                for diagnostic in &compile.diagnostics {
                    if !matches!(diagnostic.severity, Severity::Error | Severity::Fatal) {
                        continue;
                    }
                    // Hashed once for the linker and the label cache.
                    let message = Hashed::new(&diagnostic.message);
                    let evidence = self.diagnostic_evidence(at, diagnostic, message);
                    self.push(
                        FailureSource::Diagnostic,
                        at,
                        index,
                        message,
                        &diagnostic.message,
                        None,
                        evidence,
                    );
                    index += 1;
                }
                for record in &mut self.records[first..] {
                    record.evidence.errors = index;
                }
                // No compiler installed here is no failure of the model's code: the session ends
                // as an infrastructure_error (toolchain_missing), which the report counts with
                // the outcomes. Decided on the typed status, never on message text.
                if index == 0 && compile.status != CompileStatus::ToolchainMissing {
                    let status = wire_name(&compile.status);
                    let detail = compile.detail.as_deref().unwrap_or("");
                    let subject = format!("{status}: {detail}");
                    self.push(
                        FailureSource::Compile,
                        at,
                        0,
                        Hashed::new(&subject),
                        &subject,
                        None,
                        RecordEvidence::default(),
                    );
                }
            }
            Event::CheckVerdict(check) if !check.passed => {
                let subject = format!("{}: {}", check.check, check.message);
                self.push(
                    FailureSource::Check,
                    (phase(check.stage), check.attempt),
                    0,
                    Hashed::new(&subject),
                    &check.message,
                    Some(check_stage(check.stage)),
                    RecordEvidence::default(),
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
                        Hashed::new(&subject),
                        &failure.message,
                        None,
                        RecordEvidence::default(),
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
                    Hashed::new(&subject),
                    &subject,
                    None,
                    RecordEvidence::default(),
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
                        AttemptOutcome::LlmFailed | AttemptOutcome::AnswerTruncated => {
                            Some(FailureStage::Backend)
                        }
                        _ => None,
                    };
                    self.push(
                        FailureSource::Attempt,
                        at,
                        0,
                        Hashed::new(&subject),
                        &attempt.message,
                        stage,
                        RecordEvidence::default(),
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
        &mut LabelCache::new(taxonomy),
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
        linking: None,
    };
    // A legacy log that stops inside a session is `truncated`, as `import` and `report` say;
    // a native trace without `session_finished` is `unfinished`.
    let mut outcome = "unfinished";
    for event in events {
        if let Event::SessionStarted(started) = event
            && matches!(started.origin, TraceOrigin::LegacyImport { .. })
        {
            outcome = "truncated";
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(session: &Arc<SessionInfo>, evidence: RecordEvidence) -> FailureRecord {
        let taxonomy = Taxonomy::builtin().unwrap();
        FailureRecord {
            session: Arc::clone(session),
            source: FailureSource::Diagnostic,
            attempt: 3,
            index: 12,
            label: taxonomy.uncategorized(FailureStage::SpecFill),
            message: "'x' \"quoted\" \\ \u{1}\u{2018}é\n".to_owned(),
            evidence,
        }
    }

    /// The jsonl writer gives the bytes of the records' `Serialize`, with every optional field
    /// present and absent, across two sessions.
    #[test]
    fn jsonl_lines_are_the_serialized_records() {
        let first = Arc::new(SessionInfo {
            session: "s-1".to_owned(),
            model: "m\"1".to_owned(),
            provider: "p".to_owned(),
            target: "t\u{7f}".to_owned(),
            prompt_variant: "legacy".to_owned(),
            app: "a".to_owned(),
            source: "x/y.log".to_owned(),
        });
        let second = Arc::new(SessionInfo {
            session: "s-2".to_owned(),
            ..(*first).clone()
        });
        let full = RecordEvidence {
            source_line: Some("  int x = \"é\";".to_owned()),
            notes: vec!["note \"1\"".to_owned(), "n2".to_owned()],
            identifiers: vec!["x".to_owned()],
            errors: 4,
            id: 2,
            root: Some(0),
            link: Some("same_line"),
        };
        let records = [
            record(&first, full),
            record(&first, RecordEvidence::default()),
            record(&second, RecordEvidence::default()),
        ];
        let mut got = Vec::new();
        write_jsonl_records(&records, &mut got).unwrap();
        let mut want = Vec::new();
        for record in &records {
            serde_json::to_writer(&mut want, record).unwrap();
            want.push(b'\n');
        }
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}
