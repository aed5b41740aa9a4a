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
        let file = fs_err::File::open(&log).unwrap();
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

#[test]
fn echoed_source_lines_holding_error_open_bogus_entries_that_are_dropped() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/logs/sg_demo_1a2b.log"
    );
    let entries: Vec<_> =
        LegacyEntries::new(BufReader::new(fs_err::File::open(path).unwrap()), true)
            .map(Result::unwrap)
            .collect();
    let kept: Vec<(usize, LegacyCategory)> = entries
        .iter()
        .filter_map(|e| e.index.map(|i| (i, e.category())))
        .collect();
    assert_eq!(
        kept,
        [
            (0, LegacyCategory::MissingLibraries), // the spec failure, by R1's `not found`
            (1, LegacyCategory::MissingLibraries),
            (2, LegacyCategory::PromptExecution), // the wrapper, not its cause
            (3, LegacyCategory::CodeGenerationFailure), // gcc's `In function` first line
            (4, LegacyCategory::LlmBackend),
            (5, LegacyCategory::CodeGenerationFailure), // the end-of-session marker
        ]
    );
    let bogus: Vec<_> = entries.iter().filter(|e| !e.kept()).collect();
    assert_eq!(bogus.len(), 1);
    assert!(bogus[0].message.starts_with("TF_LITE_REPORT_ERROR"));
    // The bogus entry cut the real one's traceback short.
    assert!(
        entries[3]
            .traceback
            .ends_with("'GetMicroErrorReporter' is not a member of 'tflite'\n")
    );
    assert_eq!(entries[3].index, Some(3));
}
