//! Replaying recorded sessions: what a recorded trace says about how to run its session again
//! ([`RecordedSession`]), and how a replay's outcome differs from the recording's, with the
//! reason read from both traces' events ([`SessionView`], [`compare`]).
//!
//! Both sides are plain trace events: the recording is a trace file, the replay is the trace
//! the replayed session wrote. Nothing here runs anything.

use std::path::PathBuf;

use autopilot_trace::{
    AttemptOutcome, CompileStatus, Event, LlmCallResult, PipelineStage, SessionId, SessionOutcome,
    SessionStarted, Severity, SimulationStatus, Stage, StageFile, TraceFile, TraceOrigin,
};

use crate::session::infra;

/// Longest excerpt of a message (a check's, a diagnostic's) quoted in a reason.
const EXCERPT_CHARS: usize = 140;

/// A recorded trace that is not replayed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReplayable {
    /// The trace does not start with `session_started`: it is broken, not skipped.
    #[error("does not start with session_started")]
    NoSessionStarted,
    #[error("was imported from the legacy log {file}, which recorded no LLM requests to replay")]
    LegacyImport { file: String },
    #[error(
        "records no app file (session_started has no app_path): not a session of `autopilot run` or `autopilot batch`"
    )]
    NoApp,
    #[error("records no LLM answer to replay")]
    NoAnswers,
}

impl NotReplayable {
    /// Whether the trace itself is broken (bad input) rather than merely not replayable.
    pub fn is_broken(&self) -> bool {
        matches!(self, NotReplayable::NoSessionStarted)
    }
}

/// What a recorded trace says about its session: enough to run it again.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSession {
    pub id: SessionId,
    pub started: SessionStarted,
    /// The app file (`session_started.app_path`).
    pub app_path: PathBuf,
    /// Whether the recorded requests were streamed.
    pub stream: bool,
    /// The messages of the recording's `session_note` notes (e.g. that it ran on hand-written
    /// demo answers).
    pub notes: Vec<String>,
    pub view: SessionView,
}

impl RecordedSession {
    /// Reads a recorded trace. `NotReplayable::NoSessionStarted` means a broken trace; the other
    /// cases are traces there is nothing to replay of.
    pub fn from_trace(trace: &TraceFile) -> Result<RecordedSession, NotReplayable> {
        let Some(first) = trace.records.first() else {
            return Err(NotReplayable::NoSessionStarted);
        };
        let Event::SessionStarted(started) = &first.record.event else {
            return Err(NotReplayable::NoSessionStarted);
        };
        if let TraceOrigin::LegacyImport { file, .. } = &started.origin {
            return Err(NotReplayable::LegacyImport { file: file.clone() });
        }
        let Some(app_path) = started.app_path.as_deref() else {
            return Err(NotReplayable::NoApp);
        };
        let mut answered = false;
        let mut stream = false;
        let mut notes = Vec::new();
        for event in trace.events() {
            match event {
                Event::LlmCall(call) => {
                    stream |= call.stream;
                    answered |= matches!(call.result, LlmCallResult::Answered(_));
                }
                Event::Note(note) if note.kind == "session_note" => {
                    notes.push(note.message.clone());
                }
                _ => {}
            }
        }
        if !answered {
            return Err(NotReplayable::NoAnswers);
        }
        Ok(RecordedSession {
            id: first.record.session.clone(),
            started: started.clone(),
            app_path: PathBuf::from(app_path),
            stream,
            notes,
            view: SessionView::from_events(trace.events()),
        })
    }
}

/// What a stage session of a pipeline recorded about its place in the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedStage {
    pub pipeline: String,
    pub stage: PipelineStage,
    /// What it started from (`pipeline_stage_started`; SG records none).
    pub inputs: Vec<StageFile>,
    /// What it left (`pipeline_stage_ended`; empty unless it succeeded).
    pub outputs: Vec<StageFile>,
}

impl RecordedStage {
    /// `None` for a session that is no stage of a pipeline.
    pub fn from_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> Option<RecordedStage> {
        let mut recorded: Option<RecordedStage> = None;
        for event in events {
            match event {
                Event::PipelineStageStarted(started) => {
                    recorded = Some(RecordedStage {
                        pipeline: started.pipeline.clone(),
                        stage: started.stage,
                        inputs: started.inputs.clone(),
                        outputs: Vec::new(),
                    });
                }
                Event::PipelineStageEnded(ended) => {
                    if let Some(recorded) = &mut recorded {
                        recorded.outputs.clone_from(&ended.outputs);
                    }
                }
                _ => {}
            }
        }
        recorded
    }

    /// The recorded output of a role (`dataset`, `tflite`, …).
    pub fn output(&self, role: &str) -> Option<&StageFile> {
        self.outputs.iter().find(|f| f.role == role)
    }

