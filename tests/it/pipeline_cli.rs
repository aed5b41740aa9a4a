//! `autopilot pipeline`: fruit_to_emoji from its raw sensor log and Keras model to a judged
//! sketch, offline on the hand-written demo answers (DP → MC → SG, each stage's checks, the
//! converted model's accuracy against the Keras model, the sketch's host verdict), resumed
//! without running anything again; and the original's DP defects caught in real sandbox runs
//! (a declared output never written, zero operations), a missing Python environment refused.

use std::path::{Path, PathBuf};

use autopilot_testkit::tools::{host_library, python_env};
use autopilot_trace::{
    Event, HostVerdictKind, LlmCallResult, OperationStatus, PipelineStage, SessionOutcome, Stage,
    TraceFile, collect_trace_files,
};
use predicates::str::contains;

use crate::support::autopilot;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji")
}

/// The events of each stage session of a run folder, every trace valid.
fn stage_events(run: &Path) -> Vec<(PipelineStage, String, Vec<Event>)> {
    let mut stages = Vec::new();
    for path in collect_trace_files(run).unwrap() {
        let file = TraceFile::read(&path).unwrap();
        assert_eq!(file.validate(), vec![], "{}", path.display());
        let events: Vec<Event> = file.events().cloned().collect();
        let started = events
            .iter()
            .find_map(|e| match e {
                Event::PipelineStageStarted(s) => Some((s.stage, s.pipeline.clone())),
                _ => None,
            })
            .expect("every stage session says which stage it is");
        stages.push((started.0, started.1, events));
    }
    stages.sort_by_key(|(stage, _, _)| *stage);
    stages
}

fn pipeline(run: &Path) -> assert_cmd::Command {
    let mut cmd = autopilot();
    cmd.arg("pipeline")
        .arg(example().join("app.toml"))
        .arg("--out")
        .arg(run)
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli");
    cmd
}

fn outcome(events: &[Event]) -> SessionOutcome {
    events
        .iter()
        .find_map(|e| match e {
            Event::SessionFinished(f) => Some(f.outcome.clone()),
            _ => None,
        })
        .expect("session_finished")
}

