//! The entry points that read inputs and classify them, files in parallel, results in input
//! order, memory bounded by a few sessions per thread.

use std::io;
use std::path::{Path, PathBuf};

use autopilot_trace::{Event, TraceFile};

use crate::classify::{ClassifiedSession, LabelCache, classify_events_cached};
use crate::input::{InputError, InputFile};
use crate::legacy::import::{ImportError, LegacySession, import_legacy};
use crate::legacy::{LegacyCategory, LegacyEntries, LegacyEntry};
use crate::parallel::{for_each_ordered, for_each_ordered_with};
use crate::taxonomy::Taxonomy;

/// Why classifying inputs stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("cannot read trace {path}")]
    Trace {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: the legacy taxonomy reads legacy .log files only, not session traces")]
    NotALog { path: PathBuf },
    /// The consumer of the results failed (a closed pipe, a full disk).
    #[error("cannot write the results")]
    Output(#[source] io::Error),
}

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyOptions {
    /// Files read at once (1: everything on the calling thread).
    pub threads: usize,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        ClassifyOptions {
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Every session of a legacy log, streamed.
fn for_each_legacy_session(
    path: &Path,
    mut each: impl FnMut(LegacySession),
) -> Result<(), ClassifyError> {
    let mut sessions = 0;
    for session in import_legacy(path)? {
        let session = session.map_err(|source| ImportError::Read {
            path: path.to_owned(),
            source,
        })?;
        sessions += 1;
        each(session);
    }
    if sessions == 0 {
        return Err(ImportError::NotALegacyLog {
            path: path.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// One session of an input, as read: its id, the file it came from and its events with their
/// timestamps, in trace order.
pub(crate) struct SessionEvents<'a> {
    pub session: &'a str,
    pub source: &'a str,
    pub events: &'a [(&'a str, &'a Event)],
    /// Trace lines that could not be read.
    pub unreadable_lines: usize,
}

/// Reads every session of one input (a trace file holds one, a legacy log many, imported in
/// memory) and hands each to `each`.
pub(crate) fn for_each_session(
    input: &InputFile,
    each: &mut dyn FnMut(SessionEvents<'_>),
) -> Result<(), ClassifyError> {
    match input {
        InputFile::Trace(path) => {
            let file = TraceFile::read(path).map_err(|source| ClassifyError::Trace {
                path: path.clone(),
                source,
            })?;
            if file.records.is_empty() && file.problems.is_empty() {
                return Ok(());
            }
            let session = file.records.first().map_or_else(
                || {
                    path.file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
                },
                |r| r.record.session.to_string(),
            );
            let source = path.display().to_string();
            let events: Vec<(&str, &Event)> = file
                .records
                .iter()
                .map(|r| (r.record.ts.as_str(), &r.record.event))
                .collect();
            each(SessionEvents {
                session: &session,
                source: &source,
                events: &events,
                unreadable_lines: file.problems.len(),
            });
        }
        InputFile::LegacyLog(path) => {
            let source = file_name(path);
            for_each_legacy_session(path, |session| {
                let events: Vec<(&str, &Event)> = session
                    .events
                    .iter()
                    .map(|e| (e.ts.as_str(), &e.event))
                    .collect();
                each(SessionEvents {
                    session: session.id.as_str(),
                    source: &source,
                    events: &events,
                    unreadable_lines: 0,
                });
            })?;
        }
    }
    Ok(())
}

/// Classifies every session of the inputs with `taxonomy` (default mode) on worker threads and
/// hands `sink` what `map` makes of each — from the session's id, its events with their
/// timestamps and its classification — in input order. `map` runs on the workers, so what
/// crosses to `sink` can be small (a report keeps one row and a few counts per session).
pub fn map_classified_inputs<T: Send>(
    inputs: &[InputFile],
    taxonomy: &Taxonomy,
    options: &ClassifyOptions,
    map: impl Fn(&str, &[(&str, &Event)], ClassifiedSession) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<(), ClassifyError>,
) -> Result<(), ClassifyError> {
    for_each_ordered_with(
        inputs.len(),
        options.threads,
        || LabelCache::new(taxonomy),
        |cache, index, emit| {
            for_each_session(&inputs[index], &mut |read| {
                let events = read.events.iter().map(|(_, event)| *event);
                let mut classified =
                    classify_events_cached(taxonomy, cache, read.session, read.source, events);
                classified.unreadable_lines = read.unreadable_lines;
                emit(map(read.session, read.events, classified));
            })
        },
        |_, item| sink(item),
    )
}

/// Classifies every session of the inputs with `taxonomy` (default mode) and hands each to
/// `sink` in input order.
pub fn classify_inputs(
    inputs: &[InputFile],
    taxonomy: &Taxonomy,
    options: &ClassifyOptions,
    mut sink: impl FnMut(ClassifiedSession) -> io::Result<()>,
) -> Result<(), ClassifyError> {
    map_classified_inputs(
        inputs,
        taxonomy,
        options,
        |_, _, session| session,
        |session| sink(session).map_err(ClassifyError::Output),
    )
}

/// [`classify_inputs`] collected into memory (for tests and the report command on small runs).
pub fn classify_paths(
    paths: &[PathBuf],
    taxonomy: &Taxonomy,
    options: &ClassifyOptions,
) -> Result<Vec<ClassifiedSession>, ClassifyError> {
    let inputs = crate::input::collect_inputs(paths)?;
    let mut sessions = Vec::new();
    classify_inputs(&inputs, taxonomy, options, |s| {
        sessions.push(s);
        Ok(())
    })?;
    Ok(sessions)
}

/// One entry of the published jsonizer with its file and published category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRecord {
    /// The log file name.
    pub file: String,
    pub entry: LegacyEntry,
    /// The published category (`None` for an entry the published classifier drops).
    pub category: Option<LegacyCategory>,
}

/// Legacy mode: every jsonizer entry of the logs, with the published category of each kept
/// one, in input order.
pub fn legacy_classify_inputs(
    inputs: &[InputFile],
    options: &ClassifyOptions,
    mut sink: impl FnMut(LegacyRecord) -> io::Result<()>,
) -> Result<(), ClassifyError> {
    if let Some(trace) = inputs.iter().find(|i| matches!(i, InputFile::Trace(_))) {
        return Err(ClassifyError::NotALog {
            path: trace.path().to_owned(),
        });
    }
    for_each_ordered(
        inputs.len(),
        options.threads,
        |index, emit| {
            let path = inputs[index].path();
            let file = fs_err::File::open(path).map_err(|source| ImportError::Read {
                path: path.to_owned(),
                source,
            })?;
            let name = file_name(path);
            let reader = io::BufReader::with_capacity(256 * 1024, file);
            for entry in LegacyEntries::new(reader, false) {
                let entry = entry.map_err(|source| ImportError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let category = entry.kept().then(|| entry.category());
                emit(LegacyRecord {
                    file: name.clone(),
                    entry,
                    category,
                });
            }
            Ok(())
        },
        |_, record| sink(record).map_err(ClassifyError::Output),
    )
}

/// Imports every legacy log and hands each session to `sink`, in input order.
pub fn import_inputs(
    inputs: &[InputFile],
    options: &ClassifyOptions,
    sink: impl FnMut(LegacySession) -> Result<(), ClassifyError>,
) -> Result<(), ClassifyError> {
    if let Some(trace) = inputs.iter().find(|i| matches!(i, InputFile::Trace(_))) {
        return Err(ClassifyError::NotALog {
            path: trace.path().to_owned(),
        });
    }
    let mut sink = sink;
    for_each_ordered(
        inputs.len(),
        options.threads,
        |index, emit| for_each_legacy_session(inputs[index].path(), emit),
        |_, session| sink(session),
    )
}
