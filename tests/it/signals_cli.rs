//! Ending `autopilot run` from outside: SIGTERM ends the session cleanly (the trace closes with
//! `session_finished` aborted) and SIGKILL leaves no compiler behind — the sandbox's PID
//! namespace dies with autopilot.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;
use autopilot_trace::{Event, SessionOutcome, TraceFile, collect_trace_files};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use autopilot_testkit::tools::installed;

/// A compiler that answers `-version` and hangs on a compile, its child marked by `marker`.
fn hanging_builder(dir: &Path, marker: &str) -> PathBuf {
    let path = dir.join("bin/arduino-builder");
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"-version\" ]; then echo 'Arduino Builder 1.3.25'; exit 0; fi\n\
             sleep {marker} &\nwait\n"
        ),
    )
    .unwrap();
    fs_err::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Host processes whose command line contains `marker`.
pub(crate) fn processes_with(marker: &str) -> Vec<i32> {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs_err::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(marker))
        })
        .collect()
}

pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// Starts `autopilot run` on the uno example (demo answers) with the hanging compiler and
/// waits until the compile is under way.
fn start_run(work: &Path, marker: &str) -> Child {
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml");
    let mut child = std::process::Command::cargo_bin("autopilot")
        .unwrap()
        .arg("run")
        .arg(app)
        .arg("--out")
        .arg(work.join("run"))
        .arg("--cache-dir")
        .arg(work.join("cache"))
        .arg("--arduino-builder")
        .arg(hanging_builder(work, marker))
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_LOG")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if !wait_until(Duration::from_secs(30), || {
        !processes_with(marker).is_empty()
    }) {
        let _ = child.kill();
        panic!("the compile never started");
    }
    child
}

fn sandbox_and_toolchain() -> bool {
    installed(
        "bubblewrap and the AVR toolchain",
        &["bwrap", "avr-gcc"],
        &[],
    )
}

#[test]
fn sigterm_ends_the_session_as_aborted_and_stops_the_compiler() {
    if !sandbox_and_toolchain() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let marker = format!("7331.{}", std::process::id());
    let mut child = start_run(work.path(), &marker);
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "autopilot did not end after SIGTERM"
    );
    assert_eq!(status.unwrap().code(), Some(1), "aborted exits 1");
    assert!(
        wait_until(Duration::from_secs(1), || processes_with(&marker)
            .is_empty()),
        "the compiler outlived the session: {:?}",
        processes_with(&marker)
    );
    let files = collect_trace_files(&work.path().join("run")).unwrap();
    let trace = TraceFile::read(&files[0]).unwrap();
    let last = trace.events().last().cloned();
    match last {
        Some(Event::SessionFinished(finished)) => match finished.outcome {
            SessionOutcome::Aborted { reason } => {
                assert!(reason.contains("SIGTERM"), "{reason}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("the trace ends with {other:?}"),
    }
}

#[test]
fn sigkill_of_autopilot_takes_the_sandboxed_compiler_down_within_a_second() {
    if !sandbox_and_toolchain() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let marker = format!("7332.{}", std::process::id());
    let mut child = start_run(work.path(), &marker);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(1), || processes_with(&marker)
            .is_empty()),
        "orphans: {:?}",
        processes_with(&marker)
    );
}