    /// The recorded input of a role (`raw`, `keras`, `dataset`, `held_out`, …).
    pub fn input(&self, role: &str) -> Option<&StageFile> {
        self.inputs.iter().find(|f| f.role == role)
    }
}

/// One finished attempt and what decided its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptView {
    /// `spec` or `sketch`; `operations`, `operation` or `conversion` in a Python stage.
    pub stage: Stage,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    /// The first failed check of the attempt: id and message.
    pub failed_check: Option<(String, String)>,
    /// The compile's status and first error (`file:line:col: error: message`), when it was
    /// compiled.
    pub compile: Option<(CompileStatus, Option<String>)>,
    /// The token the simulation matched, when it predicted.
    pub predicted: Option<String>,
    /// The `attempt_finished` message.
    pub message: String,
}

/// A session as far as replays compare it: its outcome and its attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionView {
    /// `None`: the trace has no `session_finished`.
    pub outcome: Option<SessionOutcome>,
    pub attempts: Vec<AttemptView>,
}

/// Evidence seen since the last `attempt_finished`: it belongs to the next one.
#[derive(Default)]
struct Pending {
    failed_check: Option<(String, String)>,
    compile: Option<(CompileStatus, Option<String>)>,
    predicted: Option<String>,
}

impl SessionView {
    /// Reads the outcome and the attempts from a session's events, in trace order.
    pub fn from_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> SessionView {
        let mut view = SessionView::default();
        let mut pending = Pending::default();
        for event in events {
            match event {
                Event::CheckVerdict(verdict) if !verdict.passed => {
                    pending
                        .failed_check
                        .get_or_insert_with(|| (verdict.check.clone(), verdict.message.clone()));
                }
                // A Python stage's checks: a declared output, then the converted model.
                Event::OutputCheck(check) if !check.passed => {
                    pending.failed_check.get_or_insert_with(|| {
                        (
                            check.check.clone(),
                            format!("{}: {}", check.file, check.message),
                        )
                    });
                }
                Event::ModelCheck(check) if !check.passed => {
                    if let Some(failure) = check.failures.first() {
                        pending.failed_check.get_or_insert_with(|| {
                            (failure.check.clone(), failure.message.clone())
                        });
                    }
                }
                Event::CompileFinished(compile) => {
                    let first_error = compile
                        .diagnostics
                        .iter()
                        .find(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
                        .map(autopilot_toolchain::diagnostics::render)
                        .or_else(|| compile.detail.clone());
                    pending.compile = Some((compile.status, first_error));
                }
                Event::SimulationFinished(simulation)
                    if simulation.status == SimulationStatus::Predicted =>
                {
                    pending.predicted.clone_from(&simulation.matched);
                }
                Event::AttemptFinished(finished) => {
                    let evidence = std::mem::take(&mut pending);
                    view.attempts.push(AttemptView {
                        stage: finished.stage,
                        attempt: finished.attempt,
                        outcome: finished.outcome,
                        failed_check: evidence.failed_check,
                        compile: evidence.compile,
                        predicted: evidence.predicted,
                        message: finished.message.clone(),
                    });
                }
                Event::SessionFinished(finished) => view.outcome = Some(finished.outcome.clone()),
                _ => {}
            }
        }
        view
    }

    /// A short label of the outcome: `success@2`, `exhausted/sketch`, `aborted`,
    /// `infrastructure_error/replay_miss`, `unfinished`.
    pub fn outcome_label(&self) -> String {
        match &self.outcome {
            None => "unfinished".to_owned(),
            Some(SessionOutcome::Success { attempt }) => format!("success@{attempt}"),
            Some(SessionOutcome::Exhausted { stage }) => format!("exhausted/{stage}"),
            Some(SessionOutcome::Aborted { .. }) => "aborted".to_owned(),
            Some(SessionOutcome::InfrastructureError { kind, .. }) => {
                format!("infrastructure_error/{kind}")
            }
        }
    }

    fn same_attempts(&self, other: &SessionView) -> bool {
        self.attempts.len() == other.attempts.len()
            && self
                .attempts
                .iter()
                .zip(&other.attempts)
                .all(|(a, b)| a.key() == b.key())
    }

    fn last_attempt_of(&self, stage: Stage) -> Option<u32> {
        self.attempts
            .iter()
            .rev()
            .find(|a| a.stage == stage)
            .map(|a| a.attempt)
    }

    /// What the session does instead of an attempt it no longer makes, to follow "now"
    /// ("it is not made: the sketch attempt budget runs out after attempt 1").
    fn instead(&self) -> String {
        match &self.outcome {
            None => "the session does not finish before it".to_owned(),
            Some(SessionOutcome::Success { attempt }) => {
                format!("it is not needed: attempt {attempt} succeeds")
            }
            Some(SessionOutcome::Exhausted { .. }) => format!("it is not made: {}", self.ending()),
            Some(SessionOutcome::Aborted { .. } | SessionOutcome::InfrastructureError { .. }) => {
                self.ending()
            }
        }
    }

    /// How the session ends, in the present tense ("the sketch attempt budget runs out after
    /// attempt 1", "the recording has no answer for today's request (…)").
    fn ending(&self) -> String {
        match &self.outcome {
            None => "the session does not finish".to_owned(),
            Some(SessionOutcome::Success { attempt }) => format!("attempt {attempt} succeeds"),
            Some(SessionOutcome::Exhausted { stage }) => match self.last_attempt_of(*stage) {
                Some(last) => format!("the {stage} attempt budget runs out after attempt {last}"),
                None => format!("the {stage} attempt budget runs out"),
            },
            Some(SessionOutcome::Aborted { reason }) => {
                format!("the session is aborted ({})", excerpt(reason))
            }
            Some(SessionOutcome::InfrastructureError { kind, message })
                if *kind == infra::REPLAY_MISS =>
            {
                format!(
                    "the recording has no answer for today's request ({})",
                    missed_request(message)
                )
            }
            Some(SessionOutcome::InfrastructureError { kind, message }) => {
                format!("the session stops on {kind} ({})", excerpt(message))
            }
        }
    }
}

/// The request a replay miss names ("spec attempt 1, request 7b196062dba5, repeat 0"), from the
/// replay backend's message ("… after 1 try: <request> is not in <recording>; it holds: …").
fn missed_request(message: &str) -> String {
    let asked = message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .split(" is not in ")
        .next()
        .unwrap_or(message);
    excerpt(asked)
}

impl AttemptView {
    fn key(&self) -> (Stage, u32, AttemptOutcome) {
        (self.stage, self.attempt, self.outcome)
    }