#[test]
fn fruit_to_emoji_goes_from_raw_data_to_a_judged_sketch_offline() {
    if !python_env() || !host_library() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    pipeline(&run)
        .assert()
        .code(0)
        .stderr(contains("HAND-WRITTEN DEMO ANSWERS"))
        .stdout(contains("mc\ttflite"))
        .stdout(contains("sg\tsketch"));
    let stages = stage_events(&run);
    let names: Vec<PipelineStage> = stages.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        names,
        [PipelineStage::Dp, PipelineStage::Mc, PipelineStage::Sg]
    );
    assert!(
        stages.iter().all(|(_, id, _)| id == &stages[0].1),
        "one pipeline id"
    );
    for (_, _, events) in &stages {
        assert!(matches!(outcome(events), SessionOutcome::Success { .. }));
    }

    // DP: five operations done, the final output checked for the model's columns and the
    // classes; operation 4's first script failed for real and its repair prompt quotes it.
    let dp = &stages[0].2;
    let operations: Vec<_> = dp
        .iter()
        .filter_map(|e| match e {
            Event::DpOperation(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(operations.len(), 5);
    assert!(operations.iter().all(|o| o.status == OperationStatus::Done));
    assert_eq!(operations[4].rows, Some(240));
    let final_checks: Vec<_> = dp
        .iter()
        .filter_map(|e| match e {
            Event::OutputCheck(c) if c.file == "data_5.csv" => Some((c.check.as_str(), c.passed)),
            _ => None,
        })
        .collect();
    for check in [
        "output.exists",
        "output.fresh",
        "output.columns",
        "output.labels",
    ] {
        assert!(
            final_checks.contains(&(check, true)),
            "{check}: {final_checks:?}"
        );
    }
    let failed_run = dp.iter().find_map(|e| match e {
        Event::PythonRun(r) if r.exit_code == Some(1) => Some(r),
        _ => None,
    });
    assert!(failed_run.unwrap().stderr_tail.contains("KeyError: 'R'"));
    let repair_prompt = dp
        .iter()
        .find_map(|e| match e {
            Event::LlmCall(c) if c.stage == Stage::Operation && c.attempt == 5 => {
                Some(c.messages[1].content.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(repair_prompt.contains("KeyError: 'R'") && repair_prompt.contains("data[\"R\"]"));
    let dataset = fs_err::read_to_string(run.join("stages/dp/dataset.csv")).unwrap();
    assert!(dataset.starts_with("Red,Green,Blue,label\n"), "{dataset}");

    // MC: the int8 conversion is refused for its dtypes, the float one passes with the Keras
    // model's accuracy on the held-out rows.
    let checks: Vec<_> = stages[1]
        .2
        .iter()
        .filter_map(|e| match e {
            Event::ModelCheck(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(checks.len(), 2);
    assert!(!checks[0].passed);
    let failures: Vec<&str> = checks[0]
        .failures
        .iter()
        .map(|f| f.check.as_str())
        .collect();
    assert_eq!(
        failures,
        ["model.wrong_input_dtype", "model.wrong_output_dtype"]
    );
    assert_eq!(checks[0].input_dtype.as_deref(), Some("int8"));
    assert!(checks[1].passed, "{:?}", checks[1]);
    let (keras, tflite) = (
        checks[1].keras_accuracy.unwrap(),
        checks[1].tflite_accuracy.unwrap(),
    );
    assert!(
        keras >= 0.9 && tflite >= keras - 0.05,
        "keras {keras}, tflite {tflite}"
    );
    // SG's sketch folder holds the header autopilot's converter made of MC's model.
    let header = fs_err::read_to_string(run.join("stages/mc/model.h")).unwrap();
    let sketch_header =
        fs_err::read_to_string(run.join("stages/sg/sketch/fruit_to_emoji/model.h")).unwrap();
    assert_eq!(header, sketch_header);

    // SG: the host check passes the final sketch.
    let verdicts: Vec<HostVerdictKind> = stages[2]
        .2
        .iter()
        .filter_map(|e| match e {
            Event::HostCheckFinished(h) => Some(h.verdict),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts.last(), Some(&HostVerdictKind::Pass));

    // Every answer came from the demo answers, labelled as such.
    for (_, _, events) in &stages {
        for event in events {
            if let Event::LlmCall(call) = event {
                assert!(matches!(call.result, LlmCallResult::Answered(_)));
                assert_eq!(call.source, autopilot_trace::AnswerSource::Replay);
            }
        }
    }

    // Again into the same folder: every stage is resumed, nothing runs, no new trace.
    pipeline(&run)
        .assert()
        .code(0)
        .stderr(contains("dp: done earlier (resumed"))
        .stderr(contains("sg: done earlier (resumed"));
    assert_eq!(collect_trace_files(&run).unwrap().len(), 3);

    // The report's per-stage table (the first paper's): one row per stage; no tokens or
    // prices were recorded (hand-written answers), so they are unknown, not 0.
    let report = out.path().join("report");
    autopilot()
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&report)
        .assert()
        .code(0);
    let markdown = fs_err::read_to_string(report.join("report.md")).unwrap();
    for stage in ["dp", "mc", "sg"] {
        let row = format!("| {stage} | replay:demo-answers | 1 | 100.0% | 20.7–100.0% |");
        let line = markdown
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("{markdown}"));
        assert!(line.ends_with("| — / — | — |"), "{line}");
    }

    // The recorded run replays request for request (the repair prompt quotes the traceback
    // without this machine's folders), and gives the same dataset.
    let replayed = out.path().join("replayed");
    pipeline(&replayed)
        .args(["--model", "replay:demo-answers", "--replay"])
        .arg(&run)
        .args(["--stages", "dp"])
        .assert()
        .code(0);
    assert_eq!(
        fs_err::read_to_string(replayed.join("stages/dp/dataset.csv")).unwrap(),
        dataset
    );

    // `autopilot replay` replays the whole pipeline at no LLM cost: each stage on its recorded
    // answers, in order, MC from DP's replayed dataset and SG with MC's replayed model; the
    // recorded Python runs again in the sandbox and every check is made again.
    let again = out.path().join("replay");
    autopilot()
        .arg("replay")
        .arg(&run)
        .arg("--out")
        .arg(&again)
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .assert()
        .code(0)
        .stdout("")
        .stderr(contains("replay: 3 replayed, 3 unchanged, 0 changed\n"))
        .stderr(contains("LLM cost $0: 12 calls served from the recordings"));
    let replayed = stage_events(&again);
    let names: Vec<PipelineStage> = replayed.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        names,
        [PipelineStage::Dp, PipelineStage::Mc, PipelineStage::Sg]
    );
    for ((_, _, recorded), (_, pipeline, events)) in stages.iter().zip(&replayed) {
        assert_eq!(pipeline, &stages[0].1, "the recorded pipeline id");
        assert_eq!(outcome(events), outcome(recorded));
        let python_runs = |events: &[Event]| {
            events
                .iter()
                .filter(|e| matches!(e, Event::PythonRun(_)))
                .count()
        };
        assert_eq!(python_runs(events), python_runs(recorded), "ran again");
    }
    let mc_dataset = replayed[1].2.iter().find_map(|e| match e {
        Event::PipelineStageStarted(s) => s.inputs.iter().find(|f| f.role == "dataset").cloned(),
        _ => None,
    });
    assert_eq!(
        PathBuf::from(mc_dataset.unwrap().path),
        again.join("stages/dp/dataset.csv")
    );
    assert_eq!(
        fs_err::read_to_string(again.join("stages/dp/dataset.csv")).unwrap(),
        dataset
    );
    assert_eq!(
        fs_err::read(again.join("stages/mc/model.h")).unwrap(),
        fs_err::read(again.join("stages/sg/sketch/fruit_to_emoji/model.h")).unwrap(),
        "SG used the model MC's replay made"
    );

    // With one attempt per operation, operation 4 (repaired in the recording) now fails: DP
    // changes, and the stages after it are not run without its dataset.
    let strict = out.path().join("strict.toml");
    fs_err::write(&strict, "[attempts]\nsketch = 1\n").unwrap();
    autopilot()
        .arg("replay")
        .arg(&run)
        .arg("--out")
        .arg(out.path().join("strict"))
        .arg("--policies")
        .arg(&strict)
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .assert()
        .code(0)
        .stdout(contains("-dp: success@6 → exhausted/operation: operation attempt 5 ran and its outputs passed the checks, now it is not made"))
        .stderr(contains("its dataset comes from dp session"))
        .stderr(contains("its tflite comes from mc session"))
        .stderr(contains("replay: 1 replayed, 0 unchanged, 1 changed, 2 skipped"));

    // Without the Python environment DP and MC are not replayable (the fix is named); SG still
    // replays, with the model MC recorded; the replay exits 3 (a tool is missing).
    let no_python = out.path().join("no-python");
    autopilot()
        .arg("replay")
        .arg(&run)
        .arg("--out")
        .arg(&no_python)
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .env("AUTOPILOT_PYTHON_ENV", out.path().join("no-venv"))
        .assert()
        .code(3)
        .stderr(contains("a dp stage of pipeline"))
        .stderr(contains("a mc stage of pipeline"))
        .stderr(contains("bash scripts/setup-python.sh"))
        .stderr(contains(
            "replay: 1 replayed, 1 unchanged, 0 changed, 2 skipped",
        ));
    assert_eq!(
        fs_err::read(run.join("stages/mc/model.h")).unwrap(),
        fs_err::read(no_python.join("stages/sg/sketch/fruit_to_emoji/model.h")).unwrap()
    );
    // The recorded model gone too: SG is not run either, and says which file is missing.
    let model = run.join("stages/mc/model.tflite");
    fs_err::remove_file(&model).unwrap();
    autopilot()
        .arg("replay")
        .arg(&run)
        .arg("--out")
        .arg(out.path().join("no-model"))
        .env("AUTOPILOT_PYTHON_ENV", out.path().join("no-venv"))
        .assert()
        .code(3)
        .stderr(contains(format!(
            "its tflite input {} is missing",
            model.display()
        )))
        .stderr(contains(
            "replay: 0 replayed, 0 unchanged, 0 changed, 3 skipped",
        ));
}

/// Answers that plan one operation and whose code writes nothing (`operation` without an
/// attempt answers every attempt).
fn answers_writing_nothing(dir: &Path) -> PathBuf {
    let path = dir.join("answers.toml");
    fs_err::write(
        &path,
        r#"
[[answer]]
stage = "operations"
text = '''```json
{"operations": [{"kind": "drop_missing", "description": "drop rows with empty cells"}]}
```'''

[[answer]]
stage = "operation"
text = '''```python
import sys
print("done", sys.argv[1])
```'''
"#,
    )
    .unwrap();
    path
}

/// The original set its next dataset to a file that was never written. Here the run exits 0,
/// but its declared output does not exist: the operation fails, and so does the stage.
#[test]
fn a_declared_output_never_written_fails_the_stage() {
    if !python_env() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    pipeline(&run)
        .arg("--answers")
        .arg(answers_writing_nothing(out.path()))
        .args(["--stages", "dp"])
        .assert()
        .code(1)
        .stderr(contains("dp: failed: operation attempts exhausted"));
    let stages = stage_events(&run);
    assert_eq!(stages.len(), 1);
    let events = &stages[0].2;
    let missing = events.iter().any(|e| {
        matches!(e, Event::OutputCheck(c) if c.check == "output.exists" && !c.passed && c.file == "data_1.csv")
    });
    assert!(missing);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::PythonRun(r) if r.exit_code == Some(0)))
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::DpOperation(o) if o.status == OperationStatus::Failed && o.message.contains("did not write"))
    ));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::PipelineStageEnded(s) if !s.succeeded))
    );
    assert!(!run.join("stages/dp/dataset.csv").exists());
}

