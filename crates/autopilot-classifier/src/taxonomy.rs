//! The taxonomy as data: groups, categories, symptoms, root causes and the ordered rules that
//! map failure messages to them, loaded from TOML (`data/taxonomy.toml`) and validated on load.
//!
//! Matching is one Aho–Corasick pass over the message for every substring of every rule
//! (ASCII case-insensitive), then the rules in file order on the set of hits; a rule's regex is
//! only run when its substrings already hold. The first rule that matches decides; a `skip`
//! rule marks bookkeeping that is no failure of its own.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};

/// The taxonomy shipped in `data/taxonomy.toml`.
pub const DEFAULT_TAXONOMY: &str = include_str!("../../../data/taxonomy.toml");

/// Where a failure showed up, as the taxonomy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureStage {
    /// Filling the application spec.
    SpecFill,
    /// Pulling code out of an answer.
    Extract,
    /// Static checks before a compile.
    Precheck,
    Compile,
    Link,
    /// Flash/RAM limits.
    Size,
    /// Running the firmware in a simulator.
    Simulate,
    /// The LLM backend.
    Backend,
    /// The pipeline itself (budgets, policies, infrastructure).
    Orchestration,
}

impl FailureStage {
    pub const ALL: [FailureStage; 9] = [
        FailureStage::SpecFill,
        FailureStage::Extract,
        FailureStage::Precheck,
        FailureStage::Compile,
        FailureStage::Link,
        FailureStage::Size,
        FailureStage::Simulate,
        FailureStage::Backend,
        FailureStage::Orchestration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureStage::SpecFill => "spec_fill",
            FailureStage::Extract => "extract",
            FailureStage::Precheck => "precheck",
            FailureStage::Compile => "compile",
            FailureStage::Link => "link",
            FailureStage::Size => "size",
            FailureStage::Simulate => "simulate",
            FailureStage::Backend => "backend",
            FailureStage::Orchestration => "orchestration",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        FailureStage::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for FailureStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of trace evidence a failure record comes from. Rules may be limited to some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureSource {
    /// One compiler, linker or build-tool diagnostic of a failed compile.
    Diagnostic,
    /// A failed compile without diagnostics (timeout, missing toolchain).
    Compile,
    /// A failed check (spec validation, extraction, precheck, size).
    Check,
    /// An LLM call that failed for good.
    Llm,
    /// A simulation that did not show a prediction.
    Simulation,
    /// A failed attempt with no other evidence.
    Attempt,
}

impl FailureSource {
    pub const ALL: [FailureSource; 6] = [
        FailureSource::Diagnostic,
        FailureSource::Compile,
        FailureSource::Check,
        FailureSource::Llm,
        FailureSource::Simulation,
        FailureSource::Attempt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureSource::Diagnostic => "diagnostic",
            FailureSource::Compile => "compile",
            FailureSource::Check => "check",
            FailureSource::Llm => "llm",
            FailureSource::Simulation => "simulation",
            FailureSource::Attempt => "attempt",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        FailureSource::ALL.into_iter().find(|s| s.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The labels a rule gives a failure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Label {
    /// The rule that matched (`fallback` when none did).
    pub rule: String,
    pub group: String,
    pub category_id: String,
    pub category: String,
    pub stage: FailureStage,
    pub symptom: String,
    pub root_cause: String,
}

impl Label {
    pub fn is_uncategorized(&self) -> bool {
        self.rule == FALLBACK_RULE
    }
}

const FALLBACK_RULE: &str = "fallback";

/// What a rule may read besides the message: the source line GCC echoed and its notes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    pub source_line: Option<&'a str>,
    pub notes: &'a [String],
}

/// A group of categories (the paper's five).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
}

/// A category, with its group and the legacy category it corresponds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub name: String,
    /// Group name; empty for `uncategorized`.
    pub group: String,
    pub legacy: Option<String>,
    pub description: String,
}

/// A declared symptom or root cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// A loaded, validated taxonomy.
#[derive(Debug)]
pub struct Taxonomy {
    /// Where it came from (`built-in data/taxonomy.toml` or a path).
    pub origin: String,
    pub description: String,
    pub groups: Vec<Group>,
    pub categories: Vec<Category>,
    pub symptoms: Vec<Named>,
    pub root_causes: Vec<Named>,
    rules: Vec<Rule>,
    matcher: AhoCorasick,
    needles: usize,
    /// The uncategorized label of each stage, indexed by `FailureStage as usize`.
    fallback: Vec<Arc<Label>>,
}

#[derive(Debug)]
struct Rule {
    sources: u8,
    any: Vec<usize>,
    all: Vec<usize>,
    none: Vec<usize>,
    regex: Option<Regex>,
    /// Must match the source line GCC echoed (a rule with it never matches without one).
    line: Option<Regex>,
    /// Must match one of the diagnostic's notes.
    note: Option<Regex>,
    /// `None`: a skip rule.
    label: Option<Arc<Label>>,
}

/// A taxonomy file that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("cannot read taxonomy {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxonomyFile {
    version: u32,
    #[serde(default)]
    description: String,
    #[serde(rename = "group")]
    groups: Vec<GroupFile>,
    #[serde(rename = "category")]
    categories: Vec<CategoryFile>,
    #[serde(rename = "symptom")]
    symptoms: Vec<NamedFile>,
    #[serde(rename = "root_cause")]
    root_causes: Vec<NamedFile>,
    fallback: FallbackFile,
    #[serde(rename = "rule")]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    id: String,
    name: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    legacy: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedFile {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackFile {
    category: String,
    symptom: String,
    root_cause: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    line: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    case_sensitive: bool,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    symptom: Option<String>,
    #[serde(default)]
    root_cause: Option<String>,
    /// Why the rule exists (for readers of the file).
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the TOML file")]
    why: String,
}

/// The stage a failure is given when no rule matches, by where it came from.
pub fn default_stage(source: FailureSource) -> FailureStage {
    match source {
        FailureSource::Diagnostic | FailureSource::Compile | FailureSource::Attempt => {
            FailureStage::Compile
        }
        FailureSource::Check => FailureStage::Precheck,
        FailureSource::Llm => FailureStage::Backend,
        FailureSource::Simulation => FailureStage::Simulate,
    }
}

impl Taxonomy {
    /// The built-in taxonomy (`data/taxonomy.toml` as compiled in).
    pub fn builtin() -> Result<Self, TaxonomyError> {
        Taxonomy::parse(DEFAULT_TAXONOMY, "built-in data/taxonomy.toml")
    }

    /// Loads and validates a taxonomy file.
    pub fn load(path: &Path) -> Result<Self, TaxonomyError> {
        let text = fs_err::read_to_string(path).map_err(|source| TaxonomyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Taxonomy::parse(&text, &path.display().to_string())
    }

    /// Parses and validates taxonomy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TaxonomyError> {
        let file: TaxonomyFile = toml::from_str(text).map_err(|err| TaxonomyError::Parse {
            origin: origin.to_owned(),
            message: err.to_string().trim_end().to_owned(),
        })?;
        build(&file, origin)
    }

    /// The label of a failure message from `source`, or `None` when a skip rule says it is
    /// bookkeeping. Messages no rule matches get the fallback (uncategorized) label.
    pub fn classify(&self, source: FailureSource, message: &str) -> Option<&Arc<Label>> {
        self.classify_evidence(source, message, &Evidence::default())
    }

    /// Whether any rule reads the source line or the notes (callers that cache labels by
    /// message must then key them by the evidence too).
    pub fn uses_evidence(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.line.is_some() || r.note.is_some())
    }

    /// Which evidence can change the label of `message`: (source line, notes). Both `false`
    /// when no rule with a `line` or `note` condition holds on the message alone, so callers may
    /// cache the label by message.
    pub fn evidence_needed(&self, source: FailureSource, message: &str) -> (bool, bool) {
        let (mut line, mut note) = (false, false);
        if !self.uses_evidence() {
            return (line, note);
        }
        let normalized = normalize_quotes(message);
        let hits = self.hits(&normalized);
        for rule in self
            .rules
            .iter()
            .filter(|r| r.line.is_some() || r.note.is_some())
        {
            if rule.message_matches(source, &hits, &normalized) {
                line |= rule.line.is_some();
                note |= rule.note.is_some();
            }
        }
        (line, note)
    }

    /// The substrings of every rule found in `message`, as a bit set by needle id.
    fn hits(&self, message: &str) -> Vec<u64> {
        let mut hits = vec![0u64; self.needles.div_ceil(64).max(1)];
        for found in self.matcher.find_overlapping_iter(message) {
            let id = found.pattern().as_usize();
            hits[id / 64] |= 1 << (id % 64);
        }
        hits
    }

    /// [`Taxonomy::classify`] with the evidence around the message: rules with `line` or `note`
    /// conditions match on the echoed source line and the notes.
    pub fn classify_evidence(
        &self,
        source: FailureSource,
        message: &str,
        evidence: &Evidence<'_>,
    ) -> Option<&Arc<Label>> {
        // GCC in a UTF-8 locale quotes with ‘ ’; the rules are written with '.
        let normalized;
        let message = if message.contains(['\u{2018}', '\u{2019}']) {
            normalized = message.replace(['\u{2018}', '\u{2019}'], "'");
            normalized.as_str()
        } else {
            message
        };
        let words = self.needles.div_ceil(64).max(1);
        let mut small = [0u64; 16];
        let mut large = Vec::new();
        let hits: &mut [u64] = if words <= small.len() {
            &mut small[..words]
        } else {
            large.resize(words, 0);
            &mut large
        };
        for found in self.matcher.find_overlapping_iter(message) {
            let id = found.pattern().as_usize();
            hits[id / 64] |= 1 << (id % 64);
        }
        let hit = |id: &usize| hits[id / 64] & (1 << (id % 64)) != 0;
        for rule in &self.rules {
            if rule.sources & source.bit() == 0
                || !rule.all.iter().all(hit)
                || (!rule.any.is_empty() && !rule.any.iter().any(hit))
                || rule.none.iter().any(hit)
                || rule.regex.as_ref().is_some_and(|r| !r.is_match(message))
                || rule
                    .line
                    .as_ref()
                    .is_some_and(|r| !evidence.source_line.is_some_and(|l| r.is_match(l)))
                || rule
                    .note
                    .as_ref()
                    .is_some_and(|r| !evidence.notes.iter().any(|n| r.is_match(n.as_str())))
            {
                continue;
            }
            return rule.label.as_ref();
        }
        Some(&self.fallback[default_stage(source) as usize])
    }

    /// The fallback label for a stage (category `uncategorized`).
    pub fn uncategorized(&self, stage: FailureStage) -> Arc<Label> {
        Arc::clone(&self.fallback[stage as usize])
    }

    /// The number of rules (skip rules included).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// GCC in a UTF-8 locale quotes with ‘ ’; the rules are written with '.
fn normalize_quotes(message: &str) -> std::borrow::Cow<'_, str> {
    if message.contains(['\u{2018}', '\u{2019}']) {
        message.replace(['\u{2018}', '\u{2019}'], "'").into()
    } else {
        message.into()
    }
}

impl Rule {
    /// The rule's conditions on the source and the message (not on the evidence).
    fn message_matches(&self, source: FailureSource, hits: &[u64], message: &str) -> bool {
        let hit = |id: &usize| hits[id / 64] & (1 << (id % 64)) != 0;
        self.sources & source.bit() != 0
            && self.all.iter().all(hit)
            && (self.any.is_empty() || self.any.iter().any(hit))
            && !self.none.iter().any(hit)
            && self.regex.as_ref().is_none_or(|r| r.is_match(message))
    }
}

/// A rule's regex: ASCII classes and case folding (diagnostics are ASCII), and only the lazy
/// DFA and the PikeVM: messages are short and each distinct one is matched once per worker, so
/// a cheap build matters more than search speed (the `regex` crate's full build made loading
/// the taxonomy several times slower).
fn compile_regex(pattern: &str, case_sensitive: bool) -> Result<Regex, String> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .onepass(false)
                .backtrack(false)
                .dfa(false),
        )
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .case_insensitive(!case_sensitive),
        )
        .build(pattern)
        .map_err(|err| err.to_string())
}

