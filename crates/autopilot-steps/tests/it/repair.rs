//! Error signatures, recurrence, diagnostics trimming and the build-environment block.

use autopilot_steps::{
    BoardFacts, BuildEnvironment, MAX_DIAGNOSTIC_MESSAGE_BYTES, RepairInput, RepairLimits,
    RepairTracker, build_repair, display_path, error_signature, normalize_message,
    render_diagnostic, symbols_in_diagnostics,
};
use autopilot_trace::{
    ComponentVersion, Declaration, Diagnostic, DiagnosticNote, DiagnosticOrigin, Severity,
    SizeReport,
};

use crate::support::dense_app;

fn error(file: &str, line: u32, message: &str) -> Diagnostic {
    Diagnostic {
        file: Some(file.to_owned()),
        line: Some(line),
        column: Some(5),
        severity: Severity::Error,
        message: message.to_owned(),
        origin: DiagnosticOrigin::Compiler,
        context: vec!["In function 'void setup()':".to_owned()],
        notes: Vec::new(),
        source_line: None,
    }
}

/// A huge `#error` (or template backtrace) is quoted only up to the cap.
#[test]
fn a_huge_diagnostic_message_is_cut_in_the_prompt() {
    let huge = error("sketch.ino", 3, &format!("#error {}", "A".repeat(100_000)));
    let rendered = render_diagnostic(&huge, 2);
    let line = rendered.lines().last().unwrap();
    assert!(line.ends_with('…'), "{line}");
    assert!(
        line.len() < MAX_DIAGNOSTIC_MESSAGE_BYTES + 100,
        "{} bytes",
        line.len()
    );
    let small = error("sketch.ino", 3, "'foo' was not declared in this scope");
    assert!(render_diagnostic(&small, 2).ends_with("'foo' was not declared in this scope"));
}

#[test]
fn signatures_ignore_paths_lines_and_temporary_names() {
    let a = error(
        "/home/u/compiling/compiling20250415114859/compiling20250415114859.ino",
        8,
        "conflicting declaration ‘const tflite::Model* model’",
    );
    let b = error(
        "sketch.ino",
        13,
        "conflicting declaration 'const tflite::Model* model'",
    );
    assert_eq!(error_signature(&a), error_signature(&b));
    assert_eq!(
        error_signature(&b),
        "error: sketch.ino: conflicting declaration 'const tflite::Model* model'"
    );
    assert_eq!(
        normalize_message(
            "undefined reference to `foo' in /tmp/ccAbC123.ltrans0.ltrans.o at 0x1f00"
        ),
        "undefined reference to 'foo' in tmp.o at 0x…"
    );
    assert_eq!(
        normalize_message("previous declaration in /home/x/libraries/TFLM/src/model.h:12:3 here"),
        "previous declaration in model.h here"
    );
    let different = error("sketch.ino", 8, "'g_model' was not declared in this scope");
    assert_ne!(error_signature(&a), error_signature(&different));
}

#[test]
fn paths_are_shortened_for_prompts() {
    assert_eq!(display_path("sketch.ino"), "sketch.ino");
    assert_eq!(
        display_path("/root/Arduino/libraries/Arduino_APDS9960/src/Arduino_APDS9960.h"),
        "Arduino_APDS9960/src/Arduino_APDS9960.h"
    );
    assert_eq!(
        display_path("/usr/share/arduino/hardware/arduino/avr/cores/arduino/Print.h"),
        "cores/arduino/Print.h"
    );
    assert_eq!(
        display_path("/tmp/build/sketch/x.ino.cpp"),
        "sketch/x.ino.cpp"
    );
}

#[test]
fn the_tracker_finds_identical_code_and_recurring_errors() {
    let mut tracker = RepairTracker::new();
    let first = vec![
        error(
            "/tmp/a/a.ino",
            3,
            "'g_model' was not declared in this scope",
        ),
        error(
            "/tmp/a/a.ino",
            9,
            "'interpreter' was not declared in this scope",
        ),
    ];
    tracker.record(1, "sha-one", &first);
    tracker.record(2, "sha-two", &first[..1]);
    assert_eq!(tracker.identical_code("sha-one"), Some(1));
    assert_eq!(
        tracker.diagnostics_of(1),
        Some(first.as_slice()),
        "what identical code gives again"
    );
    assert_eq!(tracker.diagnostics_of(7), None);
    assert_eq!(tracker.identical_code("sha-three"), None);
    let third = vec![
        error(
            "/tmp/b/b.ino",
            4,
            "'g_model' was not declared in this scope",
        ),
        error("/tmp/b/b.ino", 5, "expected ';' before '}' token"),
    ];
    let recurring = tracker.recurring(&third);
    assert_eq!(recurring.len(), 1);
    assert_eq!(recurring[0].attempts, vec![1, 2]);
    assert_eq!(
        recurring[0].signature,
        "error: sketch.ino: 'g_model' was not declared in this scope"
    );
    assert_eq!(tracker.same_first_error_streak(&third), 2);
    assert_eq!(tracker.same_first_error_streak(&third[1..]), 0);
}

