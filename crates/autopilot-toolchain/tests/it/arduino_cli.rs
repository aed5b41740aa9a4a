//! The arduino-cli backend against a fake `arduino-cli` that replays recorded outputs
//! (`data/fixtures/arduino-cli/`, written from arduino-cli's source and tests; see its README),
//! and against Nano 33 BLE compile errors of the published logs turned into arduino-cli JSON at
//! test time.

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
        fs_err::read_to_string(&self.log)
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
    /// by `sketch_dir` and its build folder by `<work>/build` (created).
    fn record_compile(&self, case: &str, sketch_dir: &Path) -> PathBuf {
        let text = fs_err::read_to_string(
            fixtures()
                .join("arduino-cli")
                .join(case)
                .join("compile.stdout"),
        )
        .unwrap();
        let build = self.path().join("build");
        fs_err::create_dir_all(&build).unwrap();
        let build = build.canonicalize().unwrap();
        fs_err::write(
            self.case.join("compile.stdout"),
            text.replace("/home/user/sketches/Colors", &sketch_dir.to_string_lossy())
                .replace("/tmp/arduino-build/Colors", &build.to_string_lossy()),
        )
        .unwrap();
        build
    }

    /// A `Colors` sketch, a compiler for `target_name` and the recorded `case` compile in place
    /// (see [`Fake::record_compile`]); the last item is the build folder.
    async fn recorded(case: &str, target_name: &str) -> (Fake, Compiler, Sketch, PathBuf) {
        let fake = Fake::new(&[case]);
        let compiler = fake.compiler(target_name).await;
        let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
        let build = fake.record_compile(case, &sketch.dir);
        (fake, compiler, sketch, build)
    }

    /// Replaces one recorded output of the case.
    fn set(&self, file: &str, text: &str) {
        fs_err::write(self.case.join(file), text).unwrap();
    }
}

const COLORS: &str = "#include <Arduino_APDS9960.h>\nvoid setup() {}\nvoid loop() {}\n";

/// A recorded JSON output (the tests read facts from the recordings, so that recordings made
/// with `scripts/record-arduino-cli-fixtures.sh` replace the hand-written ones).
fn recorded(case: &str, file: &str) -> serde_json::Value {
    let path = fixtures().join("arduino-cli").join(case).join(file);
    serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap()
}

