//! The arduino-cli backend against a fake `arduino-cli` that replays recorded outputs
//! (`data/fixtures/arduino-cli/`), and against Nano 33 BLE compile errors of the published
//! logs turned into arduino-cli JSON at test time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_toolchain::backend::BackendKind;
use autopilot_toolchain::diagnostics::render;
use autopilot_toolchain::library::{self, LibraryCatalog};
use autopilot_toolchain::{CompileError, CompileOutcome, Compiler, Sketch, TinyMlApi};
use autopilot_trace::{CompileStatus, ComponentVersion, ResolutionSource, SizeReport};

use crate::corpus::compile_records;
use crate::support::{
    corpus, fake_cli_case, fake_cli_config, fixtures, gone, target, write_sketch,
};

/// A temporary setup: the case folder, the call log, a `Colors` sketch and a compiler.
struct Fake {
    work: tempfile::TempDir,
    case: PathBuf,
    log: PathBuf,
}

impl Fake {
    fn new(cases: &[&str]) -> Fake {
        let work = tempfile::tempdir().unwrap();
        let case = fake_cli_case(work.path(), cases);
        let log = work.path().join("calls.log");
        Fake { work, case, log }
    }

    fn path(&self) -> &Path {
        self.work.path()
    }

    async fn compiler(&self, target_name: &str) -> Compiler {
        let compiler = Compiler::new(
            &target(target_name),
            fake_cli_config(self.path(), &self.case, &self.log),
        )
        .await
        .unwrap();
        assert_eq!(compiler.backend().unwrap().kind, BackendKind::ArduinoCli);
        compiler
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn calls_of(&self, command: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(command))
            .collect()
    }

    /// Puts a recorded `compile.stdout` in place, with the recording's sketch folder replaced
    /// by `sketch_dir`.
    fn record_compile(&self, case: &str, sketch_dir: &Path) {
        let text = std::fs::read_to_string(
            fixtures()
                .join("arduino-cli")
                .join(case)
                .join("compile.stdout"),
        )
        .unwrap();
        std::fs::write(
            self.case.join("compile.stdout"),
            text.replace("/home/user/sketches/Colors", &sketch_dir.to_string_lossy()),
        )
        .unwrap();
    }
}

const COLORS: &str = "#include <Arduino_APDS9960.h>\nvoid setup() {}\nvoid loop() {}\n";

