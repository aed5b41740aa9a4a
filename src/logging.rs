//! Installs the one tracing subscriber of the process, once, before any command runs: human
//! messages on stderr (their level from -v/-q or RUST_LOG, colour unless NO_COLOR or not a
//! terminal) and two empty slots that commands running sessions fill with
//! [`attach_sessions`]: the JSONL session-trace layer and the progress lines.

use std::io::IsTerminal;
use std::sync::OnceLock;

use autopilot_trace::JsonlLayer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use crate::progress::ProgressLayer;

/// Fills the session slots of the installed subscriber (set by [`install`]).
type AttachSessions = Box<dyn Fn(JsonlLayer, bool) + Send + Sync>;

static ATTACH: OnceLock<AttachSessions> = OnceLock::new();

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

/// Installs the subscriber of the process; called once, by `commands::run`.
pub fn install(global: &GlobalArgs) {
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .fmt_fields(crate::terminal::log_fields())
        .with_ansi(stderr_color())
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter(global));
    // Empty until a command knows its run directory (after its settings are resolved, whose
    // warnings the console layer shows already).
    let (sessions, sessions_slot) = reload::Layer::new(None::<JsonlLayer>);
    let (progress, progress_slot) = reload::Layer::new(None::<ProgressLayer>);
    let installed = tracing_subscriber::registry()
        .with(console)
        .with(sessions)
        .with(progress)
        .try_init();
    if installed.is_err() {
        return;
    }
    let quiet = global.quiet;
    let _ = ATTACH.set(Box::new(move |layer, progress| {
        let _ = sessions_slot.reload(Some(layer));
        if progress && quiet == 0 {
            let _ = progress_slot.reload(Some(ProgressLayer::stderr()));
        }
    }));
}

/// Routes the events of session spans to `layer` (their JSONL files) from now on and, when
/// `progress` is set and not quieted, shows a line on stderr per session step
/// ([`ProgressLayer`]).
pub fn attach_sessions(layer: JsonlLayer, progress: bool) {
    if let Some(attach) = ATTACH.get() {
        attach(layer, progress);
    }
}
