//! Reading runs into report rows: every session of trace files, run directories and legacy
//! logs (imported in memory), with its failures labelled by a taxonomy or, for legacy logs, by
//! the published classifier.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use autopilot_trace::{
    AnswerSource, Event, LlmCallResult, SessionOutcome, Stage, TraceOrigin, parse_timestamp,
};

use autopilot_classifier::legacy::LegacyCategory;
use autopilot_classifier::{
    ClassifiedSession, ClassifyError, ClassifyOptions, Taxonomy, Unit, collect_inputs,
    import_inputs, legacy_classify_inputs, map_classified_inputs, parse_header, provider_and_model,
};

use crate::model::{ReportFailure, ReportInput, ReportSession};

/// Which labels a report counts.
#[derive(Debug, Clone, Copy)]
pub enum ReportTaxonomy<'t> {
    /// A taxonomy (the built-in default or a file); `name` is what the report calls it.
    Taxonomy {
        taxonomy: &'t Taxonomy,
        name: &'t str,
        /// What the failure counts count.
        unit: Unit,
    },
    /// The published classifier, entry by entry, as the paper counted (legacy logs only).
    Legacy,
}

/// The group the report puts the published classifier's categories in (it has no groups).
pub const LEGACY_GROUP: &str = "published classifier";

/// Reads every session of `paths` (trace files, run directories, legacy logs or folders of
/// them) into report rows, with the failures `taxonomy` finds. Sessions keep input order.
pub fn load_report_input(
    paths: &[PathBuf],
    taxonomy: ReportTaxonomy<'_>,
    options: &ClassifyOptions,
) -> Result<ReportInput, ClassifyError> {
    let inputs = collect_inputs(paths)?;
    // (model, group, category) → failures.
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut input = ReportInput {
        title: "autopilot report".to_owned(),
        ..ReportInput::default()
    };
    match taxonomy {
        ReportTaxonomy::Taxonomy {
            taxonomy,
            name,
            unit,
        } => {
            name.clone_into(&mut input.taxonomy);
            input.unit = Some(unit);
            input.taxonomy_order = taxonomy
                .groups
                .iter()
                .map(|g| {
                    let categories = taxonomy
                        .categories
                        .iter()
                        .filter(|c| c.group == g.name)
                        .map(|c| c.name.clone())
                        .collect();
                    (g.name.clone(), categories)
                })
                .collect();
            let ungrouped: Vec<String> = taxonomy
                .categories
                .iter()
                .filter(|c| !taxonomy.groups.iter().any(|g| g.name == c.group))
                .map(|c| c.name.clone())
                .collect();
            if !ungrouped.is_empty() {
                input.taxonomy_order.push((String::new(), ungrouped));
            }
            map_classified_inputs(
                &inputs,
                taxonomy,
                options,
                |session, events, classified| {
                    (
                        report_session(session, events),
                        label_counts(&classified, unit),
                    )
                },
                |(session, failures)| {
                    for (group, category, n) in failures {
                        *counts
                            .entry((session.model.clone(), group, category))
                            .or_default() += n;
                    }
                    input.sessions.push(session);
                    Ok(())
                },
            )?;
        }
        ReportTaxonomy::Legacy => {
            "legacy".clone_into(&mut input.taxonomy);
            input.taxonomy_order = vec![(
                LEGACY_GROUP.to_owned(),
                LegacyCategory::ALL
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect(),
            )];
            // The model of each log, for an entry whose line names none.
            let mut file_models: HashMap<String, String> = HashMap::new();
            import_inputs(&inputs, options, |session| {
                let events: Vec<(&str, &Event)> = session
                    .events
                    .iter()
                    .map(|e| (e.ts.as_str(), &e.event))
                    .collect();
                let row = report_session(session.id.as_str(), &events);
                file_models
                    .entry(session.file.clone())
                    .or_insert_with(|| row.model.clone());
                input.sessions.push(row);
                Ok(())
            })?;
            legacy_classify_inputs(&inputs, options, |record| {
                let Some(category) = record.category else {
                    return Ok(());
                };
                let model = parse_header(&record.entry.message)
                    .filter(|h| !h.model.is_empty())
                    .map(|h| provider_and_model(h.model).1)
                    .or_else(|| file_models.get(&record.file).cloned())
                    .unwrap_or_else(|| "unknown".to_owned());
                *counts
                    .entry((model, LEGACY_GROUP.to_owned(), category.name().to_owned()))
                    .or_default() += 1;
                Ok(())
            })?;
        }
    }
    input.failures = counts
        .into_iter()
        .map(|((model, group, category), count)| ReportFailure {
            model,
            group,
            category,
            count,
        })
        .collect();
    Ok(input)
}