    fn name(&self) -> String {
        format!("{} attempt {}", self.stage, self.attempt)
    }

    fn check(&self) -> String {
        match &self.failed_check {
            Some((id, message)) if message.is_empty() => id.clone(),
            Some((id, message)) => format!("{id} ({})", excerpt(message)),
            None => format!("a check ({})", excerpt(&self.message)),
        }
    }

    fn first_error(&self) -> String {
        match &self.compile {
            Some((_, Some(error))) => format!(" ({})", excerpt(error)),
            _ if !self.message.is_empty() => format!(" ({})", excerpt(&self.message)),
            _ => String::new(),
        }
    }

    /// What happened to the attempt, as the recording tells it ("was compiled (succeeded)").
    fn recorded(&self) -> String {
        match self.outcome {
            AttemptOutcome::Succeeded if self.stage == Stage::Spec => "was a valid spec".to_owned(),
            AttemptOutcome::Succeeded if self.stage == Stage::Operations => {
                "was a valid plan".to_owned()
            }
            AttemptOutcome::Succeeded if python_stage(self.stage) => {
                "ran and its outputs passed the checks".to_owned()
            }
            AttemptOutcome::Succeeded => match &self.predicted {
                Some(token) => format!("was compiled (succeeded) and printed {token:?} in simavr"),
                None => "was compiled (succeeded)".to_owned(),
            },
            AttemptOutcome::PrecheckFailed => {
                format!("was rejected by {} before compiling", self.check())
            }
            AttemptOutcome::ExtractionFailed => {
                format!("had no usable code: {}", self.check())
            }
            AttemptOutcome::SpecInvalid => format!("was rejected by {}", self.check()),
            AttemptOutcome::IdenticalCode => {
                format!("was not compiled ({})", excerpt(&self.message))
            }
            AttemptOutcome::CompileFailed => {
                format!("failed to compile{}", self.first_error())
            }
            AttemptOutcome::CompileTimedOut => "timed out compiling".to_owned(),
            AttemptOutcome::SizeExceeded => format!("did not fit the board: {}", self.check()),
            AttemptOutcome::SimulationFailed => {
                format!("failed in simavr ({})", excerpt(&self.message))
            }
            AttemptOutcome::LlmFailed => format!("got no answer ({})", excerpt(&self.message)),
            AttemptOutcome::AnswerTruncated => {
                format!("got a cut answer ({})", excerpt(&self.message))
            }
            AttemptOutcome::PlanInvalid => format!("was a refused plan: {}", self.check()),
            AttemptOutcome::RunFailed => format!("failed to run ({})", excerpt(&self.message)),
            AttemptOutcome::OutputInvalid => {
                format!("ran but its outputs failed ({})", excerpt(&self.message))
            }
        }
    }

