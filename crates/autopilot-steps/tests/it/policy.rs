//! Policies: defaults, partial files, validation with file and key.

use std::path::Path;
use std::time::Duration;

use autopilot_steps::{ConfigError, ModelRef, Policies, SandboxMode};

fn parse(text: &str) -> Result<Policies, ConfigError> {
    Policies::from_toml(Path::new("policies.toml"), text)
}

#[test]
fn defaults_are_the_documented_parachutes() {
    let policies = Policies::default();
    assert_eq!((policies.attempts.spec, policies.attempts.sketch), (5, 5));
    assert_eq!(policies.timeouts.llm_call(), Duration::from_secs(180));
    assert_eq!(policies.timeouts.compile(), Duration::from_secs(300));
    assert_eq!(policies.budget.wall_time(), Some(Duration::from_secs(1800)));
    assert_eq!(
        (policies.budget.tokens, policies.budget.cost_usd),
        (None, None)
    );
    // Retries belong to the LLM config now: none unless the file still has `[retry]`.
    assert_eq!(policies.retry, None);
    let old = parse("[retry]\nmax_tries = 2\n").unwrap().retry.unwrap();
    assert_eq!(old.max_tries, 2);
    assert_eq!(old.base_delay(), Duration::from_millis(500));
    assert_eq!(old.max_total(), Duration::from_secs(120));
    assert_eq!(policies.fallback.model, None);
    assert_eq!(policies.simulation.time_budget(), Duration::from_secs(10));
    assert!(!policies.libraries.allow_install);
    assert!(policies.problems().is_empty());
    // An empty file means every default.
    assert_eq!(parse("").unwrap(), policies);
}

#[test]
fn a_partial_file_overrides_only_its_keys() {
    let policies = parse(
        "[attempts]\nsketch = 8\n[budget]\ntokens = 50000\ncost_usd = 0.5\n[fallback]\nmodel = \"ollama:qwen2.5-coder:14b\"\nvariant = \"sg1-markdown-task\"\n[libraries]\nallow_install = true\n",
    )
    .unwrap();
    assert_eq!((policies.attempts.spec, policies.attempts.sketch), (5, 8));
    assert_eq!(policies.budget.tokens, Some(50_000));
    assert_eq!(
        policies.budget.wall_time_secs,
        Some(1800),
        "untouched keys keep their default"
    );
    let model = policies.fallback.model.as_ref().unwrap();
    assert_eq!(
        (model.provider.as_str(), model.model.as_str()),
        ("ollama", "qwen2.5-coder:14b")
    );
    assert_eq!(model.to_string(), "ollama:qwen2.5-coder:14b");
    assert!(policies.libraries.allow_install);
    policies
        .check_variant(Path::new("p.toml"), &["default", "sg1-markdown-task"])
        .unwrap();
    let err = policies
        .check_variant(Path::new("p.toml"), &["default"])
        .unwrap_err();
    assert_eq!(err.keys(), vec!["fallback.variant"]);
}

#[test]
fn invalid_values_name_file_and_key() {
    let err = parse("[attempts]\nspec = 0\nsketch = 500\n[retry]\nmax_tries = 0\n[budget]\ncost_usd = -1.0\n[simulation]\ntime_budget_secs = 0\n").unwrap_err();
    assert_eq!(
        err.keys(),
        vec![
            "attempts.spec",
            "attempts.sketch",
            "retry.max_tries",
            "simulation.time_budget_secs",
            "budget.cost_usd"
        ]
    );
    let text = err.to_string();
    assert!(text.starts_with("policies.toml: 5 problems"), "{text}");
    assert!(
        text.contains("key `attempts.sketch`: is 500; it must be between 1 and 50"),
        "{text}"
    );

    let err = parse("[fallback]\nmodel = \"gpt-4o\"\n").unwrap_err();
    assert_eq!(err.keys(), vec!["fallback.model"]);
    assert!(err.to_string().contains("has no provider"), "{err}");
    let err = parse("[timeouts]\nllm_call = 3\n").unwrap_err();
    assert_eq!(err.keys(), vec!["timeouts.llm_call"]);
    let err = parse("[retry]\nmax_tries = \"many\"\n").unwrap_err();
    assert_eq!(err.keys(), vec!["retry.max_tries"]);
}

#[test]
fn model_refs_parse_provider_and_model() {
    let model: ModelRef = "openai:gpt-4o".parse().unwrap();
    assert_eq!(
        (model.provider.as_str(), model.model.as_str()),
        ("openai", "gpt-4o")
    );
    for bad in ["", ":gpt", "openai:", "Open AI:x", "gpt-4o"] {
        assert!(bad.parse::<ModelRef>().is_err(), "{bad}");
    }
}

#[test]
fn the_policy_file_is_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policies.toml");
    fs_err::write(&path, "[attempts]\nspec = 2\n").unwrap();
    assert_eq!(Policies::load(&path).unwrap().attempts.spec, 2);
    let missing = Policies::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }));
}

#[test]
fn the_sandbox_is_on_unless_the_file_turns_it_off() {
    assert_eq!(parse("").unwrap().sandbox, SandboxMode::On);
    assert_eq!(
        parse("sandbox = \"off\"").unwrap().sandbox,
        SandboxMode::Off
    );
    let error = parse("sandbox = \"maybe\"").unwrap_err().to_string();
    assert!(error.contains("policies.toml"), "{error}");
}
