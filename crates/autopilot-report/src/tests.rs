//! Unit tests of the report: tables from small hand-made rows, every file rendered, the output
//! folder rules.

use super::*;

fn session(
    model: &str,
    variant: &str,
    outcome: &str,
    attempt: Option<u32>,
    tokens: u64,
) -> ReportSession {
    ReportSession {
        session: format!("{model}-{tokens}"),
        model: model.into(),
        provider: "openai".into(),
        answers: "live".into(),
        target: "uno".into(),
        variant: variant.into(),
        stage: "sg".into(),
        pipeline: String::new(),
        outcome: outcome.into(),
        success_attempt: attempt,
        attempts: attempt.unwrap_or(5),
        llm_calls: 6,
        input_tokens: Some(tokens),
        output_tokens: None,
        wall_ms: tokens,
        cost_usd: Some(tokens as f64 / 1e6),
    }
}

fn failure(model: &str, group: &str, category: &str) -> ReportFailure {
    ReportFailure {
        model: model.into(),
        group: group.into(),
        category: category.into(),
        count: 1,
    }
}

fn input() -> ReportInput {
    ReportInput {
        title: "test".into(),
        taxonomy: "default".into(),
        unit: None,
        sessions: vec![
            session("m1", "a", "success", Some(2), 1000),
            session("m1", "a", "exhausted", None, 3000),
            session("m1", "b", "success", Some(2), 2000),
            session("m2", "b", "exhausted", None, 5000),
        ],
        failures: vec![
            failure("m1", "G", "Syntax"),
            failure("m1", "G", "Syntax"),
            failure("m2", "H", "Libraries"),
        ],
        taxonomy_order: vec![("G".into(), vec!["Syntax".into(), "Unused".into()])],
    }
}

fn file<'r>(report: &'r Report, name: &str) -> &'r str {
    &report
        .files
        .iter()
        .find(|f| f.0 == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

#[test]
fn tables_count_what_the_sessions_say() {
    let report = build_report(&input());
    let m1 = report
        .rates
        .iter()
        .find(|r| r.dimension == Dimension::Model && r.value == "m1")
        .unwrap();
    assert_eq!((m1.rate.successes, m1.rate.trials), (2, 3));
    assert_eq!(
        report.attempts,
        vec![AttemptRow {
            model: "m1".into(),
            attempt: 2,
            successes: 2
        }]
    );
    let cost = report
        .costs
        .iter()
        .find(|c| c.dimension == Dimension::Model && c.value == "m1")
        .unwrap();
    assert_eq!(cost.tokens_success, Some(1500.0));
    assert_eq!(cost.tokens_failure, Some(3000.0));
    assert_eq!(cost.llm_calls_failure, Some(6.0));
    assert!((cost.cost_per_success.unwrap() - 0.003).abs() < 1e-12);
    let syntax = report
        .categories
        .iter()
        .find(|c| c.category == "Syntax")
        .unwrap();
    assert_eq!((syntax.count, syntax.per_session), (2, 2.0 / 3.0));
}

#[test]
fn unknown_tokens_and_prices_stay_unknown() {
    let mut input = input();
    for s in &mut input.sessions {
        s.input_tokens = None;
        s.cost_usd = None;
    }
    input.sessions[1].cost_usd = Some(1.0);
    let report = build_report(&input);
    let m1 = report
        .costs
        .iter()
        .find(|c| c.dimension == Dimension::Model && c.value == "m1")
        .unwrap();
    assert_eq!((m1.tokens_success, m1.tokens_failure), (None, None));
    assert_eq!(
        m1.cost_success, None,
        "unpriced successes have no mean cost"
    );
    assert_eq!(m1.cost_failure, Some(1.0));
    assert_eq!(m1.cost_per_success, None);
    let names: Vec<&str> = report.files.iter().map(|f| f.0.as_str()).collect();
    assert!(!names.contains(&"tokens_per_outcome.svg"), "{names:?}");
    assert!(names.contains(&"time_per_outcome.svg"), "{names:?}");
    assert!(file(&report, "report.md").contains("| model | m1 | 2 | 1 | — | — |"));
}

#[test]
fn every_file_is_rendered_and_the_html_is_self_contained() {
    let report = build_report(&input());
    let names: Vec<&str> = report.files.iter().map(|f| f.0.as_str()).collect();
    for expected in [
        "report.md",
        "report.html",
        "sessions.csv",
        "success_rates.csv",
        "categories.csv",
        "costs.csv",
        "success_by_model.svg",
        "success_by_variant.svg",
        "failure_pareto.svg",
        "attempts_to_success.svg",
        "tokens_per_outcome.svg",
        "time_per_outcome.svg",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // One target: no chart of one bar.
    assert!(!names.contains(&"success_by_target.svg"), "{names:?}");
    let html = file(&report, "report.html");
    assert_eq!(
        html.matches("<svg").count(),
        names.iter().filter(|n| n.contains(".svg")).count()
    );
    assert!(!html.contains("src=\""), "no external resources");
    assert!(
        html.contains("<td>m1</td><td>3</td><td>2</td><td>1</td>"),
        "{html}"
    );
    let md = file(&report, "report.md");
    assert!(md.contains("| G | Syntax | 2 (0.67) | 0 | 2 |"), "{md}");
    assert!(md.contains("| G | Unused | 0 | 0 | 0 |"), "{md}");
    assert!(md.contains("| H | Libraries | 0 | 1 (1.00) | 1 |"), "{md}");
    assert!(md.contains("| | **all** | **2** | **1** | **3** |"), "{md}");
    assert!(
        md.contains("| m1 | 3 | 2 | 1 |"),
        "outcomes per model: {md}"
    );
    assert_eq!(
        file(&report, "categories.csv"),
        "model,group,category,count,per_session\nm1,G,Syntax,2,0.666667\nm2,H,Libraries,1,1.000000\n"
    );
    assert!(
        file(&report, "sessions.csv")
            .contains("\nm1-1000,m1,uno,a,success,2,2,6,1000,,1.000,0.001000,openai,live,sg,\n")
    );
}

#[test]
fn markdown_cells_and_csv_fields_are_escaped() {
    let mut input = input();
    input.sessions[0].model = "a|b,c".into();
    let report = build_report(&input);
    assert!(file(&report, "report.md").contains("| a\\|b,c |"));
    assert!(file(&report, "success_rates.csv").contains("model,\"a|b,c\",1,1,"));
    assert!(file(&report, "report.html").contains("<td>a|b,c</td>"));
}

#[test]
fn a_folder_with_foreign_files_is_refused_and_stale_charts_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("mine.txt"), "x").unwrap();
    let report = build_report(&input());
    assert!(write_report(&report, dir.path()).is_err());
    assert_eq!(
        fs_err::read_to_string(dir.path().join("mine.txt")).unwrap(),
        "x"
    );
    let fresh = dir.path().join("out");
    write_report(&report, &fresh).unwrap();
    assert!(fresh.join("tokens_per_outcome.svg").exists());
    fs_err::write(fresh.join("notes.txt"), "kept").unwrap();
    // The same folder again, now without token counts: the old tokens chart goes, the
    // user's file stays.
    let mut again = input();
    for s in &mut again.sessions {
        s.input_tokens = None;
    }
    write_report(&build_report(&again), &fresh).unwrap();
    assert!(!fresh.join("tokens_per_outcome.svg").exists());
    assert!(fresh.join("time_per_outcome.svg").exists());
    assert_eq!(
        fs_err::read_to_string(fresh.join("notes.txt")).unwrap(),
        "kept"
    );
}