    /// What happens to the attempt now, in the present tense ("precheck.x rejects it before
    /// compiling").
    fn replayed(&self) -> String {
        match self.outcome {
            AttemptOutcome::Succeeded if self.stage == Stage::Spec => {
                "it is a valid spec".to_owned()
            }
            AttemptOutcome::Succeeded if self.stage == Stage::Operations => {
                "it is a valid plan".to_owned()
            }
            AttemptOutcome::Succeeded if python_stage(self.stage) => {
                "it runs and its outputs pass the checks".to_owned()
            }
            AttemptOutcome::Succeeded => match &self.predicted {
                Some(token) => format!("it compiles (succeeded) and prints {token:?} in simavr"),
                None => "it compiles (succeeded)".to_owned(),
            },
            AttemptOutcome::PrecheckFailed => {
                format!("{} rejects it before compiling", self.check())
            }
            AttemptOutcome::ExtractionFailed => {
                format!("it has no usable code: {}", self.check())
            }
            AttemptOutcome::SpecInvalid => format!("{} rejects it", self.check()),
            AttemptOutcome::IdenticalCode => {
                format!("it is not compiled ({})", excerpt(&self.message))
            }
            AttemptOutcome::CompileFailed => format!("it fails to compile{}", self.first_error()),
            AttemptOutcome::CompileTimedOut => "its compile times out".to_owned(),
            AttemptOutcome::SizeExceeded => format!("it does not fit the board: {}", self.check()),
            AttemptOutcome::SimulationFailed => {
                format!("it fails in simavr ({})", excerpt(&self.message))
            }
            AttemptOutcome::LlmFailed => format!("it gets no answer ({})", excerpt(&self.message)),
            AttemptOutcome::AnswerTruncated => {
                format!("its answer is cut ({})", excerpt(&self.message))
            }
            AttemptOutcome::PlanInvalid => format!("{} refuses the plan", self.check()),
            AttemptOutcome::RunFailed => format!("it fails to run ({})", excerpt(&self.message)),
            AttemptOutcome::OutputInvalid => {
                format!("it runs but its outputs fail ({})", excerpt(&self.message))
            }
        }
    }
}

/// An attempt of a Python stage (DP's plan and operations, MC's conversion), not a sketch.
fn python_stage(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Operations | Stage::Operation | Stage::Conversion
    )
}

/// How a replayed session differs from its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayChange {
    /// The recorded outcome label ([`SessionView::outcome_label`]).
    pub before: String,
    /// The replayed outcome label.
    pub after: String,
    /// Why, from the first attempt whose outcome differs.
    pub reason: String,
}

impl std::fmt::Display for ReplayChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {}: {}", self.before, self.after, self.reason)
    }
}

/// Compares a replay with its recording: `None` when the outcome (status and attempt) and
/// every attempt's outcome are the same; otherwise the change and its reason, taken from the
/// first attempt whose outcome differs.
pub fn compare(recorded: &SessionView, replayed: &SessionView) -> Option<ReplayChange> {
    let before = recorded.outcome_label();
    let after = replayed.outcome_label();
    if before == after && recorded.same_attempts(replayed) {
        return None;
    }
    let first_difference = recorded
        .attempts
        .iter()
        .zip(&replayed.attempts)
        .find(|(a, b)| a.key() != b.key());
    let reason = if let Some((old, new)) = first_difference {
        if (old.stage, old.attempt) == (new.stage, new.attempt) {
            format!("{} {}, now {}", old.name(), old.recorded(), new.replayed())
        } else {
            format!(
                "{} {}; the replay has {} instead: {}",
                old.name(),
                old.recorded(),
                new.name(),
                new.replayed()
            )
        }
    } else {
        ended_differently(recorded, replayed)
    };
    Some(ReplayChange {
        before,
        after,
        reason,
    })
}

/// The reason when the common attempts agree: one side made more attempts, or the same
/// attempts ended differently.
fn ended_differently(recorded: &SessionView, replayed: &SessionView) -> String {
    let common = recorded.attempts.len().min(replayed.attempts.len());
    if let Some(old) = recorded.attempts.get(common) {
        format!(
            "{} {}, now {}",
            old.name(),
            old.recorded(),
            replayed.instead()
        )
    } else if let Some(new) = replayed.attempts.get(common) {
        format!(
            "{} is new: {}; the recording ended before it, with {}",
            new.name(),
            new.replayed(),
            recorded.outcome_label()
        )
    } else {
        format!("after the same attempts, {}", replayed.ending())
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

/// The first line of `text`, cut to [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let line = first_line(text);
    if line.chars().count() <= EXCERPT_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}
