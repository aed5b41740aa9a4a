//! Helpers: the repository's fixtures, shared caches and the fake arduino-cli; the AVR
//! toolchain, simavr and corpus checks ("required under CI, skipped elsewhere") come from
//! `autopilot-testkit`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use autopilot_toolchain::backend::{ArduinoCliConfig, BackendKind, ToolchainConfig};
use autopilot_toolchain::{Target, Targets};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixtures() -> PathBuf {
    root().join("data/fixtures")
}

pub fn sketch_fixture(name: &str) -> PathBuf {
    fixtures().join("sketches").join(name)
}

pub use autopilot_testkit::tools::{avr_toolchain, simavr};
pub use autopilot_testkit::{corpus, require};

pub fn target(name: &str) -> Target {
    Targets::builtin().get(name).unwrap().clone()
}

/// A build cache shared by every test of this run (compiled cores are reused).
pub fn shared_build_cache() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
        .path()
        .to_owned()
}

/// Defaults with the shared build cache and a compile cache in `work`.
pub fn config(work: &Path) -> ToolchainConfig {
    let mut config = ToolchainConfig::with_cache_dir(work);
    config.build_cache_dir = shared_build_cache();
    config.compile_cache_dir = Some(work.join("compile-cache"));
    config.libraries_dir = Some(work.join("libraries"));
    config.timeout = Duration::from_secs(120);
    config
}

pub fn fake_cli_program() -> PathBuf {
    fixtures().join("arduino-cli/fake-arduino-cli")
}

/// A case folder for the fake arduino-cli: `common/` plus the named recorded cases, copied into
/// `dir` (later cases win).
pub fn fake_cli_case(dir: &Path, cases: &[&str]) -> PathBuf {
    let case = dir.join("fake-cli-case");
    fs_err::create_dir_all(&case).unwrap();
    for name in std::iter::once("common").chain(cases.iter().copied()) {
        copy_dir(&fixtures().join("arduino-cli").join(name), &case);
    }
    case
}

/// Copies the files and folders of `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            fs_err::copy(&path, dest).unwrap();
        }
    }
}

/// A configuration that runs the fake arduino-cli on `case`, logging its calls to `log`.
pub fn fake_cli_config(work: &Path, case: &Path, log: &Path) -> ToolchainConfig {
    let mut config = config(work);
    config.arduino_cli = ArduinoCliConfig {
        program: fake_cli_program(),
        config_file: None,
        env: vec![
            ("FAKE_ARDUINO_CLI_CASE".into(), case.into()),
            ("FAKE_ARDUINO_CLI_LOG".into(), log.into()),
        ],
        ..ArduinoCliConfig::default()
    };
    config.force_backend = Some(BackendKind::ArduinoCli);
    // The fake reads its case folder and appends to its log from inside the sandbox.
    if let Some(sandbox) = &mut config.sandbox {
        sandbox.read_only.push(case.to_owned());
        sandbox.writable.extend(log.parent().map(Path::to_owned));
    }
    config
}

/// Writes a sketch `<dir>/<name>/<name>.ino`.
pub fn write_sketch(dir: &Path, name: &str, code: &str) -> PathBuf {
    let folder = dir.join(name);
    fs_err::create_dir_all(&folder).unwrap();
    fs_err::write(folder.join(format!("{name}.ino")), code).unwrap();
    folder
}

/// Waits up to 3 s for a process to disappear (a killed orphan is reaped by init).
pub async fn gone(pid: i32) -> bool {
    for _ in 0..60 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Whether a process with this pid is alive (and not a zombie).
fn alive(pid: i32) -> bool {
    match fs_err::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}
