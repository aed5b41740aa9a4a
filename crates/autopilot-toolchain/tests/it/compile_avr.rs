//! Real compiles with Debian's arduino-builder and avr-gcc for `uno` and `nano`: each sketch
//! parsed into its expected structured diagnostics; build-path reuse and the compile cache;
//! a hanging compiler killed with its process group; a flood capped; a missing toolchain.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_toolchain::diagnostics::render;
use autopilot_toolchain::library::missing_headers;
use autopilot_toolchain::{
    BackendKind, CompileError, CompileOutcome, CompileResult, Compiler, Sketch,
    symbols_from_diagnostics,
};
use autopilot_trace::{CompileStatus, Diagnostic, DiagnosticOrigin, Severity};

use crate::support::{avr_toolchain, config, gone, sketch_fixture, target, write_sketch};

const TARGETS: [&str; 2] = ["uno", "nano"];

async fn compile(target_name: &str, sketch: &str) -> CompileResult {
    let work = tempfile::tempdir().unwrap();
    let compiler = Compiler::new(&target(target_name), config(work.path()))
        .await
        .unwrap();
    let sketch = Sketch::open(&sketch_fixture(sketch)).unwrap();
    let result = compiler
        .compile(&sketch, &work.path().join("build"))
        .await
        .unwrap();
    assert_eq!(result.backend, Some(BackendKind::ArduinoBuilder));
    assert_eq!(result.backend_version.as_deref(), Some("1.3.25"));
    assert!(!result.cache_hit);
    assert_eq!(result.fqbn, target(target_name).fqbn);
    // Keep the ELF alive past the temporary folder for the callers that look at it.
    if let Some(elf) = &result.elf {
        assert!(elf.is_file());
    }
    result
}

/// Compiles a fixture for both targets at once.
async fn both(sketch: &str) -> [(&'static str, CompileResult); 2] {
    let (uno, nano) = tokio::join!(compile(TARGETS[0], sketch), compile(TARGETS[1], sketch));
    [(TARGETS[0], uno), (TARGETS[1], nano)]
}

fn errors(result: &CompileResult) -> Vec<&Diagnostic> {
    result.outcome.errors().collect()
}

fn failed(target: &str, result: &CompileResult) -> Vec<Diagnostic> {
    match &result.outcome {
        CompileOutcome::Failed { diagnostics } => diagnostics.clone(),
        other => panic!(
            "{target}: expected a failure, got {other:?}\n{}",
            result.tool_output
        ),
    }
}

#[tokio::test]
async fn a_good_sketch_compiles_with_its_size() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("Good").await {
        let CompileOutcome::Succeeded { size, warnings } = &result.outcome else {
            panic!(
                "{target_name}: {:?}\n{}",
                result.outcome, result.tool_output
            )
        };
        let size = size.unwrap();
        let flash_max = if target_name == "uno" { 32256 } else { 30720 };
        assert_eq!(size.flash_max, Some(flash_max), "{target_name}");
        assert_eq!(size.ram_max, Some(2048));
        assert!(
            size.flash_used > 1000 && size.flash_used < 4000,
            "{target_name}: {size:?}"
        );
        assert!(size.ram_used.unwrap() > 100);
        assert!(
            warnings.is_empty(),
            "core warnings are not the sketch's: {warnings:?}"
        );
        assert!(result.elf.as_ref().unwrap().ends_with("Good.ino.elf"));
        let event = result.to_trace_event(2);
        assert_eq!((event.attempt, event.status), (2, CompileStatus::Succeeded));
        assert_eq!(event.backend, "arduino-builder");
        assert_eq!(event.size, Some(size));
        assert!(event.input_hash.is_some());
    }
}

#[tokio::test]
async fn a_syntax_error() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("SyntaxError").await {
        let diagnostics = failed(target_name, &result);
        let rendered: Vec<String> = diagnostics.iter().map(render).collect();
        assert_eq!(
            rendered,
            [
                "SyntaxError.ino:4:3: error: expected ',' or ';' before 'Serial'",
                "SyntaxError.ino:3:7: warning: unused variable 'x' [-Wunused-variable]",
            ],
            "{target_name}"
        );
        assert_eq!(diagnostics[0].context, ["In function 'void setup()'"]);
        assert_eq!(result.to_trace_event(1).status, CompileStatus::Failed);
    }
}

#[tokio::test]
async fn an_undeclared_name() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("Undeclared").await {
        let diagnostics = failed(target_name, &result);
        let [error] = diagnostics.as_slice() else {
            panic!("{target_name}: {diagnostics:?}")
        };
        assert_eq!(
            render(error),
            "Undeclared.ino:7:18: error: 'sensorValue' was not declared in this scope"
        );
        assert_eq!(error.context, ["In function 'void loop()'"]);
        assert_eq!(symbols_from_diagnostics(&diagnostics), ["sensorValue"]);
    }
}