/// The original could report success with zero operations done: an empty plan is refused at
/// every attempt and the stage fails.
#[test]
fn zero_operations_is_a_failed_stage() {
    if !python_env() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let answers = out.path().join("answers.toml");
    fs_err::write(
        &answers,
        "[[answer]]\nstage = \"operations\"\ntext = '''```json\n{\"operations\": []}\n```'''\n",
    )
    .unwrap();
    pipeline(&run)
        .arg("--answers")
        .arg(&answers)
        .assert()
        .code(1)
        .stderr(contains("dp: failed: operations attempts exhausted"));
    let stages = stage_events(&run);
    assert_eq!(stages.len(), 1, "mc and sg never start after a failed dp");
    let empty = stages[0]
        .2
        .iter()
        .filter(|e| matches!(e, Event::CheckVerdict(c) if c.check == "dp.plan.empty" && !c.passed))
        .count();
    assert_eq!(empty, 5);
    assert!(!stages[0].2.iter().any(|e| matches!(e, Event::PythonRun(_))));
}

/// Without the project's Python environment the Python stages refuse to run, with the fix.
#[test]
fn without_the_python_environment_the_stage_refuses_with_the_fix() {
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    pipeline(&run)
        .env("AUTOPILOT_PYTHON_ENV", out.path().join("no-venv"))
        .assert()
        .code(3)
        .stderr(contains("setup-python.sh"));
    let stages = stage_events(&run);
    assert!(matches!(
        outcome(&stages[0].2),
        SessionOutcome::InfrastructureError { .. }
    ));
}

