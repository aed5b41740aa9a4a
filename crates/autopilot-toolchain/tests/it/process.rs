//! The process runner: exit codes, environment, timeouts that reach grandchildren, bounded
//! capture, non-UTF-8 output, early stop, cancellation.

use std::path::Path;
use std::time::{Duration, Instant};

use autopilot_toolchain::process::{
    self, LineControl, ProcessSpec, StreamKind, Termination, truncation_marker,
};

use crate::support::gone;

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh").arg("-c").arg(script)
}

async fn read_pid(path: &Path) -> i32 {
    for _ in 0..100 {
        if let Ok(text) = fs_err::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid in {}", path.display());
}

#[tokio::test]
async fn captures_both_streams_the_exit_code_environment_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh("echo out; echo err >&2; echo \"lang=$LC_ALL\"; pwd; exit 3")
        .env("LC_ALL", "C")
        .current_dir(dir.path());
    let output = process::run(&spec).await.unwrap();
    assert_eq!(output.termination, Termination::Exited { code: 3 });
    assert!(!output.success());
    let stdout = output.stdout.text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "out");
    assert_eq!(lines[1], "lang=C");
    assert_eq!(Path::new(lines[2]), dir.path().canonicalize().unwrap());
    assert_eq!(output.stderr.text(), "err\n");
    assert!(!output.stdout.is_truncated());
}

#[tokio::test]
async fn a_missing_program_is_not_found() {
    let error = process::run(&ProcessSpec::new("/nonexistent/arduino-builder"))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/arduino-builder"));
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    // A "compiler" that starts a sleeping child and waits for it.
    let spec = sh(&format!(
        "sleep 1000 & echo $! > '{}'; wait",
        pid_file.display()
    ))
    .timeout(Duration::from_millis(400))
    .grace(Duration::from_millis(300));
    let start = Instant::now();
    let output = process::run(&spec).await.unwrap();
    assert_eq!(output.termination, Termination::TimedOut);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let child = read_pid(&pid_file).await;
    assert!(
        gone(child).await,
        "the sleeping grandchild {child} survived the timeout"
    );
}

#[tokio::test]
async fn a_child_that_ignores_sigterm_gets_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let spec = sh(&format!(
        "trap '' TERM; sleep 1000 & echo $! > '{}'; wait",
        pid_file.display()
    ))
    .timeout(Duration::from_millis(300))
    .grace(Duration::from_millis(300));
    let output = process::run(&spec).await.unwrap();
    assert_eq!(output.termination, Termination::TimedOut);
    let child = read_pid(&pid_file).await;
    assert!(
        gone(child).await,
        "the SIGTERM-proof grandchild {child} survived"
    );
}

#[tokio::test]
async fn a_flood_is_capped_and_marked() {
    let spec =
        sh("head -c 3000000 /dev/zero | tr '\\0' a; echo; echo done >&2").capture_limit(64 * 1024);
    let output = process::run(&spec).await.unwrap();
    assert!(output.success());
    assert_eq!(output.stdout.bytes.len(), 64 * 1024);
    assert_eq!(output.stdout.dropped, 3_000_001 - 64 * 1024);
    assert!(output.stdout.is_truncated());
    assert!(
        output
            .stdout
            .text_marked()
            .ends_with(&truncation_marker(3_000_001 - 64 * 1024))
    );
    assert_eq!(output.stderr.text(), "done\n");
}

#[tokio::test]
async fn non_utf8_output_is_tolerated() {
    let output = process::run(&sh("printf 'ok \\377\\376 end\\n'"))
        .await
        .unwrap();
    assert_eq!(output.stdout.bytes, b"ok \xff\xfe end\n");
    assert_eq!(output.stdout.text(), "ok \u{fffd}\u{fffd} end\n");
}

#[tokio::test]
async fn the_line_callback_can_stop_the_process() {
    let spec = sh("i=0; while true; do echo \"line $i\"; i=$((i+1)); done")
        .timeout(Duration::from_secs(20));
    let mut seen = Vec::new();
    let start = Instant::now();
    let output = process::run_with_lines(&spec, |stream, line| {
        assert_eq!(stream, StreamKind::Stdout);
        seen.push(String::from_utf8_lossy(line).into_owned());
        if line == b"line 50" {
            LineControl::Stop
        } else {
            LineControl::Continue
        }
    })
    .await
    .unwrap();
    assert_eq!(output.termination, Termination::Stopped);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(seen.len(), 51, "no line is handed over after Stop");
    assert_eq!(seen[50], "line 50");
}

#[tokio::test]
async fn a_dropped_run_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let spec = sh(&format!(
        "sleep 1000 & echo $! > '{}'; wait",
        pid_file.display()
    ));
    // The caller gives up (an orchestrator cancelling a session): the future is dropped.
    let result = tokio::time::timeout(Duration::from_millis(400), process::run(&spec)).await;
    assert!(result.is_err());
    let child = read_pid(&pid_file).await;
    assert!(
        gone(child).await,
        "the grandchild {child} outlived the cancelled run"
    );
}
