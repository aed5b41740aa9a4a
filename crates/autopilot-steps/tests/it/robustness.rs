//! Robustness of the parsers of untrusted text (model headers, LLM answers): every prefix of
//! real inputs (a file or an answer cut short) and seeded random mutations must parse without
//! a panic. A std-only stand-in for a fuzzing campaign, run on every `cargo test`.

use autopilot_steps::{extract_code, extract_json, fenced_blocks, scan_header};

use crate::support::DENSE_HEADER;

/// Characters that stress the scanners: brackets, quotes, comments, multibyte whitespace.
const PALETTE: &[&str] = &[
    "{", "}", "(", ")", "[", "]", "\"", "'", "/*", "*/", "//", "\\", "\n", "=", ";", ",", "#",
    "```", "\u{a0}", "\u{85}", "é", "0x", "<think>", "</think>",
];

/// xorshift64: deterministic, so a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Every prefix at a char boundary, then `rounds` texts with 1–4 random insertions.
pub fn variants(text: &str, rounds: usize, seed: u64) -> Vec<String> {
    let mut out: Vec<String> = text
        .char_indices()
        .map(|(i, _)| text[..i].to_owned())
        .collect();
    let mut state = seed | 1;
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    for _ in 0..rounds {
        let mut mutated = text.to_owned();
        for _ in 0..=(next(&mut state) % 4) {
            let at = bounds[usize::try_from(next(&mut state) % bounds.len() as u64).unwrap()];
            let at = at.min(mutated.len());
            let at = (0..=at)
                .rev()
                .find(|i| mutated.is_char_boundary(*i))
                .unwrap();
            let piece = PALETTE[usize::try_from(next(&mut state) % PALETTE.len() as u64).unwrap()];
            mutated.insert_str(at, piece);
        }
        out.push(mutated);
    }
    out
}

fn example(name: &str) -> String {
    fs_err::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}")),
    )
    .unwrap()
}

#[test]
fn the_header_scanner_survives_cut_and_mutated_headers() {
    let mut runs = 0;
    for text in [DENSE_HEADER.to_owned(), example("color_uno/color_model.h")] {
        for variant in variants(&text, 2000, 0x5eed) {
            let _ = scan_header(&variant);
            runs += 1;
        }
    }
    assert!(runs > 4000, "{runs}");
}

#[test]
fn the_code_and_json_extractors_survive_cut_and_mutated_answers() {
    let answers: toml::Value = toml::from_str(&example("color_uno/demo-answers.toml")).unwrap();
    let mut runs = 0;
    for answer in answers["answer"].as_array().unwrap() {
        let text = answer["text"].as_str().unwrap();
        for variant in variants(text, 500, 0xa115) {
            let _ = extract_code(&variant);
            let _ = extract_json(&variant);
            let _ = fenced_blocks(&variant);
            runs += 1;
        }
    }
    assert!(runs > 1500, "{runs}");
}
