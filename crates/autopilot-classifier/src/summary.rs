//! Counts over classified sessions: per category, per model × category, per stage, symptom and
//! root cause, per session outcome. Built incrementally, so its memory does not grow with the
//! input.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::ClassifiedSession;
use crate::legacy::LegacyCategory;
use crate::pipeline::LegacyRecord;
use crate::taxonomy::Taxonomy;

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
    pub sessions: u64,
    pub failures: u64,
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
}

impl Summary {
    pub fn new(taxonomy: &Taxonomy) -> Self {
        Summary {
            taxonomy: taxonomy.origin.clone(),
            sessions: 0,
            failures: 0,
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
        let verdict = &session.verdict;
        self.sessions += 1;
        self.unreadable_lines += session.unreadable_lines as u64;
        count(&mut self.outcomes, verdict.outcome);
        if let Some(label) = &verdict.final_failure {
            count(&mut self.final_failures, &label.category);
        }
        if !self.by_model.contains_key(&verdict.session.model) {
            self.by_model
                .insert(verdict.session.model.clone(), ModelSummary::default());
        }
        let model = self
            .by_model
            .get_mut(&verdict.session.model)
            .expect("inserted above");
        model.sessions += 1;
        count(&mut model.outcomes, verdict.outcome);
        for record in &session.records {
            let label = &record.label;
            self.failures += 1;
            model.failures += 1;
            if label.is_uncategorized() {
                self.uncategorized += 1;
            }
            count(&mut model.categories, &label.category);
            count(&mut self.counts, &label.category_id);
            count(&mut self.by_stage, label.stage.as_str());
            count(&mut self.by_symptom, &label.symptom);
            count(&mut self.by_root_cause, &label.root_cause);
        }
    }

    /// Fills the derived fields (category list, percentages); call after the last `add`.
    pub fn finish(&mut self) {
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

/// Adds one to `key`'s count, allocating the key only the first time.
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
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
