//! `autopilot doctor`: with a PATH that hides the AVR toolchain (only the fake arduino-cli on
//! it), with the real toolchain, and with loopback LLM endpoints that answer, reject the key
//! or are not there.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use predicates::prelude::PredicateBooleanExt as _;
use predicates::str::contains;
use serde_json::Value;

use autopilot_testkit::tools::avr_toolchain_and_simavr;

use crate::support::autopilot;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback address nothing listens on.
fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A tiny HTTP/1.1 server on a thread: `GET <path>` gets the route's status and JSON body, any
/// other path 404. It serves until the test process ends.
fn serve(routes: Vec<(&'static str, u16, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0_u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = routes
                .iter()
                .find(|(route, _, _)| *route == path)
                .map_or((404, "{}"), |(_, status, body)| (*status, *body));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// A bin folder holding only `arduino-cli`: the recorded fake (arduino-cli 1.2.2 with
/// `arduino:mbed_nano` 4.2.4, Arduino_APDS9960 1.0.4 and Chirale_TensorFLowLite 2.0.0).
fn bin_with_fake_cli(dir: &Path) -> (PathBuf, PathBuf) {
    let fixtures = root().join("data/fixtures/arduino-cli");
    let case = dir.join("case");
    fs_err::create_dir_all(&case).unwrap();
    for entry in fs_err::read_dir(fixtures.join("common")).unwrap() {
        let path = entry.unwrap().path();
        fs_err::copy(&path, case.join(path.file_name().unwrap())).unwrap();
    }
    let bin = dir.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("arduino-cli");
    // The fake needs `cat`; this PATH is the wrapper's own, not the doctor's.
    fs_err::write(
        &wrapper,
        format!(
            "#!/bin/sh\nPATH=/usr/bin:/bin exec '{}' \"$@\"\n",
            fixtures.join("fake-arduino-cli").display()
        ),
    )
    .unwrap();
    let mut permissions = fs_err::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs_err::set_permissions(&wrapper, permissions).unwrap();
    (bin, case)
}

/// `autopilot doctor` with no LLM configured from the test's own environment.
fn doctor() -> assert_cmd::Command {
    let mut cmd = autopilot();
    for name in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AUTOPILOT_ARDUINO_CLI",
        "AUTOPILOT_ARDUINO_BUILDER",
        "AUTOPILOT_TARGETS_DIR",
        "AUTOPILOT_LIBRARIES_DIR",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("OLLAMA_HOST", refused_url()).arg("doctor");
    cmd
}

/// Runs `doctor --format json`, checks the exit code and reads the report.
fn report(cmd: &mut assert_cmd::Command, code: i32) -> Value {
    let output = cmd
        .args(["--format", "json"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert!(!text.contains("4321"), "a key leaked: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name}: {report:#}"))
}

fn findings(row: &Value) -> Vec<&str> {
    row["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["what"].as_str().unwrap())
        .collect()
}

#[test]
fn a_hidden_toolchain_is_named_with_its_fix_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, case) = bin_with_fake_cli(dir.path());
    let report = report(
        doctor()
            .env("PATH", &bin)
            .env("FAKE_ARDUINO_CLI_CASE", &case)
            .args(["--timeout", "2"]),
        3,
    );
    assert_eq!(report["ready"], false);
    assert_eq!(report["exit_code"], 3);
    let builder = check(&report, "arduino-builder");
    assert_eq!(builder["status"], "missing");
    assert!(
        builder["fix"]
            .as_str()
            .unwrap()
            .starts_with("sudo apt-get install arduino-builder"),
        "{builder}"
    );
    assert_eq!(check(&report, "simavr")["status"], "missing");
    let cli = check(&report, "arduino-cli");
    assert_eq!(cli["status"], "ok");
    assert_eq!(cli["version"], "1.2.2");
    assert!(
        cli["found"]
            .as_str()
            .unwrap()
            .contains("arduino:mbed_nano 4.2.4"),
        "{cli}"
    );

    // uno falls back to arduino-cli, which lacks its core; and nothing can simulate it.
    let uno = target(&report, "uno");
    assert_eq!(uno["backend"], "arduino-cli");
    assert_eq!(uno["status"], "missing");
    assert_eq!(
        findings(uno),
        ["core arduino:avr", "simavr (the simulation check)"]
    );
    assert_eq!(
        uno["findings"][0]["fix"],
        "arduino-cli core install arduino:avr"
    );
    // The Nano 33 BLE has its core and its pinned TinyML library, not its IMU's library.
    let ble = target(&report, "nano33ble");
    assert_eq!(ble["backend"], "arduino-cli");
    assert_eq!(ble["status"], "warning");
    assert_eq!(findings(ble), ["library Arduino_LSM9DS1 not installed"]);
    // The Sense lacks three of its sensor libraries: a warning with the exact install.
    let sense = target(&report, "nano33ble_sense");
    assert_eq!(sense["status"], "warning");
    assert!(
        findings(sense).contains(&"library Arduino_LSM9DS1 not installed"),
        "{sense}"
    );
    assert!(
        sense
            .to_string()
            .contains("arduino-cli lib install Arduino_LSM9DS1@1.1.1"),
        "{sense}"
    );
    // ESP32 has no core installed.
    assert_eq!(findings(target(&report, "esp32")), ["core esp32:esp32"]);

    // The same, for people.
    let cache = tempfile::tempdir().unwrap();
    let output = doctor()
        .env("PATH", &bin)
        .env("FAKE_ARDUINO_CLI_CASE", &case)
        // An empty cache: the host TFLM library is "not built" and the Python environment is
        // missing on every machine.
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("AUTOPILOT_PYTHON_ENV")
        .args(["--timeout", "2"])
        .assert()
        .code(3)
        .stdout(contains("missing  simavr"))
        .stdout(contains("uno is NOT ready"))
        .get_output()
        .clone();
    let mut settings =
        autopilot_testkit::snapshot::settings(&[(dir.path(), "[DIR]"), (cache.path(), "[CACHE]")]);
    // The AVR core and avr-gcc are found at Debian's fixed paths, whatever PATH says: present
    // or not depending on the machine.
    settings.add_filter(
        r"(?m)^  \w+ +(AVR core|avr-gcc) .*(\n {20,}fix: .*)?$",
        "  [machine] $1",
    );
    settings.bind(|| {
        insta::assert_snapshot!(
            "doctor_hidden_toolchain",
            autopilot_testkit::snapshot::command_output(&output)
        );
    });
}

#[test]
fn nothing_on_path_names_every_missing_tool() {
    let dir = tempfile::tempdir().unwrap();
    let report = report(doctor().env("PATH", dir.path()).args(["--timeout", "2"]), 3);
    assert_eq!(check(&report, "arduino-cli")["status"], "warning");
    let uno = target(&report, "uno");
    assert_eq!(uno["backend"], Value::Null);
    assert_eq!(
        findings(uno),
        [
            "a compiler: arduino-builder (or arduino-cli)",
            "simavr (the simulation check)"
        ]
    );
    assert_eq!(
        findings(target(&report, "nano33ble_sense")),
        ["arduino-cli with core arduino:mbed_nano"]
    );
}

#[test]
fn the_real_toolchain_makes_uno_ready_and_llm_problems_only_warn() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let report = report(doctor().args(["--timeout", "2"]), 0);
    assert_eq!(report["ready"], true);
    assert_eq!(report["llm_ready"], false);
    for name in ["arduino-builder", "AVR core", "avr-gcc"] {
        let check = check(&report, name);
        assert_eq!(check["status"], "ok", "{check}");
        assert!(!check["version"].as_str().unwrap().is_empty(), "{check}");
    }
    assert_eq!(check(&report, "simavr")["status"], "ok");
    let uno = target(&report, "uno");
    assert_eq!(uno["backend"], "arduino-builder");
    assert_eq!(uno["status"], "ok", "{uno}");
    // No key, no Ollama: warnings with their fixes.
    let key = check(&report, "OpenAI key");
    assert_eq!(key["status"], "warning");
    assert_eq!(key["fix"], "export OPENAI_API_KEY=…");
    let ollama = check(&report, "Ollama");
    assert_eq!(ollama["status"], "warning");
    assert!(ollama["fix"].as_str().unwrap().contains("ollama serve"));

    // Requiring an LLM turns the same into exit 3.
    doctor()
        .args(["--require-llm", "--timeout", "2"])
        .assert()
        .code(3)
        .stdout(contains("uno is ready"))
        .stdout(contains("missing  Ollama"))
        .stdout(contains("--require-llm was given (exit 3)"));
}

/// With the project's Python environment, doctor finds it, reads the installed versions of the
/// direct requirements at their pins, and runs python in bubblewrap.
#[test]
fn the_python_environment_and_its_sandbox_are_checked() {
    if !avr_toolchain_and_simavr() || !autopilot_testkit::tools::python_env() {
        return;
    }
    let report = report(doctor().args(["--timeout", "2"]), 0);
    let env = check(&report, "Python env");
    assert_eq!(env["status"], "ok", "{env}");
    let requirements = fs_err::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("python/requirements.txt"),
    )
    .unwrap();
    for package in ["numpy", "pandas", "tensorflow-cpu", "ai-edge-litert"] {
        let pin = requirements
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{package}==")))
            .unwrap();
        assert!(
            env["found"]
                .as_str()
                .unwrap()
                .contains(&format!("{package} {pin}")),
            "{env}"
        );
    }
    assert_eq!(check(&report, "Python sandbox")["status"], "ok");
}

