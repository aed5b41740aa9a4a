//! Computing the report's tables from its rows, and writing its files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::{
    AttemptRow, CategoryRow, CostRow, Dimension, ModelRow, NotLiveRow, OutcomeRow, RateRow, Report,
    ReportInput, ReportSession, StageRow,
};
use crate::render::render_files;
use crate::stats::{Proportion, mean};

/// The outcomes in the order tables show them; others follow alphabetically.
const OUTCOMES: [&str; 6] = [
    "success",
    "exhausted",
    "aborted",
    "infrastructure_error",
    "truncated",
    "unfinished",
];

fn outcome_order(outcome: &str) -> (usize, &str) {
    (
        OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(OUTCOMES.len()),
        outcome,
    )
}

/// Sessions grouped by a key, keys sorted.
fn slices<'s>(
    sessions: &'s [ReportSession],
    key: impl Fn(&'s ReportSession) -> &'s str,
) -> BTreeMap<&'s str, Vec<&'s ReportSession>> {
    let mut map: BTreeMap<&str, Vec<&ReportSession>> = BTreeMap::new();
    for s in sessions {
        map.entry(key(s)).or_default().push(s);
    }
    map
}

fn cost_row(dimension: Dimension, value: &str, group: &[&ReportSession]) -> CostRow {
    let (ok, failed): (Vec<&ReportSession>, Vec<&ReportSession>) =
        group.iter().partition(|s| s.succeeded());
    let tokens = |v: &[&ReportSession]| mean(v.iter().filter_map(|s| s.tokens().map(|t| t as f64)));
    let secs = |v: &[&ReportSession]| mean(v.iter().map(|s| s.wall_ms as f64 / 1000.0));
    let calls = |v: &[&ReportSession]| mean(v.iter().map(|s| f64::from(s.llm_calls)));
    let cost = |v: &[&ReportSession]| {
        if v.iter().all(|s| s.cost_usd.is_some()) {
            mean(v.iter().filter_map(|s| s.cost_usd))
        } else {
            None
        }
    };
    let all_priced = group.iter().all(|s| s.cost_usd.is_some());
    let total_cost: f64 = group.iter().filter_map(|s| s.cost_usd).sum();
    let successes = ok.len() as u64;
    CostRow {
        dimension,
        value: value.to_owned(),
        successes,
        failures: failed.len() as u64,
        tokens_success: tokens(&ok),
        tokens_failure: tokens(&failed),
        seconds_success: secs(&ok),
        seconds_failure: secs(&failed),
        llm_calls_success: calls(&ok),
        llm_calls_failure: calls(&failed),
        cost_success: cost(&ok),
        cost_failure: cost(&failed),
        cost_per_success: (all_priced && successes > 0).then(|| total_cost / successes as f64),
    }
}

/// Computes the report's tables and renders every file.
pub fn build_report(input: &ReportInput) -> Report {
    let mut report = Report::default();
    for dimension in Dimension::ALL {
        for (value, group) in slices(&input.sessions, |s| dimension.of(s)) {
            let successes = group.iter().filter(|s| s.succeeded()).count() as u64;
            report.rates.push(RateRow {
                dimension,
                value: value.to_owned(),
                rate: Proportion::wilson(successes, group.len() as u64),
            });
            report.costs.push(cost_row(dimension, value, &group));
        }
    }
    let by_model = slices(&input.sessions, |s| s.model.as_str());
    for (model, group) in &by_model {
        let mut at: BTreeMap<u32, u64> = BTreeMap::new();
        for s in group {
            if let (true, Some(a)) = (s.succeeded(), s.success_attempt) {
                *at.entry(a).or_default() += 1;
            }
        }
        report
            .attempts
            .extend(at.into_iter().map(|(attempt, successes)| AttemptRow {
                model: (*model).to_owned(),
                attempt,
                successes,
            }));
    }
    let mut counts: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for f in &input.failures {
        *counts.entry((&f.model, &f.group, &f.category)).or_default() += f.count;
    }
    for ((model, group, category), count) in counts {
        let sessions = by_model.get(model).map_or(0, Vec::len).max(1) as f64;
        report.categories.push(CategoryRow {
            model: model.to_owned(),
            group: group.to_owned(),
            category: category.to_owned(),
            count,
            per_session: count as f64 / sessions,
        });
    }
    report.stages = stage_rows(input);
    sessions_by_model_and_outcome(input, &mut report);
    report.taxonomy_order = taxonomy_order(input, &report.categories);
    report.files = render_files(input, &report);
    report
}

