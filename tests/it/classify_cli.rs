//! `autopilot import` and `autopilot classify` end to end: outputs, exit codes, and the
//! published corpus (legacy parity, importer counts, trace validation).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use autopilot_testkit::corpus;

use crate::support::autopilot;

/// Runs a command that must succeed and returns its stdout.
fn stdout_of(command: &mut assert_cmd::Command) -> Vec<u8> {
    command.assert().code(0).get_output().stdout.clone()
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/autopilot-classifier/tests/fixtures")
}

#[test]
fn import_writes_traces_that_validate_and_never_overwrites_without_force() {
    let out = tempfile::tempdir().unwrap();
    autopilot()
        .args(["import", "--out"])
        .arg(out.path())
        .arg(fixtures().join("logs"))
        .assert()
        .code(0)
        .stdout(contains("sg_demo_1a2b.log"))
        .stderr(contains("imported 6 session(s)"));
    autopilot()
        .args(["trace", "validate"])
        .arg(out.path())
        .assert()
        .code(0)
        .stderr(contains("6 trace file(s)"));
    let first = out.path().join("sessions/sg_demo_1a2b-1a2b-aa01.jsonl");
    fs_err::write(&first, "mine\n").unwrap();
    autopilot()
        .args(["import", "--out"])
        .arg(out.path())
        .arg(fixtures().join("logs/sg_demo_1a2b.log"))
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{} exists; pass --force",
            first.display()
        )));
    assert_eq!(fs_err::read_to_string(&first).unwrap(), "mine\n");
    autopilot()
        .args(["import", "--force", "--format", "csv", "--out"])
        .arg(out.path())
        .arg(fixtures().join("logs/sg_demo_1a2b.log"))
        .assert()
        .code(0)
        .stdout(contains(
            "file,model,batch,session,outcome,attempts,success_attempt,compile_attempts,llm_calls,start,end\n\
             sg_demo_1a2b.log,codestral,1a2b,aa01,success,3,3,3,5,2025-04-01T10:00:00.000Z,2025-04-01T10:02:20.002Z\n",
        ));
    assert_ne!(fs_err::read_to_string(&first).unwrap(), "mine\n");
}

#[test]
fn an_import_that_fails_part_way_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let sessions = out.path().join("sessions");
    fs_err::create_dir_all(&sessions).unwrap();
    // The log's last session exists: the two before it must not be written either.
    let last = sessions.join("sg_demo_1a2b-9c9c-cc03.jsonl");
    fs_err::write(&last, "mine\n").unwrap();
    autopilot()
        .args(["import", "--out"])
        .arg(out.path())
        .arg(fixtures().join("logs/sg_demo_1a2b.log"))
        .assert()
        .code(2)
        .stderr(contains("exists; pass --force").and(contains("imported").not()));
    let names: Vec<_> = fs_err::read_dir(out.path())
        .unwrap()
        .chain(fs_err::read_dir(&sessions).unwrap())
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sessions", "sg_demo_1a2b-9c9c-cc03.jsonl"]);
}

#[test]
fn an_import_into_a_closed_pipe_is_complete_or_says_it_failed() {
    let Some(corpus) = corpus() else { return };
    let out = tempfile::tempdir().unwrap();
    let logs = corpus.join("raw_logs");
    let (code, stderr) = crate::support::run_into_closed_pipe(&[
        "import".as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
        "--out".as_ref(),
        out.path().as_os_str(),
        logs.as_os_str(),
    ]);
    // `--format csv` without a closed pipe: the number of sessions the corpus holds.
    let csv = stdout_of(
        autopilot()
            .args(["import", "--format", "csv", "--out"])
            .arg(out.path().join("reference"))
            .arg(&logs),
    );
    let expected = String::from_utf8(csv).unwrap().lines().count() - 1;
    let written = fs_err::read_dir(out.path().join("sessions"))
        .unwrap()
        .count();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(written, expected);
    assert!(
        stderr.contains(&format!("imported {expected} session(s)")),
        "{stderr}"
    );
}

