//! The `replay` backend: answers from recorded session traces or from a scripted answers
//! file, with no network.
//!
//! Recorded answers are keyed by stage, attempt, request hash and repeat index
//! ([`ReplayMatch::Exact`], the default): a request that differs from the recorded one is a
//! miss, and a miss is an error ([`LlmErrorKind::ReplayMiss`]) that says what was asked and what
//! the recording holds — never a silent live call. [`ReplayMatch::InOrder`] instead serves the
//! answers of a stage attempt in the order they were recorded, whatever the prompt.
//!
//! # Answers file
//!
//! Hand-written answers (the demo answers of the examples) are served in order per stage
//! attempt:
//!
//! ```toml
//! model = "demo"                # optional: the model the answers claim to come from
//!
//! [[answer]]
//! stage = "spec"
//! attempt = 1
//! text = '''{"board": "uno"}'''
//!
//! [[answer]]
//! stage = "sketch"              # no attempt: answers every sketch attempt without its own
//! file = "sketch.md"            # the text from a file, relative to this one
//! reasoning = "optional"
//! input_tokens = 1200           # optional usage, for cost accounting
//! output_tokens = 800
//!
//! [[answer]]
//! stage = "sketch"
//! attempt = 3
//! error = "server_error"        # a scripted failure: any LlmErrorKind
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use autopilot_trace::{
    AnswerSource, Event, LlmAnswer, LlmCallResult, LlmErrorKind, LlmFailure, Stage, TokenUsage,
    TraceFile,
};
use serde::Deserialize;

use super::{BackendCall, BoxFuture, ChatBackend};
use crate::error::LlmError;
use autopilot_trace::{ModelRef, Provider};

/// How many recorded keys a miss message lists.
const MISS_LISTING: usize = 12;

/// How recorded answers are matched to requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplayMatch {
    /// Stage, attempt, request hash and repeat index must all match.
    #[default]
    Exact,
    /// The answers of a stage attempt, in recorded order, whatever was asked.
    InOrder,
}

/// The key of a recorded answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey {
    pub stage: Stage,
    pub attempt: u32,
    pub request_hash: String,
    pub repeat: u32,
}

/// A recorded or scripted outcome.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Answer(LlmAnswer),
    Failure(LlmFailure),
}

#[derive(Debug, Clone)]
struct Entry {
    stage: Stage,
    /// `None`: any attempt without entries of its own (scripted answers only).
    attempt: Option<u32>,
    request_hash: Option<String>,
    repeat: u32,
    reply: Reply,
}

/// Recordings or scripted answers that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid answers file {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{origin} holds no LLM answers to replay")]
    Empty { origin: String },
}

/// Answers from recordings.
#[derive(Debug)]
pub struct ReplayBackend {
    entries: Vec<Entry>,
    matching: ReplayMatch,
    origin: String,
    models: Vec<ModelRef>,
    /// Calls served so far per stage attempt ([`ReplayMatch::InOrder`]).
    served: Mutex<HashMap<(Stage, u32), usize>>,
}

