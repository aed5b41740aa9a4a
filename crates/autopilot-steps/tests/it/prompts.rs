//! The prompt set in `prompts/`: validation on load, and every template of every variant rendered.

use std::path::Path;

use autopilot_steps::{
    App, Flow, ForbiddenApi, PromptError, PromptFacts, PromptSet, RepairMaterial, SpecCheck,
    SpecProblem, TargetFacts, Task, Template, UserFormat, sample_facts, spec_template,
};
use autopilot_trace::{RepairContext, Role};
use serde_json::{Value, json};

use crate::support::{examples_dir, prompts_dir};

const VARIANTS: [&str; 5] = [
    "default",
    "sg0-json",
    "sg1-markdown-task",
    "sg2-markdown-guidelines",
    "staged",
];

/// The sample targets: an AVR board with a simulator and an nRF52 board with TFLM.
fn uno() -> TargetFacts {
    sample_facts().remove(1).target
}

fn nano() -> TargetFacts {
    sample_facts().remove(0).target
}

fn example_facts() -> Vec<(App, PromptFacts)> {
    let color = App::load(&examples_dir().join("color_uno/app.toml")).unwrap();
    let fruit = App::load(&examples_dir().join("fruit_to_emoji/app.toml")).unwrap();
    let forbidden = vec![ForbiddenApi {
        symbol_or_header: "AllOpsResolver".to_owned(),
        reason: "removed from TFLM; use tflite::MicroMutableOpResolver<N>".to_owned(),
    }];
    let color_facts = PromptFacts::new(&color, uno(), Vec::new());
    let fruit_facts = PromptFacts::new(&fruit, nano(), forbidden);
    vec![(color, color_facts), (fruit, fruit_facts)]
}

fn repair_material() -> RepairMaterial {
    RepairMaterial {
        diagnostics: vec![
            "sketch.ino:28:37: error: 'NUM_SAMPLES' was not declared in this scope".to_owned(),
        ],
        diagnostics_shown: 1,
        diagnostics_total: 1,
        problems: Vec::new(),
        recurring: vec![autopilot_steps::Recurrence {
            signature: "error: sketch.ino: 'NUM_SAMPLES' was not declared in this scope".to_owned(),
            attempts: vec![1],
        }],
        identical_to: Some(1),
        environment: "board: Arduino Uno (arduino:avr:uno), flash 32256 bytes, RAM 2048 bytes"
            .to_owned(),
        context: RepairContext {
            attempt: 2,
            diagnostics_shown: 1,
            diagnostics_total: 1,
            recurring: Vec::new(),
            identical_to_attempt: Some(1),
            declarations: Vec::new(),
            versions: Vec::new(),
            block: String::new(),
        },
    }
}

#[test]
fn the_shipped_prompt_set_loads_with_every_variant() {
    let set = PromptSet::load(&prompts_dir()).unwrap();
    assert_eq!(set.variants(), VARIANTS);
    assert_eq!(set.variant("staged").unwrap().flow, Flow::Staged);
    assert_eq!(
        set.variant("sg0-json").unwrap().user_format,
        UserFormat::Json
    );
    assert_eq!(set.variant("default").unwrap().flow, Flow::Single);
    let err = set.variant("sg9").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown prompt variant `sg9`; variants: default, sg0-json"),
        "{err}"
    );
}

#[test]
fn every_template_of_every_variant_renders_for_the_examples() {
    let set = PromptSet::load(&prompts_dir()).unwrap();
    let problems = [SpecProblem {
        check: SpecCheck::Fields,
        path: "output.serial_baud".to_owned(),
        message: "is missing".to_owned(),
    }];
    let repair = repair_material();
    let code = "#include \"color_model.h\"\nvoid setup() {}\nvoid loop() {}\n";
    for (app, facts) in example_facts() {
        let template = spec_template(&app);
        let spec = json!({"board": {"target": app.target}, "libraries": []});
        for variant in set.variants() {
            let staged = set.variant(variant).unwrap().flow == Flow::Staged;
            let mut tasks = vec![
                Task::SpecFill {
                    template: &template,
                },
                Task::SpecRepair {
                    template: &template,
                    previous_answer: "```json\n{\"board\": {}}\n```",
                    problems: &problems,
                },
                Task::Sketch {
                    spec: &spec,
                    outline: staged.then_some("1. OUTLINE-TEXT"),
                    design: staged.then_some("DESIGN-TEXT"),
                },
                Task::SketchRepair {
                    spec: &spec,
                    attempt: 2,
                    code,
                    repair: &repair,
                },
            ];
            if staged {
                tasks.push(Task::Outline { spec: &spec });
                tasks.push(Task::Design {
                    spec: &spec,
                    outline: "1. OUTLINE-TEXT",
                });
            }
            for task in &tasks {
                let prompt = set
                    .render(variant, &facts, task)
                    .unwrap_or_else(|e| panic!("{variant}: {e}"));
                let label = format!("{variant}/{:?} for {}", task.template(), app.name);
                assert_eq!(prompt.template, task.template());
                assert!(prompt.system.contains(&facts.target.board), "{label}");
                let messages = prompt.messages();
                assert_eq!(
                    (messages[0].role, messages[1].role),
                    (Role::System, Role::User)
                );
                check_content(&app, variant, task, &prompt.user, &label);
            }
        }
    }
}

