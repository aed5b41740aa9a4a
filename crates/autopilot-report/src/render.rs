//! Rendering a computed report: CSV tables, the charts it draws, Markdown, and one
//! self-contained HTML page with the charts inlined.

use std::fmt::Write as _;

use crate::charts::{BarSeries, ParetoPanel, grouped_bars, pareto_panels};
use crate::model::{CostRow, Dimension, RateRow, Report, ReportInput};
use crate::table::{csv_table, csv_text};

/// A chart: file name, caption, SVG text.
struct Chart {
    file: String,
    caption: String,
    svg: String,
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

fn csv_opt(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.6}"))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Markdown table cell: pipes escaped, and `<`, `>`, `&` too, so a model name cannot carry
/// raw HTML into `report.md`.
fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "\\<")
        .replace('>', "\\>")
        .replace('&', "\\&")
}

/// The text of a Markdown cell written by [`md_cell`].
fn md_unescape(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('\\' | '|' | '<' | '>' | '&'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every file of the report, in the order they are listed.
pub(crate) fn render_files(input: &ReportInput, report: &Report) -> Vec<(String, String)> {
    let charts = charts(input, report);
    let markdown = render_markdown(input, report, &charts);
    let html = render_html(&input.title, &markdown, &charts);
    let mut files = vec![
        ("report.md".to_owned(), markdown),
        ("report.html".to_owned(), html),
        ("sessions.csv".to_owned(), sessions_csv(input)),
        ("success_rates.csv".to_owned(), rates_csv(report)),
        ("attempts_to_success.csv".to_owned(), attempts_csv(report)),
        ("costs.csv".to_owned(), costs_csv(report)),
        ("categories.csv".to_owned(), categories_csv(report)),
    ];
    if !report.stages.is_empty() {
        files.push(("stages.csv".to_owned(), stages_csv(report)));
    }
    files.extend(charts.into_iter().map(|c| (c.file, c.svg)));
    files
}

fn sessions_csv(input: &ReportInput) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    csv_table(
        &[
            "session",
            "model",
            "target",
            "variant",
            "outcome",
            "success_attempt",
            "attempts",
            "llm_calls",
            "input_tokens",
            "output_tokens",
            "wall_seconds",
            "cost_usd",
            "provider",
            "answers",
            // Added with batches of pipelines, at the end so older readers keep their columns.
            "stage",
            "pipeline",
        ],
        input.sessions.iter().map(|s| {
            vec![
                csv_text(&s.session),
                csv_text(&s.model),
                csv_text(&s.target),
                csv_text(&s.variant),
                csv_text(&s.outcome),
                opt(s.success_attempt.map(u64::from)),
                s.attempts.to_string(),
                s.llm_calls.to_string(),
                opt(s.input_tokens),
                opt(s.output_tokens),
                format!("{:.3}", s.wall_ms as f64 / 1000.0),
                csv_opt(s.cost_usd),
                csv_text(&s.provider),
                csv_text(&s.answers),
                csv_text(&s.stage),
                csv_text(&s.pipeline),
            ]
        }),
    )
}

fn rates_csv(report: &Report) -> String {
    csv_table(
        &[
            "dimension",
            "value",
            "sessions",
            "successes",
            "rate",
            "ci95_low",
            "ci95_high",
        ],
        report.rates.iter().map(|r| {
            vec![
                r.dimension.as_str().to_owned(),
                csv_text(&r.value),
                r.rate.trials.to_string(),
                r.rate.successes.to_string(),
                format!("{:.6}", r.rate.rate),
                format!("{:.6}", r.rate.low),
                format!("{:.6}", r.rate.high),
            ]
        }),
    )
}

fn attempts_csv(report: &Report) -> String {
    csv_table(
        &["model", "attempt", "successes"],
        report.attempts.iter().map(|a| {
            vec![
                csv_text(&a.model),
                a.attempt.to_string(),
                a.successes.to_string(),
            ]
        }),
    )
}

fn costs_csv(report: &Report) -> String {
    csv_table(
        &[
            "dimension",
            "value",
            "successes",
            "failures",
            "tokens_success",
            "tokens_failure",
            "seconds_success",
            "seconds_failure",
            "llm_calls_success",
            "llm_calls_failure",
            "cost_usd_success",
            "cost_usd_failure",
            "cost_usd_per_success",
        ],
        report.costs.iter().map(|c| {
            vec![
                c.dimension.as_str().to_owned(),
                csv_text(&c.value),
                c.successes.to_string(),
                c.failures.to_string(),
                csv_opt(c.tokens_success),
                csv_opt(c.tokens_failure),
                csv_opt(c.seconds_success),
                csv_opt(c.seconds_failure),
                csv_opt(c.llm_calls_success),
                csv_opt(c.llm_calls_failure),
                csv_opt(c.cost_success),
                csv_opt(c.cost_failure),
                csv_opt(c.cost_per_success),
            ]
        }),
    )
}

fn stages_csv(report: &Report) -> String {
    csv_table(
        &[
            "stage",
            "model",
            "sessions",
            "successes",
            "rate",
            "ci95_low",
            "ci95_high",
            "seconds_mean",
            "seconds_median",
            "seconds_max",
            "seconds_min",
            "input_tokens_mean",
            "output_tokens_mean",
            "cost_usd_mean",
        ],
        report.stages.iter().map(|r| {
            let mut row = vec![
                csv_text(&r.stage),
                csv_text(&r.model),
                r.rate.trials.to_string(),
                r.rate.successes.to_string(),
                format!("{:.6}", r.rate.rate),
                format!("{:.6}", r.rate.low),
                format!("{:.6}", r.rate.high),
            ];
            row.extend(r.seconds.iter().map(|s| format!("{s:.3}")));
            row.extend([
                csv_opt(r.input_tokens),
                csv_opt(r.output_tokens),
                csv_opt(r.cost_usd),
            ]);
            row
        }),
    )
}

fn categories_csv(report: &Report) -> String {
    csv_table(
        &["model", "group", "category", "count", "per_session"],
        report.categories.iter().map(|c| {
            vec![
                csv_text(&c.model),
                csv_text(&c.group),
                csv_text(&c.category),
                c.count.to_string(),
                format!("{:.6}", c.per_session),
            ]
        }),
    )
}

fn success_chart(report: &Report, dimension: Dimension) -> Option<Chart> {
    let rows: Vec<&RateRow> = report
        .rates
        .iter()
        .filter(|r| r.dimension == dimension)
        .collect();
    // One target or one variant says nothing a chart would show; one model still does.
    if rows.is_empty() || (rows.len() == 1 && dimension != Dimension::Model) {
        return None;
    }
    let groups: Vec<String> = rows
        .iter()
        .map(|r| format!("{}\n{} of {}", r.value, r.rate.successes, r.rate.trials))
        .collect();
    let series = BarSeries {
        name: "success rate".into(),
        values: rows.iter().map(|r| Some(r.rate.rate * 100.0)).collect(),
        intervals: Some(
            rows.iter()
                .map(|r| (r.rate.low * 100.0, r.rate.high * 100.0))
                .collect(),
        ),
    };
    let name = dimension.as_str();
    Some(Chart {
        file: format!("success_by_{name}.svg"),
        caption: format!("Success rate per {name}, with 95% Wilson intervals"),
        svg: grouped_bars(
            &format!("Success rate per {name} (95% CI)"),
            "success %",
            &groups,
            &[series],
            Some(100.0),
        ),
    })
}

fn attempts_chart(report: &Report) -> Option<Chart> {
    let max_attempt = report.attempts.iter().map(|a| a.attempt).max()?;
    let mut models: Vec<&str> = report.attempts.iter().map(|a| a.model.as_str()).collect();
    models.dedup();
    let groups: Vec<String> = (1..=max_attempt).map(|a| format!("attempt {a}")).collect();
    let series: Vec<BarSeries> = models
        .iter()
        .map(|m| BarSeries {
            name: (*m).to_owned(),
            values: (1..=max_attempt)
                .map(|a| {
                    Some(
                        report
                            .attempts
                            .iter()
                            .find(|x| x.model == *m && x.attempt == a)
                            .map_or(0.0, |x| x.successes as f64),
                    )
                })
                .collect(),
            intervals: None,
        })
        .collect();
    Some(Chart {
        file: "attempts_to_success.svg".into(),
        caption: "Attempt at which successful sessions succeeded, per model".into(),
        svg: grouped_bars(
            "Attempt at which sessions succeeded",
            "successful sessions",
            &groups,
            &series,
            None,
        ),
    })
}

/// What a per-outcome chart shows of a cost row: (success, failure).
type Pick = fn(&CostRow) -> (Option<f64>, Option<f64>);

fn outcome_charts(report: &Report) -> Vec<Chart> {
    let variants = report
        .costs
        .iter()
        .filter(|c| c.dimension == Dimension::Variant)
        .count();
    let dimension = if variants > 1 {
        Dimension::Variant
    } else {
        Dimension::Model
    };
    let rows: Vec<&CostRow> = report
        .costs
        .iter()
        .filter(|c| c.dimension == dimension)
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    let groups: Vec<String> = rows
        .iter()
        .map(|c| format!("{}\n{} ok, {} failed", c.value, c.successes, c.failures))
        .collect();
    let specs: [(&str, &str, &str, Pick); 4] = [
        ("tokens", "Mean LLM tokens per session", "tokens", |c| {
            (c.tokens_success, c.tokens_failure)
        }),
        ("time", "Mean wall time per session", "seconds", |c| {
            (c.seconds_success, c.seconds_failure)
        }),
        (
            "llm_calls",
            "Mean LLM calls per session",
            "LLM calls",
            |c| (c.llm_calls_success, c.llm_calls_failure),
        ),
        ("cost", "Mean cost per session", "USD", |c| {
            (c.cost_success, c.cost_failure)
        }),
    ];
    let mut charts = Vec::new();
    for (key, title, unit, pick) in specs {
        let values: Vec<(Option<f64>, Option<f64>)> = rows.iter().map(|c| pick(c)).collect();
        // Unknown everywhere (legacy logs record no tokens or prices): no chart, the tables
        // say `—`.
        if values.iter().all(|(a, b)| a.is_none() && b.is_none()) {
            continue;
        }
        let series = vec![
            BarSeries {
                name: "success".into(),
                values: values.iter().map(|v| v.0).collect(),
                intervals: None,
            },
            BarSeries {
                name: "failure".into(),
                values: values.iter().map(|v| v.1).collect(),
                intervals: None,
            },
        ];
        let by = dimension.as_str();
        charts.push(Chart {
            file: format!("{key}_per_outcome.svg"),
            caption: format!("{title}, successes vs failures, per {by}"),
            svg: grouped_bars(&format!("{title}, per {by}"), unit, &groups, &series, None),
        });
    }
    charts
}

fn pareto_chart(input: &ReportInput, report: &Report) -> Option<Chart> {
    let panels: Vec<ParetoPanel> = report
        .models
        .iter()
        .filter_map(|m| {
            let bars: Vec<(String, f64)> = report
                .categories
                .iter()
                .filter(|c| c.model == m.model)
                .map(|c| (c.category.clone(), c.per_session))
                .collect();
            (!bars.is_empty()).then(|| ParetoPanel {
                title: format!("{} ({} sessions)", m.model, m.sessions),
                bars,
            })
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    Some(Chart {
        file: "failure_pareto.svg".into(),
        caption: format!(
            "Failure categories per model ({} taxonomy): {} per session, most frequent first, with the cumulative share",
            input.taxonomy,
            input.unit_noun()
        ),
        svg: pareto_panels(
            &format!("Failure categories per model ({} taxonomy)", input.taxonomy),
            &format!("{} per session", input.unit_noun()),
            &panels,
        ),
    })
}

fn charts(input: &ReportInput, report: &Report) -> Vec<Chart> {
    let mut charts: Vec<Chart> = Dimension::ALL
        .iter()
        .filter_map(|d| success_chart(report, *d))
        .collect();
    charts.extend(attempts_chart(report));
    charts.extend(outcome_charts(report));
    charts.extend(pareto_chart(input, report));
    charts
}

/// A warning paragraph when any session's answers were not live model output (hand-written
/// or replayed): their outcomes say nothing about a model.
fn not_live_note(md: &mut String, report: &Report) {
    if report.not_live.is_empty() {
        return;
    }
    let parts: Vec<String> = report
        .not_live
        .iter()
        .map(|k| {
            format!(
                "{} with {} answers ({})",
                k.sessions,
                k.answers,
                md_cell(&k.model)
            )
        })
        .collect();
    let _ = writeln!(
        md,
        "NOT LIVE MODEL OUTPUT: of {} sessions, {}; their outcomes say nothing about a model.\n",
        report.sessions,
        parts.join(", ")
    );
}

fn render_markdown(input: &ReportInput, report: &Report, charts: &[Chart]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", input.title);
    let _ = writeln!(
        md,
        "{} sessions, {} succeeded; {} {} ({} taxonomy).\n",
        report.sessions,
        report.successes,
        input.failure_count(),
        input.unit_noun(),
        input.taxonomy
    );
    not_live_note(&mut md, report);
    let models: Vec<&str> = report.models.iter().map(|m| m.model.as_str()).collect();

    // Outcomes per model.
    let outcomes = &report.outcomes;
    let _ = write!(md, "## Session outcomes\n\n| model | sessions |");
    for o in outcomes {
        let _ = write!(md, " {o} |");
    }
    md.push_str("\n|---|---:|");
    md.push_str(&"---:|".repeat(outcomes.len()));
    md.push('\n');
    let mut row = |label: &str, filter: &dyn Fn(&str) -> bool| {
        let total: u64 = report
            .model_outcomes
            .iter()
            .filter(|r| filter(&r.model))
            .map(|r| r.sessions)
            .sum();
        let _ = write!(md, "| {} | {total} |", md_cell(label));
        for o in outcomes {
            let n: u64 = report
                .model_outcomes
                .iter()
                .filter(|r| filter(&r.model) && r.outcome == *o)
                .map(|r| r.sessions)
                .sum();
            let _ = write!(md, " {n} |");
        }
        md.push('\n');
    };
    for m in &models {
        row(m, &|x| x == *m);
    }
    if models.len() > 1 {
        row("all", &|_| true);
    }

    let _ = writeln!(
        md,
        "\n## Success rate (95% Wilson interval)\n\n| by | value | sessions | successes | rate | 95% CI |\n|---|---|---:|---:|---:|---|"
    );
    for r in &report.rates {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.dimension.as_str(),
            md_cell(&r.value),
            r.rate.trials,
            r.rate.successes,
            r.rate.percent(),
            r.rate.interval_percent()
        );
    }
    if !report.stages.is_empty() {
        let _ = writeln!(
            md,
            "\n## Per stage\n\nLifecycle stages (data processing, model conversion, sketch generation), as in the first paper's table: success with its 95% Wilson interval; wall time per session (mean / median / max / min); mean tokens (in / out) and cost per session; `—`: not recorded.\n\n| stage | model | sessions | success | 95% CI | s mean / med / max / min | tokens in / out | $ mean |\n|---|---|---:|---:|---|---|---|---:|"
        );
        for r in &report.stages {
            let [mean, median, max, min] = r.seconds;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {mean:.1} / {median:.1} / {max:.1} / {min:.1} | {} / {} | {} |",
                md_cell(&r.stage),
                md_cell(&r.model),
                r.rate.trials,
                r.rate.percent(),
                r.rate.interval_percent(),
                fmt_opt(r.input_tokens, 0),
                fmt_opt(r.output_tokens, 0),
                fmt_opt(r.cost_usd, 4)
            );
        }
    }
    let _ = writeln!(
        md,
        "\n## Attempts to success\n\n| model | attempt | successes |\n|---|---:|---:|"
    );
    for a in &report.attempts {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            md_cell(&a.model),
            a.attempt,
            a.successes
        );
    }
    let _ = writeln!(
        md,
        "\n## Tokens, time and cost per success and per failure\n\nMeans per session; `—`: not recorded (legacy logs record no tokens or prices) or no such session.\n\n| by | value | ok | failed | tokens ok | tokens failed | s ok | s failed | calls ok | calls failed | $ ok | $ failed | $ per success |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &report.costs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.dimension.as_str(),
            md_cell(&c.value),
            c.successes,
            c.failures,
            fmt_opt(c.tokens_success, 0),
            fmt_opt(c.tokens_failure, 0),
            fmt_opt(c.seconds_success, 1),
            fmt_opt(c.seconds_failure, 1),
            fmt_opt(c.llm_calls_success, 1),
            fmt_opt(c.llm_calls_failure, 1),
            fmt_opt(c.cost_success, 4),
            fmt_opt(c.cost_failure, 4),
            fmt_opt(c.cost_per_success, 4)
        );
    }

    // The taxonomy table: every category of the taxonomy, in its order, counts per model.
    let _ = write!(
        md,
        "\n## Failure taxonomy ({} taxonomy)\n\nCounted in {} per category and model (per session in parentheses).\n\n| group | category |",
        input.taxonomy,
        input.unit_noun()
    );
    for m in &models {
        let _ = write!(md, " {} |", md_cell(m));
    }
    md.push_str(" total |\n|---|---|");
    md.push_str(&"---:|".repeat(models.len() + 1));
    md.push('\n');
    let mut totals = vec![0u64; models.len()];
    for (group, categories) in &report.taxonomy_order {
        for category in categories {
            let _ = write!(md, "| {} | {} |", md_cell(group), md_cell(category));
            let mut total = 0;
            for (i, m) in models.iter().enumerate() {
                let found = report
                    .categories
                    .iter()
                    .find(|c| c.model == *m && c.group == *group && c.category == *category);
                match found {
                    Some(c) => {
                        let _ = write!(md, " {} ({:.2}) |", c.count, c.per_session);
                        total += c.count;
                        totals[i] += c.count;
                    }
                    None => md.push_str(" 0 |"),
                }
            }
            let _ = writeln!(md, " {total} |");
        }
    }
    md.push_str("| | **all** |");
    for t in &totals {
        let _ = write!(md, " **{t}** |");
    }
    let _ = writeln!(md, " **{}** |", totals.iter().sum::<u64>());

    let _ = writeln!(md, "\n## Charts\n");
    for chart in charts {
        let _ = writeln!(md, "![{}]({})\n", chart.caption, chart.file);
    }
    md
}