#[tokio::test]
async fn versions_come_from_version_core_list_and_lib_list() {
    let fake = Fake::new(&[]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let versions: Vec<(&str, &str)> = compiler
        .versions()
        .iter()
        .map(|v| (v.name.as_str(), v.version.as_str()))
        .collect();
    assert_eq!(
        versions,
        [
            ("arduino-cli", "1.2.2"),
            ("arduino:mbed_nano", "4.2.4"),
            ("Arduino_APDS9960", "1.0.4"),
            ("Chirale_TensorFLowLite", "2.0.0")
        ]
    );
    assert_eq!(compiler.backend_version().as_deref(), Some("1.2.2"));
    assert_eq!(
        fake.calls(),
        [
            "version --format json",
            "core list --format json",
            "lib list --format json"
        ]
    );
}

#[tokio::test]
async fn a_successful_compile_reports_sizes_libraries_and_firmware_and_is_cached() {
    let fake = Fake::new(&["compile-success"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let build = fake.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    std::fs::write(build.join("Colors.ino.elf"), b"\x7fELF fake").unwrap();
    std::fs::write(build.join("build.options.json"), "{}").unwrap();
    let result = compiler.compile(&sketch, &build).await.unwrap();
    assert_eq!(
        result.outcome,
        CompileOutcome::Succeeded {
            size: Some(SizeReport {
                flash_used: 289_104,
                flash_max: Some(983_040),
                ram_used: Some(68_832),
                ram_max: Some(262_144),
            }),
            warnings: vec![],
        }
    );
    assert_eq!(
        result.elf.as_deref(),
        Some(
            build
                .canonicalize()
                .unwrap()
                .join("Colors.ino.elf")
                .as_path()
        )
    );
    assert_eq!(
        result.used_libraries,
        [
            ComponentVersion {
                name: "Arduino_APDS9960".into(),
                version: "1.0.4".into()
            },
            ComponentVersion {
                name: "Wire".into(),
                version: String::new()
            },
            ComponentVersion {
                name: "Chirale_TensorFLowLite".into(),
                version: "2.0.0".into()
            },
        ]
    );
    assert!(result.include_dirs.contains(&PathBuf::from(
        "/home/user/.arduino15/packages/arduino/hardware/mbed_nano/4.2.4/cores/arduino"
    )));
    assert!(result.include_dirs.contains(&PathBuf::from(
        "/home/user/Arduino/libraries/Arduino_APDS9960/src"
    )));
    let event = result.to_trace_event(1);
    assert_eq!(
        (event.backend.as_str(), event.backend_version.as_deref()),
        ("arduino-cli", Some("1.2.2"))
    );
    assert_eq!(event.fqbn, "arduino:mbed_nano:nano33ble");

    let compile_calls = fake.calls_of("compile");
    let [call] = compile_calls.as_slice() else {
        panic!("{compile_calls:?}")
    };
    let build = build.canonicalize().unwrap();
    assert_eq!(
        call,
        &format!(
            "compile --format json --fqbn arduino:mbed_nano:nano33ble --build-path {} --warnings all --libraries {} {}",
            build.display(),
            fake.path()
                .join("libraries")
                .canonicalize()
                .unwrap()
                .display(),
            sketch.dir.display()
        )
    );
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.starts_with("env ARDUINO_BUILD_CACHE_PATH=")),
        "the shared build cache is passed"
    );

    let again = compiler.compile(&sketch, &build).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.outcome, result.outcome);
    assert_eq!(std::fs::read(again.elf.unwrap()).unwrap(), b"\x7fELF fake");
    assert_eq!(
        fake.calls_of("compile").len(),
        1,
        "a cache hit runs no compiler"
    );
}

#[tokio::test]
async fn builder_result_diagnostics_are_used_when_present() {
    let fake = Fake::new(&["compile-diagnostics"]);
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    fake.record_compile("compile-diagnostics", &sketch.dir);
    // Make `compiler_err` disagree, to prove which one was read.
    let json = std::fs::read_to_string(fake.case.join("compile.stdout")).unwrap();
    std::fs::write(
        fake.case.join("compile.stdout"),
        json.replace(
            "\"compiler_err\": \"",
            "\"compiler_err\": \"/x/y.ino:1:1: error: not this one\\n",
        ),
    )
    .unwrap();
    let compiler = fake.compiler("nano33ble_sense").await;
    let result = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    let CompileOutcome::Failed { diagnostics } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    let rendered: Vec<String> = diagnostics.iter().map(render).collect();
    assert_eq!(
        rendered,
        [
            "Colors.ino:12:22: error: conflicting declaration 'const tflite::Model* model'",
            "Colors.ino:30:28: error: 'g_model' was not declared in this scope",
        ]
    );
    assert_eq!(diagnostics[0].notes[0].file.as_deref(), Some("model.h"));
    assert_eq!(
        diagnostics[0].notes[0].message,
        "previous declaration as 'const unsigned char model [2528]'"
    );
    assert_eq!(diagnostics[1].context, ["In function 'void setup()'"]);
    assert_eq!(
        diagnostics[1].notes[0].message,
        "suggested alternative: 'model'"
    );
    assert!(
        result.tool_output.contains("not this one"),
        "the raw compiler_err is kept"
    );
    assert_eq!(result.to_trace_event(2).status, CompileStatus::Failed);
}

#[tokio::test]
async fn a_missing_core_is_a_toolchain_missing_outcome() {
    let fake = Fake::new(&["compile-platform-missing"]);
    let compiler = fake.compiler("nano33ble").await;
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let result = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    let CompileOutcome::ToolchainMissing { detail } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(
        detail.contains("Platform 'arduino:mbed_nano' not found: platform not installed"),
        "{detail}"
    );
    // Not cached: installing the core must make the next compile real.
    let again = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    assert!(!again.cache_hit);
}

