//! Counts over classified sessions: per category, per model × category, per stage, symptom and
//! root cause, per session outcome, in one of three counting units ([`Unit`]); plus the cascade
//! share and the persistence of root defects across attempts. Built incrementally, so its
//! memory grows with the distinct root messages, not with the input.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt as _};
use std::sync::Arc;

use serde::Serialize;

use crate::classify::{ClassifiedSession, FailureRecord};
use crate::legacy::LegacyCategory;
use crate::pipeline::LegacyRecord;
use crate::taxonomy::{FailureSource, Label, Taxonomy};

/// What a count counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Every failure record (every diagnostic of every compile): the raw evidence.
    Diagnostic,
    /// Distinct root defects per compile: cascades are counted under their root, and a legacy
    /// library-install compile merges with its retry.
    #[default]
    Root,
    /// Sessions a category touches (prevalence): each session counts once per category.
    Session,
}

impl Unit {
    pub const ALL: [Unit; 3] = [Unit::Diagnostic, Unit::Root, Unit::Session];

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Diagnostic => "diagnostic",
            Unit::Root => "root",
            Unit::Session => "session",
        }
    }

    /// What one counted item is, for table headers.
    pub fn noun(self) -> &'static str {
        match self {
            Unit::Diagnostic => "failures",
            Unit::Root => "root defects",
            Unit::Session => "sessions touched",
        }
    }

    /// The records of a session this unit counts, with a category counted once per session
    /// under [`Unit::Session`].
    pub fn counted(self, records: &[FailureRecord]) -> impl Iterator<Item = &FailureRecord> {
        records
            .iter()
            .enumerate()
            .filter(move |(i, record)| match self {
                Unit::Diagnostic => true,
                Unit::Root => record.is_root(),
                Unit::Session => !records[..*i]
                    .iter()
                    .any(|r| r.label.category_id == record.label.category_id),
            })
            .map(|(_, record)| record)
    }
}

/// A root defect that came back in later attempts of the same session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recurring {
    pub message: String,
    pub category: String,
    /// Sessions in which it is a root defect at all.
    pub sessions: u64,
    /// Sessions in which it survived at least one repair (root in two or more attempts).
    pub recurring_sessions: u64,
    /// Root records of it over all sessions.
    pub roots: u64,
    /// Records of it over all sessions, cascades included.
    pub records: u64,
    /// Attempts it was present in, summed over its sessions.
    pub attempts: u64,
}

/// A category and how many failures it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryCount {
    pub group: String,
    pub category_id: String,
    pub category: String,
    pub count: u64,
    /// Percent of all failure records.
    pub percent: f64,
}

/// Counts for one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelSummary {
    pub sessions: u64,
    pub failures: u64,
    /// Category name → failure records.
    pub categories: BTreeMap<String, u64>,
    /// Session outcome → sessions.
    pub outcomes: BTreeMap<String, u64>,
}

/// The summary `autopilot classify --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub taxonomy: String,
    /// What `failures` and the category counts count.
    pub unit: Unit,
    pub sessions: u64,
    /// Counted items in `unit`.
    pub failures: u64,
    /// Every failure record (the diagnostic unit), whatever `unit` is.
    pub records: u64,
    /// Records that are root defects.
    pub roots: u64,
    /// Records linked to an earlier root in the same compile, percent of all records.
    pub cascade_percent: f64,
    /// Root defects present in two or more attempts of a session, most sessions first.
    pub recurring: Vec<Recurring>,
    pub uncategorized: u64,
    pub uncategorized_percent: f64,
    /// Every category of the taxonomy, most frequent first (ties in taxonomy order).
    pub categories: Vec<CategoryCount>,
    pub by_model: BTreeMap<String, ModelSummary>,
    pub by_stage: BTreeMap<String, u64>,
    pub by_symptom: BTreeMap<String, u64>,
    pub by_root_cause: BTreeMap<String, u64>,
    /// Session outcome → sessions.
    pub outcomes: BTreeMap<String, u64>,
    /// Category of the failure that ended each unsuccessful session → sessions.
    pub final_failures: BTreeMap<String, u64>,
    /// Trace lines that could not be read.
    pub unreadable_lines: u64,
    #[serde(skip)]
    order: Vec<(String, String, String)>,
    #[serde(skip)]
    counts: BTreeMap<String, u64>,
    #[serde(skip)]
    persistence: HashMap<Box<str>, Recurring>,
}

impl Summary {
    /// How many recurring root defects the summary names.
    pub const RECURRING: usize = 20;