#[test]
fn loopback_endpoints_a_rejected_key_and_a_listing_ollama() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let server = serve(vec![
        (
            "/v1/models",
            401,
            r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#,
        ),
        (
            "/api/tags",
            200,
            r#"{"models":[{"name":"qwen2.5-coder:7b","model":"qwen2.5-coder:7b"}]}"#,
        ),
    ]);
    let report = report(
        doctor()
            .env("OPENAI_BASE_URL", format!("{server}/v1"))
            .env("OPENAI_API_KEY", "sk-doctor-secret-4321")
            .env("OLLAMA_HOST", &server)
            .args(["--require-llm", "--timeout", "5"]),
        0,
    );
    assert_eq!(report["llm_ready"], true);
    assert_eq!(
        check(&report, "OpenAI key")["found"],
        "OPENAI_API_KEY is set"
    );
    let openai = check(&report, "OpenAI endpoint");
    assert_eq!(openai["status"], "error");
    assert!(
        openai["found"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key provided"),
        "{openai}"
    );
    assert_eq!(
        openai["fix"],
        "check the key in OPENAI_API_KEY: the endpoint rejected it"
    );
    let ollama = check(&report, "Ollama");
    assert_eq!(ollama["status"], "ok");
    assert_eq!(ollama["models"], serde_json::json!(["qwen2.5-coder:7b"]));
    assert_eq!(check(&report, "LLM")["found"], "usable: ollama");

    // A config file naming an OpenAI model makes the rejected key decisive.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("autopilot.toml");
    fs_err::write(&config, "model = \"openai:gpt-4o\"\n").unwrap();
    doctor()
        .env("OPENAI_BASE_URL", format!("{server}/v1"))
        .env("OPENAI_API_KEY", "sk-doctor-secret-4321")
        .env("OLLAMA_HOST", &server)
        .arg("--config")
        .arg(&config)
        .args(["--require-llm", "--timeout", "5"])
        .assert()
        .code(3)
        .stdout(contains("the configured model openai:gpt-4o is not usable"))
        .stdout(contains("4321").not());
}

#[test]
fn bad_arguments_exit_2() {
    doctor()
        .args(["--target", "nope"])
        .assert()
        .code(2)
        .stderr(contains("unknown target `nope`"));
    doctor()
        .args(["--timeout", "0"])
        .assert()
        .code(2)
        .stderr(contains("--timeout 0"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    fs_err::write(&config, "modle = 1\n").unwrap();
    doctor()
        .arg("--config")
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("bad.toml"));
}
