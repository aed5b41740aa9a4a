//! `autopilot batch` and `autopilot merge` end to end: a batch killed with SIGKILL resumes
//! without losing, duplicating or redoing sessions; shards merged equal the whole run.
//! Real compiles and simulations (Debian's AVR toolchain and simavr).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autopilot_trace::{Event, SessionOutcome, TraceFile, collect_trace_files};
use predicates::prelude::PredicateBooleanExt;

use autopilot_testkit::openai::{Reply, ScriptedOpenAi, spec_for_target};
use autopilot_testkit::tools::avr_toolchain_and_simavr;

use crate::support::autopilot;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path as a TOML string literal.
fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("batch-cache")
}

/// The finished sessions of a run directory, with their outcome.
fn finished(run_dir: &Path) -> BTreeMap<String, SessionOutcome> {
    let mut out = BTreeMap::new();
    if !run_dir.join("sessions").is_dir() {
        return out;
    }
    for path in collect_trace_files(run_dir).unwrap_or_default() {
        let file = TraceFile::read(&path).unwrap();
        if let Some(Event::SessionFinished(f)) = file.events().last() {
            out.insert(
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                f.outcome.clone(),
            );
        }
    }
    out
}

fn demo_answers() -> (String, String, String) {
    let text =
        fs_err::read_to_string(workspace().join("examples/color_uno/demo-answers.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let all: Vec<String> = file["answer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap().to_owned())
        .collect();
    (all[0].clone(), all[1].clone(), all[2].clone())
}

/// An OpenAI-compatible server: spec requests get the spec, sketch requests the good sketch,
/// except runs whose seed is 3 modulo 4, which always get the broken one (they exhaust).
/// Every ninth request fails with a 503 (the client retries it).
async fn fake_llm() -> ScriptedOpenAi {
    let (spec, broken, good) = demo_answers();
    ScriptedOpenAi::decide(move |seen| {
        if seen.number.is_multiple_of(9) {
            return Reply::Status(503);
        }
        let seed = seen.body["seed"].as_u64().unwrap_or(0);
        let answer = if seen.asks_for_spec() {
            spec_for_target(&spec, seen.requested_target().as_deref())
        } else if seed % 4 == 3 {
            broken.clone()
        } else {
            good.clone()
        };
        Reply::Delayed(Duration::from_millis(40), Box::new(Reply::Answer(answer)))
    })
    .await
}

fn write_files(dir: &Path, runs: u32) -> (PathBuf, PathBuf) {
    let policies = dir.join("policies.toml");
    fs_err::write(
        &policies,
        "[attempts]\nspec = 2\nsketch = 2\n[retry]\nmax_tries = 3\nbase_delay_ms = 10\n[simulation]\ntime_budget_secs = 8\n",
    )
    .unwrap();
    let experiment = dir.join("experiment.toml");
    fs_err::write(
        &experiment,
        format!(
            "name = \"kill-test\"\napp = {}\nmodels = [\"openai:fake\"]\nruns = {runs}\nseed = 0\npolicies = \"policies.toml\"\n[concurrency]\ntotal = 4\n",
            toml_path(&workspace().join("examples/color_uno/app.toml"))
        ),
    )
    .unwrap();
    (experiment, policies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_midway_resumes_to_exactly_forty_sessions() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let server = fake_llm().await;
    let dir = tempfile::tempdir().unwrap();
    let (experiment, _) = write_files(dir.path(), 40);
    let out = dir.path().join("run");
    let base_url = server.base_url();
    let argv: Vec<std::ffi::OsString> = vec![
        "batch".into(),
        experiment.clone().into(),
        "--out".into(),
        out.clone().into(),
        "--base-url".into(),
        base_url.into(),
        "--cache-dir".into(),
        cache_dir().into(),
        "-q".into(),
    ];

    // First run: killed with SIGKILL once at least ten sessions have finished.
    #[expect(
        clippy::disallowed_methods,
        reason = "the test runs the binary under test and kills it"
    )]
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("autopilot"));
    command
        .args(&argv)
        .env("OPENAI_API_KEY", "test-key")
        .env_remove("RUST_LOG");
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if finished(&out).len() >= 10 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the batch is too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before: BTreeMap<String, Vec<u8>> = finished(&out)
        .keys()
        .map(|id| {
            (
                id.clone(),
                fs_err::read(out.join(format!("sessions/{id}.jsonl"))).unwrap(),
            )
        })
        .collect();
    let all_files = collect_trace_files(&out).unwrap().len();
    assert!(
        before.len() >= 10 && before.len() < 40,
        "killed midway: {} finished",
        before.len()
    );
    let interrupted = all_files - before.len();

    // Second run: the same command.
    let mut again = autopilot();
    again.args(&argv).env("OPENAI_API_KEY", "test-key");
    again.timeout(Duration::from_secs(400)).assert().code(0);

    let after = finished(&out);
    assert_eq!(after.len(), 40, "exactly forty finished sessions");
    assert_eq!(
        collect_trace_files(&out).unwrap().len(),
        40,
        "no duplicate or stray session files"
    );
    for (id, bytes) in &before {
        let now = fs_err::read(out.join(format!("sessions/{id}.jsonl"))).unwrap();
        assert!(&now == bytes, "finished session {id} was redone");
    }
    let superseded = fs_err::read_dir(out.join("superseded")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .count()
    });
    assert_eq!(
        superseded, interrupted,
        "interrupted sessions are set aside, not lost"
    );
    let successes = after
        .values()
        .filter(|o| matches!(o, SessionOutcome::Success { .. }))
        .count();
    let exhausted = after
        .values()
        .filter(|o| matches!(o, SessionOutcome::Exhausted { .. }))
        .count();
    assert_eq!((successes, exhausted), (30, 10), "{after:?}");
    autopilot()
        .args(["trace", "validate"])
        .arg(&out)
        .assert()
        .code(0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["invocations"], 2);
    assert_eq!(manifest["experiment"]["name"], "kill-test");

    // A third run does nothing.
    let requests_before = server.requests().len();
    let mut third = autopilot();
    third.args(&argv).env("OPENAI_API_KEY", "test-key");
    third.assert().code(0);
    assert_eq!(
        server.requests().len(),
        requests_before,
        "nothing ran twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_over_two_targets_builds_each_session_for_its_own_board() {
    // README's example: an uno app with `targets = ["uno", "nano"]`.
    if !avr_toolchain_and_simavr() {
        return;
    }
    let server = fake_llm().await;
    let dir = tempfile::tempdir().unwrap();
    let (experiment, _) = write_files(dir.path(), 1);
    let text = fs_err::read_to_string(&experiment).unwrap();
    fs_err::write(
        &experiment,
        text.replace("runs = 1\n", "runs = 1\ntargets = [\"uno\", \"nano\"]\n"),
    )
    .unwrap();
    let out = dir.path().join("run");
    let mut cmd = autopilot();
    cmd.arg("batch")
        .arg(&experiment)
        .arg("--out")
        .arg(&out)
        .arg("--base-url")
        .arg(server.base_url())
        .arg("--cache-dir")
        .arg(cache_dir())
        .arg("-q")
        .env("OPENAI_API_KEY", "test-key");
    let assert = tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap();
    assert.code(0);
    let mut boards = BTreeSet::new();
    for path in collect_trace_files(&out).unwrap() {
        let file = TraceFile::read(&path).unwrap();
        let events: Vec<&Event> = file.events().collect();
        let Event::SessionStarted(started) = events[0] else {
            panic!("{:?}", events[0])
        };
        let fqbns: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::CompileFinished(c) => Some(c.fqbn.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            fqbns.into_iter().collect::<Vec<_>>(),
            [started.fqbn.as_deref().unwrap()],
            "{} compiled for its own board",
            started.target
        );
        assert!(
            matches!(events.last(), Some(Event::SessionFinished(f)) if matches!(f.outcome, SessionOutcome::Success { .. })),
            "{}: {:?}",
            started.target,
            events.last()
        );
        boards.insert(started.target.clone());
    }
    assert_eq!(
        boards,
        BTreeSet::from(["nano".to_owned(), "uno".to_owned()])
    );
}