#[test]
fn an_app_without_a_pipeline_section_is_bad_input() {
    let out = tempfile::tempdir().unwrap();
    autopilot()
        .arg("pipeline")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml"))
        .arg("--out")
        .arg(out.path().join("run"))
        .assert()
        .code(2)
        .stderr(contains("no [pipeline] section"));
}

/// SIGTERM during a stage's Python run, 0, 5, 20 or 50 ms after its sandbox appears (so also
/// while bubblewrap is still setting it up): the sandbox is killed, nothing of it outlives
/// autopilot, and the stage's session still ends with `pipeline_stage_ended` and
/// `session_finished` (aborted); the run exits 1.
#[test]
fn a_stopped_stage_ends_its_trace_and_leaves_no_python_behind() {
    use crate::signals_cli::{processes_with, wait_until};
    use assert_cmd::cargo::CommandCargoExt as _;
    use nix::sys::signal::{Signal, kill};
    use std::time::{Duration, Instant};
    if !python_env() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let answers = out.path().join("answers.toml");
    fs_err::write(
        &answers,
        "[[answer]]\nstage = \"operations\"\ntext = '''```json\n{\"operations\": [{\"kind\": \"deduplicate\", \"description\": \"x\"}]}\n```'''\n\n\
         [[answer]]\nstage = \"operation\"\ntext = '''```python\nimport time\ntime.sleep(600)\n```'''\n",
    )
    .unwrap();
    for delay in [0, 5, 20, 50] {
        let run = out.path().join(format!("run-{delay}"));
        let mut child = std::process::Command::cargo_bin("autopilot")
            .unwrap()
            .arg("pipeline")
            .arg(example().join("app.toml"))
            .arg("--out")
            .arg(&run)
            .arg("--answers")
            .arg(&answers)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The sandbox has started when bubblewrap's command line (which names the script)
        // appears.
        let marker = run.join("artifacts").display().to_string();
        let start = Instant::now();
        let started = loop {
            let seen = processes_with(&marker).iter().any(|pid| {
                fs_err::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("op_1_1.py"))
            });
            if seen || start.elapsed() > Duration::from_secs(60) {
                break seen;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(started, "the operation's script never started");
        std::thread::sleep(Duration::from_millis(delay));
        kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
            Signal::SIGTERM,
        )
        .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "SIGTERM {delay} ms after the start");
        let gone = wait_until(Duration::from_secs(10), || {
            processes_with(&marker).is_empty()
        });
        assert!(
            gone,
            "SIGTERM {delay} ms after the sandbox started: {:?} outlived autopilot",
            processes_with(&marker)
        );
        let stages = stage_events(&run);
        let events = &stages[0].2;
        assert!(matches!(outcome(events), SessionOutcome::Aborted { .. }));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::PipelineStageEnded(s) if !s.succeeded))
        );
    }
}

