//! Reports over sessions and their classified failures: Markdown, CSV, SVG charts and one
//! self-contained HTML page. Inputs are plain rows, so the same report comes from new runs and
//! from imported legacy logs alike.

mod charts;
mod stats;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub use charts::{BarSeries, ParetoPanel, grouped_bars, pareto_panels};
pub use stats::{Proportion, mean};

/// One session, as a report sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSession {
    pub session: String,
    pub model: String,
    pub target: String,
    pub variant: String,
    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, `truncated`/`unfinished`.
    pub outcome: String,
    pub success_attempt: Option<u32>,
    pub attempts: u32,
    pub llm_calls: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub wall_ms: u64,
    pub cost_usd: Option<f64>,
}

impl ReportSession {
    pub fn succeeded(&self) -> bool {
        self.outcome == "success"
    }
}

/// One classified failure (one diagnostic or one failed step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFailure {
    pub model: String,
    pub group: String,
    pub category: String,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub title: String,
    /// Which taxonomy labelled the failures (`default`, `legacy`).
    pub taxonomy: String,
    pub sessions: Vec<ReportSession>,
    pub failures: Vec<ReportFailure>,
    /// Groups in taxonomy order with their categories, for the taxonomy table.
    pub taxonomy_order: Vec<(String, Vec<String>)>,
}

/// A success rate of one slice (a model, a target, a variant).
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub dimension: &'static str,
    pub value: String,
    pub rate: Proportion,
}

/// Resource use of successes and failures in one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub dimension: &'static str,
    pub value: String,
    pub successes: u64,
    pub failures: u64,
    pub tokens_success: Option<f64>,
    pub tokens_failure: Option<f64>,
    pub seconds_success: Option<f64>,
    pub seconds_failure: Option<f64>,
    pub cost_success: Option<f64>,
    pub cost_failure: Option<f64>,
    /// Total cost of the slice ÷ successes (`None` if unpriced or no success).
    pub cost_per_success: Option<f64>,
}

/// The computed report: tables, and the files to write.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rates: Vec<RateRow>,
    /// `(model, attempt, successes at that attempt)`.
    pub attempts: Vec<(String, u32, u64)>,
    pub costs: Vec<CostRow>,
    /// `(model, group, category, count, count ÷ sessions of the model)`.
    pub categories: Vec<(String, String, String, u64, f64)>,
    pub files: Vec<(String, String)>,
}

