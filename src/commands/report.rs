//! `autopilot report`: sessions of runs and legacy logs, with their classified failures, written
//! as Markdown, CSV, SVG charts and one HTML page. The work is the report crate's
//! ([`autopilot_report`]); this resolves the arguments, says what was written and
//! picks the exit code.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use autopilot_classifier::Taxonomy;
use autopilot_report::{Dimension, ReportTaxonomy, build_report, load_report_input, write_report};

use super::classify::options;
use crate::cli::ReportArgs;
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

pub fn run(args: &ReportArgs) -> CliResult<ExitStatus> {
    let loaded;
    let taxonomy = match args.taxonomy.as_str() {
        "legacy" => ReportTaxonomy::Legacy,
        "default" => {
            loaded = Taxonomy::builtin().input_error()?;
            ReportTaxonomy::Taxonomy {
                taxonomy: &loaded,
                name: "default",
                unit: args.unit.into(),
            }
        }
        path => {
            loaded = Taxonomy::load(Path::new(path)).input_error()?;
            ReportTaxonomy::Taxonomy {
                taxonomy: &loaded,
                name: path,
                unit: args.unit.into(),
            }
        }
    };
    let mut input = load_report_input(&args.paths, taxonomy, &options(args.jobs)).input_error()?;
    if input.sessions.is_empty() {
        return Err(anyhow!("no sessions found in the inputs")).input_error();
    }
    input.title = args.title.clone().unwrap_or_else(|| {
        let names: Vec<String> = args
            .paths
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
            })
            .collect();
        format!("autopilot report: {}", names.join(", "))
    });
    let report = build_report(&input);
    write_report(&report, &args.out)
        .with_context(|| format!("cannot write the report into {}", args.out.display()))
        .input_error()?;

    let mut stderr = crate::terminal::stderr();
    let successes = input.sessions.iter().filter(|s| s.succeeded()).count();
    let _ = writeln!(
        stderr,
        "{} sessions, {successes} succeeded; {} {} classified ({} taxonomy)",
        input.sessions.len(),
        input.failure_count(),
        input.unit_noun(),
        input.taxonomy
    );
    for row in report
        .rates
        .iter()
        .filter(|r| r.dimension == Dimension::Model)
    {
        let _ = writeln!(
            stderr,
            "  {:<24} {:>4}/{:<4} succeeded  {:>6}  (95% CI {})",
            row.value,
            row.rate.successes,
            row.rate.trials,
            row.rate.percent(),
            row.rate.interval_percent()
        );
    }
    let _ = writeln!(
        stderr,
        "wrote {} files; open {}",
        report.files.len(),
        args.out.join("report.html").display()
    );
    let mut stdout = crate::terminal::stdout_data();
    writeln!(stdout, "{}", args.out.display()).output_error()?;
    Ok(ExitStatus::Success)
}
