//! Legacy mode reproduces the published jsonizer + classifier on the published logs, entry by
//! entry: `reference/legacy_categories.csv`, 1531 of 1531.

use std::collections::BTreeMap;
use std::io::BufReader;

use autopilot_classifier::legacy::{LegacyCategory, LegacyEntries};

use crate::support::{corpus, corpus_logs};

#[derive(Debug, serde::Deserialize)]
struct ReferenceRow {
    file: String,
    index_in_parsed_json: usize,
    index_in_cleaned_json: usize,
    timestamp: String,
    message_first200: String,
    category: String,
}

#[test]
fn legacy_mode_equals_the_published_classification_entry_by_entry() {
    let Some(corpus) = corpus() else { return };
    let mut reader =
        csv::Reader::from_path(corpus.join("reference/legacy_categories.csv")).unwrap();
    let reference: Vec<ReferenceRow> = reader.deserialize().map(Result::unwrap).collect();
    assert_eq!(reference.len(), 1531);
    let mut ours = Vec::new();
    let mut dropped = 0;
    for log in corpus_logs(&corpus) {
        let name = log.file_name().unwrap().to_string_lossy().into_owned();
        let file = std::fs::File::open(&log).unwrap();
        for entry in LegacyEntries::new(BufReader::new(file), false) {
            let entry = entry.unwrap();
            match entry.index {
                Some(index) => ours.push((
                    name.clone(),
                    entry.parsed_index,
                    index,
                    entry.timestamp.clone(),
                    entry.message.chars().take(200).collect::<String>(),
                    entry.category(),
                )),
                None => dropped += 1,
            }
        }
    }
    assert_eq!(dropped, 296, "entries dropped for an unknown timestamp");
    assert_eq!(ours.len(), reference.len());
    let mut mismatches = Vec::new();
    for (row, (file, parsed, index, timestamp, first200, category)) in reference.iter().zip(&ours) {
        let same = row.file == *file
            && row.index_in_parsed_json == *parsed
            && row.index_in_cleaned_json == *index
            && row.timestamp == *timestamp
            && row.message_first200 == *first200
            && row.category == category.name();
        if !same {
            mismatches.push(format!(
                "{row:?}\n  ours: {file} {parsed} {index} {timestamp} {category} {first200}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of 1531 differ:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (.., category) in &ours {
        *counts.entry(category.name()).or_default() += 1;
    }
    assert_eq!(counts[LegacyCategory::MissingLibraries.name()], 374);
    assert_eq!(counts[LegacyCategory::SyntaxError.name()], 352);
}