fn slices(
    sessions: &[ReportSession],
    key: impl Fn(&ReportSession) -> &str,
) -> BTreeMap<String, Vec<&ReportSession>> {
    let mut map: BTreeMap<String, Vec<&ReportSession>> = BTreeMap::new();
    for s in sessions {
        map.entry(key(s).to_owned()).or_default().push(s);
    }
    map
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

fn csv_opt(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.6}"))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Picks the slice a session belongs to (its model, target or variant).
type SliceKey = fn(&ReportSession) -> &str;

/// Computes the report's tables and renders every file.
pub fn build_report(input: &ReportInput) -> Report {
    let mut report = Report::default();
    let dimensions: [(&'static str, SliceKey); 3] = [
        ("model", |s| s.model.as_str()),
        ("target", |s| s.target.as_str()),
        ("variant", |s| s.variant.as_str()),
    ];
    for (dimension, key) in dimensions {
        for (value, group) in slices(&input.sessions, key) {
            let successes = group.iter().filter(|s| s.succeeded()).count() as u64;
            report.rates.push(RateRow {
                dimension,
                value: value.clone(),
                rate: Proportion::wilson(successes, group.len() as u64),
            });
            let (ok, failed): (Vec<_>, Vec<_>) = group.iter().partition(|s| s.succeeded());
            let tokens = |v: &[&&ReportSession]| {
                mean(v.iter().map(|s| (s.input_tokens + s.output_tokens) as f64))
            };
            let secs = |v: &[&&ReportSession]| mean(v.iter().map(|s| s.wall_ms as f64 / 1000.0));
            let cost = |v: &[&&ReportSession]| {
                if v.iter().all(|s| s.cost_usd.is_some()) {
                    mean(v.iter().filter_map(|s| s.cost_usd))
                } else {
                    None
                }
            };
            let all_priced = group.iter().all(|s| s.cost_usd.is_some());
            let total_cost: f64 = group.iter().filter_map(|s| s.cost_usd).sum();
            report.costs.push(CostRow {
                dimension,
                value,
                successes,
                failures: failed.len() as u64,
                tokens_success: tokens(&ok),
                tokens_failure: tokens(&failed),
                seconds_success: secs(&ok),
                seconds_failure: secs(&failed),
                cost_success: cost(&ok),
                cost_failure: cost(&failed),
                cost_per_success: (all_priced && successes > 0)
                    .then(|| total_cost / successes as f64),
            });
        }
    }
    let by_model = slices(&input.sessions, |s| s.model.as_str());
    for (model, group) in &by_model {
        let mut at: BTreeMap<u32, u64> = BTreeMap::new();
        for s in group {
            if let Some(a) = s.success_attempt {
                *at.entry(a).or_default() += 1;
            }
        }
        report
            .attempts
            .extend(at.into_iter().map(|(a, n)| (model.clone(), a, n)));
    }
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for f in &input.failures {
        *counts
            .entry((f.model.clone(), f.group.clone(), f.category.clone()))
            .or_default() += 1;
    }
    for ((model, group, category), count) in counts {
        let sessions = by_model.get(&model).map_or(0, Vec::len).max(1) as f64;
        report
            .categories
            .push((model, group, category, count, count as f64 / sessions));
    }
    render_files(input, &mut report);
    report
}

fn render_files(input: &ReportInput, report: &mut Report) {
    // CSV files.
    let mut rates = String::from("dimension,value,sessions,successes,rate,ci95_low,ci95_high\n");
    for r in &report.rates {
        let _ = writeln!(
            rates,
            "{},{},{},{},{:.6},{:.6},{:.6}",
            r.dimension,
            csv_field(&r.value),
            r.rate.trials,
            r.rate.successes,
            r.rate.rate,
            r.rate.low,
            r.rate.high
        );
    }
    let mut attempts = String::from("model,attempt,successes\n");
    for (model, attempt, n) in &report.attempts {
        let _ = writeln!(attempts, "{},{attempt},{n}", csv_field(model));
    }
    let mut costs = String::from(
        "dimension,value,successes,failures,tokens_success,tokens_failure,seconds_success,seconds_failure,cost_usd_success,cost_usd_failure,cost_usd_per_success\n",
    );
    for c in &report.costs {
        let _ = writeln!(
            costs,
            "{},{},{},{},{},{},{},{},{},{},{}",
            c.dimension,
            csv_field(&c.value),
            c.successes,
            c.failures,
            csv_opt(c.tokens_success),
            csv_opt(c.tokens_failure),
            csv_opt(c.seconds_success),
            csv_opt(c.seconds_failure),
            csv_opt(c.cost_success),
            csv_opt(c.cost_failure),
            csv_opt(c.cost_per_success)
        );
    }
    let mut categories = String::from("model,group,category,count,per_session\n");
    for (model, group, category, count, rate) in &report.categories {
        let _ = writeln!(
            categories,
            "{},{},{},{count},{rate:.6}",
            csv_field(model),
            csv_field(group),
            csv_field(category)
        );
    }

    // Charts.
    let mut svgs: Vec<(String, String, String)> = Vec::new();
    for dimension in ["model", "target", "variant"] {
        let rows: Vec<&RateRow> = report
            .rates
            .iter()
            .filter(|r| r.dimension == dimension)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let groups: Vec<String> = rows.iter().map(|r| r.value.clone()).collect();
        let series = BarSeries {
            name: "success rate".into(),
            values: rows.iter().map(|r| Some(r.rate.rate * 100.0)).collect(),
            intervals: Some(
                rows.iter()
                    .map(|r| (r.rate.low * 100.0, r.rate.high * 100.0))
                    .collect(),
            ),
        };
        let svg = grouped_bars(
            &format!("Success rate per {dimension} (95% CI)"),
            "success %",
            &groups,
            &[series],
            Some(100.0),
        );
        svgs.push((
            format!("success_by_{dimension}.svg"),
            format!("Success rate per {dimension}"),
            svg,
        ));
    }
    let models: Vec<String> = slices(&input.sessions, |s| s.model.as_str())
        .into_keys()
        .collect();
    let max_attempt = report.attempts.iter().map(|a| a.1).max().unwrap_or(0);
    if max_attempt > 0 {
        let groups: Vec<String> = (1..=max_attempt).map(|a| format!("attempt {a}")).collect();
        let series: Vec<BarSeries> = models
            .iter()
            .map(|m| BarSeries {
                name: m.clone(),
                values: (1..=max_attempt)
                    .map(|a| {
                        Some(
                            report
                                .attempts
                                .iter()
                                .find(|x| &x.0 == m && x.1 == a)
                                .map_or(0.0, |x| x.2 as f64),
                        )
                    })
                    .collect(),
                intervals: None,
            })
            .collect();
        let svg = grouped_bars(
            "Attempt at which sessions succeeded",
            "sessions",
            &groups,
            &series,
            None,
        );
        svgs.push((
            "attempts_to_success.svg".into(),
            "Attempts to success".into(),
            svg,
        ));
    }
    let cost_dimension = if report
        .costs
        .iter()
        .filter(|c| c.dimension == "variant")
        .count()
        > 1
    {
        "variant"
    } else {
        "model"
    };
    let cost_rows: Vec<&CostRow> = report
        .costs
        .iter()
        .filter(|c| c.dimension == cost_dimension)
        .collect();
    let groups: Vec<String> = cost_rows.iter().map(|c| c.value.clone()).collect();
    for (file, title, unit, pick) in [
        (
            "tokens_per_outcome.svg",
            "Mean tokens per session",
            "tokens",
            (|c: &CostRow| (c.tokens_success, c.tokens_failure))
                as fn(&CostRow) -> (Option<f64>, Option<f64>),
        ),
        (
            "time_per_outcome.svg",
            "Mean wall time per session",
            "seconds",
            |c: &CostRow| (c.seconds_success, c.seconds_failure),
        ),
    ] {
        if cost_rows.is_empty() {
            break;
        }
        let series = vec![
            BarSeries {
                name: "success".into(),
                values: cost_rows.iter().map(|c| pick(c).0).collect(),
                intervals: None,
            },
            BarSeries {
                name: "failure".into(),
                values: cost_rows.iter().map(|c| pick(c).1).collect(),
                intervals: None,
            },
        ];
        let svg = grouped_bars(
            &format!("{title}, per {cost_dimension}"),
            unit,
            &groups,
            &series,
            None,
        );
        svgs.push((file.into(), format!("{title} (success vs failure)"), svg));
    }
    let panels: Vec<ParetoPanel> = models
        .iter()
        .filter_map(|m| {
            let bars: Vec<(String, f64)> = report
                .categories
                .iter()
                .filter(|c| &c.0 == m)
                .map(|c| (c.2.clone(), c.4))
                .collect();
            let sessions = input.sessions.iter().filter(|s| &s.model == m).count();
            (!bars.is_empty()).then(|| ParetoPanel {
                title: format!("{m} ({sessions} sessions)"),
                bars,
            })
        })
        .collect();
    if !panels.is_empty() {
        let svg = pareto_panels(
            &format!("Failure categories per model ({} taxonomy)", input.taxonomy),
            "errors per session",
            &panels,
        );
        svgs.push((
            "failure_pareto.svg".into(),
            "Failure categories per model (Pareto)".into(),
            svg,
        ));
    }

    // Markdown and HTML.
    let markdown = render_markdown(input, report, &svgs);
    let html = render_html(input, &markdown, &svgs);
    report.files = vec![
        ("success_rates.csv".into(), rates),
        ("attempts_to_success.csv".into(), attempts),
        ("costs.csv".into(), costs),
        ("categories.csv".into(), categories),
        ("report.md".into(), markdown),
        ("report.html".into(), html),
    ];
    report
        .files
        .extend(svgs.into_iter().map(|(name, _, svg)| (name, svg)));
}

fn render_markdown(
    input: &ReportInput,
    report: &Report,
    svgs: &[(String, String, String)],
) -> String {
    let mut md = String::new();
    let successes = input.sessions.iter().filter(|s| s.succeeded()).count();
    let _ = writeln!(md, "# {}\n", input.title);
    let _ = writeln!(
        md,
        "{} sessions, {} succeeded; {} classified failures ({} taxonomy).\n",
        input.sessions.len(),
        successes,
        input.failures.len(),
        input.taxonomy
    );
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &input.sessions {
        *outcomes.entry(s.outcome.as_str()).or_default() += 1;
    }
    let _ = writeln!(
        md,
        "## Session outcomes\n\n| outcome | sessions |\n|---|---:|"
    );
    for (outcome, n) in outcomes {
        let _ = writeln!(md, "| {outcome} | {n} |");
    }
    let _ = writeln!(
        md,
        "\n## Success rate (95% Wilson interval)\n\n| by | value | sessions | successes | rate | 95% CI |\n|---|---|---:|---:|---:|---|"
    );
    for r in &report.rates {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.1}% | {:.1}–{:.1}% |",
            r.dimension,
            r.value,
            r.rate.trials,
            r.rate.successes,
            r.rate.rate * 100.0,
            r.rate.low * 100.0,
            r.rate.high * 100.0
        );
    }
    let _ = writeln!(
        md,
        "\n## Attempts to success\n\n| model | attempt | successes |\n|---|---:|---:|"
    );
    for (model, attempt, n) in &report.attempts {
        let _ = writeln!(md, "| {model} | {attempt} | {n} |");
    }
    let _ = writeln!(
        md,
        "\n## Tokens, time and cost per success and per failure\n\n| by | value | ok | failed | tokens ok | tokens failed | s ok | s failed | $ ok | $ failed | $ per success |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &report.costs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.dimension,
            c.value,
            c.successes,
            c.failures,
            fmt_opt(c.tokens_success, 0),
            fmt_opt(c.tokens_failure, 0),
            fmt_opt(c.seconds_success, 1),
            fmt_opt(c.seconds_failure, 1),
            fmt_opt(c.cost_success, 4),
            fmt_opt(c.cost_failure, 4),
            fmt_opt(c.cost_per_success, 4)
        );
    }
    let models: Vec<String> = slices(&input.sessions, |s| s.model.as_str())
        .into_keys()
        .collect();
    let _ = write!(
        md,
        "\n## Failure taxonomy ({} taxonomy)\n\n| group | category |",
        input.taxonomy
    );
    for m in &models {
        let _ = write!(md, " {m} |");
    }
    let _ = write!(md, " total |\n|---|---|");
    for _ in &models {
        md.push_str("---:|");
    }
    md.push_str("---:|\n");
    let mut order = input.taxonomy_order.clone();
    for (_, group, category, _, _) in &report.categories {
        match order.iter_mut().find(|(g, _)| g == group) {
            Some((_, cats)) if !cats.contains(category) => cats.push(category.clone()),
            Some(_) => {}
            None => order.push((group.clone(), vec![category.clone()])),
        }
    }
    for (group, categories) in &order {
        for category in categories {
            let _ = write!(md, "| {group} | {category} |");
            let mut total = 0;
            for m in &models {
                let n = report
                    .categories
                    .iter()
                    .find(|c| &c.0 == m && &c.1 == group && &c.2 == category)
                    .map_or(0, |c| c.3);
                total += n;
                let _ = write!(md, " {n} |");
            }
            let _ = writeln!(md, " {total} |");
        }
    }
    let _ = writeln!(md, "\n## Charts\n");
    for (file, caption, _) in svgs {
        let _ = writeln!(md, "![{caption}]({file})\n");
    }
    md
}

