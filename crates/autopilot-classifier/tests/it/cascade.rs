//! Cascade links on a hand-made GCC 7 output of a sketch with the usual TFLite fallout: each
//! error is a root or names the earlier error it follows from, and why.

use autopilot_classifier::{CascadeLinker, DiagnosticView, Link};
use autopilot_diagnostics::parse_build_output;

#[test]
fn tflite_fallout_links_to_the_failed_declarations_and_repeats_to_their_first() {
    let text = fs_err::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../autopilot-diagnostics/tests/fixtures/gcc/cascade-tflite.txt"
    ))
    .unwrap();
    let parsed = parse_build_output(&text);
    let mut linker = CascadeLinker::default();
    let links: Vec<(u32, Option<(u32, Link)>)> = parsed
        .errors()
        .map(|d| {
            linker.link(&DiagnosticView {
                message: &d.message,
                file: d.file.as_deref(),
                line: d.line,
                source_line: d.source_line.as_deref(),
            })
        })
        .collect();
    let expected = [
        // conflicting declaration of `model`: a root, and `model` now names the array.
        (0, None),
        // `interpreter`'s type does not exist: a root, and `interpreter` failed.
        (1, None),
        // The first `'tflite' does not name a type` is a root; its repeat is the same defect.
        (2, None),
        (3, Some((2, Link::SameMessage))),
        // `model->version()` names `model`, whose declaration clashed.
        (4, Some((0, Link::FailedDeclaration))),
        // `interpreter` was never declared because its declaration failed.
        (5, Some((1, Link::FailedDeclaration))),
        // The parser error on the same line follows the error already there (and its root).
        (6, Some((1, Link::SameLine))),
        // `PIN`: a root, then the same defect in `loop()`.
        (7, None),
        (8, Some((7, Link::SameMessage))),
        // An independent root after the cascades.
        (9, None),
    ];
    assert_eq!(links, expected);
    assert_eq!(
        parsed.errors().nth(5).unwrap().source_line.as_deref(),
        Some("interpreter = new tflite::MicroInterpreter(model, resolver, arena, 2048);")
    );
}
