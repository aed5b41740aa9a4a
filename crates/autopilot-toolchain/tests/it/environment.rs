//! The build environment: symbols named by errors, their real declarations, versions.

use std::path::{Path, PathBuf};

use autopilot_toolchain::environment::{
    LookupLimits, library_versions, platform_include_dirs, platform_version,
};
use autopilot_toolchain::target::Fqbn;
use autopilot_toolchain::{find_declarations, symbols_from_diagnostics, symbols_in_message};
use autopilot_trace::{Diagnostic, DiagnosticOrigin, Severity};

use crate::support::avr_toolchain;

#[test]
fn symbols_named_by_compiler_errors() {
    let table: &[(&str, &[&str])] = &[
        ("'g_model' was not declared in this scope", &["g_model"]),
        (
            "'sensorValue' was not declared in this scope; did you mean 'sensorVal'?",
            &["sensorValue"],
        ),
        (
            "'class APDS9960' has no member named 'readAmbientLight'",
            &["APDS9960", "readAmbientLight"],
        ),
        (
            "'class Adafruit_APDS9960' has no member named 'colorAvailable'; did you mean 'colorDataReady'?",
            &["Adafruit_APDS9960", "colorAvailable"],
        ),
        (
            "no matching function for call to 'APDS9960::APDS9960()'",
            &["APDS9960"],
        ),
        (
            "no matching function for call to 'tflite::MicroInterpreter::MicroInterpreter(const unsigned char [2528], tflite::AllOpsResolver&, int [2048], unsigned int, tflite::ErrorReporter*&)'",
            &["MicroInterpreter"],
        ),
        (
            "'Register_FULLY_CONNECTED' is not a member of 'tflite::ops::micro'",
            &["Register_FULLY_CONNECTED"],
        ),
        (
            "'MicroErrorReporter' in namespace 'tflite' does not name a type",
            &["MicroErrorReporter"],
        ),
        (
            "'MicroMutableOpResolver' in namespace 'tflite' does not name a template type",
            &["MicroMutableOpResolver"],
        ),
        ("'TfLiteTensor' does not name a type", &["TfLiteTensor"]),
        (
            "'tflite::MicroInterpreter' has not been declared",
            &["MicroInterpreter"],
        ),
        (
            "conflicting declaration 'const tflite::Model* model'",
            &["model"],
        ),
        (
            "request for member 'version' in '*(const unsigned char*)(& model)', which is of non-class type 'const unsigned char'",
            &["version"],
        ),
        (
            "invalid use of incomplete type 'class TwoWire'",
            &["TwoWire"],
        ),
        ("undefined reference to `readSensor(int)'", &["readSensor"]),
        (
            "'Eloquent::TinyML::TfLite<3, 4, 2048>' is not a template",
            &["TfLite"],
        ),
        ("expected ',' or ';' before 'Serial'", &[]),
        ("region `text' overflowed by 8944 bytes", &[]),
    ];
    for (message, expected) in table {
        assert_eq!(symbols_in_message(message), *expected, "{message}");
    }
}

fn error(message: &str) -> Diagnostic {
    Diagnostic {
        file: Some("Colors.ino".into()),
        line: Some(1),
        column: Some(1),
        severity: Severity::Error,
        message: message.into(),
        origin: DiagnosticOrigin::Compiler,
        context: vec![],
        notes: vec![],
        source_line: None,
    }
}

#[test]
fn symbols_of_a_compile_are_deduplicated_in_order() {
    let diagnostics = [
        error("'g_model' was not declared in this scope"),
        error("'class APDS9960' has no member named 'readColor'"),
        error("'g_model' was not declared in this scope"),
    ];
    assert_eq!(
        symbols_from_diagnostics(&diagnostics),
        ["g_model", "APDS9960", "readColor"]
    );
}

const HEADER: &str = r"#ifndef ARDUINO_APDS9960_H
#define ARDUINO_APDS9960_H
#include <Wire.h>

class APDS9960 {
public:
  APDS9960(TwoWire &wire, int intPin);
  virtual ~APDS9960();

  bool begin();
  // readColor(r, g, b) reads the colour channels
  bool readColor(int& r, int& g, int& b);
  bool readColor(int& r, int& g,
                 int& b, int& c);
  int colorAvailable();
private:
  bool enableColor();
};

extern APDS9960 APDS;
#define APDS_DEFAULT_ADDRESS 0x39
#endif
";

