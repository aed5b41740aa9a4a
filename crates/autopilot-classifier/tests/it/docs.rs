//! `docs/taxonomy.md` holds the legacy and default categories on the corpus side by side; this
//! test regenerates that table from the corpus and fails when the file is stale
//! (`UPDATE_DOCS=1 cargo test -p autopilot-classifier --test it docs` rewrites it).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::BufReader;
use std::path::Path;

use autopilot_classifier::legacy::{LegacyCategory, LegacyEntries};
use autopilot_classifier::{
    ClassifiedSession, FailureSource, FailureStage, Taxonomy, Unit, classify_events,
    import_legacy_all, parse_header,
};

use crate::support::{corpus, corpus_logs};

const BEGIN: &str = "<!-- BEGIN GENERATED: cargo test -p autopilot-classifier --test it docs -->";
const END: &str = "<!-- END GENERATED -->";

/// (file, batch, session, spec phase?, attempt) → the category of the attempt's first failure.
type AttemptKey = (String, String, String, bool, u32);

struct Corpus {
    legacy: BTreeMap<&'static str, u64>,
    default_all: BTreeMap<String, u64>,
    default_first: BTreeMap<String, u64>,
    /// Root defects (cascades counted under their root) and sessions touched, per category.
    default_roots: BTreeMap<String, u64>,
    default_sessions: BTreeMap<String, u64>,
    /// Legacy category → default category of the same failure (or "dropped") → entries.
    flows: BTreeMap<&'static str, BTreeMap<String, u64>>,
    entries: u64,
    failures: u64,
    attempts: u64,
    roots: u64,
    sessions: u64,
}