#[test]
fn shards_merged_equal_the_whole_run() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("experiment.toml");
    fs_err::write(
        &experiment,
        format!(
            "name = \"shards\"\napp = {}\nmodels = [\"replay:demo\"]\nanswers = {}\nvariants = [\"default\", \"sg1-markdown-task\"]\nruns = 4\n",
            toml_path(&workspace().join("examples/color_uno/app.toml")),
            toml_path(&workspace().join("examples/color_uno/demo-answers.toml"))
        ),
    )
    .unwrap();
    let batch = |out: &Path, shard: Option<&str>| {
        let mut cmd = autopilot();
        cmd.arg("batch")
            .arg(&experiment)
            .arg("--out")
            .arg(out)
            .arg("--cache-dir")
            .arg(cache_dir())
            .arg("-q");
        if let Some(shard) = shard {
            cmd.args(["--shard", shard]);
        }
        cmd.assert().code(0);
    };
    let whole = dir.path().join("whole");
    batch(&whole, None);
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| dir.path().join(format!("shard{k}")))
        .collect();
    for (k, shard) in shards.iter().enumerate() {
        batch(shard, Some(&format!("{}/3", k + 1)));
    }
    let sizes: Vec<usize> = shards.iter().map(|s| finished(s).len()).collect();
    assert_eq!(sizes, vec![3, 3, 2]);
    let merged = dir.path().join("merged");
    autopilot()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .assert()
        .code(0);
    let whole_set: BTreeSet<(String, String)> = finished(&whole)
        .into_iter()
        .map(|(id, o)| (id, o.as_str().to_owned()))
        .collect();
    let merged_set: BTreeSet<(String, String)> = finished(&merged)
        .into_iter()
        .map(|(id, o)| (id, o.as_str().to_owned()))
        .collect();
    assert_eq!(whole_set.len(), 8);
    assert_eq!(merged_set, whole_set);
    autopilot()
        .args(["trace", "validate"])
        .arg(&merged)
        .assert()
        .code(0);
    // Merging again changes nothing; a run dir of another experiment is refused.
    autopilot()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .assert()
        .code(0);
    let other = dir.path().join("other.toml");
    fs_err::write(
        &other,
        fs_err::read_to_string(&experiment)
            .unwrap()
            .replace("shards", "other"),
    )
    .unwrap();
    let stranger = dir.path().join("stranger");
    let mut cmd = autopilot();
    cmd.arg("batch")
        .arg(&other)
        .arg("--out")
        .arg(&stranger)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["-q", "--shard", "1/3"]);
    cmd.assert().code(0);
    autopilot()
        .arg("merge")
        .arg(&stranger)
        .arg("--out")
        .arg(&merged)
        .assert()
        .code(2);
}

