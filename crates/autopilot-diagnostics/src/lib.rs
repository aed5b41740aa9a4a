//! Compiler output as data: GCC, GNU ld, arduino-builder and arduino-cli text turned into
//! `autopilot_trace::Diagnostic`s and `SizeReport`s. Pure: no I/O, no processes, no async.
//!
//! Two readers share the diagnostic shape and the helpers below, because their inputs differ:
//!
//! - [`gcc`] reads the output of a compile this machine just ran (the toolchain's backends and
//!   the host check): paths are rewritten through a [`PathMap`] the caller knows, and every line
//!   it cannot place is returned, so nothing is lost silently.
//! - [`build_log`] reads the build output recorded in the original system's logs (the legacy
//!   importer): the sketch folder is guessed from the first `.ino` path, and the size lines and
//!   the tools' status lines come back with the diagnostics. Its output is what imported traces
//!   hold, so it changes only with a changelog line of the importer.
//! - [`size`] reads the `Sketch uses … / Global variables use …` report.
//!
//! It depends on `autopilot-trace` only among the workspace crates.

pub mod build_log;
pub mod gcc;
pub mod size;

pub use build_log::{BuildOutput, parse_build_output};
pub use gcc::{ParsedDiagnostics, PathMap, parse_gcc_output, render, strip_ansi};
pub use size::{ParsedSize, parse_size_report};

use autopilot_trace::{Diagnostic, DiagnosticOrigin, Severity};

/// A diagnostic with no location, context, notes or source line yet.
fn diagnostic(severity: Severity, origin: DiagnosticOrigin, message: String) -> Diagnostic {
    Diagnostic {
        file: None,
        line: None,
        column: None,
        severity,
        message,
        origin,
        context: Vec::new(),
        notes: Vec::new(),
        source_line: None,
    }
}

/// Gives an indented source echo to the diagnostic that waits for one (`echo_for`), once: the
/// first echo after a diagnostic is its own; later ones are carets, fix-its or a note's.
fn attach_echo(diagnostics: &mut [Diagnostic], echo_for: &mut Option<usize>, line: &str) {
    // Most indented lines are carets and the rest of an echo nobody waits for: the line is
    // only read when a diagnostic waits (reading it was a twentieth of an import).
    if let Some(index) = *echo_for
        && let Some(code) = Diagnostic::source_echo(line)
    {
        *echo_for = None;
        diagnostics[index].source_line = Some(code.to_owned());
    }
}
