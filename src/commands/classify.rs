//! `autopilot classify`: label every failure of traces, run directories or legacy logs with the
//! default taxonomy, a taxonomy file, or the published (legacy) classifier.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use autopilot_classifier::{
    ClassifiedSession, ClassifyError, ClassifyOptions, FailureRecord, InputFile, LegacyRecord,
    LegacySummary, SessionTally, Summary, Taxonomy, Unit, collect_inputs, legacy_classify_inputs,
    map_classified_inputs, write_jsonl_records,
};
use autopilot_report::{spreadsheet_safe as safe, write_csv_row};

use crate::cli::{ClassifyArgs, ClassifyFormat};
use crate::exit::{CliError, CliResult, ErrorKind, ExitStatus, OutputError};

pub fn run(args: &ClassifyArgs) -> CliResult<ExitStatus> {
    let inputs = collect_inputs(&args.paths).input_error()?;
    let options = options(args.jobs);
    match args.taxonomy.as_str() {
        "legacy" => legacy(&inputs, options, args.format),
        "default" => {
            let taxonomy = Taxonomy::builtin().input_error()?;
            default(&inputs, &taxonomy, options, args.format, args.unit.into())
        }
        path => {
            let taxonomy = Taxonomy::load(Path::new(path)).input_error()?;
            default(&inputs, &taxonomy, options, args.format, args.unit.into())
        }
    }
}

/// Threads from `--jobs`, else one per CPU.
pub fn options(jobs: Option<usize>) -> ClassifyOptions {
    match jobs {
        Some(threads) => ClassifyOptions {
            threads: threads.max(1),
        },
        None => ClassifyOptions::default(),
    }
}

/// A failed write is an output error (a closed stdout ends quietly in `main`); other errors
/// are input errors naming the file.
pub fn finish(result: Result<(), ClassifyError>) -> CliResult<()> {
    match result {
        Err(ClassifyError::Output(err)) => Err(CliError::Output(err)),
        other => other.input_error(),
    }
}

fn default(
    inputs: &[InputFile],
    taxonomy: &Taxonomy,
    options: ClassifyOptions,
    format: ClassifyFormat,
    unit: Unit,
) -> CliResult<ExitStatus> {
    let mut out = BufWriter::with_capacity(256 * 1024, classify_stdout(format));
    let mut summary = Summary::new(taxonomy, unit);
    if format == ClassifyFormat::Csv {
        writeln!(
            out,
            "session,model,target,prompt_variant,source,stage,attempt,index,group,category,symptom,root_cause,rule,message,id,root,source_line"
        )
        .output_error()?;
    }
    // Work is done on the worker that classified a session, and only its result crosses to
    // this thread, which sums and writes in input order: for the summary formats the
    // session's tally, for the per-record formats (which print no summary) its rendered lines
    // and three counts. (Rendering here made this thread the bottleneck; sessions kept beside
    // their lines held twice the memory; sessions freed here cost a tenth more CPU.)
    let per_record = matches!(format, ClassifyFormat::Csv | ClassifyFormat::Jsonl);
    let mut counts = Counts::default();
    let result = map_classified_inputs(
        inputs,
        taxonomy,
        &options,
        |_, _, session| {
            if !per_record {
                return Ok(Classified::Tally(Summary::tally(unit, &session)));
            }
            let lines = RENDERED.with_borrow_mut(|buffer| {
                buffer.clear();
                render_records(buffer, &session, format, unit).map(|()| buffer.clone())
            })?;
            Ok(Classified::Lines {
                lines,
                counts: Counts {
                    sessions: 1,
                    failures: unit.counted(&session.records).count() as u64,
                    unreadable_lines: session.unreadable_lines as u64,
                },
            })
        },
        |classified: std::io::Result<Classified>| {
            match classified.map_err(ClassifyError::Output)? {
                Classified::Tally(tally) => summary.add_tally(tally),
                Classified::Lines { lines, counts: c } => {
                    counts.sessions += c.sessions;
                    counts.failures += c.failures;
                    counts.unreadable_lines += c.unreadable_lines;
                    out.write_all(&lines).map_err(ClassifyError::Output)?;
                }
            }
            Ok(())
        },
    );
    finish(result)?;
    summary.finish();
    write_summary(out, format, &summary, || render_summary(&summary))?;
    if !per_record {
        counts = Counts {
            sessions: summary.sessions,
            failures: summary.failures,
            unreadable_lines: summary.unreadable_lines,
        };
    }
    if counts.unreadable_lines > 0 {
        let mut stderr = crate::terminal::stderr();
        let _ = writeln!(
            stderr,
            "warning: {} trace line(s) could not be read; `autopilot trace validate` names them",
            counts.unreadable_lines
        );
    }
    tracing::info!(
        sessions = counts.sessions,
        failures = counts.failures,
        "classified"
    );
    Ok(ExitStatus::Success)
}

