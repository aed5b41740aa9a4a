//! `autopilot report` end to end: the files it writes, its exit codes, and on the published
//! corpus success rates and category counts equal to what `autopilot import` and
//! `autopilot classify` say, in the default and the legacy taxonomy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use predicates::str::contains;

use autopilot_testkit::corpus;
use autopilot_testkit::trace::write_session;

use crate::support::autopilot;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/autopilot-classifier/tests/fixtures")
}

/// Runs a command that must succeed and returns its stdout.
fn stdout_of(command: &mut assert_cmd::Command) -> Vec<u8> {
    command.assert().code(0).get_output().stdout.clone()
}

/// Runs `autopilot report` into `out`, which must succeed, and returns its stderr.
fn report(out: &Path, extra: &[&str], input: &Path) -> String {
    let output = autopilot()
        .arg("report")
        .args(extra)
        .arg("--out")
        .arg(out)
        .arg(input)
        .assert()
        .code(0)
        .stdout(format!("{}\n", out.display()))
        .get_output()
        .clone();
    String::from_utf8(output.stderr).unwrap()
}

/// Runs `autopilot report` with `args`, which must exit 2 saying `needle` and write nothing.
fn refused(args: &[&str], out: &Path, input: &Path, needle: &str) {
    autopilot()
        .arg("report")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg(input)
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains(needle));
}

/// The rows of a CSV file as maps from column name to value.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// `categories.csv` as (model, category) → count.
fn category_counts(dir: &Path) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for row in rows(&dir.join("categories.csv")) {
        let n: u64 = row["count"].parse().unwrap();
        *counts
            .entry((row["model"].clone(), row["category"].clone()))
            .or_default() += n;
    }
    counts
}

