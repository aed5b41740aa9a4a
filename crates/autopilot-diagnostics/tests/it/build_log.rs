//! The GCC / ld / arduino-builder output parser on captured real output (`fixtures/gcc/`).

use autopilot_diagnostics::parse_build_output;
use autopilot_trace::{DiagnosticOrigin, Severity};

fn fixture(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gcc/");
    fs_err::read_to_string(format!("{path}{name}")).unwrap()
}

#[test]
fn compile_errors_become_diagnostics_with_context_and_notes() {
    let out = parse_build_output(&fixture("avr-gcc-5.4-compile-errors.txt"));
    let errors: Vec<_> = out.errors().collect();
    let messages: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "conflicting declaration 'const float* model'",
            "no matching function for call to 'Sensor::Sensor()'",
            "'g_model' was not declared in this scope",
            "'GetModel' was not declared in this scope",
            "'struct Sensor' has no member named 'level'",
            "'PIN_COLOR' was not declared in this scope",
            "expected ';' before '}' token",
        ]
    );
    // Paths inside the sketch folder are relative; line and column are kept.
    assert_eq!(errors[0].file.as_deref(), Some("clash.ino"));
    assert_eq!((errors[0].line, errors[0].column), (Some(8), Some(14)));
    // The note after an include chain belongs to the error above it.
    assert_eq!(errors[0].notes.len(), 1);
    assert_eq!(
        errors[0].notes[0].message,
        "previous declaration as 'const unsigned char model [4]'"
    );
    assert_eq!(errors[1].notes.len(), 6, "{:?}", errors[1].notes);
    // `In function` frames are context, not diagnostics of their own.
    assert!(errors[0].context.is_empty());
    assert_eq!(errors[2].context, ["In function 'void setup()'"]);
    assert_eq!(errors[5].context, ["In function 'void loop()'"]);
    assert!(
        out.diagnostics
            .iter()
            .all(|d| d.origin == DiagnosticOrigin::Compiler)
    );
    assert!(out.size.is_none());
}

#[test]
fn utf8_quotes_parse_the_same() {
    let plain = parse_build_output(&fixture("avr-gcc-5.4-compile-errors.txt"));
    let fancy = parse_build_output(&fixture("avr-gcc-5.4-compile-errors-utf8-quotes.txt"));
    assert_eq!(plain.diagnostics.len(), fancy.diagnostics.len());
    assert_eq!(
        fancy.diagnostics[0].message,
        "conflicting declaration \u{2018}const float* model\u{2019}"
    );
}

#[test]
fn linker_errors_carry_the_function_they_occur_in() {
    let out = parse_build_output(&fixture("avr-ld-missing-loop.txt"));
    let errors: Vec<_> = out.errors().collect();
    let messages: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "undefined reference to `pinMode'",
            "undefined reference to `init'",
            "undefined reference to `loop'",
        ]
    );
    assert!(errors.iter().all(|d| d.origin == DiagnosticOrigin::Linker));
    assert_eq!(errors[2].context, ["In function `main'"]);
    assert_eq!(errors[2].line, Some(46));
    // collect2's summary restates the errors above it.
    assert_eq!(
        out.status_lines,
        ["collect2: error: ld returned 1 exit status"]
    );
}

#[test]
fn a_missing_header_is_one_fatal_diagnostic() {
    let out = parse_build_output(&fixture("arduino-builder-missing-header.txt"));
    assert_eq!(out.diagnostics.len(), 1);
    let d = &out.diagnostics[0];
    assert_eq!(d.severity, Severity::Fatal);
    assert_eq!(d.message, "Arduino_APDS9960.h: No such file or directory");
    assert_eq!(d.file.as_deref(), Some("missing.ino"));
    assert_eq!(out.status_lines, ["exit status 1"]);
}

#[test]
fn size_lines_and_tool_warnings_of_a_successful_build() {
    let text = "WARNING: library Harvard_TinyMLx claims to run on mbed_nano architecture(s)\n\
                Sketch uses 485216 bytes (49%) of program storage space. Maximum is 983040 bytes.\n\
                Global variables use 78656 bytes (30%) of dynamic memory, leaving 183488 bytes for local variables. Maximum is 262144 bytes.\n";
    let out = parse_build_output(text);
    let size = out.size.unwrap();
    assert_eq!((size.flash_used, size.flash_max), (485_216, Some(983_040)));
    assert_eq!((size.ram_used, size.ram_max), (Some(78_656), Some(262_144)));
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].severity, Severity::Warning);
    assert_eq!(out.diagnostics[0].origin, DiagnosticOrigin::Tool);
    assert_eq!(out.errors().count(), 0);
}

#[test]
fn tool_errors_and_bare_errors_are_kept() {
    let out = parse_build_output(
        "Error during build: Platform 'arduino:mbed' not found: platform not installed\n\
         cc1plus: error: unrecognized command line option '-mfoo'\n\
         /usr/bin/avr-ld: region `text' overflowed by 1234 bytes\n",
    );
    let messages: Vec<(&str, DiagnosticOrigin)> = out
        .diagnostics
        .iter()
        .map(|d| (d.message.as_str(), d.origin))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "Platform 'arduino:mbed' not found: platform not installed",
                DiagnosticOrigin::Tool
            ),
            (
                "unrecognized command line option '-mfoo'",
                DiagnosticOrigin::Compiler
            ),
            (
                "region `text' overflowed by 1234 bytes",
                DiagnosticOrigin::Linker
            ),
        ]
    );
    assert!(out.diagnostics[1].file.is_none());
}

#[test]
fn a_multibyte_space_before_a_path_is_not_a_panic() {
    // U+00A0 and U+0085 are whitespace of two bytes: the sketch folder starts after them.
    for space in ['\u{a0}', '\u{85}'] {
        let text = format!("x{space}/tmp/sketch/s.ino:3:1: error: 'y' was not declared\n");
        let out = parse_build_output(&text);
        let errors: Vec<_> = out.errors().collect();
        assert_eq!(errors.len(), 1, "{space:?}");
        assert!(errors[0].file.as_deref().unwrap().ends_with("s.ino"));
        assert_eq!(errors[0].line, Some(3));
    }
}