#[tokio::test]
async fn a_missing_header() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("MissingHeader").await {
        let diagnostics = failed(target_name, &result);
        let [fatal] = diagnostics.as_slice() else {
            panic!("{target_name}: {diagnostics:?}")
        };
        assert_eq!(fatal.severity, Severity::Fatal);
        assert_eq!(
            render(fatal),
            "MissingHeader.ino:1:30: fatal error: Arduino_APDS9960.h: No such file or directory"
        );
        assert_eq!(missing_headers(&diagnostics), ["Arduino_APDS9960.h"]);
    }
}

#[tokio::test]
async fn a_link_error() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("LinkError").await {
        let diagnostics = failed(target_name, &result);
        let [undefined, ld] = diagnostics.as_slice() else {
            panic!("{target_name}: {diagnostics:?}")
        };
        assert_eq!(undefined.origin, DiagnosticOrigin::Linker);
        assert_eq!(undefined.severity, Severity::Error);
        assert_eq!(
            undefined.message,
            "undefined reference to `readSensor(int)'"
        );
        assert_eq!(
            (ld.origin, ld.message.as_str()),
            (DiagnosticOrigin::Linker, "ld returned 1 exit status")
        );
        assert_eq!(symbols_from_diagnostics(&diagnostics), ["readSensor"]);
    }
}

#[tokio::test]
async fn a_flash_overflow() {
    if !avr_toolchain() {
        return;
    }
    for (target_name, result) in both("FlashOverflow").await {
        let diagnostics = failed(target_name, &result);
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "<build>/FlashOverflow.ino.elf section `.text' will not fit in region `text'",
                "region `text' overflowed by 8944 bytes",
                "ld returned 1 exit status",
            ],
            "{target_name}"
        );
        assert!(
            diagnostics
                .iter()
                .all(|d| d.origin == DiagnosticOrigin::Linker && d.severity == Severity::Error)
        );
        assert_eq!(errors(&result).len(), 3);
    }
}

#[tokio::test]
async fn the_build_path_is_reused_and_identical_requests_hit_the_cache() {
    if !avr_toolchain() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let compiler = Compiler::new(&target("uno"), config(work.path()))
        .await
        .unwrap();
    let folder = write_sketch(
        work.path(),
        "Edited",
        "void setup() {}\nvoid loop() { delay(1); }\n",
    );
    let sketch = Sketch::open(&folder).unwrap();
    let build = work.path().join("session-build");
    // The orchestrator runs compiles on its tasks: the future must be `Send`.
    let first = tokio::spawn({
        let (compiler, sketch, build) = (compiler.clone(), sketch.clone(), build.clone());
        async move { compiler.compile(&sketch, &build).await }
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        matches!(first.outcome, CompileOutcome::Succeeded { .. }),
        "{:?}",
        first.outcome
    );
    assert!(!first.cache_hit);

    let again = compiler.compile(&sketch, &build).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.input_hash, first.input_hash);
    assert_eq!(again.outcome, first.outcome);
    let cached_elf = again.elf.clone().unwrap();
    assert!(
        cached_elf.starts_with(work.path().join("compile-cache")),
        "{cached_elf:?}"
    );
    assert_eq!(
        fs_err::read(&cached_elf).unwrap(),
        fs_err::read(first.elf.as_ref().unwrap()).unwrap()
    );
    assert!(again.to_trace_event(2).cache_hit);

    // An edit misses the cache and rebuilds in the same build path; a failure is cached too.
    fs_err::write(
        sketch.main.clone(),
        "void setup() {}\nvoid loop() { undefinedThing(); }\n",
    )
    .unwrap();
    let edited = compiler.compile(&sketch, &build).await.unwrap();
    assert!(!edited.cache_hit);
    assert_ne!(edited.input_hash, first.input_hash);
    assert_eq!(edited.outcome.status(), CompileStatus::Failed);
    let edited_again = compiler.compile(&sketch, &build).await.unwrap();
    assert!(edited_again.cache_hit);
    assert_eq!(edited_again.outcome, edited.outcome);

    // A model header is an input too.
    fs_err::write(
        folder.join("model.h"),
        "const unsigned char model[] = {1};\n",
    )
    .unwrap();
    let with_header = compiler.compile(&sketch, &build).await.unwrap();
    assert!(!with_header.cache_hit);
}