#[tokio::test]
async fn a_hanging_arduino_cli_times_out_and_its_child_is_killed() {
    let fake = Fake::new(&["compile-hang"]);
    let mut config = fake_cli_config(fake.path(), &fake.case, &fake.log);
    config.timeout = Duration::from_millis(800);
    // The child's pid is read back on the host: unsandboxed, so it is the host's pid (the
    // sandboxed kill is tested in `redteam`, by command line).
    config.sandbox = None;
    let compiler = Compiler::new(&target("nano33ble_sense"), config)
        .await
        .unwrap();
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let result = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    assert_eq!(result.outcome, CompileOutcome::TimedOut { after_ms: 800 });
    let child: i32 = std::fs::read_to_string(fake.case.join("compile.child-pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(gone(child).await, "arduino-cli's child {child} survived");
}

#[tokio::test]
async fn unreadable_output_is_an_error_that_keeps_the_output() {
    let fake = Fake::new(&["compile-flood"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let error = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap_err();
    let CompileError::Unrecognized { reason, stdout, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("capture limit"), "{reason}");
    assert!(stdout.len() < 1_100_000 && stdout.ends_with("more bytes dropped]"));

    std::fs::write(
        fake.case.join("compile.stdout"),
        "Error: unknown flag --format\n",
    )
    .unwrap();
    std::fs::write(fake.case.join("compile.exit"), "7\n").unwrap();
    std::fs::remove_file(fake.case.join("compile.mode")).unwrap();
    let error = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap_err();
    let CompileError::Unrecognized {
        exit_code, stdout, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*exit_code, Some(7));
    assert_eq!(stdout, "Error: unknown flag --format\n");
    assert!(
        error.to_string().contains("not arduino-cli's JSON result"),
        "{error}"
    );
}

#[tokio::test]
async fn nano33ble_errors_from_the_published_logs_are_parsed_from_compiler_err() {
    let Some(corpus) = corpus() else { return };
    let records = compile_records(&corpus);
    let fake = Fake::new(&[]);
    let mut config = fake_cli_config(fake.path(), &fake.case, &fake.log);
    config.compile_cache_dir = None;
    let compiler = Compiler::new(&target("nano33ble_sense"), config)
        .await
        .unwrap();
    // Every 29th record: 32 compiles through the whole backend.
    let mut checked = 0;
    for record in records.iter().step_by(29) {
        let Some(original) = record.sketch_dir() else {
            continue;
        };
        let name = Path::new(&original)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let sketch = Sketch::open(&write_sketch(
            fake.path(),
            &name,
            &format!("// {}\n", record.text.len()),
        ))
        .unwrap();
        // What arduino-cli 1.x prints for it: the text in `compiler_err`, the trailer in `error`.
        let compiler_err = record
            .text
            .replace(&original, &sketch.dir.to_string_lossy());
        let compiler_err = compiler_err
            .trim_end()
            .strip_suffix("Error during build: exit status 1")
            .unwrap_or(&compiler_err)
            .to_owned();
        let json = serde_json::json!({
            "compiler_out": "",
            "compiler_err": compiler_err,
            "builder_result": {
                "build_path": fake.path().join("build").canonicalize().unwrap_or_default(),
                "board_platform": { "id": "arduino:mbed_nano", "version": "4.2.4" },
            },
            "upload_result": {},
            "success": false,
            "error": "Error during build: exit status 1",
        });
        std::fs::write(
            fake.case.join("compile.stdout"),
            serde_json::to_string_pretty(&json).unwrap(),
        )
        .unwrap();
        std::fs::write(fake.case.join("compile.exit"), "1\n").unwrap();
        let result = compiler
            .compile(&sketch, &fake.path().join("build"))
            .await
            .unwrap();
        let CompileOutcome::Failed { diagnostics } = &result.outcome else {
            panic!("{:?}", result.outcome)
        };
        let expected = record.parse();
        assert_eq!(
            result.outcome.errors().count(),
            expected.error_count(),
            "{} {} try {}",
            record.file,
            record.session,
            record.attempt
        );
        // Paths inside the sketch are relative, as in the direct parse.
        let first = &diagnostics[0];
        let direct = &expected.diagnostics[0];
        assert_eq!(
            (&first.file, first.line, &first.message),
            (&direct.file, direct.line, &direct.message)
        );
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}

async fn resolve(case: &str, header: &str) -> (autopilot_trace::LibraryResolved, Vec<String>) {
    let fake = Fake::new(&[case]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let resolved = library::resolve(
        &LibraryCatalog::builtin(),
        &compiler,
        Some(&TinyMlApi::builtin()),
        2,
        header,
    )
    .await
    .unwrap();
    (resolved, fake.calls_of("lib search"))
}

#[tokio::test]
async fn lib_search_results_pass_the_allow_list() {
    let (resolved, calls) = resolve("lib-search-sparkfun", "SparkFun_APDS-9960.h").await;
    assert_eq!(
        calls,
        ["lib search provides:SparkFun_APDS-9960.h --format json"]
    );
    assert_eq!(resolved.source, ResolutionSource::LibSearch);
    assert_eq!(
        resolved.library.as_deref(),
        Some("SparkFun APDS9960 RGB and Gesture Sensor")
    );
    assert!(resolved.allowed);

    let (resolved, _) = resolve("lib-search-unlisted", "APDS9960.h").await;
    assert_eq!(resolved.library.as_deref(), Some("Unvetted Gesture Port"));
    assert!(!resolved.allowed);
    assert!(resolved.reason.contains("not in the allow-list"));

    let (resolved, _) = resolve("lib-search-empty", "Arduino_LIS33GH.h").await;
    assert_eq!(
        (resolved.source, resolved.library),
        (ResolutionSource::NotFound, None)
    );
    assert!(resolved.candidates.is_empty());

    // The installed libraries come from `lib list`: Chirale is there, the header is not.
    let (resolved, calls) = resolve("lib-search-empty", "tensorflow/lite/micro/micro_log.h").await;
    assert_eq!(resolved.library.as_deref(), Some("Chirale_TensorFLowLite"));
    assert!(
        resolved.reason.contains("is installed but has no"),
        "{}",
        resolved.reason
    );
    assert!(calls.is_empty());

    // Curated answers never reach the registry.
    let (resolved, calls) = resolve("lib-search-empty", "model.tflite.h").await;
    assert_eq!(resolved.source, ResolutionSource::ProjectFile);
    assert!(calls.is_empty());
}

#[tokio::test]
async fn installs_happen_only_for_allow_listed_names_when_allowed_and_report_the_real_exit_code() {
    let catalog = LibraryCatalog::builtin();
    let fake = Fake::new(&["lib-install-ok"]);
    let mut compiler = fake.compiler("nano33ble_sense").await;

    let none = library::install(&catalog, &mut compiler, 1, "None", true)
        .await
        .unwrap();
    assert!(!none.succeeded);
    assert!(
        none.message.contains("not in the allow-list"),
        "{}",
        none.message
    );
    let refused = library::install(&catalog, &mut compiler, 1, "Arduino_APDS9960", false)
        .await
        .unwrap();
    assert!(!refused.succeeded);
    assert!(refused.message.contains("not allowed"));
    assert!(
        fake.calls_of("lib install").is_empty(),
        "nothing was run: {:?}",
        fake.calls()
    );

    let installed = library::install(&catalog, &mut compiler, 1, "Arduino_APDS9960", true)
        .await
        .unwrap();
    assert!(installed.succeeded, "{installed:?}");
    assert_eq!(
        (installed.exit_code, installed.version.as_deref()),
        (Some(0), Some("1.0.4"))
    );
    assert_eq!(
        fake.calls_of("lib install"),
        ["lib install --no-overwrite Arduino_APDS9960@1.0.4"]
    );
    assert_eq!(
        fake.calls_of("lib list").len(),
        2,
        "versions are read again after an install"
    );

    let fake = Fake::new(&["lib-install-not-found"]);
    let mut compiler = fake.compiler("nano33ble_sense").await;
    let failed = library::install(&catalog, &mut compiler, 4, "Arduino_LSM9DS1", true)
        .await
        .unwrap();
    assert!(!failed.succeeded);
    assert_eq!(failed.exit_code, Some(1));
    assert!(failed.message.contains("not found"), "{}", failed.message);
    assert_eq!(
        fake.calls_of("lib list").len(),
        1,
        "nothing changed, nothing re-read"
    );
}
