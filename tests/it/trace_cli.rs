//! `autopilot trace validate` and `autopilot trace show` on good and damaged files.

use predicates::str::contains;

use autopilot_testkit::trace::write_session;

use crate::support::autopilot;

#[test]
fn validate_accepts_a_good_file_and_a_run_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "good");
    write_session(dir.path(), "other");
    autopilot()
        .args(["trace", "validate"])
        .arg(&path)
        .assert()
        .code(0)
        .stderr(contains("1 trace file(s), 3 event(s), 0 invalid"));
    autopilot()
        .args(["trace", "validate"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stderr(contains("2 trace file(s), 6 event(s), 0 invalid"));
}

#[test]
fn validate_names_file_and_line_of_a_corrupt_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "bad");
    let text = fs_err::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{not json";
    fs_err::write(&path, lines.join("\n") + "\n").unwrap();
    let expected = format!("{}:2: not a trace record", path.display());
    autopilot()
        .args(["trace", "validate"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout(contains(expected));
}

#[test]
fn validate_reports_a_truncated_last_line_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "cut");
    let bytes = fs_err::read(&path).unwrap();
    fs_err::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    let missing = dir.path().join("nope.jsonl");
    autopilot()
        .args(["trace", "validate"])
        .arg(&path)
        .arg(&missing)
        .assert()
        .code(2)
        .stdout(contains(format!("{}:3: truncated line", path.display())))
        .stdout(contains(format!("{}: cannot read", missing.display())));
}

#[test]
fn show_summarises_a_session_for_people_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "shown");
    autopilot()
        .args(["trace", "show"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(contains("outcome   success at attempt 2"))
        .stdout(contains("sketch #1   compile_failed"));
    let output = autopilot()
        .args(["trace", "show", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let records: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 3);
    assert_eq!(records[2]["event"]["type"], "session_finished");
}

#[test]
fn usage_errors_exit_2() {
    autopilot().args(["trace", "validate"]).assert().code(2);
    autopilot().args(["no-such-command"]).assert().code(2);
}

#[test]
fn show_refuses_garbage_and_devices_accepts_run_dirs_and_says_unknown_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    fs_err::write(&garbage, "this is not json\n").unwrap();
    autopilot()
        .args(["trace", "show"])
        .arg(&garbage)
        .assert()
        .code(2)
        .stderr(contains("is not a session trace: line 1"));
    for command in ["show", "validate"] {
        let output = autopilot()
            .args(["trace", command, "/dev/zero"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let text =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        assert!(text.contains("/dev/zero is not a regular file"), "{text}");
    }
    // A run directory: every session, tokens no answer reported are unknown, not 0.
    write_session(dir.path(), "one");
    write_session(dir.path(), "two");
    autopilot()
        .args(["trace", "show"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(contains("outcome   success at attempt 2").count(2))
        .stdout(contains("unknown in / unknown out tokens"));
}

/// `trace show --format json | head`: a reader that stops early is not an error (exit 0,
/// nothing said), for every command that writes data (`targets` too).
#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "piped");
    let show = [
        "trace".as_ref(),
        "show".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        path.as_os_str(),
    ];
    let targets = ["targets".as_ref(), "--format".as_ref(), "json".as_ref()];
    for args in [&show[..], &targets[..]] {
        let (code, stderr) = crate::support::run_into_closed_pipe(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

/// Any other failed write of stdout (a full disk) is said once and exits 3, not 2.
#[test]
fn a_failed_stdout_write_is_said_once_and_exits_3() {
    // Linux's device that fails every write with ENOSPC (autopilot runs on Linux only).
    let full = fs_err::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into_file();
    let dir = tempfile::tempdir().unwrap();
    let path = write_session(dir.path(), "full");
    #[expect(
        clippy::disallowed_methods,
        reason = "the test runs the binary under test with stdout on /dev/full"
    )]
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("autopilot"));
    let output = command
        .args(["trace", "show", "--format", "json"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        stderr
            .matches("error: cannot write to stdout: No space left on device")
            .count(),
        1,
        "{stderr}"
    );
}
