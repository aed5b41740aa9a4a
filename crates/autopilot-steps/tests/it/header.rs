//! The model-header symbol scan.

use autopilot_steps::{SymbolKind, scan_header};

const HEADER: &str = r#"
#ifndef MODEL_H_
#define MODEL_H_
#include <stdint.h>
/* A comment with { braces } and "quotes". */
#define NUM_CLASSES 3
#define SQUARE(x) ((x) * (x))
// const int not_a_symbol = 1;
namespace demo {
extern "C" {
alignas(8) const unsigned char model[] = {0x1c, 0x00, 0x00, 0x00, 0x54, 0x46, 0x4c, 0x33,};
}
}
const unsigned int model_len = 8;
static const float kScale = 0.5f, kOffset = -1.0f;
int counter;
const char* const labels[NUM_CLASSES] = {"a{", "b", "c"};
typedef struct { float w; } Neuron;
struct Layer { int size; };
enum Mode { kFast, kSlow };
using Score = float;
extern const unsigned char other_model[];
int predict(const float* input, int n);
static inline float relu(float x) {
  if (x > 0) { return x; }
  return 0;
}
template <typename T> T twice(T x) { return x + x; }
#endif
"#;

#[test]
fn every_kind_of_symbol_is_found() {
    let scan = scan_header(HEADER);
    let kind = |name: &str| scan.get(name).map(|s| s.kind);
    assert_eq!(kind("model"), Some(SymbolKind::Array));
    assert_eq!(kind("model_len"), Some(SymbolKind::Length));
    assert_eq!(kind("NUM_CLASSES"), Some(SymbolKind::Macro));
    assert_eq!(kind("SQUARE"), Some(SymbolKind::Macro));
    assert_eq!(kind("kScale"), Some(SymbolKind::Constant));
    assert_eq!(
        kind("kOffset"),
        Some(SymbolKind::Constant),
        "second declarator"
    );
    assert_eq!(kind("counter"), Some(SymbolKind::Variable));
    assert_eq!(kind("labels"), Some(SymbolKind::Array));
    assert_eq!(kind("Neuron"), Some(SymbolKind::Type));
    assert_eq!(kind("Layer"), Some(SymbolKind::Type));
    assert_eq!(kind("Mode"), Some(SymbolKind::Type));
    assert_eq!(kind("Score"), Some(SymbolKind::Type));
    assert_eq!(kind("other_model"), Some(SymbolKind::Array));
    assert_eq!(kind("predict"), Some(SymbolKind::Prototype));
    assert_eq!(kind("relu"), Some(SymbolKind::Function));
    // Include guards, commented-out code, locals and template functions are not symbols.
    for absent in [
        "MODEL_H_",
        "not_a_symbol",
        "x",
        "twice",
        "w",
        "size",
        "kFast",
    ] {
        assert_eq!(kind(absent), None, "{absent}");
    }
}

#[test]
fn arrays_carry_sizes_bytes_and_declarations() {
    let scan = scan_header(HEADER);
    let model = scan.get("model").unwrap();
    assert_eq!(model.elements, Some(8));
    assert_eq!(model.line, 11);
    assert_eq!(model.declaration, "alignas(8) const unsigned char model[]");
    assert_eq!(
        scan.bytes_of("model").unwrap(),
        &[0x1c, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33]
    );
    assert_eq!(scan.model_array().unwrap().name, "model");
    assert_eq!(scan.length_of("model").unwrap().name, "model_len");
    assert_eq!(scan.get("labels").unwrap().elements, Some(3));
    assert_eq!(scan.get("NUM_CLASSES").unwrap().value.as_deref(), Some("3"));
    assert_eq!(
        scan.get("predict").unwrap().declaration,
        "int predict(const float* input, int n)"
    );
}

#[test]
fn the_original_model_header_shape_is_understood() {
    // The original system's header: a `model` array without a length symbol.
    let scan = scan_header("const unsigned char model[] = {\n  0x1c, 0x00,\n  0x00, 0x00\n};\n");
    assert_eq!(scan.symbols.len(), 1);
    assert_eq!(scan.get("model").unwrap().kind, SymbolKind::Array);
    assert!(scan.length_of("model").is_none());
}

#[test]
fn the_example_headers_scan_cleanly() {
    let root = crate::support::examples_dir();
    let dense = fs_err::read_to_string(root.join("color_uno/color_model.h")).unwrap();
    let scan = scan_header(&dense);
    let names: Vec<&str> = scan.symbols.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "color_model_num_inputs",
            "color_model_num_classes",
            "color_model_w1",
            "color_model_b1",
            "color_model_w2",
            "color_model_b2",
            "color_model_predict"
        ]
    );
    assert_eq!(
        scan.get("color_model_predict").unwrap().kind,
        SymbolKind::Function
    );
    assert_eq!(scan.get("color_model_w1").unwrap().elements, Some(8));
}

#[test]
fn a_header_cut_after_an_opening_brace_is_scanned_without_a_panic() {
    for source in [
        "const unsigned char model[] = {",
        "const unsigned char model[] = { 0x1c, 0x00",
        "int f() {",
        "struct S {",
    ] {
        let scan = scan_header(source);
        if source.starts_with("const") {
            let model = scan.get("model").expect(source);
            assert_eq!(model.kind, SymbolKind::Array, "{source}");
        }
    }
}