/// What each rendered user message must say.
fn check_content(app: &App, variant: &str, task: &Task<'_>, user: &str, label: &str) {
    assert!(
        !user.contains("{{") && !user.contains("{%"),
        "{label}: unrendered template syntax"
    );
    if variant == "sg0-json" {
        let value: Value = serde_json::from_str(user).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(value["task"].is_object(), "{label}");
        if matches!(task, Task::Sketch { .. } | Task::SketchRepair { .. }) {
            assert!(
                value["specification"]["programming_guidelines"]["inference"].is_array(),
                "{label}"
            );
        }
    }
    match task {
        Task::SpecFill { .. } => {
            assert!(user.contains("<fill:"), "{label}: the template to fill");
            assert!(user.contains(&app.classes[0]), "{label}");
        }
        Task::SpecRepair { .. } => {
            assert!(
                user.contains("`output.serial_baud`: is missing"),
                "{label}: the exact problem"
            );
            assert!(
                user.contains("{\\\"board\\\": {}}") || user.contains("{\"board\": {}}"),
                "{label}: the previous answer"
            );
        }
        Task::Sketch { .. } | Task::SketchRepair { .. } => {
            let model = app.model.as_ref().unwrap();
            assert!(
                user.contains(&model.header_name),
                "{label}: the model header"
            );
            if let Some(function) = &model.predict_function {
                assert!(user.contains(function), "{label}: the predict function");
            } else {
                assert!(user.contains("Invoke()"), "{label}: the TFLM call");
                assert!(user.contains("AddFullyConnected"), "{label}: the operators");
                assert!(
                    user.contains("AllOpsResolver"),
                    "{label}: what the library lacks"
                );
            }
            if app.target == "uno" {
                assert!(user.contains("simavr"), "{label}: no sensor in simulation");
            }
            for class in &app.expected_output {
                assert!(user.contains(class.as_str()), "{label}: {class}");
            }
            match variant {
                "sg1-markdown-task" => {
                    let block = user
                        .split("```json\n")
                        .nth(1)
                        .unwrap()
                        .split("\n```")
                        .next()
                        .unwrap();
                    let value: Value =
                        serde_json::from_str(block).unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert!(
                        value["programming_guidelines"]["initialization"].is_array(),
                        "{label}"
                    );
                }
                "sg2-markdown-guidelines" | "default" | "staged" => {
                    assert!(
                        user.contains("## Programming guidelines\n\n### "),
                        "{label}: guidelines in Markdown"
                    );
                }
                _ => {}
            }
            if let Task::SketchRepair { .. } = task {
                assert!(
                    user.contains("'NUM_SAMPLES' was not declared"),
                    "{label}: the diagnostics"
                );
                assert!(
                    user.contains("void setup() {}"),
                    "{label}: the last extracted code"
                );
                assert!(
                    user.contains("attempt 1"),
                    "{label}: identical code and recurrence"
                );
                assert!(
                    user.contains("flash 32256 bytes, RAM 2048 bytes"),
                    "{label}: the environment block"
                );
            }
            if let Task::Sketch {
                outline: Some(_), ..
            } = task
            {
                assert!(
                    user.contains("OUTLINE-TEXT") && user.contains("DESIGN-TEXT"),
                    "{label}"
                );
            }
        }
        Task::Outline { .. } => assert!(user.contains("outline"), "{label}"),
        Task::Design { .. } => assert!(user.contains("OUTLINE-TEXT"), "{label}"),
    }
}