/// A stand-in for arduino-builder: answers `-version`; otherwise runs `body`.
fn fake_builder(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-arduino-builder");
    fs_err::write(
        &path,
        format!("#!/bin/sh\nif [ \"$1\" = \"-version\" ]; then echo 'Arduino Builder 1.3.25'; exit 0; fi\n{body}\n"),
    )
    .unwrap();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn a_hanging_compiler_is_killed_with_its_process_group() {
    let work = tempfile::tempdir().unwrap();
    let pid_file = work.path().join("child.pid");
    let mut config = config(work.path());
    config.arduino_builder.program = fake_builder(
        work.path(),
        &format!("sleep 1000 &\necho $! > '{}'\nwait", pid_file.display()),
    );
    config.timeout = Duration::from_millis(800);
    // The child's pid is read back on the host: unsandboxed, so it is the host's pid (the
    // sandboxed kill is tested in `redteam`, by command line).
    config.sandbox = None;
    let compiler = Compiler::new(&target("uno"), config).await.unwrap();
    let sketch = Sketch::open(&sketch_fixture("Good")).unwrap();
    let result = compiler
        .compile(&sketch, &work.path().join("build"))
        .await
        .unwrap();
    assert_eq!(result.outcome, CompileOutcome::TimedOut { after_ms: 800 });
    let event = result.to_trace_event(1);
    assert_eq!(event.status, CompileStatus::TimedOut);
    assert!(event.detail.unwrap().contains("timed out after 800 ms"));
    let child: i32 = fs_err::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        gone(child).await,
        "the compiler's child {child} survived the timeout"
    );
}

#[tokio::test]
async fn a_flood_of_compiler_output_is_capped() {
    let work = tempfile::tempdir().unwrap();
    let mut config = config(work.path());
    // 200,000 error lines (~7 MB) on stderr.
    config.arduino_builder.program = fake_builder(
        work.path(),
        "yes '/tmp/Good/Good.ino:1:1: error: flood' | head -n 200000 >&2\nexit 1",
    );
    let compiler = Compiler::new(&target("uno"), config).await.unwrap();
    let sketch = Sketch::open(&sketch_fixture("Good")).unwrap();
    let result = compiler
        .compile(&sketch, &work.path().join("build"))
        .await
        .unwrap();
    let diagnostics = failed("uno", &result);
    let kept = diagnostics.len();
    assert!(kept > 1000 && kept < 200_000, "{kept}");
    assert!(result.tool_output.len() < 1_100_000);
    assert!(
        result
            .tool_output
            .trim_end()
            .ends_with("more bytes dropped]"),
        "{}",
        &result.tool_output[result.tool_output.len() - 200..]
    );
}

#[tokio::test]
async fn no_backend_installed_is_a_toolchain_missing_outcome() {
    let work = tempfile::tempdir().unwrap();
    let mut config = config(work.path());
    config.arduino_builder.program = "/nonexistent/arduino-builder".into();
    config.arduino_cli.program = "/nonexistent/arduino-cli".into();
    let compiler = Compiler::new(&target("uno"), config).await.unwrap();
    assert!(compiler.backend().is_none());
    let sketch = Sketch::open(&sketch_fixture("Good")).unwrap();
    let result = compiler
        .compile(&sketch, &work.path().join("build"))
        .await
        .unwrap();
    let CompileOutcome::ToolchainMissing { detail } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(detail.contains("arduino-builder not found"), "{detail}");
    assert!(detail.contains("arduino-cli not found"), "{detail}");
    let event = result.to_trace_event(1);
    assert_eq!(
        (event.status, event.backend.as_str()),
        (CompileStatus::ToolchainMissing, "none")
    );
    // The Nano 33 BLE cannot use arduino-builder at all.
    let mut config = crate::support::config(work.path());
    config.arduino_cli.program = "/nonexistent/arduino-cli".into();
    let compiler = Compiler::new(&target("nano33ble_sense"), config)
        .await
        .unwrap();
    let result = compiler
        .compile(&sketch, &work.path().join("build2"))
        .await
        .unwrap();
    let CompileOutcome::ToolchainMissing { detail } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(
        detail.contains("arduino-builder cannot build arduino:mbed_nano:nano33ble"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_folder_the_user_made_is_never_used_as_build_path() {
    let work = tempfile::tempdir().unwrap();
    let mut config = config(work.path());
    config.arduino_builder.program = fake_builder(work.path(), "exit 0");
    let compiler = Compiler::new(&target("uno"), config).await.unwrap();
    let sketch = Sketch::open(&sketch_fixture("Good")).unwrap();
    let mine = work.path().join("my-notes");
    fs_err::create_dir_all(&mine).unwrap();
    fs_err::write(mine.join("todo.txt"), "keep me").unwrap();
    let error = compiler.compile(&sketch, &mine).await.unwrap_err();
    assert!(
        matches!(error, CompileError::ForeignBuildDir { .. }),
        "{error:?}"
    );
    assert_eq!(
        fs_err::read_to_string(mine.join("todo.txt")).unwrap(),
        "keep me"
    );
}
