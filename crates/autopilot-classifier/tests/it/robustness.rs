//! Robustness of the parsers of recorded text (build output, legacy logs): every prefix of
//! real inputs and seeded random mutations must parse without a panic. A std-only stand-in
//! for a fuzzing campaign, run on every `cargo test`.

use autopilot_classifier::LegacyImporter;
use autopilot_diagnostics::parse_build_output;

/// Characters that stress the parsers: separators, quotes, multibyte whitespace, markers.
const PALETTE: &[&str] = &[
    ":",
    " ",
    "\n",
    "\r",
    "'",
    "`",
    "/",
    "\u{a0}",
    "\u{85}",
    "é",
    ".ino:",
    ": error: ",
    ": note: ",
    "In function ",
    " INFO ",
    " ERROR ",
    "_sg_batch|",
    "_sg: ",
    "2025-04-01 ",
];

/// xorshift64: deterministic, so a failure reproduces.
fn next(state: &mut u64) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    usize::try_from(*state % 1_000_003).unwrap()
}

/// Every `step`-th prefix at a char boundary, then `rounds` texts with 1–4 random insertions.
fn variants(text: &str, step: usize, rounds: usize, seed: u64) -> Vec<String> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let mut out: Vec<String> = bounds
        .iter()
        .step_by(step)
        .map(|i| text[..*i].to_owned())
        .collect();
    let mut state = seed | 1;
    for _ in 0..rounds {
        let mut mutated = text.to_owned();
        for _ in 0..=(next(&mut state) % 4) {
            let at = bounds[next(&mut state) % bounds.len()].min(mutated.len());
            let at = (0..=at)
                .rev()
                .find(|i| mutated.is_char_boundary(*i))
                .unwrap();
            mutated.insert_str(at, PALETTE[next(&mut state) % PALETTE.len()]);
        }
        out.push(mutated);
    }
    out
}

fn fixture(path: &str) -> String {
    fs_err::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn the_build_output_parser_survives_cut_and_mutated_output() {
    let mut runs = 0;
    for name in [
        "../../../autopilot-diagnostics/tests/fixtures/gcc/avr-gcc-5.4-compile-errors.txt",
        "../../../autopilot-diagnostics/tests/fixtures/gcc/avr-gcc-5.4-compile-errors-utf8-quotes.txt",
        "../../../autopilot-diagnostics/tests/fixtures/gcc/arduino-builder-missing-header.txt",
        "../../../autopilot-diagnostics/tests/fixtures/gcc/avr-ld-missing-loop.txt",
    ] {
        for variant in variants(&fixture(name), 1, 1000, 0x9cc) {
            let _ = parse_build_output(&variant);
            runs += 1;
        }
    }
    assert!(runs > 4000, "{runs}");
}

#[test]
fn the_legacy_reader_survives_cut_and_mutated_logs() {
    let mut runs = 0;
    for name in ["logs/sg_demo_1a2b.log", "logs/sg_demo_b2025.log"] {
        for variant in variants(&fixture(name), 7, 500, 0x1e9) {
            let importer = LegacyImporter::new(variant.as_bytes(), "sg_demo_1a2b.log");
            for session in importer {
                let _ = session.unwrap().row();
            }
            runs += 1;
        }
    }
    assert!(runs > 1000, "{runs}");
}
