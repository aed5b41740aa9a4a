//! `autopilot batch` over pipelines: an experiment of fruit_to_emoji's DP → MC → SG for two
//! models (both answered by the example's hand-written demo answers, under two replay names),
//! killed with SIGKILL midway and resumed at the first unfinished stage; the report's
//! stages.csv and sessions.csv counts; Python-stage requirements refused up front; and
//! `run --stages`, which is `autopilot pipeline`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_testkit::tools::{host_library, python_env};
use autopilot_trace::{Event, PipelineStage, SessionOutcome, TraceFile, collect_trace_files};
use predicates::str::contains;

use crate::signals_cli::{processes_with, wait_until};
use crate::support::autopilot;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fruit_to_emoji")
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// An experiment of `stages` over two models, both answered by the demo answers; one item at
/// a time, so the kill below lands in the first model's pipeline.
fn experiment(dir: &Path, app: &Path, stages: &str) -> PathBuf {
    let path = dir.join("experiment.toml");
    fs_err::write(
        &path,
        format!(
            "name = \"fruit-pipelines\"\napp = {}\nmodels = [\"replay:demo-a\", \"replay:demo-b\"]\nanswers = {}\nstages = [{stages}]\n[concurrency]\ntotal = 1\n",
            toml_path(app),
            toml_path(&example().join("demo-answers.toml")),
        ),
    )
    .unwrap();
    path
}

fn batch(experiment: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = autopilot();
    cmd.arg("batch")
        .arg(experiment)
        .arg("--out")
        .arg(out)
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli");
    cmd
}

/// Each trace of a run folder by session id: its stage, pipeline, batch experiment and outcome
/// (`None`: no `session_finished`).
type StageTrace = (PipelineStage, String, String, Option<SessionOutcome>);