fn invalid(origin: &str, key: impl Into<String>, message: impl Into<String>) -> TaxonomyError {
    TaxonomyError::Invalid {
        origin: origin.to_owned(),
        key: key.into(),
        message: message.into(),
    }
}

fn unique_ids<'a>(
    origin: &str,
    table: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, TaxonomyError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if id.is_empty() {
            return Err(invalid(origin, format!("{table}[{i}].id"), "empty id"));
        }
        if !seen.insert(id) {
            return Err(invalid(
                origin,
                format!("{table}[{i}].id"),
                format!("duplicate id {id:?}"),
            ));
        }
    }
    Ok(seen)
}

fn build(file: &TaxonomyFile, origin: &str) -> Result<Taxonomy, TaxonomyError> {
    if file.version != 1 {
        return Err(invalid(
            origin,
            "version",
            format!("unsupported version {} (this build reads 1)", file.version),
        ));
    }
    unique_ids(origin, "group", file.groups.iter().map(|g| g.id.as_str()))?;
    unique_ids(
        origin,
        "category",
        file.categories.iter().map(|c| c.id.as_str()),
    )?;
    let symptoms: HashMap<&str, &str> = {
        unique_ids(
            origin,
            "symptom",
            file.symptoms.iter().map(|s| s.id.as_str()),
        )?;
        file.symptoms
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect()
    };
    let root_causes: HashMap<&str, &str> = {
        unique_ids(
            origin,
            "root_cause",
            file.root_causes.iter().map(|s| s.id.as_str()),
        )?;
        file.root_causes
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect()
    };
    let groups: Vec<Group> = file
        .groups
        .iter()
        .map(|g| Group {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect();
    let mut categories = Vec::new();
    for (i, c) in file.categories.iter().enumerate() {
        let group = match &c.group {
            Some(id) => groups
                .iter()
                .find(|g| &g.id == id)
                .map(|g| g.name.clone())
                .ok_or_else(|| {
                    invalid(
                        origin,
                        format!("category[{i}].group"),
                        format!("category {:?} names unknown group {id:?}", c.id),
                    )
                })?,
            None => String::new(),
        };
        categories.push(Category {
            id: c.id.clone(),
            name: c.name.clone(),
            group,
            legacy: c.legacy.clone(),
            description: c.description.clone(),
        });
    }
    let category = |key: String, id: &str| -> Result<&Category, TaxonomyError> {
        categories
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| invalid(origin, key, format!("unknown category {id:?}")))
    };
    let symptom = |key: String, id: &str| -> Result<String, TaxonomyError> {
        symptoms
            .get(id)
            .map(|s| (*s).to_owned())
            .ok_or_else(|| invalid(origin, key, format!("unknown symptom {id:?}")))
    };
    let root_cause = |key: String, id: &str| -> Result<String, TaxonomyError> {
        root_causes
            .get(id)
            .map(|s| (*s).to_owned())
            .ok_or_else(|| invalid(origin, key, format!("unknown root cause {id:?}")))
    };
    let fallback_category = category("fallback.category".into(), &file.fallback.category)?;
    let fallback_symptom = symptom("fallback.symptom".into(), &file.fallback.symptom)?;
    let fallback_root = root_cause("fallback.root_cause".into(), &file.fallback.root_cause)?;
    let fallback = FailureStage::ALL
        .into_iter()
        .map(|stage| {
            let label = Label {
                rule: FALLBACK_RULE.to_owned(),
                group: fallback_category.group.clone(),
                category_id: fallback_category.id.clone(),
                category: fallback_category.name.clone(),
                stage,
                symptom: fallback_symptom.clone(),
                root_cause: fallback_root.clone(),
            };
            Arc::new(label)
        })
        .collect();

    let mut needle_ids: HashMap<String, usize> = HashMap::new();
    let mut needles: Vec<String> = Vec::new();
    let mut needle = |text: &str| -> usize {
        let lower = text.to_ascii_lowercase();
        let next = needles.len();
        *needle_ids.entry(lower.clone()).or_insert_with(|| {
            needles.push(lower);
            next
        })
    };
    unique_ids(origin, "rule", file.rules.iter().map(|r| r.id.as_str()))?;
    let mut rules = Vec::new();
    for (i, r) in file.rules.iter().enumerate() {
        let key = |field: &str| format!("rule[{i}] ({}).{field}", r.id);
        let mut sources = 0u8;
        for (j, s) in r.sources.iter().enumerate() {
            let source = FailureSource::parse(s).ok_or_else(|| {
                invalid(
                    origin,
                    format!("{}[{j}]", key("sources")),
                    format!(
                        "unknown source {s:?} (one of {})",
                        FailureSource::ALL.map(FailureSource::as_str).join(", ")
                    ),
                )
            })?;
            sources |= source.bit();
        }
        if r.sources.is_empty() {
            sources = u8::MAX;
        }
        for (field, list) in [("any", &r.any), ("all", &r.all), ("none", &r.none)] {
            if let Some(j) = list.iter().position(String::is_empty) {
                return Err(invalid(
                    origin,
                    format!("{}[{j}]", key(field)),
                    "empty substring",
                ));
            }
        }
        if r.any.is_empty() && r.all.is_empty() && r.regex.is_none() {
            return Err(invalid(
                origin,
                key("any"),
                "a rule needs `any`, `all` or `regex`",
            ));
        }
        let pattern = |field: &str, pattern: &Option<String>| match pattern {
            Some(pattern) => compile_regex(pattern, r.case_sensitive)
                .map(Some)
                .map_err(|err| invalid(origin, key(field), err)),
            None => Ok(None),
        };
        let regex = pattern("regex", &r.regex)?;
        let line = pattern("line", &r.line)?;
        let note = pattern("note", &r.note)?;
        let label = if r.skip {
            if r.category.is_some() {
                return Err(invalid(
                    origin,
                    key("category"),
                    "a skip rule has no category",
                ));
            }
            None
        } else {
            let category_id = r
                .category
                .as_deref()
                .ok_or_else(|| invalid(origin, key("category"), "missing (or set skip = true)"))?;
            let category = category(key("category"), category_id)?;
            let stage_text = r
                .stage
                .as_deref()
                .ok_or_else(|| invalid(origin, key("stage"), "missing"))?;
            let stage = FailureStage::parse(stage_text).ok_or_else(|| {
                invalid(
                    origin,
                    key("stage"),
                    format!(
                        "unknown stage {stage_text:?} (one of {})",
                        FailureStage::ALL.map(FailureStage::as_str).join(", ")
                    ),
                )
            })?;
            let symptom_id = r
                .symptom
                .as_deref()
                .ok_or_else(|| invalid(origin, key("symptom"), "missing"))?;
            let root_id = r
                .root_cause
                .as_deref()
                .ok_or_else(|| invalid(origin, key("root_cause"), "missing"))?;
            Some(Arc::new(Label {
                rule: r.id.clone(),
                group: category.group.clone(),
                category_id: category.id.clone(),
                category: category.name.clone(),
                stage,
                symptom: symptom(key("symptom"), symptom_id)?,
                root_cause: root_cause(key("root_cause"), root_id)?,
            }))
        };
        rules.push(Rule {
            sources,
            any: r.any.iter().map(|n| needle(n)).collect(),
            all: r.all.iter().map(|n| needle(n)).collect(),
            none: r.none.iter().map(|n| needle(n)).collect(),
            regex,
            line,
            note,
            label,
        });
    }
    let matcher = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&needles)
        .map_err(|err| invalid(origin, "rule", err.to_string()))?;
    let named = |list: &[NamedFile]| -> Vec<Named> {
        list.iter()
            .map(|n| Named {
                id: n.id.clone(),
                name: n.name.clone(),
                description: n.description.clone(),
            })
            .collect()
    };
    Ok(Taxonomy {
        origin: origin.to_owned(),
        description: file.description.clone(),
        groups,
        categories,
        symptoms: named(&file.symptoms),
        root_causes: named(&file.root_causes),
        rules,
        matcher,
        needles: needles.len(),
        fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_sources_index_their_lists() {
        for (i, stage) in FailureStage::ALL.into_iter().enumerate() {
            assert_eq!(stage as usize, i);
            assert_eq!(FailureStage::parse(stage.as_str()), Some(stage));
        }
        for (i, source) in FailureSource::ALL.into_iter().enumerate() {
            assert_eq!(source as usize, i);
            assert_eq!(FailureSource::parse(source.as_str()), Some(source));
        }
    }
}