fn write_library(dir: &Path) -> PathBuf {
    let src = dir.join("Arduino_APDS9960/src");
    fs_err::create_dir_all(&src).unwrap();
    fs_err::write(src.join("Arduino_APDS9960.h"), HEADER).unwrap();
    fs_err::create_dir_all(dir.join("Arduino_APDS9960/examples/ColorSensor")).unwrap();
    fs_err::write(
        dir.join("Arduino_APDS9960/examples/ColorSensor/use.h"),
        "bool readColor(int& r);\n",
    )
    .unwrap();
    fs_err::write(
        dir.join("Arduino_APDS9960/library.properties"),
        "name=Arduino_APDS9960\nversion=1.0.4\nauthor=Arduino\n",
    )
    .unwrap();
    src
}

#[test]
fn declarations_are_found_in_headers_and_calls_are_not() {
    let dir = tempfile::tempdir().unwrap();
    write_library(dir.path());
    let symbols: Vec<String> = [
        "readColor",
        "APDS9960",
        "APDS",
        "APDS_DEFAULT_ADDRESS",
        "noSuchThing",
    ]
    .map(String::from)
    .to_vec();
    let found = find_declarations(&symbols, &[dir.path().to_owned()], LookupLimits::default());
    let summary: Vec<(&str, u32, &str)> = found
        .iter()
        .map(|d| (d.symbol.as_str(), d.line, d.text.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("readColor", 12, "bool readColor(int& r, int& g, int& b);"),
            (
                "readColor",
                13,
                "bool readColor(int& r, int& g, int& b, int& c);"
            ),
            ("APDS9960", 5, "class APDS9960 {"),
            ("APDS9960", 7, "APDS9960(TwoWire &wire, int intPin);"),
            ("APDS9960", 8, "virtual ~APDS9960();"),
            ("APDS", 20, "extern APDS9960 APDS;"),
            (
                "APDS_DEFAULT_ADDRESS",
                21,
                "#define APDS_DEFAULT_ADDRESS 0x39"
            ),
        ]
    );
    assert!(
        found
            .iter()
            .all(|d| d.file.ends_with("Arduino_APDS9960/src/Arduino_APDS9960.h")),
        "examples are skipped"
    );
    let limited = find_declarations(
        &symbols,
        &[dir.path().to_owned()],
        LookupLimits {
            per_symbol: 1,
            ..LookupLimits::default()
        },
    );
    assert_eq!(
        limited.iter().filter(|d| d.symbol == "readColor").count(),
        1
    );
    assert_eq!(
        library_versions(dir.path())
            .iter()
            .map(|v| (v.name.as_str(), v.version.as_str()))
            .collect::<Vec<_>>(),
        [("Arduino_APDS9960", "1.0.4")]
    );
}

#[test]
fn declarations_in_the_installed_avr_core() {
    if !avr_toolchain() {
        return;
    }
    let platform = Path::new("/usr/share/arduino/hardware/arduino/avr");
    let dirs = platform_include_dirs(
        platform,
        &Fqbn::parse("arduino:avr:nano:cpu=atmega328").unwrap(),
    );
    assert_eq!(
        dirs,
        [
            platform.join("cores/arduino"),
            platform.join("variants/eightanaloginputs"),
            platform.join("libraries")
        ]
    );
    let symbols: Vec<String> = ["Serial", "pinMode", "HardwareSerial", "TwoWire"]
        .map(String::from)
        .to_vec();
    let found = find_declarations(&symbols, &dirs, LookupLimits::default());
    let text = |symbol: &str| {
        found
            .iter()
            .filter(|d| d.symbol == symbol)
            .map(|d| d.text.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        text("Serial").contains(&"extern HardwareSerial Serial;".to_owned()),
        "{found:#?}"
    );
    assert!(
        text("pinMode")
            .iter()
            .any(|t| t.starts_with("void pinMode(uint8_t pin, uint8_t mode)")),
        "{found:#?}"
    );
    assert!(
        text("HardwareSerial")
            .iter()
            .any(|t| t.starts_with("class HardwareSerial")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.symbol == "TwoWire" && d.file.ends_with("libraries/Wire/src/Wire.h")),
        "{found:#?}"
    );
    assert_eq!(platform_version(platform).as_deref(), Some("1.8.7"));
    let libraries = library_versions(&platform.join("libraries"));
    assert!(
        libraries
            .iter()
            .any(|v| v.name == "Wire" && v.version == "1.0"),
        "{libraries:?}"
    );
}
