//! `autopilot trace validate|show`: check trace files and summarise a session.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use autopilot_trace::{SessionSummary, TraceFile, collect_trace_files};

use crate::cli::{Format, TraceCommand};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

pub fn run(command: &TraceCommand) -> CliResult<ExitStatus> {
    match command {
        TraceCommand::Validate { paths } => validate(paths),
        TraceCommand::Show { path, format } => show(path, *format),
    }
}

fn validate(paths: &[PathBuf]) -> CliResult<ExitStatus> {
    let mut stdout = crate::terminal::stdout_human();
    let mut files = 0usize;
    let mut invalid = 0usize;
    let mut events = 0usize;
    for path in paths {
        let found = collect_trace_files(path)
            .with_context(|| format!("cannot list {}", path.display()))
            .input_error()?;
        if found.is_empty() {
            writeln!(stdout, "{}: no trace files (*.jsonl) found", path.display())
                .output_error()?;
            invalid += 1;
        }
        for file_path in found {
            files += 1;
            let file = match TraceFile::read(&file_path) {
                Ok(file) => file,
                Err(err) => {
                    invalid += 1;
                    writeln!(stdout, "{}: cannot read: {err}", file_path.display())
                        .output_error()?;
                    continue;
                }
            };
            events += file.records.len();
            let problems = file.validate();
            if file.records.is_empty() && problems.is_empty() {
                invalid += 1;
                writeln!(stdout, "{}: empty trace", file_path.display()).output_error()?;
            }
            if !problems.is_empty() {
                invalid += 1;
            }
            for problem in problems {
                writeln!(
                    stdout,
                    "{}:{}: {}",
                    file_path.display(),
                    problem.line,
                    problem.message
                )
                .input_error()?;
            }
        }
    }
    tracing::info!(files, invalid, events, "validated");
    let mut stderr = crate::terminal::stderr();
    let _ = writeln!(
        stderr,
        "{files} trace file(s), {events} event(s), {invalid} invalid"
    );
    Ok(if invalid == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::InputError
    })
}

/// Shows one trace, or every trace of a run directory (as `validate` accepts).
fn show(path: &Path, format: Format) -> CliResult<ExitStatus> {
    let paths = collect_trace_files(path)
        .with_context(|| format!("cannot list {}", path.display()))
        .input_error()?;
    if paths.is_empty() {
        return Err(anyhow::anyhow!(
            "{}: no trace files (*.jsonl) found",
            path.display()
        ))
        .input_error();
    }
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let file = TraceFile::read(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .input_error()?;
        // Nothing readable: not a trace, and a blank summary would hide that.
        if file.records.is_empty() {
            let reason = file.problems.first().map_or_else(
                || "the file is empty".to_owned(),
                |p| format!("line {}: {}", p.line, p.message),
            );
            return Err(anyhow::anyhow!(
                "{} is not a session trace: {reason}",
                path.display()
            ))
            .input_error();
        }
        let mut stderr = crate::terminal::stderr();
        for problem in &file.problems {
            let _ = writeln!(
                stderr,
                "warning: {}:{}: {}",
                path.display(),
                problem.line,
                problem.message
            );
        }
        files.push(file);
    }
    let mut text = Vec::new();
    match format {
        Format::Json => {
            let records: Vec<_> = files
                .iter()
                .flat_map(|f| f.records.iter().map(|r| &r.record))
                .collect();
            serde_json::to_writer_pretty(&mut text, &records)
                .context("cannot encode the records as JSON")
                .internal_error()?;
            text.push(b'\n');
        }
        Format::Human => {
            for (i, file) in files.iter().enumerate() {
                if i > 0 {
                    text.push(b'\n');
                }
                let summary = SessionSummary::from_records(&file.records);
                text.extend_from_slice(render_summary(&summary).as_bytes());
            }
        }
    }
    let mut stdout = match format {
        Format::Json => crate::terminal::stdout_data(),
        Format::Human => crate::terminal::stdout_human(),
    };
    stdout
        .write_all(&text)
        .and_then(|()| stdout.flush())
        .output_error()?;
    Ok(ExitStatus::Success)
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The human summary of a session.
pub fn render_summary(s: &SessionSummary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "session   {}", s.session);
    let _ = writeln!(
        out,
        "app       {}  target {}  model {}:{}  variant {}",
        s.app, s.target, s.provider, s.model, s.prompt_variant
    );
    if let Some(file) = &s.legacy_file {
        let _ = writeln!(out, "imported  from legacy log {file}");
    }
    let outcome = match &s.outcome {
        Some(autopilot_trace::SessionOutcome::Success { attempt }) => {
            format!("success at attempt {attempt}")
        }
        Some(autopilot_trace::SessionOutcome::Exhausted { stage }) => {
            format!("exhausted ({stage} attempts used up)")
        }
        Some(autopilot_trace::SessionOutcome::Aborted { reason }) => format!("aborted: {reason}"),
        Some(autopilot_trace::SessionOutcome::InfrastructureError { kind, message }) => {
            format!("infrastructure error ({kind}): {message}")
        }
        None => "unfinished (no session_finished event)".to_owned(),
    };
    let _ = writeln!(out, "outcome   {outcome}");
    let _ = writeln!(
        out,
        "time      {} wall, {} events",
        seconds(s.wall_ms),
        s.events
    );
    let cost = s
        .cost_usd
        .map_or_else(|| "unknown".to_owned(), |c| format!("${c:.4}"));
    let tokens = |n: Option<u64>| n.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    let _ = writeln!(
        out,
        "llm       {} call(s), {} failed, {} in / {} out tokens, cost {cost}",
        s.llm_calls,
        s.llm_failures,
        tokens(s.input_tokens),
        tokens(s.output_tokens)
    );
    let _ = writeln!(
        out,
        "compile   {} run(s), {} failed, {} cache hit(s), {}, {} diagnostic(s)",
        s.compiles,
        s.compile_failures,
        s.cache_hits,
        seconds(s.compile_ms),
        s.diagnostics
    );
    if !s.stages.is_empty() {
        let _ = writeln!(out, "stages");
        for (stage, attempt, ok, ms) in &s.stages {
            let attempt = attempt.map(|a| format!(" #{a}")).unwrap_or_default();
            let verdict = if *ok { "ok" } else { "failed" };
            let _ = writeln!(out, "  {stage}{attempt:<4} {verdict:<7} {}", seconds(*ms));
        }
    }
    if !s.attempts.is_empty() {
        let _ = writeln!(out, "attempts");
        for a in &s.attempts {
            let outcome = serde_json::to_value(a.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} #{:<3} {outcome:<18} {}",
                a.stage,
                a.attempt,
                first_line(&a.message)
            );
        }
    }
    if !s.failed_checks.is_empty() {
        let _ = writeln!(out, "failed checks");
        for c in &s.failed_checks {
            let _ = writeln!(
                out,
                "  {} #{} {}: {}",
                c.stage,
                c.attempt,
                c.check,
                first_line(&c.message)
            );
        }
    }
    if !s.fallbacks.is_empty() {
        let _ = writeln!(out, "parachutes");
        for f in &s.fallbacks {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(120) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}
