//! `autopilot targets` and `autopilot compile`: output, formats and exit codes, with Debian's
//! real AVR toolchain and with the fake arduino-cli.

use std::path::PathBuf;

use predicates::str::contains;

use autopilot_testkit::tools::avr_toolchain;

use crate::support::autopilot;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sketch(name: &str) -> PathBuf {
    root().join("data/fixtures/sketches").join(name)
}

#[test]
fn targets_lists_every_board() {
    let output = autopilot()
        .arg("targets")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    for name in [
        "uno",
        "nano",
        "mega",
        "nano33ble",
        "nano33ble_sense",
        "esp32",
        "esp32s3",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains("arduino:avr:nano:cpu=atmega328"));
}

#[test]
fn targets_shows_one_as_json_or_text() {
    let output = autopilot()
        .args(["targets", "nano33ble_sense", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(json["fqbn"], "arduino:mbed_nano:nano33ble");
    assert_eq!(json["tinyml"]["library"], "Chirale_TensorFLowLite");
    assert_eq!(json["sensors"][0]["library"], "Arduino_APDS9960");
    autopilot()
        .args(["targets", "uno"])
        .assert()
        .code(0)
        .stdout(contains("simulator   simavr -m atmega328p -f 16000000"));
    autopilot()
        .args(["targets", "nope"])
        .assert()
        .code(2)
        .stderr(contains("unknown target `nope`"));
}

#[test]
fn a_bad_targets_folder_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::copy(root().join("targets/uno.toml"), dir.path().join("uno.toml")).unwrap();
    let text = fs_err::read_to_string(root().join("targets/nano.toml"))
        .unwrap()
        .replace("ram_bytes = 2048", "ram_bytes = -1");
    fs_err::write(dir.path().join("nano.toml"), text).unwrap();
    autopilot()
        .arg("targets")
        .arg("--targets-dir")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}: key `ram_bytes`",
            dir.path().join("nano.toml").display()
        )));
}

#[test]
fn compile_a_good_sketch_then_hit_the_cache() {
    if !avr_toolchain() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        autopilot()
            .arg("compile")
            .arg(sketch("Good"))
            .args(["--target", "uno", "--cache-dir"])
            .arg(cache.path())
            .assert()
            .code(0)
    };
    run()
        .stdout(contains(
            "uno (arduino:avr:uno) via arduino-builder 1.3.25: compiled in",
        ))
        .stdout(contains("flash "))
        .stdout(contains(" / 32256 bytes"));
    run().stdout(contains("(compile cache hit)"));
}