/// A finished stage is resumed only while what it started from is unchanged: new raw data runs
/// data processing again, as a new session of the same pipeline. `autopilot replay` names the
/// raw data a recorded stage read when it changed or is gone, and does not run that stage.
#[test]
fn a_changed_input_runs_the_stage_again() {
    if !python_env() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let app = out.path().join("fruit");
    for dir in ["", "raw", "keras", "data"] {
        fs_err::create_dir_all(app.join(dir)).unwrap();
    }
    for file in [
        "app.toml",
        "demo-answers.toml",
        "model.tflite",
        "raw/fruit_raw.csv",
        "keras/model.keras",
        "keras/held_out.csv",
        "data/apple.csv",
        "data/banana.csv",
        "data/orange.csv",
    ] {
        fs_err::copy(example().join(file), app.join(file)).unwrap();
    }
    let run = out.path().join("run");
    let dp = |expect: &str| {
        autopilot()
            .arg("pipeline")
            .arg(app.join("app.toml"))
            .args(["--stages", "dp", "--out"])
            .arg(&run)
            .arg("--answers")
            .arg(app.join("demo-answers.toml"))
            .assert()
            .code(0)
            .stderr(contains(expect.to_owned()));
    };
    dp("dp: succeeded");
    dp("dp: done earlier (resumed");
    let raw = app.join("raw/fruit_raw.csv");
    let mut text = fs_err::read_to_string(&raw).unwrap();
    text.push_str("1764901000000,900,450,300,2,apple\n");
    fs_err::write(&raw, text).unwrap();
    dp("dp: succeeded");
    let stages = stage_events(&run);
    assert_eq!(stages.len(), 2, "a second dp session");
    assert_eq!(stages[0].1, stages[1].1, "of the same pipeline");

    // Replaying the run: the raw data is not what the first session read, so that one is not
    // replayed (the file and the problem said); the second one is.
    let replay = |out: &str| {
        let mut cmd = autopilot();
        cmd.arg("replay").arg(&run).arg("--out").arg(app.join(out));
        cmd
    };
    replay("replay")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "its raw input {} changed since the recording (sha256 ",
            raw.display()
        )))
        .stderr(contains(
            "replay: 1 replayed, 1 unchanged, 0 changed, 1 skipped",
        ));
    // Gone: the app file names a file that is not there, which is bad input.
    fs_err::remove_file(&raw).unwrap();
    replay("replay-2")
        .assert()
        .code(2)
        .stderr(contains(format!(
            "key `pipeline.raw`: file not found: `{}`",
            raw.display()
        )))
        .stderr(contains("nothing was run"));
}
