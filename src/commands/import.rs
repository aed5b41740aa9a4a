//! `autopilot import`: the original system's text logs to session traces, one file per session
//! under `<out>/sessions/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use anyhow::Context;
use autopilot_classifier::{ClassifyError, ImportRow, collect_inputs, import_inputs};

use super::classify::{csv_field, finish, options};
use crate::cli::{ImportArgs, ImportFormat};
use crate::exit::{CliResult, ExitStatus, WithStatus};

/// Sessions per outcome for one log.
type OutcomeCounts = BTreeMap<&'static str, u64>;

const OUTCOMES: [&str; 5] = [
    "success",
    "exhausted",
    "aborted",
    "infrastructure_error",
    "truncated",
];

pub fn run(args: &ImportArgs) -> CliResult<ExitStatus> {
    let inputs = collect_inputs(&args.paths).input_error()?;
    fs_err::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))
        .input_error()?;
    let mut out = BufWriter::new(match args.format {
        ImportFormat::Csv => crate::terminal::stdout_data(),
        ImportFormat::Table => crate::terminal::stdout_human(),
    });
    if args.format == ImportFormat::Csv {
        writeln!(out, "{}", ImportRow::CSV_HEADER).input_error()?;
    }
    let mut per_file: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
    let mut sessions = 0u64;
    let result = import_inputs(&inputs, &options(args.jobs), |session| {
        session.write_to_run_dir(&args.out, args.force)?;
        sessions += 1;
        let row = session.row();
        *per_file
            .entry(row.file.clone())
            .or_default()
            .entry(row.outcome)
            .or_default() += 1;
        if args.format == ImportFormat::Csv {
            write_row(&mut out, &row).map_err(ClassifyError::Output)?;
        }
        Ok(())
    });
    finish(result)?;
    if args.format == ImportFormat::Table {
        out.write_all(render(&per_file).as_bytes()).input_error()?;
    }
    let _ = out.flush();
    let mut stderr = crate::terminal::stderr();
    let _ = writeln!(
        stderr,
        "imported {sessions} session(s) into {}",
        args.out.join("sessions").display()
    );
    Ok(ExitStatus::Success)
}

fn write_row(out: &mut impl Write, row: &ImportRow) -> std::io::Result<()> {
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{}",
        csv_field(&row.file),
        csv_field(&row.model),
        csv_field(&row.batch),
        csv_field(&row.session),
        row.outcome,
        row.attempts,
        row.success_attempt
            .map(|a| a.to_string())
            .unwrap_or_default(),
        row.compile_attempts,
        row.llm_calls,
        row.start,
        row.end,
    )
}

/// Sessions per log and outcome.
fn render(per_file: &BTreeMap<String, OutcomeCounts>) -> String {
    let mut out = String::new();
    let mut header = format!("{:<36} {:>8}", "file", "sessions");
    for outcome in OUTCOMES {
        let _ = write!(header, " {outcome:>w$}", w = outcome.len().max(7));
    }
    let _ = writeln!(out, "{header}");
    let mut total = OutcomeCounts::new();
    let mut row = |name: &str, counts: &OutcomeCounts| {
        let sessions: u64 = counts.values().sum();
        let mut line = format!("{name:<36} {sessions:>8}");
        for outcome in OUTCOMES {
            let n = counts.get(outcome).copied().unwrap_or(0);
            let _ = write!(line, " {n:>w$}", w = outcome.len().max(7));
        }
        let _ = writeln!(out, "{line}");
    };
    for (file, counts) in per_file {
        row(file, counts);
        for (outcome, n) in counts {
            *total.entry(outcome).or_default() += n;
        }
    }
    row("total", &total);
    out
}