/// The per-stage table (stage, then model), when any session was a DP or MC stage: reports of
/// sketch generation alone keep their shape.
fn stage_rows(input: &ReportInput) -> Vec<StageRow> {
    if input.sessions.iter().all(|s| s.stage == "sg") {
        return Vec::new();
    }
    let order = |stage: &str| match stage {
        "dp" => 0,
        "mc" => 1,
        "sg" => 2,
        _ => 3,
    };
    let mut groups: BTreeMap<(usize, &str, &str), Vec<&ReportSession>> = BTreeMap::new();
    for s in &input.sessions {
        groups
            .entry((order(&s.stage), &s.stage, &s.model))
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|((_, stage, model), group)| {
            let successes = group.iter().filter(|s| s.succeeded()).count() as u64;
            let mut seconds: Vec<f64> = group.iter().map(|s| s.wall_ms as f64 / 1000.0).collect();
            seconds.sort_by(f64::total_cmp);
            let median = match seconds.len() {
                0 => 0.0,
                n if n % 2 == 1 => seconds[n / 2],
                n => f64::midpoint(seconds[n / 2 - 1], seconds[n / 2]),
            };
            StageRow {
                stage: stage.to_owned(),
                model: model.to_owned(),
                rate: Proportion::wilson(successes, group.len() as u64),
                seconds: [
                    mean(seconds.iter().copied()).unwrap_or(0.0),
                    median,
                    seconds.last().copied().unwrap_or(0.0),
                    seconds.first().copied().unwrap_or(0.0),
                ],
                input_tokens: mean(
                    group
                        .iter()
                        .filter_map(|s| s.input_tokens.map(|n| n as f64)),
                ),
                output_tokens: mean(
                    group
                        .iter()
                        .filter_map(|s| s.output_tokens.map(|n| n as f64)),
                ),
                cost_usd: if group.iter().all(|s| s.cost_usd.is_some()) {
                    mean(group.iter().filter_map(|s| s.cost_usd))
                } else {
                    None
                },
            }
        })
        .collect()
}

/// The session counts of the outcome and not-live tables.
fn sessions_by_model_and_outcome(input: &ReportInput, report: &mut Report) {
    report.sessions = input.sessions.len() as u64;
    report.successes = input.sessions.iter().filter(|s| s.succeeded()).count() as u64;
    report.models = slices(&input.sessions, |s| s.model.as_str())
        .into_iter()
        .map(|(model, group)| ModelRow {
            model: model.to_owned(),
            sessions: group.len() as u64,
        })
        .collect();
    let mut outcomes: Vec<&str> = input.sessions.iter().map(|s| s.outcome.as_str()).collect();
    outcomes.sort_by_key(|o| outcome_order(o));
    outcomes.dedup();
    report.outcomes = outcomes.into_iter().map(str::to_owned).collect();
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for s in &input.sessions {
        *counts
            .entry((s.model.as_str(), s.outcome.as_str()))
            .or_default() += 1;
    }
    report.model_outcomes = counts
        .into_iter()
        .map(|((model, outcome), sessions)| OutcomeRow {
            model: model.to_owned(),
            outcome: outcome.to_owned(),
            sessions,
        })
        .collect();
    let mut kinds: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for s in input.sessions.iter().filter(|s| s.not_live()) {
        *kinds
            .entry((s.answers.as_str(), s.model.as_str()))
            .or_default() += 1;
    }
    report.not_live = kinds
        .into_iter()
        .map(|((answers, model), sessions)| NotLiveRow {
            answers: answers.to_owned(),
            model: model.to_owned(),
            sessions,
        })
        .collect();
}

/// The taxonomy's order with every counted category placed: a category the taxonomy does not
/// list joins its group, a group it does not list comes last.
fn taxonomy_order(input: &ReportInput, categories: &[CategoryRow]) -> Vec<(String, Vec<String>)> {
    let mut order = input.taxonomy_order.clone();
    for c in categories {
        match order.iter_mut().find(|(g, _)| *g == c.group) {
            Some((_, cats)) if !cats.contains(&c.category) => cats.push(c.category.clone()),
            Some(_) => {}
            None => order.push((c.group.clone(), vec![c.category.clone()])),
        }
    }
    order
}

/// The file that marks a folder as written by [`write_report`].
pub const REPORT_MARKER: &str = ".autopilot-report";

/// Writes the report's files into `dir` (created if needed). Refuses a non-empty folder that
/// does not hold an earlier report, so nothing a user made is overwritten; in an earlier
/// report's folder, files that report wrote and this one does not are removed, so no stale
/// chart stays behind.
pub fn write_report(report: &Report, dir: &Path) -> std::io::Result<()> {
    let marker = dir.join(REPORT_MARKER);
    let earlier = if marker.exists() {
        fs_err::read_to_string(&marker)?
    } else {
        if dir.exists() && fs_err::read_dir(dir)?.next().is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not empty and holds no earlier report; choose an empty or new folder",
                    dir.display()
                ),
            ));
        }
        String::new()
    };
    fs_err::create_dir_all(dir)?;
    let mut listing = String::from("written by autopilot report; files:\n");
    for (name, _) in &report.files {
        listing.push_str(name);
        listing.push('\n');
    }
    fs_err::write(&marker, listing)?;
    for stale in earlier.lines().skip(1) {
        let is_plain_name =
            !stale.is_empty() && Path::new(stale).file_name() == Some(stale.as_ref());
        if is_plain_name && !report.files.iter().any(|(name, _)| name == stale) {
            match fs_err::remove_file(dir.join(stale)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
    }
    for (name, content) in &report.files {
        fs_err::write(dir.join(name), content)?;
    }
    Ok(())
}