thread_local! {
    /// A worker's rendering buffer, reused from session to session; the lines handed on are a
    /// copy of exactly their size. (A vector grown afresh per session left freed blocks of
    /// every size behind it: a third more peak RSS in the per-record formats under mimalloc,
    /// which returns freed memory to the OS only after a delay.)
    static RENDERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What a worker hands the writing thread for one session.
enum Classified {
    /// For the summary formats: what the session adds to the summary.
    Tally(SessionTally),
    /// For the per-record formats: the session's lines and counts.
    Lines { lines: Vec<u8>, counts: Counts },
}

/// Sessions, counted failures and unreadable trace lines.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sessions: u64,
    failures: u64,
    unreadable_lines: u64,
}

/// A session's per-record lines (csv, jsonl): root records for the root unit, every record
/// otherwise; nothing for the summary formats.
fn render_records(
    out: &mut Vec<u8>,
    session: &ClassifiedSession,
    format: ClassifyFormat,
    unit: Unit,
) -> std::io::Result<()> {
    if matches!(format, ClassifyFormat::Table | ClassifyFormat::Json) {
        return Ok(());
    }
    let records = session
        .records
        .iter()
        .filter(|r| unit != Unit::Root || r.is_root());
    if format == ClassifyFormat::Jsonl {
        return Ok(write_jsonl_records(records, out)?);
    }
    for record in records {
        write_csv_record(out, record)?;
    }
    Ok(())
}

/// The summary as pretty JSON or as the human table (the per-failure formats are written
/// already), then flushed.
fn write_summary(
    mut out: impl Write,
    format: ClassifyFormat,
    summary: &impl serde::Serialize,
    table: impl FnOnce() -> String,
) -> CliResult<()> {
    match format {
        ClassifyFormat::Json => {
            serde_json::to_writer_pretty(&mut out, summary).output_error()?;
            writeln!(out).output_error()?;
        }
        ClassifyFormat::Table => out.write_all(table().as_bytes()).output_error()?,
        ClassifyFormat::Csv | ClassifyFormat::Jsonl => {}
    }
    flush(out)
}

fn flush(mut out: impl Write) -> CliResult<()> {
    out.flush().output_error()
}

fn write_csv_record(out: &mut impl Write, record: &FailureRecord) -> std::io::Result<()> {
    let info = &record.session;
    let label = &record.label;
    write_csv_row(
        out,
        [
            safe(&info.session),
            safe(&info.model),
            safe(&info.target),
            safe(&info.prompt_variant),
            record.source.as_str().into(),
            label.stage.to_string().into(),
            record.attempt.to_string().into(),
            record.index.to_string().into(),
            safe(&label.group),
            safe(&label.category),
            safe(&label.symptom),
            safe(&label.root_cause),
            safe(&label.rule),
            safe(&record.message),
            record.evidence.id.to_string().into(),
            record
                .evidence
                .root
                .map_or(String::new(), |r| r.to_string())
                .into(),
            safe(record.evidence.source_line.as_deref().unwrap_or("")),
        ]
        .iter()
        .map(|field| field.as_bytes()),
    )
}

fn percent(n: u64, total: u64) -> String {
    format!("{:.1}%", n as f64 * 100.0 / total.max(1) as f64)
}