/// `version` as recorded in `common/`.
fn recorded_version() -> String {
    recorded("common", "version.stdout")["VersionString"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Flash and RAM of the recorded successful compile.
fn recorded_sections() -> (u64, u64, u64, u64) {
    let json = recorded("compile-success", "compile.stdout");
    let sections = json["builder_result"]["executable_sections_size"]
        .as_array()
        .unwrap();
    let section = |name: &str| {
        let s = sections.iter().find(|s| s["name"] == name).unwrap();
        (s["size"].as_u64().unwrap(), s["max_size"].as_u64().unwrap())
    };
    let (text, text_max) = section("text");
    let (data, data_max) = section("data");
    (text, text_max, data, data_max)
}

#[tokio::test]
async fn versions_come_from_version_core_list_and_lib_list() {
    let fake = Fake::new(&[]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let versions: Vec<(String, String)> = compiler
        .versions()
        .iter()
        .map(|v| (v.name.clone(), v.version.clone()))
        .collect();
    let field = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let mut expected = vec![("arduino-cli".to_owned(), recorded_version())];
    for platform in recorded("common", "core-list.stdout")["platforms"]
        .as_array()
        .unwrap()
    {
        expected.push((field(platform, "id"), field(platform, "installed_version")));
    }
    for entry in recorded("common", "lib-list.stdout")["installed_libraries"]
        .as_array()
        .unwrap()
    {
        expected.push((
            field(&entry["library"], "name"),
            field(&entry["library"], "version"),
        ));
    }
    assert_eq!(versions, expected);
    // What the other tests rely on.
    for name in [
        "arduino:mbed_nano",
        "Arduino_APDS9960",
        "Chirale_TensorFLowLite",
    ] {
        assert!(
            versions.iter().any(|(n, _)| n == name),
            "{name}: {versions:?}"
        );
    }
    assert_eq!(compiler.backend_version(), Some(recorded_version()));
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
    let (fake, compiler, sketch, build) =
        Fake::recorded("compile-success", "nano33ble_sense").await;
    fs_err::write(build.join("Colors.ino.elf"), b"\x7fELF fake").unwrap();
    fs_err::write(build.join("build.options.json"), "{}").unwrap();
    let result = compiler.compile(&sketch, &build).await.unwrap();
    let (text, text_max, data, data_max) = recorded_sections();
    assert_eq!(
        result.outcome,
        CompileOutcome::Succeeded {
            size: Some(SizeReport {
                flash_used: text,
                flash_max: Some(text_max),
                ram_used: Some(data),
                ram_max: Some(data_max),
            }),
            warnings: vec![],
        }
    );
    assert_eq!(
        result.elf.as_deref(),
        Some(build.join("Colors.ino.elf").as_path())
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
        "/home/user/Arduino/libraries/Arduino_APDS9960/src"
    )));
    let event = result.to_trace_event(1);
    assert_eq!(
        (event.backend.as_str(), event.backend_version.as_deref()),
        ("arduino-cli", Some(recorded_version().as_str()))
    );
    assert_eq!(event.fqbn, "arduino:mbed_nano:nano33ble");

    let compile_calls = fake.calls_of("compile");
    let [call] = compile_calls.as_slice() else {
        panic!("{compile_calls:?}")
    };
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
        !fake
            .calls()
            .iter()
            .any(|c| c.starts_with("env ARDUINO_BUILD_CACHE_PATH=")),
        "1.2.2 ignores the build cache once --build-path is given; it is not passed"
    );

    let again = compiler.compile(&sketch, &build).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.outcome, result.outcome);
    assert_eq!(fs_err::read(again.elf.unwrap()).unwrap(), b"\x7fELF fake");
    assert_eq!(
        fake.calls_of("compile").len(),
        1,
        "a cache hit runs no compiler"
    );
}

#[tokio::test]
async fn the_build_cache_setting_goes_only_to_versions_that_honour_it() {
    for (version, passed) in [("1.0.3", true), ("1.0.4", false), ("git-snapshot", false)] {
        let fake = Fake::new(&["compile-success"]);
        let text = fs_err::read_to_string(fake.case.join("version.stdout")).unwrap();
        fake.set(
            "version.stdout",
            &text.replace(
                &format!("\"{}\"", recorded_version()),
                &format!("\"{version}\""),
            ),
        );
        let mut config = fake_cli_config(fake.path(), &fake.case, &fake.log);
        config.compile_cache_dir = None;
        let compiler = Compiler::new(&target("nano33ble_sense"), config)
            .await
            .unwrap();
        let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
        let build = fake.record_compile("compile-success", &sketch.dir);
        compiler.compile(&sketch, &build).await.unwrap();
        assert_eq!(
            fake.calls()
                .iter()
                .any(|c| c.starts_with("env ARDUINO_BUILD_CACHE_PATH=")),
            passed,
            "{version}"
        );
    }
}

#[tokio::test]
async fn a_compile_json_of_several_mib_is_read_whole() {
    // Every real result carries the whole `build_properties` list; a TFLM build's is large.
    let (fake, compiler, sketch, build) =
        Fake::recorded("compile-success", "nano33ble_sense").await;
    let mut json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(fake.case.join("compile.stdout")).unwrap())
            .unwrap();
    let properties: Vec<String> = (0..40_000)
        .map(|i| format!("recipe.hooks.generated.{i}.pattern=\"{{compiler.path}}\" -I{{build.path}}/include/{i:0>40}"))
        .collect();
    json["builder_result"]["build_properties"] = properties.into();
    let text = serde_json::to_string_pretty(&json).unwrap();
    assert!(text.len() > 4 * 1024 * 1024, "{}", text.len());
    fake.set("compile.stdout", &text);
    let result = compiler.compile(&sketch, &build).await.unwrap();
    assert_eq!(result.outcome.status(), CompileStatus::Succeeded);
}