#[test]
fn compile_failure_exits_1_with_structured_json() {
    if !avr_toolchain() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let output = autopilot()
        .arg("compile")
        .arg(sketch("Undeclared").join("Undeclared.ino"))
        .args([
            "--target",
            "nano",
            "--format",
            "json",
            "--no-cache",
            "--cache-dir",
        ])
        .arg(cache.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(json["target"], "nano");
    assert_eq!(json["outcome"]["status"], "failed");
    let diagnostic = &json["outcome"]["diagnostics"][0];
    assert_eq!(diagnostic["file"], "Undeclared.ino");
    assert_eq!(
        (diagnostic["line"].as_u64(), diagnostic["column"].as_u64()),
        (Some(7), Some(18))
    );
    assert_eq!(
        diagnostic["message"],
        "'sensorValue' was not declared in this scope"
    );
    assert_eq!(json["cache_hit"], false);
}

#[test]
fn compile_human_output_lists_diagnostics_with_context() {
    if !avr_toolchain() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    autopilot()
        .arg("compile")
        .arg(sketch("SyntaxError"))
        .args(["--target", "uno", "--cache-dir"])
        .arg(cache.path())
        .assert()
        .code(1)
        .stdout(contains("SyntaxError.ino:4:3: error: expected ',' or ';' before 'Serial'\n    In function 'void setup()'"))
        .stdout(contains("compile failed in"));
}

#[test]
fn compile_without_a_toolchain_exits_3() {
    let cache = tempfile::tempdir().unwrap();
    autopilot()
        .arg("compile")
        .arg(sketch("Good"))
        .args([
            "--target",
            "uno",
            "--arduino-builder",
            "/nonexistent/arduino-builder",
            "--arduino-cli",
            "/nonexistent/arduino-cli",
            "--cache-dir",
        ])
        .arg(cache.path())
        .assert()
        .code(3)
        .stderr(contains("no toolchain for uno"));
}

#[test]
fn compile_bad_input_exits_2() {
    let cache = tempfile::tempdir().unwrap();
    autopilot()
        .args([
            "compile",
            "/nonexistent/Sketch.ino",
            "--target",
            "uno",
            "--cache-dir",
        ])
        .arg(cache.path())
        .assert()
        .code(2)
        .stderr(contains("/nonexistent/Sketch.ino: not found"));
    autopilot()
        .arg("compile")
        .arg(sketch("Good"))
        .args(["--target", "teapot", "--cache-dir"])
        .arg(cache.path())
        .assert()
        .code(2)
        .stderr(contains("unknown target `teapot`"));
}

#[test]
fn compile_through_arduino_cli_for_the_nano_33_ble() {
    let work = tempfile::tempdir().unwrap();
    let fixtures = root().join("data/fixtures/arduino-cli");
    let case = work.path().join("case");
    fs_err::create_dir_all(&case).unwrap();
    for dir in ["common", "compile-success"] {
        for entry in fs_err::read_dir(fixtures.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            fs_err::copy(&path, case.join(path.file_name().unwrap())).unwrap();
        }
    }
    let sketch = work.path().join("Colors");
    fs_err::create_dir_all(&sketch).unwrap();
    fs_err::write(
        sketch.join("Colors.ino"),
        "void setup() {}\nvoid loop() {}\n",
    )
    .unwrap();
    autopilot()
        .arg("compile")
        .arg(&sketch)
        .args(["--target", "nano33ble_sense", "--arduino-cli"])
        .arg(fixtures.join("fake-arduino-cli"))
        .arg("--cache-dir")
        .arg(work.path().join("cache"))
        // The fake reads its case folder from the host environment, which the sandbox clears
        // on purpose; the sandboxed arduino-cli path is covered by the toolchain crate's tests.
        .arg("--no-sandbox")
        .env("FAKE_ARDUINO_CLI_CASE", &case)
        .assert()
        .code(0)
        .stdout(contains(
            "nano33ble_sense (arduino:mbed_nano:nano33ble) via arduino-cli 1.2.2: compiled",
        ))
        .stdout(contains(
            "flash 289104 / 983040 bytes (29.4%), RAM 68832 / 262144 bytes (26.3%)",
        ));
}

/// Shards of one experiment on one machine are processes of their own that share the build
/// cache: a process's first compile for a board waits, and says so, while another process
/// holds the board's core lock (its own first compile, building the core into the cache), and
/// goes on once the lock is released. The compiler here is a stand-in that marks when it
/// starts: it must not start while the lock is held.
#[test]
fn a_first_compile_waits_while_another_process_builds_the_boards_core() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use assert_cmd::cargo::CommandCargoExt as _;
    use nix::fcntl::{Flock, FlockArg};

    let work = tempfile::tempdir().unwrap();
    let build_cache = work.path().join("cache/build-cache");
    fs_err::create_dir_all(&build_cache).unwrap();
    let started = build_cache.join("builder-started");
    let builder = work.path().join("bin/arduino-builder");
    fs_err::create_dir_all(builder.parent().unwrap()).unwrap();
    fs_err::write(
        &builder,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"-version\" ]; then echo 'Arduino Builder 1.3.25'; exit 0; fi\n\
             touch '{}'\necho '{}:1:1: error: stand-in compiler' >&2\nexit 1\n",
            started.display(),
            sketch("Good").join("Good.ino").display()
        ),
    )
    .unwrap();
    fs_err::set_permissions(
        &builder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let lock_file = fs_err::File::create(autopilot_toolchain::compile::core_lock_path(
        &build_cache,
        "arduino:avr:uno",
    ))
    .unwrap()
    .into_file();
    let held = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .unwrap();

    let mut child = std::process::Command::cargo_bin("autopilot")
        .unwrap()
        .arg("compile")
        .arg(sketch("Good"))
        .args(["--target", "uno", "--no-sandbox", "-v", "--cache-dir"])
        .arg(work.path().join("cache"))
        .arg("--arduino-builder")
        .arg(&builder)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, from_child) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !said
        .iter()
        .any(|l: &String| l.contains("waiting for another autopilot process"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = from_child.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no word of waiting for the lock; stderr: {said:#?}");
        };
        said.push(line);
    }
    // Held a while longer: the compile neither starts nor ends.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !started.exists(),
        "the compiler started while the lock was held"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "autopilot ended while the lock was held"
    );
    drop(held);
    let status = child.wait().unwrap();
    assert!(
        started.exists(),
        "the compiler ran once the lock was released"
    );
    assert_eq!(status.code(), Some(1), "the stand-in's compile failed");
}