#[test]
fn a_task_outside_the_variant_flow_is_refused() {
    let set = PromptSet::load(&prompts_dir()).unwrap();
    let facts = sample_facts().remove(0);
    let spec = json!({});
    let err = set
        .render("default", &facts, &Task::Outline { spec: &spec })
        .unwrap_err();
    assert!(
        matches!(
            err,
            PromptError::NotInFlow {
                template: "outline",
                ..
            }
        ),
        "{err}"
    );
}

/// A copy of the shipped prompt directory to break.
fn copy_prompts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&prompts_dir(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_missing_template_is_named() {
    let dir = copy_prompts();
    fs_err::remove_file(dir.path().join("staged/design.j2")).unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, PromptError::MissingTemplate { variant, template: "design", .. } if variant == "staged"),
        "{err}"
    );
}

#[test]
fn unknown_files_and_undeclared_variants_are_refused() {
    let dir = copy_prompts();
    fs_err::write(dir.path().join("default/skecth.j2"), "typo").unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(matches!(err, PromptError::UnknownFile { .. }), "{err}");
    assert!(err.to_string().contains("skecth.j2"), "{err}");

    let dir = copy_prompts();
    fs_err::create_dir(dir.path().join("sg3")).unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, PromptError::UndeclaredVariant { .. }),
        "{err}"
    );

    let dir = copy_prompts();
    fs_err::write(
        dir.path().join("variants.toml"),
        "[variants.default]\ndescription = \"x\"\nflow = \"twisted\"\n",
    )
    .unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("variants.toml"), "{err}");
}

#[test]
fn template_errors_name_the_template() {
    let dir = copy_prompts();
    fs_err::write(dir.path().join("default/sketch.j2"), "{% if %}").unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, PromptError::Template { name, .. } if name == "default/sketch.j2"),
        "{err}"
    );

    // A misspelt variable is caught when the set is loaded, not in the middle of a session.
    let dir = copy_prompts();
    fs_err::write(
        dir.path().join("sg2-markdown-guidelines/sketch.j2"),
        "{{ app.descripton }}",
    )
    .unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, PromptError::Template { name, .. } if name == "sg2-markdown-guidelines/sketch.j2"),
        "{err}"
    );

    // A JSON variant must render JSON.
    let dir = copy_prompts();
    fs_err::write(
        dir.path().join("sg0-json/spec_fill.j2"),
        "{\"task\": {{ app.name }} }",
    )
    .unwrap();
    let err = PromptSet::load(dir.path()).unwrap_err();
    assert!(matches!(err, PromptError::NotJson { .. }), "{err}");
}

#[test]
fn every_required_template_exists_on_disk() {
    for variant in VARIANTS {
        let staged = variant == "staged";
        let flow = if staged { Flow::Staged } else { Flow::Single };
        for template in Template::required(flow) {
            let path = prompts_dir()
                .join(variant)
                .join(format!("{}.j2", template.name()));
            assert!(path.is_file(), "{}", path.display());
        }
    }
}

#[test]
fn a_repeated_render_is_the_same_text_as_a_first_one() {
    // One set renders everything twice (the second time from its cache), interleaving facts,
    // variants and tasks; a fresh set for each render is the reference.
    let cached = PromptSet::load(&prompts_dir()).unwrap();
    let template = spec_template(&example_facts()[0].0);
    let spec = json!({"board": {"target": "uno"}, "libraries": []});
    let other_spec = json!({"board": {"target": "uno"}, "libraries": ["Servo"]});
    let tasks = [
        Task::SpecFill {
            template: &template,
        },
        Task::Sketch {
            spec: &spec,
            outline: None,
            design: None,
        },
        Task::Sketch {
            spec: &other_spec,
            outline: None,
            design: None,
        },
    ];
    for _ in 0..2 {
        for (_, facts) in example_facts() {
            for variant in ["default", "sg0-json"] {
                for task in &tasks {
                    let fresh = PromptSet::load(&prompts_dir())
                        .unwrap()
                        .render(variant, &facts, task)
                        .unwrap();
                    assert_eq!(cached.render(variant, &facts, task).unwrap(), fresh);
                }
            }
        }
    }
    // Facts that differ in one field are not answered with another session's prompt.
    let (_, facts) = example_facts().remove(0);
    let mut renamed = facts.clone();
    renamed.app.name = "renamed_app".to_owned();
    let before = cached.render("default", &facts, &tasks[0]).unwrap();
    let after = cached.render("default", &renamed, &tasks[0]).unwrap();
    assert_ne!(before, after);
    assert!(after.system.contains("renamed_app") || after.user.contains("renamed_app"));
}