fn traces(run: &Path) -> Vec<(String, StageTrace)> {
    collect_trace_files(run)
        .unwrap()
        .iter()
        .map(|path| {
            let file = TraceFile::read(path).unwrap();
            let (mut stage, mut pipeline, mut experiment, mut outcome) =
                (None, String::new(), String::new(), None);
            for event in file.events() {
                match event {
                    Event::SessionStarted(s) => {
                        experiment.clone_from(&s.batch.as_ref().unwrap().experiment);
                    }
                    Event::PipelineStageStarted(s) => {
                        stage = Some(s.stage);
                        pipeline.clone_from(&s.pipeline);
                    }
                    Event::SessionFinished(f) => outcome = Some(f.outcome.clone()),
                    _ => {}
                }
            }
            let id = path.file_stem().unwrap().to_string_lossy().into_owned();
            (id, (stage.unwrap(), pipeline, experiment, outcome))
        })
        .collect()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    fs_err::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_batch_of_pipelines_killed_midway_resumes_at_its_first_unfinished_stage() {
    use assert_cmd::cargo::CommandCargoExt as _;
    if !python_env() || !host_library() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(
        dir.path(),
        &example().join("app.toml"),
        "\"dp\", \"mc\", \"sg\"",
    );
    let run = dir.path().join("run");

    // First run: killed with SIGKILL once the first pipeline's DP has finished and its MC has
    // started.
    let mut child = std::process::Command::cargo_bin("autopilot")
        .unwrap()
        .arg("batch")
        .arg(&exp)
        .arg("--out")
        .arg(&run)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("AUTOPILOT_ARDUINO_CLI", "/nonexistent/arduino-cli")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed while the first pipeline's MC conversion script runs, past the sandbox's start-up:
    // a SIGKILL within bubblewrap's first milliseconds, before its --die-with-parent holds,
    // left it running (reparented to init) to the script's end in 2 of 5 runs here. A SIGKILL
    // cannot be caught, so that window is bubblewrap's own; a SIGTERM has none (the process
    // runner kills the sandbox's whole tree: pipeline_cli.rs's stop test signals 0 to 50 ms
    // after the script starts).
    let marker = run.join("artifacts").display().to_string();
    let mc_running = wait_until(Duration::from_secs(120), || {
        processes_with(&marker).iter().any(|pid| {
            fs_err::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("-mc/convert_1.py"))
        })
    });
    assert!(mc_running, "the first pipeline's MC script never started");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The sandbox dies with the batch (bubblewrap's --die-with-parent).
    assert!(wait_until(Duration::from_secs(10), || processes_with(
        &marker
    )
    .is_empty()));
    let killed = traces(&run);
    assert_eq!(killed.len(), 2, "{killed:?}");
    let (dp_id, dp) = killed
        .iter()
        .find(|(_, t)| t.0 == PipelineStage::Dp)
        .unwrap();
    let (mc_id, mc) = killed
        .iter()
        .find(|(_, t)| t.0 == PipelineStage::Mc)
        .unwrap();
    assert!(dp_id.starts_with("replay_demo-a--"), "{dp_id}");
    assert!(matches!(dp.3, Some(SessionOutcome::Success { .. })));
    assert_eq!(mc.3, None, "the MC stage was killed mid-way");
    let dp_trace = fs_err::read(run.join(format!("sessions/{dp_id}.jsonl"))).unwrap();

    // Again (from the run's folder, `--out` relative: the stages' Python gets absolute paths):
    // the first pipeline resumes at MC (DP is not run again), the second runs whole.
    batch(&exp, Path::new("run"))
        .current_dir(dir.path())
        .assert()
        .code(0)
        .stderr(contains("2 pipeline(s) to run, 0 already finished"))
        .stderr(contains("ran 2 pipeline(s): 2 success"));
    let all = traces(&run);
    assert_eq!(all.len(), 6, "three stages × two models: {all:?}");
    for (id, (stage, pipeline, experiment, outcome)) in &all {
        assert!(
            matches!(outcome, Some(SessionOutcome::Success { .. })),
            "{id}: {outcome:?}"
        );
        assert_eq!(
            *id,
            format!("{pipeline}-{stage}"),
            "linked by the pipeline id"
        );
        assert_eq!(experiment, "fruit-pipelines");
        assert!(
            run.join("stages")
                .join(pipeline)
                .join(stage.as_str())
                .join("stage.json")
                .is_file(),
            "{id}: each pipeline's stage outputs in their own folder"
        );
    }
    let pipelines: std::collections::BTreeSet<&String> = all.iter().map(|(_, t)| &t.1).collect();
    assert_eq!(pipelines.len(), 2);
    assert_eq!(
        fs_err::read(run.join(format!("sessions/{dp_id}.jsonl"))).unwrap(),
        dp_trace,
        "the finished DP stage was not run again"
    );
    assert!(
        run.join(format!("superseded/{mc_id}.1.jsonl")).is_file(),
        "the interrupted MC trace is set aside, not lost"
    );
    let sketches = all
        .iter()
        .filter(|(_, t)| t.0 == PipelineStage::Sg)
        .map(|(_, t)| {
            run.join("stages")
                .join(&t.1)
                .join("sg/sketch/fruit_to_emoji/fruit_to_emoji.ino")
        })
        .filter(|p| p.is_file())
        .count();
    assert_eq!(sketches, 2);

    // A third time: nothing to run.
    batch(&exp, &run)
        .assert()
        .code(0)
        .stderr(contains("nothing to run: all 2 pipeline(s)"));
    assert_eq!(traces(&run).len(), 6);

    // The report: one row per stage and model, each of one session (the superseded MC not
    // counted); sessions.csv ends each row with its stage and pipeline.
    let report = dir.path().join("report");
    autopilot()
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&report)
        .assert()
        .code(0);
    let stages = csv_rows(&report.join("stages.csv"));
    assert_eq!(stages[0][..4], ["stage", "model", "sessions", "successes"]);
    let counted: Vec<(&str, &str, &str, &str)> = stages[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        counted,
        [
            ("dp", "replay:demo-a", "1", "1"),
            ("dp", "replay:demo-b", "1", "1"),
            ("mc", "replay:demo-a", "1", "1"),
            ("mc", "replay:demo-b", "1", "1"),
            ("sg", "replay:demo-a", "1", "1"),
            ("sg", "replay:demo-b", "1", "1"),
        ]
    );
    let sessions = csv_rows(&report.join("sessions.csv"));
    let header = &sessions[0];
    assert_eq!(header[header.len() - 2..], ["stage", "pipeline"]);
    assert_eq!(
        header[..2],
        ["session", "model"],
        "old columns keep their place"
    );
    assert_eq!(sessions.len(), 7);
    for row in &sessions[1..] {
        let (stage, pipeline) = (&row[row.len() - 2], &row[row.len() - 1]);
        assert_eq!(row[0], format!("{pipeline}-{stage}"), "{row:?}");
    }
}

/// What the Python stages need is checked before anything runs, with the file to fix.
#[test]
fn a_batch_of_python_stages_checks_its_requirements_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let no_section = experiment(
        dir.path(),
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml"),
        "\"dp\", \"mc\", \"sg\"",
    );
    batch(&no_section, &run)
        .assert()
        .code(2)
        .stderr(contains("color_uno/app.toml: no [pipeline] section"));
    assert!(!run.join("sessions").exists());

    let exp = experiment(dir.path(), &example().join("app.toml"), "\"mc\", \"sg\"");
    batch(&exp, &run)
        .env("AUTOPILOT_PYTHON_ENV", dir.path().join("no-venv"))
        .assert()
        .code(3)
        .stderr(contains(exp.display().to_string()))
        .stderr(contains("setup-python.sh"));
    assert!(!run.join("sessions").exists(), "nothing ran");
}

