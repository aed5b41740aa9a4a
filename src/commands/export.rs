//! `autopilot export`, and the live OTLP export of `run` and `batch`: resolves endpoint and
//! headers, drives `autopilot-otel`, and says what was sent and what was dropped.

use std::io::Write as _;
use std::time::Duration;

use anyhow::anyhow;
use autopilot_classifier::{InputFile, collect_inputs, import_inputs};
use autopilot_otel::{ExportConfig, ExportReport, Exporter, MapOptions, map_session};
use autopilot_trace::{TraceFile, TraceRecord};

use crate::cli::{ExportArgs, GlobalArgs, OtlpArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus};

/// How long `run` and `batch` wait at the end for queued spans to reach the collector.
const LIVE_DRAIN: Duration = Duration::from_secs(5);
/// One request of live export; short, so a collector that hangs costs little.
const LIVE_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The standard variable's headers plus `extra` (`name=value`), checked.
fn headers(extra: &[String]) -> CliResult<Vec<(String, String)>> {
    let mut headers = match std::env::var("OTEL_EXPORTER_OTLP_HEADERS") {
        Ok(text) => autopilot_otel::parse_headers(&text)
            .map_err(|err| anyhow!("OTEL_EXPORTER_OTLP_HEADERS: {err}"))
            .input_error()?,
        Err(_) => Vec::new(),
    };
    for item in extra {
        headers.extend(
            autopilot_otel::parse_headers(item)
                .map_err(|err| anyhow!("--header: {err}"))
                .input_error()?,
        );
    }
    Ok(headers)
}

/// Starts live export when an endpoint is set (flag or `OTEL_EXPORTER_OTLP_ENDPOINT`).
pub fn start_live(args: &OtlpArgs) -> CliResult<Option<Exporter>> {
    let Some(endpoint) = args
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    else {
        return Ok(None);
    };
    let mut config = ExportConfig::new(autopilot_otel::traces_url(endpoint));
    config.headers = headers(&[])?;
    config.request_timeout = LIVE_REQUEST_TIMEOUT;
    config.options = MapOptions {
        content: args.otlp_content,
    };
    Exporter::start(&config).input_error().map(Some)
}

/// Waits (bounded) for live export to drain and says on stderr what was sent and dropped.
/// Never changes the exit status: the trace files are the record.
pub fn finish_live(global: &GlobalArgs, exporter: Option<Exporter>, endpoint: Option<&str>) {
    let Some(exporter) = exporter else { return };
    let report = exporter.finish(LIVE_DRAIN);
    if global.quiet == 0 || report.dropped_spans > 0 {
        print_report(&report, endpoint.unwrap_or_default());
    }
}

fn print_report(report: &ExportReport, endpoint: &str) {
    let mut stderr = crate::terminal::stderr();
    let _ = writeln!(
        stderr,
        "otlp: exported {} session(s), {} span(s) to {}; dropped {} session(s), {} span(s)",
        report.exported_sessions,
        report.exported_spans,
        autopilot_trace::redact_url(endpoint),
        report.dropped_sessions,
        report.dropped_spans
    );
    for error in &report.errors {
        let _ = writeln!(stderr, "otlp: {error}");
    }
}

pub fn run(args: &ExportArgs) -> CliResult<ExitStatus> {
    let inputs = collect_inputs(&args.paths).input_error()?;
    let endpoint = autopilot_otel::traces_url(&args.endpoint);
    let mut config = ExportConfig::new(endpoint.clone());
    config.headers = headers(&args.headers)?;
    config.request_timeout = Duration::from_secs(args.timeout.max(1));
    config.options = MapOptions {
        content: args.content,
    };
    let options = config.options;
    let exporter = Exporter::start(&config).input_error()?;
    let handle = exporter.handle();
    let mut lines = Vec::new();
    let mut send = |records: Vec<TraceRecord>| {
        if let Some(trace) = map_session(&records, options) {
            lines.push(format!("{}\t{}", trace.session, trace.trace_id_hex()));
            handle.send_mapped(trace);
        }
    };
    let (traces, logs): (Vec<InputFile>, Vec<InputFile>) = inputs
        .into_iter()
        .partition(|input| matches!(input, InputFile::Trace(_)));
    for input in &traces {
        let file = TraceFile::read(input.path())
            .map_err(|err| anyhow!("cannot read {}: {err}", input.path().display()))
            .input_error()?;
        send(file.records.into_iter().map(|r| r.record).collect());
    }
    import_inputs(&logs, &super::classify::options(None), |session| {
        send(session.records().collect());
        Ok(())
    })
    .input_error()?;
    drop(handle);
    // Every session is queued; the wait covers one request per batch of sessions.
    let wait = config.request_timeout * u32::try_from(lines.len().max(1)).unwrap_or(u32::MAX);
    let report = exporter.finish(wait);
    let mut stdout = crate::terminal::stdout_data();
    for line in &lines {
        if writeln!(stdout, "{line}").is_err() {
            break;
        }
    }
    print_report(&report, &endpoint);
    if report.dropped_spans > 0 {
        return Ok(ExitStatus::Unavailable);
    }
    Ok(ExitStatus::Success)
}