fn measure(corpus: &Path) -> Corpus {
    let taxonomy = Taxonomy::builtin().unwrap();
    let mut c = Corpus {
        legacy: BTreeMap::new(),
        default_all: BTreeMap::new(),
        default_first: BTreeMap::new(),
        default_roots: BTreeMap::new(),
        default_sessions: BTreeMap::new(),
        flows: BTreeMap::new(),
        entries: 0,
        failures: 0,
        attempts: 0,
        roots: 0,
        sessions: 0,
    };
    for log in corpus_logs(corpus) {
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        let mut first: HashMap<AttemptKey, String> = HashMap::new();
        let mut backend: HashMap<(String, String), String> = HashMap::new();
        for session in import_legacy_all(&log).unwrap() {
            let events = session.events.iter().map(|e| &e.event);
            let classified: ClassifiedSession =
                classify_events(&taxonomy, session.id.as_str(), &file, events);
            c.sessions += 1;
            for r in Unit::Session.counted(&classified.records) {
                *c.default_sessions
                    .entry(r.label.category.clone())
                    .or_default() += 1;
            }
            for r in Unit::Root.counted(&classified.records) {
                c.roots += 1;
                *c.default_roots.entry(r.label.category.clone()).or_default() += 1;
            }
            for r in &classified.records {
                c.failures += 1;
                *c.default_all.entry(r.label.category.clone()).or_default() += 1;
                let spec = r.label.stage == FailureStage::SpecFill;
                let key = (
                    file.clone(),
                    session.batch.clone(),
                    session.legacy_session.clone(),
                    spec,
                    r.attempt,
                );
                first.entry(key).or_insert_with(|| {
                    c.attempts += 1;
                    *c.default_first.entry(r.label.category.clone()).or_default() += 1;
                    r.label.category.clone()
                });
                if r.source == FailureSource::Llm {
                    backend.insert(
                        (session.batch.clone(), session.legacy_session.clone()),
                        r.label.category.clone(),
                    );
                }
            }
        }
        let reader = BufReader::new(fs_err::File::open(&log).unwrap());
        for entry in LegacyEntries::new(reader, false) {
            let entry = entry.unwrap();
            if !entry.kept() {
                continue;
            }
            c.entries += 1;
            let category = entry.category().name();
            *c.legacy.entry(category).or_default() += 1;
            let header = parse_header(&entry.message).unwrap();
            let number = |marker: &str| -> u32 {
                let at = header.message.find(marker).unwrap() + marker.len();
                header.message[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap()
            };
            let key = |spec, attempt| {
                (
                    file.clone(),
                    header.batch.to_owned(),
                    header.session.to_owned(),
                    spec,
                    attempt,
                )
            };
            let m = header.message;
            let target = if m.starts_with("Error in code execution") {
                first[&key(false, number("NO."))].clone()
            } else if m.starts_with("Exception caught in prompting attempt") {
                first[&key(false, number("attempt "))].clone()
            } else if m.starts_with("After ") {
                first[&key(true, number("After "))].clone()
            } else if m.starts_with("Ollama error occurred") {
                backend[&(header.batch.to_owned(), header.session.to_owned())].clone()
            } else if m.starts_with("Failed to generate valid code") {
                "dropped: copy of the last error".to_owned()
            } else if m.starts_with("Sketch code generation process failed") {
                "dropped: end-of-session marker".to_owned()
            } else {
                panic!("unexpected legacy entry {m}")
            };
            *c.flows
                .entry(category)
                .or_default()
                .entry(target)
                .or_default() += 1;
        }
    }
    c
}

fn render(c: &Corpus, taxonomy: &Taxonomy) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Category (group) | Legacy: entries ({}) | Default: first failure of each failed attempt ({}) | Default: every failure ({}) | Default: root defects ({}) | Default: sessions touched (of {}) |",
        c.entries, c.attempts, c.failures, c.roots, c.sessions
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for category in &taxonomy.categories {
        let legacy = category
            .legacy
            .as_deref()
            .map_or(0, |l| c.legacy.get(l).copied().unwrap_or(0));
        let first = c.default_first.get(&category.name).copied().unwrap_or(0);
        let all = c.default_all.get(&category.name).copied().unwrap_or(0);
        let roots = c.default_roots.get(&category.name).copied().unwrap_or(0);
        let sessions = c.default_sessions.get(&category.name).copied().unwrap_or(0);
        let group = if category.group.is_empty() {
            String::new()
        } else {
            format!(" ({})", category.group)
        };
        let _ = writeln!(
            out,
            "| {}{group} | {legacy} | {first} | {all} | {roots} | {sessions} |",
            category.name
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Where each legacy entry went (the default label of the same failure: the first failure of the same attempt, the backend failure of the same session, or dropped as bookkeeping):"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Legacy category | Entries | Default category of the same failure |"
    );
    let _ = writeln!(out, "|---|---:|---|");
    for legacy in LegacyCategory::ALL {
        let Some(flows) = c.flows.get(legacy.name()) else {
            continue;
        };
        let total: u64 = flows.values().sum();
        let mut parts: Vec<(&String, &u64)> = flows.iter().collect();
        parts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = parts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "| {} | {total} | {} |",
            legacy.name(),
            parts.join(" · ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{END}");
    out
}

/// `7880` → `7,880`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[test]
fn docs_taxonomy_md_has_the_current_side_by_side_table() {
    let Some(corpus) = corpus() else { return };
    let taxonomy = Taxonomy::builtin().unwrap();
    let measured = measure(&corpus);
    let generated = render(&measured, &taxonomy);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/taxonomy.md");
    let text = fs_err::read_to_string(&path).unwrap();
    let (start, end) = (
        text.find(BEGIN).expect("begin marker"),
        text.find(END).expect("end marker"),
    );
    let after = end + END.len() + 1;
    let current = &text[start..after];
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!(
            "{}{generated}{}",
            &text[..start],
            &text[end + END.len() + 1..]
        );
        fs_err::write(&path, updated).unwrap();
        return;
    }
    assert!(
        current == generated,
        "docs/taxonomy.md is stale; run UPDATE_DOCS=1 cargo test -p autopilot-classifier --test it docs\n\ngenerated:\n{generated}"
    );
    // The prose gives each category's counts too; they must agree with the table.
    for category in &taxonomy.categories {
        let legacy = category
            .legacy
            .as_deref()
            .map_or(0, |l| measured.legacy.get(l).copied().unwrap_or(0));
        let first = measured
            .default_first
            .get(&category.name)
            .copied()
            .unwrap_or(0);
        let all = measured
            .default_all
            .get(&category.name)
            .copied()
            .unwrap_or(0);
        let expected = format!(
            "**{}** (legacy {} → {} first failures, {} failures)",
            category.name,
            thousands(legacy),
            thousands(first),
            thousands(all)
        );
        assert!(
            text.contains(&expected),
            "docs/taxonomy.md: update the prose to {expected}"
        );
    }
}