/// `success_rates.csv` per model: (sessions, successes).
fn model_rates(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    rows(&dir.join("success_rates.csv"))
        .into_iter()
        .filter(|r| r["dimension"] == "model")
        .map(|r| {
            (
                r["value"].clone(),
                (
                    r["sessions"].parse().unwrap(),
                    r["successes"].parse().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_report_writes_every_file_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let logs = fixtures().join("logs");
    let stderr = report(&out, &["--title", "Fixture run"], &logs);
    assert!(stderr.contains("6 sessions, 1 succeeded;"), "{stderr}");
    assert!(stderr.contains("codestral"), "{stderr}");
    for file in [
        "report.md",
        "report.html",
        "sessions.csv",
        "success_rates.csv",
        "attempts_to_success.csv",
        "costs.csv",
        "categories.csv",
        "success_by_model.svg",
        "failure_pareto.svg",
        "time_per_outcome.svg",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let md = fs_err::read_to_string(out.join("report.md")).unwrap();
    assert!(md.starts_with("# Fixture run\n"), "{md}");
    autopilot_testkit::snapshot::settings(&[(&logs, "[LOGS]"), (&out, "[OUT]")]).bind(|| {
        insta::assert_snapshot!("report_markdown_fixture_logs", md);
    });
    let html = fs_err::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("src="),
        "self-contained"
    );
    assert_eq!(rows(&out.join("sessions.csv")).len(), 6);
    // Again into its own folder: fine.
    report(&out, &["--taxonomy", "legacy"], &logs);
    assert!(
        fs_err::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("(legacy taxonomy)")
    );

    // A folder of someone else's files is left alone.
    let foreign = dir.path().join("mine");
    fs_err::create_dir(&foreign).unwrap();
    fs_err::write(foreign.join("notes.md"), "mine").unwrap();
    refused(
        &[],
        &foreign,
        &logs,
        "is not empty and holds no earlier report",
    );
    assert_eq!(
        fs_err::read_to_string(foreign.join("notes.md")).unwrap(),
        "mine"
    );
    assert_eq!(fs_err::read_dir(&foreign).unwrap().count(), 1);

    // Bad inputs: a missing file, traces under the legacy taxonomy, a broken taxonomy file.
    let missing = dir.path().join("missing.log");
    refused(
        &[],
        &dir.path().join("r2"),
        &missing,
        &missing.display().to_string(),
    );
    let run = dir.path().join("run");
    write_session(&run, "s1");
    refused(
        &["--taxonomy", "legacy"],
        &dir.path().join("r3"),
        &run,
        "legacy .log files only",
    );
    let broken = dir.path().join("broken.toml");
    fs_err::write(&broken, "[[category]]\nid = 3\n").unwrap();
    refused(
        &["--taxonomy", broken.to_str().unwrap()],
        &dir.path().join("r4"),
        &run,
        &broken.display().to_string(),
    );
    assert!(!dir.path().join("r4").exists());
    // A native run: one session, unfinished sessions none, the default taxonomy.
    let stderr = report(&dir.path().join("r5"), &[], &run);
    assert!(
        stderr.contains("1 sessions, 1 succeeded; 1 root defects classified (default taxonomy)"),
        "{stderr}"
    );
}

#[test]
fn on_the_corpus_rates_and_counts_equal_the_importers_and_the_classifiers() {
    let Some(corpus) = corpus() else { return };
    let raw = corpus.join("raw_logs");
    let dir = tempfile::tempdir().unwrap();

    // What the importer says: sessions and successes per model, and each log's model.
    let imported = dir.path().join("imported");
    let import_csv = dir.path().join("import.csv");
    let output = stdout_of(
        autopilot()
            .args(["import", "--format", "csv", "--out"])
            .arg(&imported)
            .arg(&raw),
    );
    fs_err::write(&import_csv, output).unwrap();
    let mut import_rates: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut log_models: BTreeMap<String, String> = BTreeMap::new();
    for row in rows(&import_csv) {
        let rate = import_rates.entry(row["model"].clone()).or_default();
        rate.0 += 1;
        rate.1 += u64::from(row["outcome"] == "success");
        log_models.insert(row["file"].clone(), row["model"].clone());
    }

    // Default taxonomy, on the raw logs and on their imported traces alike.
    let default = dir.path().join("default");
    let stderr = report(&default, &[], &raw);
    assert!(
        stderr.contains(
            "214 sessions, 11 succeeded; 5280 root defects classified (default taxonomy)"
        ),
        "{stderr}"
    );
    // Every record stays available: the diagnostic unit counts all 10,022.
    let every = dir.path().join("every");
    let stderr = report(&every, &["--unit", "diagnostic"], &raw);
    assert!(
        stderr.contains("214 sessions, 11 succeeded; 10022 failures classified (default taxonomy)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("9/34") && stderr.contains("26.5%"),
        "{stderr}"
    );
    assert_eq!(model_rates(&default), import_rates);
    assert_eq!(import_rates["gpt-4o"], (34, 9));
    assert_eq!(import_rates.values().map(|r| r.0).sum::<u64>(), 214);
    assert_eq!(import_rates.values().map(|r| r.1).sum::<u64>(), 11);
    let sessions = rows(&default.join("sessions.csv"));
    assert_eq!(sessions.len(), 214);
    let truncated: Vec<&BTreeMap<String, String>> = sessions
        .iter()
        .filter(|s| s["outcome"] == "truncated")
        .collect();
    assert_eq!(truncated.len(), 1);
    assert_eq!(truncated[0]["model"], "gpt-4o");

    let summary = stdout_of(autopilot().args(["classify", "--format", "json"]).arg(&raw));
    let summary: serde_json::Value = serde_json::from_slice(&summary).unwrap();
    // `classify` and `report` call the session the log cuts off the same: truncated.
    assert_eq!(
        summary["outcomes"]["truncated"], 1,
        "{}",
        summary["outcomes"]
    );
    assert_eq!(summary["unit"], "root");
    assert_eq!(summary["records"], 10022);
    let mut classify_counts = BTreeMap::new();
    for (model, s) in summary["by_model"].as_object().unwrap() {
        for (category, n) in s["categories"].as_object().unwrap() {
            classify_counts.insert((model.clone(), category.clone()), n.as_u64().unwrap());
        }
    }
    assert_eq!(category_counts(&default), classify_counts);

    let from_traces = dir.path().join("from_traces");
    report(&from_traces, &[], &imported);
    assert_eq!(model_rates(&from_traces), import_rates);
    assert_eq!(category_counts(&from_traces), classify_counts);

    // Legacy taxonomy: the published per-log counts, summed per model.
    let legacy = dir.path().join("legacy");
    let stderr = report(&legacy, &["--taxonomy", "legacy"], &raw);
    assert!(
        stderr.contains("214 sessions, 11 succeeded; 1531 failures classified (legacy taxonomy)"),
        "{stderr}"
    );
    assert_eq!(model_rates(&legacy), import_rates);
    let mut reference: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in rows(&corpus.join("reference/legacy_category_counts.csv")) {
        let model = log_models[&row["log"]].clone();
        *reference
            .entry((model, row["category"].clone()))
            .or_default() += row["count"].parse::<u64>().unwrap();
    }
    assert_eq!(category_counts(&legacy), reference);
    let md = fs_err::read_to_string(legacy.join("report.md")).unwrap();
    assert!(
        md.contains("| published classifier | Missing/Incorrect Libraries | 213 (1.77) | 101 (3.37) | 24 (0.71) | 36 (1.20) | 374 |"),
        "{md}"
    );
    for chart in [
        "success_by_model.svg",
        "attempts_to_success.svg",
        "time_per_outcome.svg",
        "failure_pareto.svg",
    ] {
        assert!(legacy.join(chart).is_file(), "{chart}");
    }
    // Legacy logs record no tokens: no chart of zeros.
    assert!(!legacy.join("tokens_per_outcome.svg").exists());
    refused(
        &["--taxonomy", "legacy"],
        &dir.path().join("never"),
        &imported,
        "legacy .log files only",
    );
    assert!(!dir.path().join("never").exists());
}