/// A tiny Markdown-to-HTML pass for the report's own Markdown (headings, tables, paragraphs),
/// with the charts inlined so the page is self-contained.
fn render_html(input: &ReportInput, markdown: &str, svgs: &[(String, String, String)]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}td:nth-child(n+3){{text-align:right}}figure{{margin:1em 0}}</style></head><body>\n",
        html_escape(&input.title)
    );
    let mut in_table = false;
    for line in markdown.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                html.push_str("<table>\n");
                in_table = true;
            }
            html.push_str("<tr>");
            for cell in cells {
                let _ = write!(html, "<{tag}>{}</{tag}>", html_escape(cell));
            }
            html.push_str("</tr>\n");
            continue;
        }
        if in_table {
            html.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(html, "<h2>{}</h2>", html_escape(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(html, "<h1>{}</h1>", html_escape(h));
        } else if let Some(rest) = line.strip_prefix("![") {
            let file = rest
                .split_once("](")
                .map_or("", |(_, f)| f.trim_end_matches(')'));
            if let Some((_, caption, svg)) = svgs.iter().find(|(f, _, _)| f == file) {
                let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                let _ = writeln!(
                    html,
                    "<figure>{body}<figcaption>{}</figcaption></figure>",
                    html_escape(caption)
                );
            }
        } else if !line.trim().is_empty() {
            let _ = writeln!(html, "<p>{}</p>", html_escape(line));
        }
    }
    if in_table {
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// Writes the report's files into `dir` (created if needed). Refuses a non-empty folder that
/// does not hold an earlier report, so nothing a user made is overwritten.
pub fn write_report(report: &Report, dir: &Path) -> std::io::Result<()> {
    const MARKER: &str = ".autopilot-report";
    if dir.exists() && fs_err::read_dir(dir)?.next().is_some() && !dir.join(MARKER).exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} is not empty and holds no earlier report; choose an empty or new folder",
                dir.display()
            ),
        ));
    }
    fs_err::create_dir_all(dir)?;
    fs_err::write(dir.join(MARKER), "written by autopilot report\n")?;
    for (name, content) in &report.files {
        fs_err::write(dir.join(name), content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
            target: "uno".into(),
            variant: variant.into(),
            outcome: outcome.into(),
            success_attempt: attempt,
            attempts: attempt.unwrap_or(5),
            llm_calls: 6,
            input_tokens: tokens,
            output_tokens: 0,
            wall_ms: tokens,
            cost_usd: Some(tokens as f64 / 1e6),
        }
    }

    pub(super) fn sample() -> ReportInput {
        input()
    }

    fn input() -> ReportInput {
        ReportInput {
            title: "test".into(),
            taxonomy: "default".into(),
            sessions: vec![
                session("m1", "a", "success", Some(2), 1000),
                session("m1", "a", "exhausted", None, 3000),
                session("m1", "b", "success", Some(2), 2000),
                session("m2", "b", "exhausted", None, 5000),
            ],
            failures: vec![
                ReportFailure {
                    model: "m1".into(),
                    group: "G".into(),
                    category: "Syntax".into(),
                },
                ReportFailure {
                    model: "m1".into(),
                    group: "G".into(),
                    category: "Syntax".into(),
                },
                ReportFailure {
                    model: "m2".into(),
                    group: "H".into(),
                    category: "Libraries".into(),
                },
            ],
            taxonomy_order: vec![("G".into(), vec!["Syntax".into()])],
        }
    }

    #[test]
    fn tables_count_what_the_sessions_say() {
        let report = build_report(&input());
        let m1 = report
            .rates
            .iter()
            .find(|r| r.dimension == "model" && r.value == "m1")
            .unwrap();
        assert_eq!((m1.rate.successes, m1.rate.trials), (2, 3));
        assert_eq!(report.attempts, vec![("m1".to_string(), 2, 2)]);
        let cost = report
            .costs
            .iter()
            .find(|c| c.dimension == "model" && c.value == "m1")
            .unwrap();
        assert_eq!(cost.tokens_success, Some(1500.0));
        assert_eq!(cost.tokens_failure, Some(3000.0));
        assert!((cost.cost_per_success.unwrap() - 0.003).abs() < 1e-12);
        let syntax = report.categories.iter().find(|c| c.2 == "Syntax").unwrap();
        assert_eq!((syntax.3, syntax.4), (2, 2.0 / 3.0));
    }

    #[test]
    fn every_file_is_rendered_and_the_html_is_self_contained() {
        let report = build_report(&input());
        let names: Vec<&str> = report.files.iter().map(|f| f.0.as_str()).collect();
        for expected in [
            "report.md",
            "report.html",
            "success_rates.csv",
            "categories.csv",
            "success_by_model.svg",
            "failure_pareto.svg",
            "attempts_to_success.svg",
            "tokens_per_outcome.svg",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let html = &report
            .files
            .iter()
            .find(|f| f.0 == "report.html")
            .unwrap()
            .1;
        assert!(html.contains("<svg"), "charts are inlined");
        assert!(!html.contains("src=\""), "no external resources");
        let md = &report.files.iter().find(|f| f.0 == "report.md").unwrap().1;
        assert!(md.contains("| G | Syntax | 2 | 0 | 2 |"), "{md}");
        assert!(md.contains("| H | Libraries | 0 | 1 | 1 |"), "{md}");
    }

    #[test]
    fn a_folder_with_foreign_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("mine.txt"), "x").unwrap();
        let report = build_report(&input());
        assert!(write_report(&report, dir.path()).is_err());
        let fresh = dir.path().join("out");
        write_report(&report, &fresh).unwrap();
        write_report(&report, &fresh).unwrap();
        assert_eq!(
            fs_err::read_to_string(dir.path().join("mine.txt")).unwrap(),
            "x"
        );
    }
}

#[cfg(test)]
mod render_preview {
    /// Writes a sample report to `$AUTOPILOT_REPORT_PREVIEW` when set (used to look at charts).
    #[test]
    fn preview_when_asked() {
        let Some(dir) = std::env::var_os("AUTOPILOT_REPORT_PREVIEW") else {
            return;
        };
        let report = super::build_report(&super::tests::sample());
        super::write_report(&report, std::path::Path::new(&dir)).unwrap();
    }
}
