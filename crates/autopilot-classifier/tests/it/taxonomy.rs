//! Loading and validating taxonomy files: the built-in one loads; broken files are rejected
//! with the file and the key at fault.

use autopilot_classifier::{DEFAULT_TAXONOMY, FailureSource, FailureStage, Taxonomy};

#[test]
fn the_builtin_taxonomy_has_the_papers_groups_and_categories() {
    let taxonomy = Taxonomy::builtin().unwrap();
    assert_eq!(taxonomy.groups.len(), 5);
    let grouped = taxonomy
        .categories
        .iter()
        .filter(|c| !c.group.is_empty())
        .count();
    assert_eq!(grouped, 14);
    assert!(taxonomy.categories.iter().any(|c| c.id == "uncategorized"));
    // Every category names the legacy category it corresponds to.
    assert!(taxonomy.categories.iter().all(|c| c.legacy.is_some()));
}

fn error_of(text: &str) -> String {
    Taxonomy::parse(text, "my.toml").unwrap_err().to_string()
}

/// The built-in file with one replacement.
fn edited(from: &str, to: &str) -> String {
    assert!(DEFAULT_TAXONOMY.contains(from), "{from}");
    DEFAULT_TAXONOMY.replacen(from, to, 1)
}

#[test]
fn errors_name_the_file_and_the_key() {
    let err = error_of(&edited(
        "category = \"spec_parsing\"\nstage = \"spec_fill\"",
        "category = \"spec_parsin\"\nstage = \"spec_fill\"",
    ));
    assert!(
        err.starts_with("my.toml: rule[1] (spec-guideline-placeholder).category: unknown category \"spec_parsin\""),
        "{err}"
    );
    let err = error_of(&edited("stage = \"spec_fill\"", "stage = \"spec\""));
    assert!(
        err.contains(".stage: unknown stage \"spec\" (one of spec_fill"),
        "{err}"
    );
    let err = error_of(&edited(
        "root_cause = \"spec_placeholder_dropped\"",
        "root_cause = \"nope\"",
    ));
    assert!(
        err.contains(".root_cause: unknown root cause \"nope\""),
        "{err}"
    );
    let err = error_of(&edited(
        "sources = [\"check\", \"attempt\"]",
        "sources = [\"chek\"]",
    ));
    assert!(
        err.contains(".sources[0]: unknown source \"chek\""),
        "{err}"
    );
    let err = error_of(&edited(
        "regex = '\\\\u[dD][89a-fA-F]",
        "regex = '([unclosed",
    ));
    assert!(err.contains("(emoji-surrogate-escape).regex:"), "{err}");
    let err = error_of(&edited("group = \"spec_prompt\"", "group = \"nowhere\""));
    assert!(
        err.contains(
            "category[0].group: category \"spec_parsing\" names unknown group \"nowhere\""
        ),
        "{err}"
    );
    let err = error_of(&edited(
        "id = \"syntax\"\nsources",
        "id = \"emoji-surrogate-escape\"\nsources",
    ));
    assert!(
        err.contains("rule[") && err.contains("duplicate id \"emoji-surrogate-escape\""),
        "{err}"
    );
}

#[test]
fn toml_errors_and_unknown_keys_are_rejected_with_their_place() {
    let err = error_of(&edited("version = 1", "version = 1\nversoin = 2"));
    assert!(
        err.starts_with("my.toml: ") && err.contains("versoin"),
        "{err}"
    );
    let err = error_of(&edited(
        "id = \"syntax\"\nsources",
        "id = \"syntax\"\ncolour = \"red\"\nsources",
    ));
    assert!(err.contains("colour"), "{err}");
    let err = error_of("version = 2\n");
    assert!(err.contains("my.toml"), "{err}");
    let err = Taxonomy::load(std::path::Path::new("/definitely/not/here.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/definitely/not/here.toml"), "{err}");
}

#[test]
fn rules_apply_in_order_to_their_sources_and_skip_bookkeeping() {
    let taxonomy = Taxonomy::builtin().unwrap();
    let label = |source, message| {
        taxonomy
            .classify(source, message)
            .map(|l| (l.category_id.as_str(), l.root_cause.as_str(), l.stage))
    };
    let (category, root, stage) = label(
        FailureSource::Diagnostic,
        "conflicting declaration 'const tflite::Model* model'",
    )
    .unwrap();
    assert_eq!(category, "invalid_tflite");
    assert!(root.contains("model header"), "{root}");
    assert_eq!(stage, FailureStage::Compile);
    // The same wording from a check is matched by the check rules, not the compile ones.
    assert_eq!(
        label(FailureSource::Check, "spec.guideline_placeholder: `guideline_placeholder_remain_this_untouched` not found in the app specifications").unwrap().0,
        "spec_parsing"
    );
    assert!(
        label(FailureSource::Diagnostic, "exit status 1").is_none(),
        "bookkeeping is skipped"
    );
    // Nothing matched: uncategorized, at the stage the evidence comes from.
    let fallback = taxonomy
        .classify(FailureSource::Llm, "something new")
        .unwrap();
    assert!(fallback.is_uncategorized());
    assert_eq!(fallback.category_id, "uncategorized");
    assert_eq!(fallback.stage, FailureStage::Backend);
    // GCC's typographic quotes are read as plain ones.
    assert_eq!(
        label(
            FailureSource::Diagnostic,
            "\u{2018}PIN\u{2019} was not declared in this scope"
        )
        .unwrap()
        .0,
        "sensor_constant"
    );
}
