//! The diagnostics parser on fixtures (`data/fixtures/gcc/<case>/input.txt` →
//! `expected.json`): captured arduino-builder/avr-gcc 5 output, and GCC ≥ 9 gutter style, ANSI
//! colour, newer binutils and include/instantiation chains in the formats those tools print.
//! `BLESS=1` rewrites the expected files (review the diff).

use autopilot_diagnostics::{PathMap, parse_gcc_output, render, strip_ansi};
use autopilot_trace::{Diagnostic, DiagnosticOrigin, Severity};
use serde::{Deserialize, Serialize};

use crate::fixtures;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Expected {
    diagnostics: Vec<Diagnostic>,
    unrecognized: Vec<String>,
}

/// Fixture paths use `/SKETCH` for the sketch folder and `/BUILD` for the build path (mapped as
/// the backends map them).
fn paths() -> PathMap {
    PathMap::new()
        .with("/SKETCH", "")
        .with("/BUILD/sketch", "")
        .with("/BUILD", "<build>")
}

fn check(case: &str) -> Expected {
    let dir = fixtures().join("gcc").join(case);
    let input = fs_err::read_to_string(dir.join("input.txt")).unwrap();
    let parsed = parse_gcc_output(&input, &paths());
    let actual = Expected {
        diagnostics: parsed.diagnostics,
        unrecognized: parsed.unrecognized,
    };
    let expected_path = dir.join("expected.json");
    if std::env::var_os("BLESS").is_some() {
        fs_err::write(
            &expected_path,
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: Expected =
        serde_json::from_str(&fs_err::read_to_string(&expected_path).unwrap()).unwrap();
    assert_eq!(
        actual, expected,
        "{case}: parsed output differs from expected.json"
    );
    actual
}

#[test]
fn avr_gcc5_syntax_error_with_its_function_frame_and_a_warning() {
    let parsed = check("avr-gcc5-syntax");
    assert_eq!(parsed.diagnostics.len(), 2);
    let error = &parsed.diagnostics[0];
    assert_eq!(
        render(error),
        "SyntaxError.ino:4:3: error: expected ',' or ';' before 'Serial'"
    );
    assert_eq!(error.context, ["In function 'void setup()'"]);
    assert_eq!(parsed.diagnostics[1].severity, Severity::Warning);
}

#[test]
fn avr_gcc5_link_error_is_attributed_to_the_linker_with_its_frame() {
    let parsed = check("avr-gcc5-link");
    let [undefined, ld] = parsed.diagnostics.as_slice() else {
        panic!("{parsed:?}")
    };
    assert_eq!(undefined.origin, DiagnosticOrigin::Linker);
    assert_eq!(
        undefined.message,
        "undefined reference to `readSensor(int)'"
    );
    assert_eq!(undefined.line, Some(90));
    assert_eq!(undefined.column, None);
    assert_eq!(
        undefined.context,
        ["In function `HardwareSerial::_tx_udr_empty_irq()'"]
    );
    assert_eq!(ld.message, "ld returned 1 exit status");
}

#[test]
fn avr_gcc5_flash_overflow() {
    let parsed = check("avr-gcc5-overflow");
    let messages: Vec<&str> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "<build>/FlashOverflow.ino.elf section `.text' will not fit in region `text'",
            "region `text' overflowed by 8944 bytes",
            "ld returned 1 exit status"
        ]
    );
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.origin == DiagnosticOrigin::Linker && d.file.is_none())
    );
}

#[test]
fn avr_gcc5_missing_header() {
    let parsed = check("avr-gcc5-missing-header");
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(
        render(&parsed.diagnostics[0]),
        "MissingHeader.ino:1:30: fatal error: Arduino_APDS9960.h: No such file or directory"
    );
}

#[test]
fn avr_gcc5_core_warnings_keep_their_absolute_paths() {
    let parsed = check("avr-gcc5-core-warnings");
    assert_eq!(parsed.diagnostics.len(), 4);
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning
                && d.file.as_deref()
                    == Some("/usr/share/arduino/hardware/arduino/avr/cores/arduino/new.cpp"))
    );
}

#[test]
fn gcc12_gutter_style() {
    let parsed = check("gcc12-gutter");
    let [undeclared, conflict, unused] = parsed.diagnostics.as_slice() else {
        panic!("{parsed:?}")
    };
    assert_eq!(
        undeclared.message,
        "'sensorValue' was not declared in this scope; did you mean 'sensorVal'?"
    );
    assert_eq!(undeclared.context, ["In function 'void loop()'"]);
    assert_eq!(conflict.file.as_deref(), Some("model.h"));
    assert_eq!(conflict.context, ["In file included from Colors.ino:3"]);
    assert_eq!(conflict.notes.len(), 1);
    assert_eq!(
        conflict.notes[0].message,
        "previous declaration as 'const tflite::Model* model'"
    );
    assert_eq!(unused.context, ["At global scope"]);
    assert!(parsed.unrecognized.is_empty());
}