#[test]
fn classify_prints_every_format_and_rejects_bad_input_with_exit_2() {
    let log = fixtures().join("logs/sg_demo_1a2b.log");
    let jsonl = |unit: &str| -> Vec<serde_json::Value> {
        let out = stdout_of(
            autopilot()
                .args(["classify", "--format", "jsonl", "--unit", unit])
                .arg(&log),
        );
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let lines = jsonl("diagnostic");
    assert_eq!(lines.len(), 11);
    // The root unit writes the root records only; cascades name their root's id.
    let roots = jsonl("root");
    let cascades: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("root").is_some()).collect();
    assert!(!cascades.is_empty());
    assert_eq!(roots.len() + cascades.len(), lines.len());
    assert!(roots.iter().all(|l| l.get("root").is_none()));
    assert!(cascades.iter().all(|l| l["link"].is_string()));
    for key in [
        "session",
        "model",
        "target",
        "prompt_variant",
        "stage",
        "attempt",
        "group",
        "category",
        "symptom",
        "root_cause",
        "message",
    ] {
        assert!(lines[0].get(key).is_some(), "{key} missing in {}", lines[0]);
    }
    autopilot()
        .args(["classify", "--format", "csv"])
        .arg(&log)
        .assert()
        .code(0)
        .stdout(contains("session,model,target,prompt_variant,source,stage,attempt,index,group,category,symptom,root_cause,rule,message,id,root,source_line\n"))
        .stdout(contains(",Sensor / Hardware Constant Not Declared,"));
    autopilot()
        .arg("classify")
        .arg(&log)
        .assert()
        .code(0)
        .stdout(contains("Invalid TensorFlow Lite Usage"))
        .stdout(contains("records   11 failure records, 9 root defects"))
        .stdout(contains(
            "failures  9 root defects (uncategorized 0, 0.00%)",
        ));
    autopilot()
        .args(["classify", "--unit", "diagnostic"])
        .arg(&log)
        .assert()
        .code(0)
        .stdout(contains("failures  11 failures (uncategorized 0, 0.00%)"));
    autopilot()
        .args(["classify", "--taxonomy", "legacy", "--format", "csv"])
        .arg(&log)
        .assert()
        .code(0)
        .stdout(
            "file,index,category\n\
                 sg_demo_1a2b.log,0,Missing/Incorrect Libraries\n\
                 sg_demo_1a2b.log,1,Missing/Incorrect Libraries\n\
                 sg_demo_1a2b.log,2,Prompt Execution Error\n\
                 sg_demo_1a2b.log,3,Code Generation Failure\n\
                 sg_demo_1a2b.log,4,LLM Runtime/Backend Error\n\
                 sg_demo_1a2b.log,5,Code Generation Failure\n",
        );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    let text = autopilot_classifier::DEFAULT_TAXONOMY.replacen(
        "stage = \"spec_fill\"",
        "stage = \"nowhere\"",
        1,
    );
    fs_err::write(&broken, text).unwrap();
    autopilot()
        .args(["classify", "--taxonomy"])
        .arg(&broken)
        .arg(&log)
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}: rule[1] (spec-guideline-placeholder).stage: unknown stage \"nowhere\"",
            broken.display()
        )));
    autopilot()
        .args(["classify", "--taxonomy", "legacy"])
        .arg(dir.path().join("missing.log"))
        .assert()
        .code(2)
        .stderr(contains("missing.log"));
    let trace = dir.path().join("t.jsonl");
    fs_err::write(&trace, "{}\n").unwrap();
    autopilot()
        .args(["classify", "--taxonomy", "legacy"])
        .arg(&trace)
        .assert()
        .code(2)
        .stderr(contains("legacy .log files only"));
}

#[test]
fn on_the_corpus_legacy_csv_equals_the_reference_and_the_import_matches_format_md() {
    let Some(corpus) = corpus() else { return };
    let raw = corpus.join("raw_logs");
    let output = stdout_of(
        autopilot()
            .args(["classify", "--taxonomy", "legacy", "--format", "csv"])
            .arg(&raw),
    );
    let ours = String::from_utf8(output).unwrap();
    let mut reader =
        csv::Reader::from_path(corpus.join("reference/legacy_categories.csv")).unwrap();
    let mut expected = String::from("file,index,category\n");
    for row in reader.records() {
        let row = row.unwrap();
        writeln!(expected, "{},{},{}", &row[0], &row[2], &row[5]).unwrap();
    }
    assert_eq!(ours.lines().count(), 1532);
    assert!(
        ours == expected,
        "legacy CSV differs from reference/legacy_categories.csv"
    );

    let out = tempfile::tempdir().unwrap();
    let output = stdout_of(
        autopilot()
            .args(["import", "--format", "csv", "--out"])
            .arg(out.path())
            .arg(&raw),
    );
    let csv_text = String::from_utf8(output).unwrap();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for line in csv_text.lines().skip(1) {
        *outcomes.entry(line.split(',').nth(4).unwrap()).or_default() += 1;
    }
    assert_eq!(outcomes.values().sum::<usize>(), 214);
    assert_eq!(outcomes["success"], 11);
    assert_eq!(outcomes["infrastructure_error"], 13);
    assert_eq!(outcomes["truncated"], 1);
    autopilot()
        .args(["trace", "validate"])
        .arg(out.path())
        .assert()
        .code(0)
        .stderr(contains("214 trace file(s)").and(contains(" 0 invalid")));

    let summary = stdout_of(
        autopilot()
            .args(["classify", "--format", "json"])
            .arg(out.path()),
    );
    let summary: serde_json::Value = serde_json::from_slice(&summary).unwrap();
    assert_eq!(summary["sessions"], 214);
    assert!(
        summary["uncategorized_percent"].as_f64().unwrap() <= 1.0,
        "{}",
        summary["uncategorized_percent"]
    );
    assert_eq!(summary["by_model"]["gpt-4o"]["outcomes"]["success"], 9);
}

/// Many small files (more than the workers may hold in flight): every mode and per-record
/// format writes the same bytes on several threads as on one, in input order.
#[test]
fn classify_output_is_the_same_on_one_thread_and_on_several_with_many_files() {
    let dir = tempfile::tempdir().unwrap();
    for copy in 0..12 {
        for log in ["sg_demo_1a2b", "sg_demo_b2025"] {
            fs_err::copy(
                fixtures().join(format!("logs/{log}.log")),
                dir.path().join(format!("{log}-{copy:02}.log")),
            )
            .unwrap();
        }
    }
    for taxonomy in ["legacy", "default"] {
        for format in ["csv", "jsonl", "table"] {
            let run = |jobs: &str| {
                stdout_of(
                    autopilot()
                        .args(["classify", "-j", jobs, "--taxonomy", taxonomy])
                        .args(["--format", format])
                        .arg(dir.path()),
                )
            };
            let one = run("1");
            // The default table counts per model, not per file.
            if (taxonomy, format) != ("default", "table") {
                assert!(
                    String::from_utf8_lossy(&one).contains("sg_demo_b2025-11"),
                    "{taxonomy} {format}: the last file is missing"
                );
            }
            assert!(
                one == run("3"),
                "{taxonomy} {format}: -j 3 differs from -j 1"
            );
        }
    }
}
