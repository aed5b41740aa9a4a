//! `autopilot targets [name]`: the board definitions, as a table or one in detail.

use std::io::Write;

use autopilot_toolchain::Target;

use crate::cli::{Format, TargetsArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

pub fn run(args: &TargetsArgs) -> CliResult<ExitStatus> {
    let targets = crate::settings::targets(&args.targets)?;
    let selected: Vec<&Target> = match &args.name {
        Some(name) => vec![targets.get(name).input_error()?],
        None => targets.iter().collect(),
    };
    let mut stdout = match args.format {
        Format::Json => crate::terminal::stdout_data(),
        Format::Human => crate::terminal::stdout_human(),
    };
    match (args.format, &args.name) {
        (Format::Json, Some(_)) => {
            serde_json::to_writer_pretty(&mut stdout, selected[0]).output_error()?;
        }
        (Format::Json, None) => {
            serde_json::to_writer_pretty(&mut stdout, &selected).output_error()?;
        }
        (Format::Human, Some(_)) => stdout
            .write_all(render_one(selected[0]).as_bytes())
            .output_error()?,
        (Format::Human, None) => stdout
            .write_all(render_table(&selected).as_bytes())
            .output_error()?,
    }
    if args.format == Format::Json {
        writeln!(stdout).output_error()?;
    }
    Ok(ExitStatus::Success)
}

fn tinyml(target: &Target) -> String {
    target.tinyml.as_ref().map_or_else(
        || "-".to_owned(),
        |t| format!("{} {}", t.library, t.version),
    )
}

fn render_table(targets: &[&Target]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<26} {:<32} {:<16} {:>9} {:>8}  TINYML",
        "NAME", "BOARD", "FQBN", "BACKEND", "FLASH", "RAM"
    );
    for t in targets {
        let _ = writeln!(
            out,
            "{:<16} {:<26} {:<32} {:<16} {:>9} {:>8}  {}",
            t.name,
            t.display_name,
            t.fqbn,
            t.backend.as_str(),
            t.flash_bytes,
            t.ram_bytes,
            tinyml(t)
        );
    }
    out
}

fn render_one(t: &Target) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "name        {}", t.name);
    let _ = writeln!(out, "board       {}", t.display_name);
    let _ = writeln!(out, "fqbn        {}", t.fqbn);
    let _ = writeln!(out, "core        {}", t.core);
    let _ = writeln!(out, "flash       {} bytes", t.flash_bytes);
    let _ = writeln!(out, "ram         {} bytes", t.ram_bytes);
    let _ = writeln!(out, "serial      {} baud", t.serial_baud);
    let _ = writeln!(out, "backend     {}", t.backend.as_str());
    let _ = writeln!(out, "tinyml      {}", tinyml(t));
    match &t.simulator {
        Some(s) => {
            let _ = writeln!(out, "simulator   {} -m {} -f {}", s.kind, s.mcu, s.clock_hz);
        }
        None => {
            let _ = writeln!(out, "simulator   -");
        }
    }
    if !t.sensors.is_empty() {
        let _ = writeln!(out, "sensors");
        for s in &t.sensors {
            let library = match (&s.library, &s.version) {
                (Some(library), Some(version)) => format!("{library} {version}"),
                (Some(library), None) => library.clone(),
                (None, _) => "with the core".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<10} {:<44} {:<28} {}",
                s.chip,
                s.kinds.join(", "),
                library,
                s.header
            );
        }
    }
    if !t.notes.is_empty() {
        let _ = writeln!(out, "notes       {}", t.notes);
    }
    out
}
