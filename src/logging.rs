//! Installs the one tracing subscriber of the process: human messages on stderr (their level
//! from -v/-q or RUST_LOG, colour unless NO_COLOR or not a terminal) and, for commands that run
//! sessions, the JSONL session-trace layer.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::GlobalArgs;

/// The stderr filter for the given verbosity, unless `RUST_LOG` is set.
fn stderr_filter(global: &GlobalArgs) -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return filter;
    }
    let level = match (global.quiet, global.verbose) {
        (q, _) if q >= 2 => "off",
        (1, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    // Trace events are data for the session files; on the console they appear from -vv on.
    let trace_level = if global.verbose >= 2 { level } else { "off" };
    EnvFilter::new(format!("{level},autopilot::trace={trace_level}"))
}

/// Whether stderr may carry ANSI colour.
pub fn stderr_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Installs the subscriber; `session_layer` is the JSONL layer of commands that run sessions.
pub fn install(global: &GlobalArgs, session_layer: Option<autopilot_trace::JsonlLayer>) {
    install_with_progress(global, session_layer, false);
}

/// Installs the subscriber with, when `progress` is set and not quieted, a line on stderr per
/// session step ([`crate::progress::ProgressLayer`]).
pub fn install_with_progress(
    global: &GlobalArgs,
    session_layer: Option<autopilot_trace::JsonlLayer>,
    progress: bool,
) {
    let progress = (progress && global.quiet == 0).then(crate::progress::ProgressLayer::stderr);
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .fmt_fields(crate::terminal::log_fields())
        .with_ansi(stderr_color())
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter(global));
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(session_layer)
        .with(progress)
        .try_init();
}