    pub fn new(taxonomy: &Taxonomy, unit: Unit) -> Self {
        Summary {
            taxonomy: taxonomy.origin.clone(),
            unit,
            sessions: 0,
            failures: 0,
            records: 0,
            roots: 0,
            cascade_percent: 0.0,
            recurring: Vec::new(),
            persistence: HashMap::new(),
            uncategorized: 0,
            uncategorized_percent: 0.0,
            categories: Vec::new(),
            by_model: BTreeMap::new(),
            by_stage: BTreeMap::new(),
            by_symptom: BTreeMap::new(),
            by_root_cause: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            final_failures: BTreeMap::new(),
            unreadable_lines: 0,
            order: taxonomy
                .categories
                .iter()
                .map(|c| (c.group.clone(), c.id.clone(), c.name.clone()))
                .collect(),
            counts: BTreeMap::new(),
        }
    }

    /// Adds a session.
    pub fn add(&mut self, session: &ClassifiedSession) {
        self.add_tally(Self::tally(self.unit, session));
    }

    /// What a session adds to a summary counting in `unit`: made where the session is (a
    /// worker thread), so only this crosses to the thread that sums, and the session is
    /// freed where it was made.
    pub fn tally(unit: Unit, session: &ClassifiedSession) -> SessionTally {
        let verdict = &session.verdict;
        SessionTally {
            model: verdict.session.model.clone(),
            outcome: verdict.outcome,
            final_failure: verdict.final_failure.clone(),
            unreadable_lines: session.unreadable_lines as u64,
            records: session.records.len() as u64,
            roots: session.records.iter().filter(|r| r.is_root()).count() as u64,
            counted: {
                // Grouped by label here, on the worker: a session's records share a few
                // labels, and summing each record on its own was a thirtieth of a run, on the
                // thread that sums.
                let mut counted: Vec<(Arc<Label>, u64)> = Vec::new();
                for record in unit.counted(&session.records) {
                    match counted
                        .iter_mut()
                        .find(|(l, _)| Arc::ptr_eq(l, &record.label))
                    {
                        Some((_, n)) => *n += 1,
                        None => counted.push((Arc::clone(&record.label), 1)),
                    }
                }
                counted
            },
            persisted: persisted(&session.records),
        }
    }

    /// Adds a session's [`tally`](Summary::tally); tallies are added in input order, as
    /// sessions are by [`Summary::add`].
    pub fn add_tally(&mut self, tally: SessionTally) {
        self.sessions += 1;
        self.unreadable_lines += tally.unreadable_lines;
        count(&mut self.outcomes, tally.outcome, 1);
        if let Some(label) = &tally.final_failure {
            count(&mut self.final_failures, &label.category, 1);
        }
        self.records += tally.records;
        self.roots += tally.roots;
        self.persist(tally.persisted);
        if !self.by_model.contains_key(&tally.model) {
            self.by_model
                .insert(tally.model.clone(), ModelSummary::default());
        }
        let model = self.by_model.get_mut(&tally.model).expect("inserted above");
        model.sessions += 1;
        count(&mut model.outcomes, tally.outcome, 1);
        for (label, n) in &tally.counted {
            let n = *n;
            self.failures += n;
            model.failures += n;
            if label.is_uncategorized() {
                self.uncategorized += n;
            }
            count(&mut model.categories, &label.category, n);
            count(&mut self.counts, &label.category_id, n);
            count(&mut self.by_stage, label.stage.as_str(), n);
            count(&mut self.by_symptom, &label.symptom, n);
            count(&mut self.by_root_cause, &label.root_cause, n);
        }
    }

    /// Adds one session's root defects to the persistence counts.
    fn persist(&mut self, persisted: Vec<Persisted>) {
        for p in persisted {
            let add = |entry: &mut Recurring| {
                entry.sessions += 1;
                entry.recurring_sessions += u64::from(p.attempts > 1);
                entry.roots += p.roots;
                entry.records += p.records;
                entry.attempts += p.attempts;
            };
            // The key is stored only the first time the message is seen.
            if let Some(entry) = self.persistence.get_mut(p.message.as_str()) {
                add(entry);
            } else {
                let mut entry = Recurring {
                    message: p.message.clone(),
                    category: p.category,
                    sessions: 0,
                    recurring_sessions: 0,
                    roots: 0,
                    records: 0,
                    attempts: 0,
                };
                add(&mut entry);
                self.persistence.insert(p.message.into_boxed_str(), entry);
            }
        }
    }