#[test]
fn the_repair_material_is_trimmed_grounded_and_traced() {
    let (dir, toml) = dense_app();
    let app = dir.load(&toml).unwrap();
    let mut diagnostics: Vec<Diagnostic> = (1..=6)
        .map(|i| {
            error(
                "/tmp/build/sketch/sketch.ino",
                i,
                &format!("'thing{i}' was not declared in this scope"),
            )
        })
        .collect();
    diagnostics[0].notes.push(DiagnosticNote {
        file: Some("/root/Arduino/libraries/Lib/src/lib.h".to_owned()),
        line: Some(40),
        column: None,
        message: "suggested alternative: 'thing'".to_owned(),
    });
    diagnostics.insert(
        1,
        Diagnostic {
            severity: Severity::Warning,
            ..error("sketch.ino", 2, "unused variable 'x'")
        },
    );
    let mut tracker = RepairTracker::new();
    tracker.record(1, "aaa", &diagnostics[..1]);
    let environment = BuildEnvironment {
        declarations: vec![
            Declaration {
                symbol: "other".to_owned(),
                file: "/root/Arduino/libraries/Lib/src/other.h".to_owned(),
                line: 3,
                text: "int other();".to_owned(),
            },
            Declaration {
                symbol: "thing1".to_owned(),
                file: "/root/Arduino/libraries/Lib/src/lib.h".to_owned(),
                line: 40,
                text: "int   thing1(int a,\n      int b);".to_owned(),
            },
        ],
        versions: vec![ComponentVersion {
            name: "arduino:avr".to_owned(),
            version: "1.8.6".to_owned(),
        }],
        board: Some(BoardFacts {
            name: "Arduino Uno".to_owned(),
            fqbn: "arduino:avr:uno".to_owned(),
            flash_bytes: Some(32_256),
            ram_bytes: Some(2048),
        }),
        last_size: Some(SizeReport {
            flash_used: 3176,
            flash_max: Some(32_256),
            ram_used: Some(540),
            ram_max: Some(2048),
        }),
    };
    let problems = vec!["line 2: placeholder `TODO`".to_owned()];
    let input = RepairInput {
        attempt: 2,
        code: "void setup() {}\n",
        diagnostics: &diagnostics,
        problems: &problems,
        identical_to: Some(1),
        environment: &environment,
        model: app.model.as_ref(),
    };
    let material = build_repair(&input, &tracker, &RepairLimits::default());
    assert_eq!(
        (material.diagnostics_shown, material.diagnostics_total),
        (3, 6)
    );
    assert_eq!(
        material.diagnostics[0],
        "In function 'void setup()':\n/tmp/build/sketch/sketch.ino:1:5: error: 'thing1' was not declared in this scope\n  Lib/src/lib.h:40: note: suggested alternative: 'thing'"
            .replace("/tmp/build/sketch/sketch.ino", "sketch/sketch.ino")
    );
    assert!(material.diagnostics.iter().all(|d| !d.contains("warning")));
    assert_eq!(material.recurring.len(), 1);
    assert_eq!(material.recurring[0].attempts, vec![1]);
    assert_eq!(
        material.environment,
        "board: Arduino Uno (arduino:avr:uno), flash 32256 bytes, RAM 2048 bytes\n\
         last size report: flash 3176/32256 bytes (10%), RAM 540/2048 bytes (26%)\n\
         installed: arduino:avr 1.8.6\n\
         model: header `tiny.h`: dense network as C arrays; run it with `int tiny_predict(const float input[2])`\n\
         model: input tensor float32[1, 2]\n\
         model: output tensor float32[1, 2]\n\
         declarations of the symbols in the errors, from the installed headers:\n\
         - `thing1` at Lib/src/lib.h:40: int thing1(int a, int b);\n\
         - `other` at Lib/src/other.h:3: int other();"
    );
    let context = &material.context;
    assert_eq!(context.attempt, 2);
    assert_eq!(
        (context.diagnostics_shown, context.diagnostics_total),
        (3, 6)
    );
    assert_eq!(context.identical_to_attempt, Some(1));
    assert_eq!(
        context.recurring,
        vec![material.recurring[0].signature.clone()]
    );
    assert_eq!(
        context.declarations[0].symbol, "thing1",
        "declarations of named symbols first"
    );
    assert_eq!(context.versions.len(), 1);
    assert_eq!(context.block, material.environment);
}

#[test]
fn symbols_named_in_errors_are_listed_for_lookup() {
    let diagnostics = vec![
        error(
            "s.ino",
            1,
            "'class tflite::MicroInterpreter' has no member named 'input_tensor'",
        ),
        error(
            "s.ino",
            2,
            "no matching function for call to 'tflite::MicroInterpreter::MicroInterpreter(const tflite::Model*&, tflite::AllOpsResolver&, uint8_t [2048], const int&, tflite::ErrorReporter*&)'",
        ),
        error("s.ino", 3, "‘GetModel’ was not declared in this scope"),
        error("s.ino", 4, "invalid conversion from 'int' to 'const char*'"),
        Diagnostic {
            severity: Severity::Note,
            ..error("s.ino", 5, "'ignored' is only a note")
        },
    ];
    assert_eq!(
        symbols_in_diagnostics(&diagnostics),
        vec![
            "tflite::MicroInterpreter",
            "input_tensor",
            "tflite::MicroInterpreter::MicroInterpreter",
            "GetModel"
        ]
    );
}