#[tokio::test]
async fn an_unmeasured_data_section_is_unknown_ram_not_a_parse_error() {
    // `sizer.go`: `data` is -1 when a platform has `maximum_data_size` but no data regex.
    let (fake, compiler, sketch, build) =
        Fake::recorded("compile-success", "nano33ble_sense").await;
    let text = fs_err::read_to_string(fake.case.join("compile.stdout")).unwrap();
    fake.set(
        "compile.stdout",
        &text.replace(r#""size": 68832,"#, r#""size": -1,"#),
    );
    let result = compiler.compile(&sketch, &build).await.unwrap();
    assert_eq!(
        result.outcome.size(),
        Some(SizeReport {
            flash_used: 289_104,
            flash_max: Some(983_040),
            ram_used: None,
            ram_max: Some(262_144),
        })
    );
}

#[tokio::test]
async fn builder_result_diagnostics_are_used_when_present() {
    let fake = Fake::new(&["compile-diagnostics"]);
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    fake.record_compile("compile-diagnostics", &sketch.dir);
    // Make `compiler_err` disagree, to prove which one was read.
    let json = fs_err::read_to_string(fake.case.join("compile.stdout")).unwrap();
    fs_err::write(
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
    // The recording carries the note's include trace on the next error, in the including
    // file itself, as arduino-cli's parser does: not rendered as "In file included from".
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
    let child: i32 = fs_err::read_to_string(fake.case.join("compile.child-pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(gone(child).await, "arduino-cli's child {child} survived");
}

#[tokio::test]
async fn unreadable_output_is_an_error_that_keeps_the_output() {
    let fake = Fake::new(&["compile-flood"]);
    let mut config = fake_cli_config(fake.path(), &fake.case, &fake.log);
    config.arduino_cli.json_capture_limit = 1024 * 1024;
    let compiler = Compiler::new(&target("nano33ble_sense"), config)
        .await
        .unwrap();
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

    // An unknown flag fails in cobra: the message on stderr, exit 1.
    fake.set("compile.stderr", "Error: unknown flag: --format\n");
    fake.set("compile.exit", "1\n");
    fs_err::remove_file(fake.case.join("compile.mode")).unwrap();
    let error = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap_err();
    let CompileError::Unrecognized {
        exit_code, stderr, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*exit_code, Some(1));
    assert_eq!(stderr, "Error: unknown flag: --format\n");
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
        fs_err::write(
            fake.case.join("compile.stdout"),
            serde_json::to_string_pretty(&json).unwrap(),
        )
        .unwrap();
        fs_err::write(fake.case.join("compile.exit"), "1\n").unwrap();
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

/// A catalog that allow-lists the SparkFun library without listing its header, so only the
/// registry search can find it.
fn catalog_without_sparkfun_headers() -> LibraryCatalog {
    LibraryCatalog::parse(
        Path::new("test-catalog.toml"),
        r#"
[[library]]
name = "SparkFun APDS9960 RGB and Gesture Sensor"
headers = ["SparkFun_APDS9960_unlisted.h"]
"#,
    )
    .unwrap()
}

#[tokio::test]
async fn lib_search_keeps_exact_header_matches_and_passes_the_allow_list() {
    let fake = Fake::new(&["lib-search-sparkfun"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let resolved = library::resolve(
        &catalog_without_sparkfun_headers(),
        &compiler,
        None,
        2,
        "SparkFun_APDS9960.h",
    )
    .await
    .unwrap();
    assert_eq!(
        fake.calls_of("lib search"),
        ["lib search provides:SparkFun_APDS9960.h --omit-releases-details --format json"]
    );
    assert_eq!(resolved.source, ResolutionSource::LibSearch);
    assert_eq!(
        resolved.library.as_deref(),
        Some("SparkFun APDS9960 RGB and Gesture Sensor")
    );
    assert!(resolved.allowed);

    // `provides:` is a substring match upstream: `APDS9960.h` lists the Adafruit, Arduino
    // and SparkFun libraries, none of which has `APDS9960.h`. Nothing is offered.
    let (resolved, _) = resolve("lib-search-substring", "APDS9960.h").await;
    assert_eq!(
        (resolved.source, resolved.library.as_deref()),
        (ResolutionSource::NotFound, None)
    );
    assert!(resolved.candidates.is_empty(), "{:?}", resolved.candidates);
    assert!(
        resolved.reason.contains("no library provides"),
        "{}",
        resolved.reason
    );

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
async fn a_failing_lib_search_is_not_found_with_the_reason_not_an_error() {
    // Offline, the index refresh fails: exit 1, `{"error": …}` on stderr.
    let (resolved, calls) = resolve("lib-search-offline", "Arduino_LIS33GH.h").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            resolved.source,
            resolved.library.as_deref(),
            resolved.allowed
        ),
        (ResolutionSource::NotFound, None, false)
    );
    assert!(
        resolved.reason.contains("Error updating library index"),
        "{}",
        resolved.reason
    );
    // A plain-text failure (cobra's unknown command, exit 1) is read the same way.
    let (resolved, _) = resolve("common", "Arduino_LIS33GH.h").await;
    assert_eq!(resolved.source, ResolutionSource::NotFound);
    assert!(
        resolved.reason.contains("Error: unknown command"),
        "{}",
        resolved.reason
    );
}

#[tokio::test]
async fn installs_happen_only_for_allow_listed_names_when_allowed_and_report_the_real_exit_code() {
    let catalog = LibraryCatalog::builtin();
    let fake = Fake::new(&["lib-install-ok"]);
    let mut compiler = fake.compiler("nano33ble_sense").await;

    let none = library::install(&catalog, &mut compiler, 1, "None", true)
        .await
        .unwrap();
    assert!(!none.event.succeeded && !none.changed);
    assert!(
        none.event.message.contains("not in the allow-list"),
        "{}",
        none.event.message
    );
    let refused = library::install(&catalog, &mut compiler, 1, "Arduino_LSM9DS1", false)
        .await
        .unwrap();
    assert!(!refused.event.succeeded);
    assert!(refused.event.message.contains("not allowed"));
    assert!(
        fake.calls_of("lib install").is_empty(),
        "nothing was run: {:?}",
        fake.calls()
    );

    let installed = library::install(&catalog, &mut compiler, 1, "Arduino_LSM9DS1", true)
        .await
        .unwrap();
    assert!(installed.event.succeeded, "{installed:?}");
    assert!(installed.changed, "the library list changed");
    assert_eq!(
        (
            installed.event.exit_code,
            installed.event.version.as_deref()
        ),
        (Some(0), Some("1.1.1"))
    );
    assert_eq!(
        fake.calls_of("lib install"),
        ["lib install --no-overwrite Arduino_LSM9DS1@1.1.1"]
    );
    assert_eq!(
        fake.calls_of("lib list").len(),
        2,
        "versions are read again after an install"
    );
    assert!(
        compiler
            .versions()
            .iter()
            .any(|v| v.name == "Arduino_LSM9DS1" && v.version == "1.1.1")
    );

    let fake = Fake::new(&["lib-install-not-found"]);
    let mut compiler = fake.compiler("nano33ble_sense").await;
    let failed = library::install(&catalog, &mut compiler, 4, "Arduino_LSM9DS1", true)
        .await
        .unwrap();
    assert!(!failed.event.succeeded && !failed.changed);
    assert_eq!(failed.event.exit_code, Some(1));
    assert!(
        failed.event.message.contains("not found"),
        "{}",
        failed.event.message
    );
    assert_eq!(
        fake.calls_of("lib list").len(),
        1,
        "nothing changed, nothing re-read"
    );
}

#[tokio::test]
async fn installing_the_version_already_there_changes_nothing() {
    // `lib install --no-overwrite X@v` with v installed: "Already installed X@v", exit 0.
    let fake = Fake::new(&["lib-install-already"]);
    let mut compiler = fake.compiler("nano33ble_sense").await;
    let report = library::install(
        &LibraryCatalog::builtin(),
        &mut compiler,
        2,
        "Arduino_APDS9960",
        true,
    )
    .await
    .unwrap();
    assert!(report.event.succeeded);
    assert!(report.event.message.contains("Already installed"));
    assert!(!report.changed, "no reason to compile again");
}

#[tokio::test]
async fn a_missing_header_is_a_fatal_diagnostic_that_names_the_header() {
    let fake = Fake::new(&["compile-missing-header"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let sketch = Sketch::open(&write_sketch(
        fake.path(),
        "Colors",
        "#include <Arduino.h>\n#include <Arduino_LSM9DS1.h>\nvoid setup() {}\nvoid loop() {}\n",
    ))
    .unwrap();
    let build = fake.record_compile("compile-missing-header", &sketch.dir);
    let result = compiler.compile(&sketch, &build).await.unwrap();
    let CompileOutcome::Failed { diagnostics } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert_eq!(
        diagnostics.iter().map(render).collect::<Vec<_>>(),
        ["Colors.ino:2:10: fatal error: Arduino_LSM9DS1.h: No such file or directory"]
    );
    assert_eq!(library::missing_headers(diagnostics), ["Arduino_LSM9DS1.h"]);
}

#[tokio::test]
async fn an_error_before_the_build_is_read_from_stderr() {
    let fake = Fake::new(&["compile-sketch-unreadable"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let error = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap_err();
    let CompileError::Tool {
        message, exit_code, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*exit_code, Some(1));
    assert!(
        message.starts_with("Can't open sketch: main file missing"),
        "{message}"
    );

    // The same shape for a missing platform is a missing toolchain.
    fake.set(
        "compile.stderr",
        r#"{"error": "Platform 'esp32:esp32' not found: platform not installed"}"#,
    );
    let result = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    assert_eq!(result.outcome.status(), CompileStatus::ToolchainMissing);
}

#[tokio::test]
async fn esp32_gets_default_warnings_and_its_own_core_and_variant_folders() {
    let fake = Fake::new(&["compile-success"]);
    // A platform folder as arduino-esp32 lays it out (boards.txt keys from its boards.txt).
    let platform = fake.path().join("esp32-platform");
    fs_err::create_dir_all(&platform).unwrap();
    fs_err::write(
        platform.join("boards.txt"),
        "esp32.name=ESP32 Dev Module\nesp32.build.core=esp32\nesp32.build.variant=esp32\n",
    )
    .unwrap();
    let compiler = fake.compiler("esp32").await;
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let build = fake.record_compile("compile-success", &sketch.dir);
    let text = fs_err::read_to_string(fake.case.join("compile.stdout")).unwrap();
    fake.set(
        "compile.stdout",
        &text.replace(
            "/home/user/.arduino15/packages/arduino/hardware/mbed_nano/4.2.4\"",
            &format!("{}\"", platform.display()),
        ),
    );
    let result = compiler.compile(&sketch, &build).await.unwrap();
    for folder in ["cores/esp32", "variants/esp32", "libraries"] {
        assert!(
            result.include_dirs.contains(&platform.join(folder)),
            "{folder}: {:?}",
            result.include_dirs
        );
    }
    let calls = fake.calls_of("compile");
    assert!(calls[0].contains("--warnings default"), "{calls:?}");
    assert_eq!(compiler.warnings(), autopilot_toolchain::Warnings::Default);
}

#[tokio::test]
async fn arduino_cli_older_than_1_0_is_refused_with_the_fix() {
    let fake = Fake::new(&["version-0.35"]);
    let compiler = Compiler::new(
        &target("nano33ble_sense"),
        fake_cli_config(fake.path(), &fake.case, &fake.log),
    )
    .await
    .unwrap();
    assert!(compiler.backend().is_none(), "too old to build with");
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let result = compiler
        .compile(&sketch, &fake.path().join("build"))
        .await
        .unwrap();
    let CompileOutcome::ToolchainMissing { detail } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(
        detail.contains("arduino-cli 0.35.3 is older than 1.0.0") && detail.contains("upgrade"),
        "{detail}"
    );
    assert_eq!(
        fake.calls(),
        ["version --format json"],
        "its lists are not read"
    );
}

#[tokio::test]
async fn libraries_in_the_libraries_folder_count_in_versions_and_the_cache_key() {
    let fake = Fake::new(&["compile-success"]);
    let library = fake.path().join("libraries/MyFilter");
    fs_err::create_dir_all(&library).unwrap();
    fs_err::write(
        library.join("library.properties"),
        "name=MyFilter\nversion=0.1.0\n",
    )
    .unwrap();
    let compiler = fake.compiler("nano33ble_sense").await;
    assert!(compiler.versions().contains(&ComponentVersion {
        name: "MyFilter".into(),
        version: "0.1.0".into()
    }));
    let sketch = Sketch::open(&write_sketch(fake.path(), "Colors", COLORS)).unwrap();
    let build = fake.record_compile("compile-success", &sketch.dir);
    let first = compiler.compile(&sketch, &build).await.unwrap();

    fs_err::write(
        library.join("library.properties"),
        "name=MyFilter\nversion=0.2.0\n",
    )
    .unwrap();
    let compiler = fake.compiler("nano33ble_sense").await;
    let second = compiler.compile(&sketch, &build).await.unwrap();
    assert!(!second.cache_hit);
    assert_ne!(first.input_hash, second.input_hash);
}

#[tokio::test]
async fn every_file_arduino_cli_copies_is_part_of_the_cache_key() {
    let fake = Fake::new(&["compile-success"]);
    let compiler = fake.compiler("nano33ble_sense").await;
    let dir = write_sketch(fake.path(), "Colors", COLORS);
    fs_err::create_dir_all(dir.join("utils")).unwrap();
    fs_err::write(dir.join("utils/filter.h"), "#define K 1\n").unwrap();
    fs_err::write(dir.join("utils/.hidden.h"), "x").unwrap();
    let sketch = Sketch::open(&dir).unwrap();
    assert_eq!(
        sketch.files().unwrap(),
        [PathBuf::from("Colors.ino"), PathBuf::from("utils/filter.h")]
    );
    let build = fake.record_compile("compile-success", &sketch.dir);
    let first = compiler.compile(&sketch, &build).await.unwrap();
    fs_err::write(dir.join("utils/filter.h"), "#define K 2\n").unwrap();
    let second = compiler.compile(&sketch, &build).await.unwrap();
    assert!(
        !second.cache_hit,
        "a changed header in a subfolder is a new build"
    );
    assert_ne!(first.input_hash, second.input_hash);

    // `<folder>.pde` is a main file too (deprecated, still accepted).
    let pde = fake.path().join("Old");
    fs_err::create_dir_all(&pde).unwrap();
    fs_err::write(pde.join("Old.pde"), "void setup() {}\nvoid loop() {}\n").unwrap();
    let old = Sketch::open(&pde).unwrap();
    assert_eq!(old.main, pde.canonicalize().unwrap().join("Old.pde"));
    assert!(old.name_matches_folder());
}

#[test]
fn an_include_chain_is_rendered_for_an_error_inside_a_header() {
    use autopilot_toolchain::PathMap;
    use autopilot_toolchain::backend::arduino_cli::{
        CliDiagnostic, CliLocated, convert_diagnostics,
    };
    // The shape of arduino-cli's diagnostics for an error in a library header included by
    // the sketch (upstream `testdata/compiler_outputs/test002.txt.json`, our own names).
    let frame = |message: &str, file: &str, line: Option<u32>| CliLocated {
        message: message.to_owned(),
        file: Some(file.to_owned()),
        line,
        column: None,
    };
    let diagnostic = CliDiagnostic {
        severity: "ERROR".into(),
        message: "'Dacc' does not name a type\n  Dacc *dac;\n  ^~~~".into(),
        file: Some("/lib/Audio/src/DAC.h".into()),
        line: Some(35),
        column: Some(2),
        context: vec![
            frame("included from here", "/lib/Audio/src/Audio.h", Some(16)),
            frame("included from here", "/sk/Blink/Blink.ino", Some(1)),
            frame(
                "In member function 'void DACClass::enableInterrupts()':",
                "/lib/Audio/src/DAC.h",
                None,
            ),
        ],
        notes: vec![],
    };
    let converted = convert_diagnostics(&[diagnostic], &PathMap::sketch(Path::new("/sk/Blink")));
    assert_eq!(
        converted[0].context,
        [
            "In file included from /lib/Audio/src/Audio.h:16",
            "from Blink.ino:1",
            "In member function 'void DACClass::enableInterrupts()'",
        ]
    );
}

#[tokio::test]
async fn build_capability_names_what_is_missing_and_its_fix() {
    use autopilot_toolchain::{BuildCapability, install_fix};
    let fake = Fake::new(&[]);
    let nano = fake.compiler("nano33ble_sense").await;
    assert!(
        matches!(nano.capability(), BuildCapability::Real(b) if b.kind == BackendKind::ArduinoCli)
    );
    // `core list` has no esp32 core.
    let esp32 = fake.compiler("esp32").await;
    assert_eq!(
        esp32.capability(),
        BuildCapability::Missing {
            detail: "arduino-cli has no core esp32:esp32".into(),
            fix: "arduino-cli core install esp32:esp32".into(),
        }
    );
    // No arduino-cli at all.
    let mut config = fake_cli_config(fake.path(), &fake.case, &fake.log);
    config.arduino_cli.program = fake.path().join("no-arduino-cli");
    let none = Compiler::new(&target("nano33ble"), config).await.unwrap();
    let BuildCapability::Missing { fix, .. } = none.capability() else {
        panic!("{:?}", none.capability())
    };
    assert_eq!(fix, install_fix(&target("nano33ble")));
    assert!(
        fix.contains("arduino-cli core install arduino:mbed_nano"),
        "{fix}"
    );
    // Too old: the fix is the upgrade.
    let old = Fake::new(&["version-0.35"]);
    let refused = Compiler::new(
        &target("nano33ble_sense"),
        fake_cli_config(old.path(), &old.case, &old.log),
    )
    .await
    .unwrap();
    let BuildCapability::Missing { fix, .. } = refused.capability() else {
        panic!("{:?}", refused.capability())
    };
    assert!(fix.starts_with("upgrade arduino-cli"), "{fix}");
    // arduino-builder without the AVR core (or without arduino-builder): Debian's packages.
    let mut config = crate::support::config(fake.path());
    config.arduino_builder.hardware_dirs = vec![fake.path().join("no-hardware")];
    config.arduino_cli.program = fake.path().join("no-arduino-cli");
    let uno = Compiler::new(&target("uno"), config).await.unwrap();
    let BuildCapability::Missing { fix, .. } = uno.capability() else {
        panic!("{:?}", uno.capability())
    };
    assert_eq!(fix, install_fix(&target("uno")));
    assert!(
        fix.starts_with("sudo apt-get install arduino-builder"),
        "{fix}"
    );
}