#[test]
fn ansi_colour_and_typographic_quotes() {
    let parsed = check("ansi-colour");
    // `Error during build: exit status 1` is a trailer, not a diagnostic, coloured or not.
    let [error] = parsed.diagnostics.as_slice() else {
        panic!("{parsed:?}")
    };
    assert_eq!(
        render(error),
        "Blink.ino:4:3: error: expected ',' or ';' before 'Serial'"
    );
    assert_eq!(error.context, ["In function 'void setup()'"]);
    assert!(parsed.unrecognized.is_empty());
}

#[test]
fn newer_binutils_linker_messages() {
    let parsed = check("binutils-linker");
    let messages: Vec<String> = parsed.diagnostics.iter().map(render).collect();
    assert_eq!(
        messages[0],
        "Colors.ino:30: error: undefined reference to `classify(float const*)'"
    );
    assert_eq!(parsed.diagnostics[0].context, ["In function `loop'"]);
    assert!(
        messages[1].starts_with("helpers.cpp.o: error: multiple definition of `counter'"),
        "{}",
        messages[1]
    );
    assert_eq!(messages[3], "error: region `RAM' overflowed by 5232 bytes");
    assert_eq!(parsed.diagnostics[4].severity, Severity::Warning);
    assert_eq!(messages[5], "error: ld returned 1 exit status");
}

#[test]
fn include_chains_instantiation_context_and_tool_lines() {
    let parsed = check("include-chain");
    let [fatal, conversion] = parsed.diagnostics.as_slice() else {
        panic!("{parsed:?}")
    };
    assert_eq!(fatal.severity, Severity::Fatal);
    assert_eq!(
        fatal.context,
        [
            "In file included from /home/user/Arduino/libraries/Chirale_TensorFLowLite/src/tensorflow/lite/micro/micro_interpreter.h:26",
            "from Colors.ino:4"
        ]
    );
    assert_eq!(
        conversion.context,
        [
            "Colors.ino:40:20: required from here",
            "In instantiation of 'void fill(T*, int) [with T = float]'"
        ]
    );
    assert!(parsed.unrecognized.is_empty(), "{:?}", parsed.unrecognized);
}

#[test]
fn unknown_lines_are_reported_not_dropped() {
    let parsed = parse_gcc_output(
        "something odd happened\nBlink.ino:1:1: error: boom\n",
        &PathMap::new(),
    );
    assert_eq!(parsed.unrecognized, ["something odd happened"]);
    assert_eq!(parsed.error_count(), 1);
}

#[test]
fn path_map_prefers_the_longest_prefix() {
    let paths =
        PathMap::sketch(std::path::Path::new("/work/Blink")).with("/work/Blink/build/sketch", "");
    assert_eq!(paths.apply("/work/Blink/Blink.ino"), "Blink.ino");
    assert_eq!(
        paths.apply("/work/Blink/build/sketch/Blink.ino.cpp"),
        "Blink.ino.cpp"
    );
    assert_eq!(paths.apply("/usr/share/x.h"), "/usr/share/x.h");
    let libraries = PathMap::new().with("/home/u/Arduino/libraries", "<libraries>");
    assert_eq!(
        libraries.apply("/home/u/Arduino/libraries/A/a.h"),
        "<libraries>/A/a.h"
    );
}

#[test]
fn strip_ansi_removes_colour_and_erase_sequences() {
    assert_eq!(
        strip_ansi("\x1b[01m\x1b[Kbold\x1b[m\x1b[K plain"),
        "bold plain"
    );
    assert_eq!(strip_ansi("no escapes"), "no escapes");
}

#[test]
fn tool_trailers_are_skipped_and_tool_errors_kept() {
    let text = "Compilation error: exit status 1\nexit status 1\nError during build: exit status 1\n\
                Error during build: Invalid FQBN: board arduino:avr:nessuno not found\n";
    let parsed = parse_gcc_output(text, &PathMap::new());
    let [tool] = parsed.diagnostics.as_slice() else {
        panic!("{parsed:?}")
    };
    assert_eq!(tool.origin, DiagnosticOrigin::Tool);
    assert_eq!(
        tool.message,
        "Invalid FQBN: board arduino:avr:nessuno not found"
    );
    assert!(parsed.unrecognized.is_empty());
}