/// The human table: categories × models, then stages, root causes and outcomes.
fn render_summary(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "taxonomy  {}", s.taxonomy);
    let outcomes: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(out, "sessions  {} ({})", s.sessions, outcomes.join(", "));
    let _ = writeln!(
        out,
        "unit      {} ({}); --unit diagnostic|root|session",
        s.unit.as_str(),
        s.unit.noun()
    );
    let _ = writeln!(
        out,
        "records   {} failure records, {} root defects, {:.1}% cascades of an earlier error",
        s.records, s.roots, s.cascade_percent
    );
    let _ = writeln!(
        out,
        "failures  {} {} (uncategorized {}, {:.2}%)",
        s.failures,
        s.unit.noun(),
        s.uncategorized,
        s.uncategorized_percent
    );
    let models: Vec<&String> = s.by_model.keys().collect();
    let _ = writeln!(out);
    let mut header = format!(
        "{:<30} {:<40} {:>8} {:>6}",
        "group",
        "category",
        s.unit.as_str(),
        "%"
    );
    for model in &models {
        let _ = write!(header, " {:>w$}", model, w = model.len().max(8));
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for c in s.categories.iter().filter(|c| c.count > 0) {
        let mut line = format!(
            "{:<30} {:<40} {:>8} {:>6}",
            c.group,
            c.category,
            c.count,
            percent(c.count, s.failures)
        );
        for model in &models {
            let n = s.by_model[*model]
                .categories
                .get(&c.category)
                .copied()
                .unwrap_or(0);
            let _ = write!(line, " {:>w$}", n, w = model.len().max(8));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let mut line = format!("{:<30} {:<40} {:>8} {:>6}", "", "sessions", s.sessions, "");
    for model in &models {
        let _ = write!(
            line,
            " {:>w$}",
            s.by_model[*model].sessions,
            w = model.len().max(8)
        );
    }
    let _ = writeln!(out, "{}", line.trim_end());
    let mut ranked = |title: &str, counts: &BTreeMap<String, u64>, total: u64| {
        let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
        rows.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        let _ = writeln!(out, "\n{title}");
        for (name, n) in rows {
            let _ = writeln!(out, "  {n:>8} {:>6}  {name}", percent(*n, total));
        }
    };
    ranked("stages", &s.by_stage, s.failures);
    ranked("symptoms", &s.by_symptom, s.failures);
    ranked("root causes", &s.by_root_cause, s.failures);
    let ended: u64 = s.final_failures.values().sum();
    ranked(
        "unsuccessful sessions, by the failure they ended on",
        &s.final_failures,
        ended,
    );
    if !s.recurring.is_empty() {
        let _ = writeln!(
            out,
            "\nrecurring root defects (sessions where it survived a repair / sessions with it, records)"
        );
        for r in &s.recurring {
            let _ = writeln!(
                out,
                "  {:>5} / {:<5} {:>6}  {}  [{}]",
                r.recurring_sessions, r.sessions, r.records, r.message, r.category
            );
        }
    }
    out
}

fn legacy(
    inputs: &[InputFile],
    options: ClassifyOptions,
    format: ClassifyFormat,
) -> CliResult<ExitStatus> {
    let mut out = BufWriter::with_capacity(256 * 1024, classify_stdout(format));
    let mut summary = LegacySummary::default();
    if format == ClassifyFormat::Csv {
        writeln!(out, "file,index,category").output_error()?;
    }
    let result = legacy_classify_inputs(inputs, &options, |record: LegacyRecord| {
        summary.add(&record);
        let (Some(index), Some(category)) = (record.entry.index, record.category) else {
            return Ok(());
        };
        match format {
            ClassifyFormat::Csv => write_csv_row(
                &mut out,
                [
                    safe(&record.file),
                    index.to_string().into(),
                    safe(category.name()),
                ]
                .iter()
                .map(|field| field.as_bytes()),
            )?,
            ClassifyFormat::Jsonl => {
                let line = serde_json::json!({
                    "file": record.file,
                    "index_in_parsed_json": record.entry.parsed_index,
                    "index_in_cleaned_json": index,
                    "timestamp": record.entry.timestamp,
                    "message": record.entry.message,
                    "category": category.name(),
                });
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
            ClassifyFormat::Table | ClassifyFormat::Json => {}
        }
        Ok(())
    });
    finish(result)?;
    write_summary(out, format, &summary, || render_legacy(&summary))?;
    Ok(ExitStatus::Success)
}

/// Counts per category, in total and per log, most frequent first.
fn render_legacy(s: &LegacySummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "taxonomy  legacy (the published jsonizer + classifier)"
    );
    let _ = writeln!(
        out,
        "entries   {} classified, {} dropped (timestamp `unknown`)",
        s.entries, s.dropped
    );
    let files: Vec<&String> = s.by_file.keys().collect();
    let _ = writeln!(out);
    let mut header = format!("{:<40} {:>7} {:>6}", "category", "entries", "%");
    for file in &files {
        let name = file.trim_end_matches(".log");
        let _ = write!(header, " {:>w$}", name, w = name.len());
    }
    let _ = writeln!(out, "{header}");
    for (category, n) in s.ranked() {
        let mut line = format!("{category:<40} {n:>7} {:>6}", percent(n, s.entries));
        for file in &files {
            let count = s.by_file[*file].get(category).copied().unwrap_or(0);
            let width = file.trim_end_matches(".log").len();
            let _ = write!(line, " {count:>width$}");
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// Standard output for a format: tables are for people, the others are data.
fn classify_stdout(
    format: ClassifyFormat,
) -> crate::terminal::SafeWriter<std::io::StdoutLock<'static>> {
    match format {
        ClassifyFormat::Table => crate::terminal::stdout_human(),
        _ => crate::terminal::stdout_data(),
    }
}