    /// Fills the derived fields (category list, percentages, recurring defects); call after
    /// the last `add`.
    pub fn finish(&mut self) {
        self.cascade_percent =
            (self.records - self.roots) as f64 * 100.0 / self.records.max(1) as f64;
        let mut recurring: Vec<Recurring> = self
            .persistence
            .drain()
            .map(|(_, r)| r)
            .filter(|r| r.recurring_sessions > 0)
            .collect();
        recurring.sort_by(|a, b| {
            (b.recurring_sessions, b.records, &a.message).cmp(&(
                a.recurring_sessions,
                a.records,
                &b.message,
            ))
        });
        recurring.truncate(Self::RECURRING);
        self.recurring = recurring;
        let total = self.failures.max(1) as f64;
        self.uncategorized_percent = self.uncategorized as f64 * 100.0 / total;
        let mut categories: Vec<CategoryCount> = self
            .order
            .iter()
            .map(|(group, id, name)| {
                let count = self.counts.get(id).copied().unwrap_or(0);
                CategoryCount {
                    group: group.clone(),
                    category_id: id.clone(),
                    category: name.clone(),
                    count,
                    percent: count as f64 * 100.0 / total,
                }
            })
            .collect();
        categories.sort_by_key(|c| std::cmp::Reverse(c.count));
        self.categories = categories;
    }
}

/// What one session adds to a [`Summary`] (see [`Summary::tally`]).
#[derive(Debug, Clone)]
pub struct SessionTally {
    model: String,
    outcome: &'static str,
    final_failure: Option<Arc<Label>>,
    unreadable_lines: u64,
    records: u64,
    roots: u64,
    /// The labels of the records the unit counts, each with its number of records.
    counted: Vec<(Arc<Label>, u64)>,
    persisted: Vec<Persisted>,
}

/// One root defect of a session: the message, the category of its first record, and in how
/// many attempts it was a root, its root records and all its records.
#[derive(Debug, Clone)]
struct Persisted {
    message: String,
    category: String,
    attempts: u64,
    roots: u64,
    records: u64,
}

/// Root defects of one session by message: in how many attempts each was present.
fn persisted(records: &[FailureRecord]) -> Vec<Persisted> {
    // Both maps sized up front: grown from empty, they rehashed every message several times
    // per session.
    let mut attempts: HashMap<&str, (Vec<u32>, u64, u64, &str)> =
        HashMap::with_capacity(records.len());
    // (attempt, id) → message of each root diagnostic.
    let mut roots: HashMap<(u32, u32), &str> = HashMap::with_capacity(records.len());
    roots.extend(
        records
            .iter()
            .filter(|r| r.is_root() && r.source == FailureSource::Diagnostic)
            .map(|r| ((r.attempt, r.evidence.id), r.message.as_str())),
    );
    for record in records {
        let root_message = match record.evidence.root {
            None => record.message.as_str(),
            // A cascade counts as a record of its root's defect.
            Some(root) => roots
                .get(&(record.attempt, root))
                .copied()
                .unwrap_or(record.message.as_str()),
        };
        let entry = attempts
            .entry(root_message)
            .or_insert_with(|| (Vec::new(), 0, 0, record.label.category.as_str()));
        entry.2 += 1;
        if record.is_root() {
            entry.1 += 1;
            if !entry.0.contains(&record.attempt) {
                entry.0.push(record.attempt);
            }
        }
    }
    attempts
        .into_iter()
        .filter(|(_, (seen, ..))| !seen.is_empty())
        .map(|(message, (seen, roots, all, category))| Persisted {
            message: message.to_owned(),
            category: category.to_owned(),
            attempts: seen.len() as u64,
            roots,
            records: all,
        })
        .collect()
}

/// Adds `n` to `key`'s count, allocating the key only the first time.
fn count(counts: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match counts.get_mut(key) {
        Some(total) => *total += n,
        None => {
            counts.insert(key.to_owned(), n);
        }
    }
}

/// Legacy-mode counts: per file and category, as the published `_summary.csv` files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LegacySummary {
    /// Entries the published classifier kept and classified.
    pub entries: u64,
    /// Entries it dropped (timestamp `unknown`).
    pub dropped: u64,
    /// Category → entries.
    pub categories: BTreeMap<String, u64>,
    /// File → category → entries.
    pub by_file: BTreeMap<String, BTreeMap<String, u64>>,
}

impl LegacySummary {
    pub fn add(&mut self, record: &LegacyRecord) {
        match record.category {
            Some(category) => {
                self.entries += 1;
                *self
                    .categories
                    .entry(category.name().to_owned())
                    .or_default() += 1;
                *self
                    .by_file
                    .entry(record.file.clone())
                    .or_default()
                    .entry(category.name().to_owned())
                    .or_default() += 1;
            }
            None => self.dropped += 1,
        }
    }

    /// Categories most frequent first (ties in rule order).
    pub fn ranked(&self) -> Vec<(&'static str, u64)> {
        let mut ranked: Vec<(&'static str, u64)> = LegacyCategory::ALL
            .iter()
            .map(|c| {
                (
                    c.name(),
                    self.categories.get(c.name()).copied().unwrap_or(0),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
        ranked
    }
}