/// A tiny Markdown-to-HTML pass for the report's own Markdown (headings, tables, paragraphs,
/// images), with the charts inlined so the page is self-contained.
fn render_html(title: &str, markdown: &str, charts: &[Chart]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}td:nth-child(n+3){{text-align:right}}figure{{margin:1em 0}}svg{{max-width:100%;height:auto}}</style></head><body>\n",
        html_escape(title)
    );
    let mut in_table = false;
    for line in markdown.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                html.push_str("<table>\n");
                in_table = true;
            }
            html.push_str("<tr>");
            for cell in split_row(line) {
                let cell = md_unescape(&cell);
                let (cell, bold) = match cell.strip_prefix("**").and_then(|c| c.strip_suffix("**"))
                {
                    Some(inner) => (inner.to_owned(), true),
                    None => (cell, false),
                };
                let body = html_escape(&cell);
                if bold {
                    let _ = write!(html, "<{tag}><b>{body}</b></{tag}>");
                } else {
                    let _ = write!(html, "<{tag}>{body}</{tag}>");
                }
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
                .rsplit_once("](")
                .map_or("", |(_, f)| f.trim_end_matches(')'));
            if let Some(chart) = charts.iter().find(|c| c.file == file) {
                let body = chart
                    .svg
                    .find("<svg")
                    .map_or(chart.svg.as_str(), |i| &chart.svg[i..]);
                let _ = writeln!(
                    html,
                    "<figure>{body}<figcaption>{}</figcaption></figure>",
                    html_escape(&chart.caption)
                );
            }
        } else if !line.trim().is_empty() {
            let _ = writeln!(html, "<p>{}</p>", html_escape(&line.replace('`', "")));
        }
    }
    if in_table {
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// The cells of a Markdown table row, honouring `\|` inside cells.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(s) = cells.last_mut() {
                    s.push_str("\\|");
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(s) = cells.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

#[cfg(test)]
mod escape_tests {
    use super::{md_cell, md_unescape, split_row};
    use crate::table::csv_table;

    #[test]
    fn model_names_carry_no_html_into_markdown_and_no_formulas_into_csv() {
        let name = r"<img src=x onerror=alert(1)>|a\b&c";
        let cell = md_cell(name);
        // Every `<` is escaped, so Markdown renders it as text, not as a tag.
        assert!(!cell.replace("\\<", "").contains('<'), "{cell}");
        let row = format!("| {cell} | 3 |");
        assert_eq!(md_unescape(&split_row(&row)[0]), name);
        let csv = |text: &str| csv_table(&["h"], [vec![super::csv_text(text)]]);
        assert_eq!(csv("=1+1"), "h\n'=1+1\n");
        assert_eq!(csv("@x,y"), "h\n\"'@x,y\"\n");
        assert_eq!(csv("gpt-4o"), "h\ngpt-4o\n");
    }
}
