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
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{not json";
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
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
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
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
    std::fs::write(&garbage, "this is not json\n").unwrap();
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
