//! Times the pure steps of one sketch attempt (what runs before any compile) on the shipped
//! `color_uno` example, so they can be set beside a compile (`scripts/bench-orchestrator.sh`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use autopilot_steps::{
    App, PrecheckInput, PromptFacts, PromptSet, SpecRules, Task, extract_code, run_prechecks,
    sample_facts, scan_header, spec_template, validate_spec,
};

/// Mean time of `f` over enough runs to fill about half a second.
fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_millis(500) || runs < 3 {
        black_box(f());
        runs += 1;
    }
    start.elapsed() / runs
}

fn demo_answer(stage: &str, attempt: i64) -> String {
    let text = fs_err::read_to_string(root().join("examples/color_uno/demo-answers.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc["answer"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["stage"].as_str() == Some(stage) && a["attempt"].as_integer() == Some(attempt))
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn main() {
    let app_path = root().join("examples/color_uno/app.toml");
    let app = App::load(&app_path).unwrap();
    let prompts_dir = root().join("prompts");
    let target = sample_facts().remove(1).target;
    let facts = PromptFacts::new(&app, target, Vec::new());
    let set = PromptSet::load(&prompts_dir).unwrap();
    let template = spec_template(&app);
    let spec_answer = demo_answer("spec", 1);
    let sketch_answer = demo_answer("sketch", 2);
    let code = extract_code(&sketch_answer).unwrap().code;
    let fruit_header =
        fs_err::read_to_string(root().join("examples/fruit_to_emoji/model.h")).unwrap();
    let rules = SpecRules {
        target: &app.target,
        classes: &app.classes,
        allowed_libraries: &[],
        model_kind: app.model.as_ref().map(|m| m.kind),
        ram_bytes: Some(2048),
    };
    let spec = serde_json::json!({"board": {"target": "uno"}});
    let rows: [(&str, Duration); 7] = [
        (
            "load app (color_uno, 240-row CSV)",
            time(|| App::load(&app_path).unwrap()),
        ),
        (
            "load + validate prompt set (5 variants)",
            time(|| PromptSet::load(&prompts_dir).unwrap()),
        ),
        (
            "render sketch prompt (default)",
            time(|| {
                set.render(
                    "default",
                    &facts,
                    &Task::Sketch {
                        spec: &spec,
                        outline: None,
                        design: None,
                    },
                )
                .unwrap()
            }),
        ),
        (
            "validate spec answer",
            time(|| validate_spec(&spec_answer, &template, &rules)),
        ),
        (
            "extract code from answer",
            time(|| extract_code(&sketch_answer).unwrap()),
        ),
        (
            "run the 6 prechecks",
            time(|| {
                run_prechecks(
                    &code,
                    &PrecheckInput {
                        model: app.model.as_ref(),
                        forbidden: &[],
                    },
                )
            }),
        ),
        (
            "scan fruit model.h (12 KB)",
            time(|| scan_header(&fruit_header)),
        ),
    ];
    println!("{:<44} {:>12}", "pure step", "mean");
    for (name, mean) in rows {
        println!("{name:<44} {:>9.1} µs", mean.as_secs_f64() * 1e6);
    }
}