/// `run --stages` is `autopilot pipeline`: the same stages, outputs and exit codes.
#[test]
fn run_with_stages_is_the_pipeline_command() {
    if !python_env() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let go = |command: &str, out: &Path| {
        let assert = autopilot()
            .arg(command)
            .arg(example().join("app.toml"))
            .args(["--stages", "dp", "--out"])
            .arg(out)
            .env_remove("OPENAI_API_KEY")
            .env("OLLAMA_HOST", "127.0.0.1:9")
            .assert()
            .code(0)
            .stderr(contains("dp: succeeded"));
        String::from_utf8(assert.get_output().stdout.clone()).unwrap()
    };
    let (by_run, by_pipeline) = (dir.path().join("run"), dir.path().join("pipeline"));
    let run_out = go("run", &by_run);
    let pipeline_out = go("pipeline", &by_pipeline);
    assert_eq!(
        run_out.replace(&by_run.display().to_string(), "<out>"),
        pipeline_out.replace(&by_pipeline.display().to_string(), "<out>")
    );
    assert!(run_out.starts_with("dp\tdataset\t"), "{run_out}");
    assert_eq!(
        fs_err::read(by_run.join("stages/dp/dataset.csv")).unwrap(),
        fs_err::read(by_pipeline.join("stages/dp/dataset.csv")).unwrap()
    );
    // The same exit code for bad input; `run` without --stages is one SG session as before.
    for command in ["run", "pipeline"] {
        autopilot()
            .arg(command)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/color_uno/app.toml"))
            .args(["--stages", "dp,sg", "--out"])
            .arg(dir.path().join(command).join("bad"))
            .assert()
            .code(2)
            .stderr(contains("no [pipeline] section"));
    }
}

/// Shards slice and `merge` joins a batch of pipelines as it does sessions: SG-only pipelines
/// (no Python) of two models, one shard each, merged into the whole.
#[test]
fn shards_of_a_batch_of_pipelines_merge_into_the_whole() {
    if !host_library() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), &example().join("app.toml"), "\"sg\"");
    let mut shards = Vec::new();
    for (k, model) in [(1, "replay_demo-a--"), (2, "replay_demo-b--")] {
        let out = dir.path().join(format!("shard-{k}"));
        batch(&exp, &out)
            .args(["--shard", &format!("{k}/2")])
            .assert()
            .code(0)
            .stderr(contains("1 pipeline(s) to run"));
        let traces = traces(&out);
        assert_eq!(traces.len(), 1, "{traces:?}");
        let (id, (stage, pipeline, _, outcome)) = &traces[0];
        assert!(id.starts_with(model) && id.ends_with("-sg"), "{id}");
        assert_eq!(
            (*stage, id.as_str()),
            (PipelineStage::Sg, format!("{pipeline}-sg").as_str())
        );
        assert!(matches!(outcome, Some(SessionOutcome::Success { .. })));
        shards.push(out);
    }
    let merged = dir.path().join("merged");
    autopilot()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .assert()
        .code(0);
    assert_eq!(traces(&merged).len(), 2);
    // The merged run is the whole experiment: nothing left to run.
    batch(&exp, &merged)
        .assert()
        .code(0)
        .stderr(contains("nothing to run: all 2 pipeline(s)"));
}

/// `autopilot replay` over a batch of pipelines: each pipeline replays on its own recorded
/// answers, its stage outputs in its own folder (as the batch laid them out).
#[test]
fn a_batch_of_pipelines_replays_pipeline_by_pipeline() {
    if !python_env() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let exp = experiment(dir.path(), &example().join("app.toml"), "\"dp\"");
    batch(&exp, &run).assert().code(0);
    let again = dir.path().join("again");
    autopilot()
        .arg("replay")
        .arg(&run)
        .arg("--out")
        .arg(&again)
        .assert()
        .code(0)
        .stdout("")
        .stderr(contains("replay: 2 replayed, 2 unchanged, 0 changed\n"));
    let recorded = traces(&run);
    assert_eq!(
        traces(&again),
        recorded,
        "the same sessions, stages and outcomes"
    );
    for (_, (_, pipeline, _, _)) in &recorded {
        let dataset = |root: &Path| {
            fs_err::read_to_string(root.join("stages").join(pipeline).join("dp/dataset.csv"))
                .unwrap()
        };
        assert_eq!(dataset(&again), dataset(&run));
    }
}
