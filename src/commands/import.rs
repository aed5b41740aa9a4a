//! `autopilot import`: the original system's text logs to session traces, one file per session
//! under `<out>/sessions/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use anyhow::Context;
use autopilot_classifier::{ImportRow, StagedImport, collect_inputs, import_inputs};

use super::classify::options;
use crate::cli::{ImportArgs, ImportFormat};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};
use autopilot_report::{spreadsheet_safe as safe, write_csv_row};

/// Sessions per outcome for one log.
type OutcomeCounts = BTreeMap<&'static str, u64>;

const OUTCOMES: [&str; 5] = [
    "success",
    "exhausted",
    "aborted",
    "infrastructure_error",
    "truncated",
];

/// Writes every session first (staged, then moved into place all at once) and prints only
/// then: a failure part-way leaves the run directory as it was and exits non-zero, and a
/// closed stdout (`| head`) cannot cut an import short.
pub fn run(args: &ImportArgs) -> CliResult<ExitStatus> {
    let inputs = collect_inputs(&args.paths).input_error()?;
    fs_err::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))
        .input_error()?;
    let mut staged = StagedImport::new(&args.out, args.force).input_error()?;
    let mut rows: Vec<ImportRow> = Vec::new();
    let result = import_inputs(&inputs, &options(args.jobs), |session| {
        staged.add(&session)?;
        rows.push(session.row());
        Ok(())
    });
    result.input_error()?;
    let sessions = staged.commit().input_error()?;

    let mut per_file: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
    for row in &rows {
        *per_file
            .entry(row.file.clone())
            .or_default()
            .entry(row.outcome)
            .or_default() += 1;
    }
    let printed = print(args.format, &rows, &per_file);
    let mut stderr = crate::terminal::stderr();
    let _ = writeln!(
        stderr,
        "imported {sessions} session(s) into {}",
        args.out.join("sessions").display()
    );
    // A closed stdout (`| head`) ends quietly in `main`: the import itself is complete.
    printed.output_error()?;
    Ok(ExitStatus::Success)
}

fn print(
    format: ImportFormat,
    rows: &[ImportRow],
    per_file: &BTreeMap<String, OutcomeCounts>,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(match format {
        ImportFormat::Csv => crate::terminal::stdout_data(),
        ImportFormat::Table => crate::terminal::stdout_human(),
    });
    match format {
        ImportFormat::Csv => {
            writeln!(out, "{}", ImportRow::CSV_HEADER)?;
            for row in rows {
                write_row(&mut out, row)?;
            }
        }
        ImportFormat::Table => out.write_all(render(per_file).as_bytes())?,
    }
    out.flush()
}

fn write_row(out: &mut impl Write, row: &ImportRow) -> std::io::Result<()> {
    write_csv_row(
        out,
        [
            safe(&row.file),
            safe(&row.model),
            safe(&row.batch),
            safe(&row.session),
            row.outcome.into(),
            row.attempts.to_string().into(),
            row.success_attempt
                .map(|a| a.to_string())
                .unwrap_or_default()
                .into(),
            row.compile_attempts.to_string().into(),
            row.llm_calls.to_string().into(),
            row.start.as_str().into(),
            row.end.as_str().into(),
        ]
        .iter()
        .map(|field| field.as_bytes()),
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