impl ReplayBackend {
    /// Answers recorded in session traces. Each request's outcome is its last recorded try
    /// (an answer, or the failure the session ended the call with).
    pub fn from_traces(traces: &[TraceFile], matching: ReplayMatch) -> Result<Self, ReplayError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut index: HashMap<ReplayKey, usize> = HashMap::new();
        let mut models: Vec<ModelRef> = Vec::new();
        for trace in traces {
            for event in trace.events() {
                let Event::LlmCall(call) = event else {
                    continue;
                };
                if let Ok(provider) = call.provider.parse::<Provider>() {
                    let model = ModelRef::new(provider, call.model.clone());
                    if !models.contains(&model) {
                        models.push(model);
                    }
                }
                let reply = match &call.result {
                    LlmCallResult::Answered(answer) => Reply::Answer(answer.clone()),
                    LlmCallResult::Failed(failure) => Reply::Failure(failure.clone()),
                };
                let key = ReplayKey {
                    stage: call.stage,
                    attempt: call.attempt,
                    request_hash: call.request_hash.clone(),
                    repeat: call.repeat,
                };
                if let Some(&at) = index.get(&key) {
                    entries[at].reply = reply;
                } else {
                    index.insert(key, entries.len());
                    entries.push(Entry {
                        stage: call.stage,
                        attempt: Some(call.attempt),
                        request_hash: Some(call.request_hash.clone()),
                        repeat: call.repeat,
                        reply,
                    });
                }
            }
        }
        let origin = match traces {
            [one] => format!("trace {}", one.path.display()),
            _ => format!("{} traces", traces.len()),
        };
        if entries.is_empty() {
            return Err(ReplayError::Empty { origin });
        }
        Ok(ReplayBackend {
            entries,
            matching,
            origin,
            models,
            served: Mutex::default(),
        })
    }

    /// Answers from an answers file, served in order per stage attempt.
    pub fn from_scripted(answers: ScriptedAnswers) -> Self {
        let entries = answers
            .answers
            .into_iter()
            .map(|scripted| Entry {
                stage: scripted.stage,
                attempt: scripted.attempt,
                request_hash: None,
                repeat: 0,
                reply: match scripted.reply {
                    Ok(answer) => Reply::Answer(answer),
                    Err(kind) => Reply::Failure(LlmFailure {
                        kind,
                        transient: kind.is_transient(),
                        http_status: None,
                        message: "scripted failure".to_owned(),
                        retry_after_ms: None,
                    }),
                },
            })
            .collect();
        ReplayBackend {
            entries,
            matching: ReplayMatch::InOrder,
            origin: answers.origin,
            models: Vec::new(),
            served: Mutex::default(),
        }
    }

    /// The models whose calls the traces recorded, in order of first use (the session's model,
    /// then any fallback), to build clients that replay them.
    pub fn recorded_models(&self) -> &[ModelRef] {
        &self.models
    }

    /// The keys of the recorded answers, in recorded order (scripted answers have none).
    pub fn keys(&self) -> Vec<ReplayKey> {
        self.entries
            .iter()
            .filter_map(|e| {
                Some(ReplayKey {
                    stage: e.stage,
                    attempt: e.attempt?,
                    request_hash: e.request_hash.clone()?,
                    repeat: e.repeat,
                })
            })
            .collect()
    }

    fn lookup(&self, call: &BackendCall<'_>) -> Result<&Reply, LlmError> {
        let found = match self.matching {
            ReplayMatch::Exact => self.entries.iter().find(|e| {
                e.stage == call.stage
                    && e.attempt == Some(call.attempt)
                    && e.request_hash.as_deref() == Some(call.request_hash)
                    && e.repeat == call.repeat
            }),
            ReplayMatch::InOrder => {
                let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
                let position = served.entry((call.stage, call.attempt)).or_insert(0);
                let own: Vec<&Entry> = self
                    .entries
                    .iter()
                    .filter(|e| e.stage == call.stage && e.attempt == Some(call.attempt))
                    .collect();
                let candidates = if own.is_empty() {
                    self.entries
                        .iter()
                        .filter(|e| e.stage == call.stage && e.attempt.is_none())
                        .collect()
                } else {
                    own
                };
                let found = candidates.get(*position).copied();
                *position += 1;
                found
            }
        };
        found.map(|e| &e.reply).ok_or_else(|| self.miss(call))
    }

    fn miss(&self, call: &BackendCall<'_>) -> LlmError {
        let asked = match self.matching {
            ReplayMatch::Exact => format!(
                "{} attempt {}, request {}, repeat {}",
                call.stage,
                call.attempt,
                short_hash(call.request_hash),
                call.repeat
            ),
            ReplayMatch::InOrder => {
                let served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
                let nth = served
                    .get(&(call.stage, call.attempt))
                    .copied()
                    .unwrap_or(1);
                format!("{} attempt {} (call {nth})", call.stage, call.attempt)
            }
        };
        let mut listing: BTreeMap<(Stage, Option<u32>), Vec<String>> = BTreeMap::new();
        for entry in &self.entries {
            let what = match &entry.request_hash {
                Some(hash) => format!("request {} repeat {}", short_hash(hash), entry.repeat),
                None => "1 answer".to_owned(),
            };
            listing
                .entry((entry.stage, entry.attempt))
                .or_default()
                .push(what);
        }
        let mut held: Vec<String> = listing
            .iter()
            .take(MISS_LISTING)
            .map(|((stage, attempt), items)| {
                let attempt = attempt.map_or_else(|| "*".to_owned(), |a| a.to_string());
                if items.iter().all(|i| i == "1 answer") {
                    format!("{stage}#{attempt} ({} answers)", items.len())
                } else {
                    format!("{stage}#{attempt} ({})", items.join(", "))
                }
            })
            .collect();
        if listing.len() > MISS_LISTING {
            held.push(format!("… {} more", listing.len() - MISS_LISTING));
        }
        LlmError::new(
            LlmErrorKind::ReplayMiss,
            format!(
                "{asked} is not in {}; it holds: {}",
                self.origin,
                held.join("; ")
            ),
        )
    }
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl ChatBackend for ReplayBackend {
    fn provider(&self) -> Provider {
        Provider::Replay
    }

    fn endpoint(&self) -> Option<String> {
        None
    }

    fn source(&self) -> AnswerSource {
        AnswerSource::Replay
    }

    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn chat<'a>(&'a self, call: BackendCall<'a>) -> BoxFuture<'a, Result<LlmAnswer, LlmError>> {
        let reply = self.lookup(&call).cloned();
        Box::pin(async move {
            match reply? {
                Reply::Answer(answer) => Ok(answer),
                Reply::Failure(failure) => {
                    let mut error =
                        LlmError::new(failure.kind, format!("recorded: {}", failure.message));
                    if let Some(status) = failure.http_status {
                        error = error.with_status(status);
                    }
                    Err(error)
                }
            }
        })
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedAnswer {
    pub stage: Stage,
    /// `None`: any attempt of the stage that has no answers of its own.
    pub attempt: Option<u32>,
    /// The answer, or the kind of a scripted failure.
    pub reply: Result<LlmAnswer, LlmErrorKind>,
}

/// A scripted answers file, loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedAnswers {
    pub answers: Vec<ScriptedAnswer>,
    /// Names the answers in miss messages.
    pub origin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswersFile {
    model: Option<String>,
    #[serde(default)]
    answer: Vec<AnswerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerEntry {
    stage: Stage,
    attempt: Option<u32>,
    text: Option<String>,
    file: Option<PathBuf>,
    error: Option<LlmErrorKind>,
    reasoning: Option<String>,
    finish_reason: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl ScriptedAnswers {
    /// Reads an answers file; `file = …` entries are read relative to it.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let text = fs_err::read_to_string(path).map_err(|source| ReplayError::Read {
            path: path.to_owned(),
            source,
        })?;
        ScriptedAnswers::from_toml(&text, path.parent(), &path.display().to_string())
    }

    /// Parses an answers file; `dir` resolves `file = …` entries, `origin` names it in errors.
    pub fn from_toml(text: &str, dir: Option<&Path>, origin: &str) -> Result<Self, ReplayError> {
        let invalid = |message: String| ReplayError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let file: AnswersFile =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_owned()))?;
        let mut answers = Vec::with_capacity(file.answer.len());
        for (n, entry) in file.answer.into_iter().enumerate() {
            let at = format!(
                "answer[{n}] ({} attempt {})",
                entry.stage,
                entry
                    .attempt
                    .map_or_else(|| "*".to_owned(), |a| a.to_string())
            );
            if entry.attempt == Some(0) {
                return Err(invalid(format!("{at}: attempts count from 1")));
            }
            let reply = match (entry.text, entry.file, entry.error) {
                (Some(text), None, None) => Ok(text),
                (None, Some(file), None) => {
                    let path = match dir {
                        Some(dir) if file.is_relative() => dir.join(&file),
                        _ => file,
                    };
                    fs_err::read_to_string(&path)
                        .map(Ok)
                        .map_err(|e| invalid(format!("{at}: file: {e}")))?
                }
                (None, None, Some(kind)) => Err(kind),
                _ => {
                    return Err(invalid(format!(
                        "{at}: give exactly one of text, file or error"
                    )));
                }
            };
            answers.push(ScriptedAnswer {
                stage: entry.stage,
                attempt: entry.attempt,
                reply: reply.map(|text| LlmAnswer {
                    text,
                    reasoning: entry.reasoning,
                    finish_reason: Some(entry.finish_reason.unwrap_or_else(|| "stop".to_owned())),
                    response_model: file.model.clone(),
                    usage: TokenUsage {
                        input: entry.input_tokens,
                        output: entry.output_tokens,
                    },
                    time_to_first_token_ms: None,
                }),
            });
        }
        if answers.is_empty() {
            return Err(ReplayError::Empty {
                origin: origin.to_owned(),
            });
        }
        Ok(ScriptedAnswers {
            answers,
            origin: format!("answers file {origin}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_files_are_checked_entry_by_entry() {
        let cases = [
            (
                "[[answer]]\nstage = \"sketch\"\n",
                "exactly one of text, file or error",
            ),
            (
                "[[answer]]\nstage = \"sketch\"\ntext = \"a\"\nerror = \"timeout\"\n",
                "exactly one",
            ),
            (
                "[[answer]]\nstage = \"sketch\"\nattempt = 0\ntext = \"a\"\n",
                "count from 1",
            ),
            ("[[answer]]\nstage = \"poetry\"\ntext = \"a\"\n", "poetry"),
            (
                "[[answer]]\nstage = \"sketch\"\nerror = \"gremlins\"\n",
                "gremlins",
            ),
            (
                "[[answer]]\nstage = \"sketch\"\ntext = \"a\"\ncolour = 1\n",
                "colour",
            ),
            (
                "[[answer]]\nstage = \"sketch\"\nfile = \"missing.md\"\n",
                "missing.md",
            ),
            ("model = \"demo\"\n", "holds no LLM answers"),
        ];
        for (text, needle) in cases {
            let message =
                ScriptedAnswers::from_toml(text, Some(Path::new("/nonexistent")), "a.toml")
                    .unwrap_err()
                    .to_string();
            assert!(message.contains("a.toml"), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
    }
}