#[test]
fn a_run_directory_in_use_is_refused_with_exit_2_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, _) = write_files(dir.path(), 2);
    let out = dir.path().join("run");
    fs_err::create_dir_all(&out).unwrap();
    // This test process is alive: its lock holds.
    let holder = serde_json::json!({
        "pid": std::process::id(),
        "host": fs_err::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "localhost".to_owned(), |h| h.trim().to_owned()),
        "command": "autopilot batch first.toml",
        "started": "2026-12-04T20:00:00.000Z",
    });
    let lock = out.join("autopilot.lock");
    fs_err::write(&lock, holder.to_string()).unwrap();
    autopilot()
        .arg("batch")
        .arg(&experiment)
        .arg("--out")
        .arg(&out)
        .env("OPENAI_API_KEY", "test-key")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!(
            "is in use by pid {}",
            std::process::id()
        )))
        .stderr(predicates::str::contains("autopilot batch first.toml"));
    assert!(!out.join("manifest.json").exists());
    assert!(lock.exists(), "another holder's lock is never removed");
}

/// A replay miss comes back on every run: the batch says to fix the cause, not to pass
/// --retry-failed; a second run with nothing left says so in words; an edited experiment file
/// is named as such.
#[test]
fn deterministic_infrastructure_errors_do_not_suggest_retry_failed() {
    if !avr_toolchain_and_simavr() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Only the spec answer: the sketch request finds no recorded answer.
    let answers = dir.path().join("answers.toml");
    let (spec, _, _) = demo_answers();
    fs_err::write(
        &answers,
        format!("[[answer]]\nstage = \"spec\"\nattempt = 1\ntext = '''\n{spec}'''\n"),
    )
    .unwrap();
    let experiment = dir.path().join("experiment.toml");
    let write_experiment = |runs: u32| {
        fs_err::write(
            &experiment,
            format!(
                "name = \"misses\"\napp = {}\nmodels = [\"replay:partial\"]\nanswers = {}\nruns = {runs}\n",
                toml_path(&workspace().join("examples/color_uno/app.toml")),
                toml_path(&answers)
            ),
        )
        .unwrap();
    };
    write_experiment(1);
    let out = dir.path().join("run");
    let batch = || {
        let mut cmd = autopilot();
        cmd.arg("batch")
            .arg(&experiment)
            .arg("--out")
            .arg(&out)
            .arg("--cache-dir")
            .arg(cache_dir());
        cmd
    };
    batch()
        .assert()
        .code(3)
        .stderr(predicates::str::contains("1 replay_miss"))
        .stderr(predicates::str::contains("fix the cause first"))
        .stderr(predicates::str::contains("--retry-failed").not());
    batch()
        .assert()
        .code(0)
        .stderr(predicates::str::contains(
            "nothing to run: all 1 session(s) of the plan had already finished",
        ))
        .stderr(predicates::str::contains("nothing;").not());
    write_experiment(2);
    batch().assert().code(2).stderr(predicates::str::contains(
        "holds a run of experiment `misses` made from a different version of its file",
    ));
}