/// A session's failures counted per (group, category) in `unit`, in order of first appearance.
fn label_counts(session: &ClassifiedSession, unit: Unit) -> Vec<(String, String, u64)> {
    let mut counts: Vec<(String, String, u64)> = Vec::new();
    for record in unit.counted(&session.records) {
        let label = &record.label;
        match counts
            .iter_mut()
            .find(|(g, c, _)| *g == label.group && *c == label.category)
        {
            Some((_, _, n)) => *n += 1,
            None => counts.push((label.group.clone(), label.category.clone(), 1)),
        }
    }
    counts
}

/// One session's report row from its events (with their timestamps), in trace order. Counts
/// come from `session_finished` when the session has one, else from the events; a session
/// without it is `truncated` when imported from a legacy log (the log stops inside it) and
/// `unfinished` otherwise.
pub fn report_session(session: &str, events: &[(&str, &Event)]) -> ReportSession {
    let mut row = ReportSession {
        session: session.to_owned(),
        model: String::new(),
        provider: String::new(),
        answers: "none".to_owned(),
        target: String::new(),
        variant: String::new(),
        stage: "sg".to_owned(),
        pipeline: String::new(),
        outcome: "unfinished".to_owned(),
        success_attempt: None,
        attempts: 0,
        llm_calls: 0,
        input_tokens: None,
        output_tokens: None,
        wall_ms: 0,
        cost_usd: None,
    };
    let mut legacy = false;
    let mut finished = None;
    let (mut input_tokens, mut output_tokens) = (None::<u64>, None::<u64>);
    let mut cost = Some(0.0);
    let (mut live, mut replayed) = (0u32, 0u32);
    for (_, event) in events {
        match event {
            Event::SessionStarted(started) => {
                row.model.clone_from(&started.model);
                row.provider.clone_from(&started.provider);
                // The replay backend's names (`demo-answers`) are no models: say so.
                if started.provider == "replay" {
                    row.model = format!("replay:{}", started.model);
                }
                row.target.clone_from(&started.target);
                row.variant.clone_from(&started.prompt_variant);
                legacy = matches!(started.origin, TraceOrigin::LegacyImport { .. });
            }
            Event::LlmCall(call) => {
                row.llm_calls += 1;
                match call.source {
                    AnswerSource::Live => live += 1,
                    AnswerSource::Replay => replayed += 1,
                }
                if call.stage == Stage::Sketch {
                    row.attempts = row.attempts.max(call.attempt);
                }
                if let LlmCallResult::Answered(answer) = &call.result {
                    if let Some(n) = answer.usage.input {
                        *input_tokens.get_or_insert(0) += n;
                    }
                    if let Some(n) = answer.usage.output {
                        *output_tokens.get_or_insert(0) += n;
                    }
                }
                cost = cost.zip(call.cost_usd).map(|(a, b)| a + b);
            }
            Event::AttemptFinished(attempt) if attempt.stage == Stage::Sketch => {
                row.attempts = row.attempts.max(attempt.attempt);
            }
            Event::PipelineStageStarted(started) => {
                started.stage.as_str().clone_into(&mut row.stage);
                row.pipeline.clone_from(&started.pipeline);
            }
            Event::SessionFinished(f) => finished = Some(f),
            _ => {}
        }
    }
    match (live, replayed) {
        (0, 0) => "none",
        // The replay provider serves scripted answers (a demo or `--answers` file).
        _ if row.provider == "replay" => "hand-written",
        (_, 0) => "live",
        (0, _) => "replayed",
        _ => "mixed",
    }
    .clone_into(&mut row.answers);
    if let Some(f) = finished {
        f.outcome.as_str().clone_into(&mut row.outcome);
        if let SessionOutcome::Success { attempt } = f.outcome {
            row.success_attempt = Some(attempt);
        }
        row.attempts = row.attempts.max(f.totals.attempts);
        row.llm_calls = row.llm_calls.max(f.totals.llm_calls);
        // The totals count what the calls reported; unknown stays unknown.
        row.input_tokens = input_tokens.map(|n| n.max(f.totals.input_tokens.unwrap_or(0)));
        row.output_tokens = output_tokens.map(|n| n.max(f.totals.output_tokens.unwrap_or(0)));
        row.wall_ms = f.totals.wall_ms;
        row.cost_usd = f.totals.cost_usd;
    } else {
        if legacy {
            "truncated".clone_into(&mut row.outcome);
        }
        row.input_tokens = input_tokens;
        row.output_tokens = output_tokens;
        let first = events.first().and_then(|(ts, _)| parse_timestamp(ts));
        let last = events.last().and_then(|(ts, _)| parse_timestamp(ts));
        if let (Some(a), Some(b)) = (first, last) {
            row.wall_ms = u64::try_from(b.duration_since(a).as_millis()).unwrap_or(0);
        }
        row.cost_usd = cost.filter(|_| row.llm_calls > 0);
    }
    row
}