#[test]
fn csv_text_that_looks_like_a_formula_is_defused_and_quoted_where_needed() {
    let mut input = input();
    input.sessions[0].model = "=cmd|x,y".into();
    input.sessions[0].variant = "-v \"q\"".into();
    let report = build_report(&input);
    let sessions = file(&report, "sessions.csv");
    assert!(sessions.contains(",\"'=cmd|x,y\","), "{sessions}");
    assert!(sessions.contains(",\"'-v \"\"q\"\"\","), "{sessions}");
    assert_eq!(spreadsheet_safe("gpt-4o"), "gpt-4o");
    assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
}

#[test]
fn csv_rows_defuse_formulas_and_quote_separators() {
    let mut out = Vec::new();
    for text in ["=HYPERLINK(\"x\")", "@SUM(A1)", "-1+2", "gpt-4o", "a,b"] {
        write_csv_row(&mut out, [spreadsheet_safe(text).as_ref(), "1"]).unwrap();
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"'=HYPERLINK(\"\"x\"\")\",1\n'@SUM(A1),1\n'-1+2,1\ngpt-4o,1\n\"a,b\",1\n"
    );
}

/// The first paper's per-stage table: success with its interval, time, tokens and cost per
/// stage; unknown tokens and prices stay unknown, never 0.
#[test]
fn pipeline_sessions_get_the_per_stage_table() {
    let mut plain = input();
    assert!(
        build_report(&plain).stages.is_empty(),
        "no pipeline, no stage table"
    );
    let mut dp = session("m1", "lifecycle", "success", Some(1), 2000);
    dp.stage = "dp".into();
    dp.pipeline = "p1".into();
    let mut dp_failed = session("m1", "lifecycle", "exhausted", None, 4000);
    dp_failed.stage = "dp".into();
    dp_failed.input_tokens = None;
    dp_failed.cost_usd = None;
    let mut mc = session("m1", "lifecycle", "success", Some(1), 500);
    mc.stage = "mc".into();
    plain.sessions.extend([dp, dp_failed, mc]);
    let report = build_report(&plain);
    let stages: Vec<(&str, &str)> = report
        .stages
        .iter()
        .map(|r| (r.stage.as_str(), r.model.as_str()))
        .collect();
    assert_eq!(stages[..2], [("dp", "m1"), ("mc", "m1")]);
    let dp = &report.stages[0];
    assert_eq!((dp.rate.successes, dp.rate.trials), (1, 2));
    assert!(dp.rate.low < 0.5 && dp.rate.high > 0.5);
    assert_eq!(format!("{:?}", dp.seconds), "[3.0, 3.0, 4.0, 2.0]");
    assert_eq!(
        dp.input_tokens,
        Some(2000.0),
        "the mean of the known counts only"
    );
    assert_eq!(dp.output_tokens, None);
    assert_eq!(
        dp.cost_usd, None,
        "one unpriced session makes the cost unknown"
    );
    let md = &report
        .files
        .iter()
        .find(|(n, _)| n == "report.md")
        .unwrap()
        .1;
    assert!(md.contains("## Per stage"), "{md}");
    assert!(md.contains("| dp | m1 | 2 | 50.0%"), "{md}");
    assert!(report.files.iter().any(|(n, _)| n == "stages.csv"));
    // sessions.csv ends each row with the stage and the pipeline (empty when none).
    let sessions = file(&report, "sessions.csv");
    assert!(
        sessions.starts_with("session,")
            && sessions
                .lines()
                .next()
                .unwrap()
                .ends_with(",answers,stage,pipeline")
    );
    assert!(
        sessions.lines().any(|l| l.ends_with(",live,dp,p1")),
        "{sessions}"
    );
    assert!(
        sessions.lines().any(|l| l.ends_with(",live,mc,")),
        "{sessions}"
    );
    assert!(
        sessions.lines().any(|l| l.ends_with(",live,sg,")),
        "{sessions}"
    );
}
