//! The exporter against loopback collectors that are down, hang, or reflect the request: a
//! session never waits for the collector, every span that cannot be sent is counted, and
//! header values (API keys) never appear in what is reported.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autopilot_otel::{ExportConfig, Exporter, MapOptions, map_session};

use crate::demo_records;

fn spans_per_session() -> u64 {
    map_session(&demo_records(), MapOptions::default())
        .unwrap()
        .spans
        .len() as u64
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_collector_that_is_down_costs_the_sessions_nothing_and_every_span_is_counted() {
    let mut config = ExportConfig::new(format!("http://127.0.0.1:{}/v1/traces", closed_port()));
    config.request_timeout = Duration::from_millis(500);
    let exporter = Exporter::start(&config).unwrap();
    let handle = exporter.handle();
    let records = demo_records();
    let sessions = 200u64;
    let started = Instant::now();
    for _ in 0..sessions {
        handle.submit_records(records.clone());
    }
    let submitting = started.elapsed();
    let wait = Duration::from_secs(3);
    let finishing = Instant::now();
    let report = exporter.finish(wait);
    let finished_in = finishing.elapsed();
    assert_eq!(report.exported_spans, 0, "{report:?}");
    assert_eq!(report.dropped_sessions, sessions, "{report:?}");
    assert_eq!(
        report.dropped_spans,
        sessions * spans_per_session(),
        "{report:?}"
    );
    assert!(!report.errors.is_empty());
    // Submitting never waits for the network; the end waits at most its bound.
    assert!(
        submitting < Duration::from_secs(2),
        "submitting took {submitting:?}"
    );
    assert!(
        finished_in < wait + Duration::from_secs(1),
        "finish took {finished_in:?}"
    );
}

#[test]
fn a_collector_that_never_answers_is_bounded_by_the_drain_time() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts connections and never answers.
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let mut config = ExportConfig::new(format!("http://127.0.0.1:{port}/v1/traces"));
    config.request_timeout = Duration::from_secs(30);
    let exporter = Exporter::start(&config).unwrap();
    let handle = exporter.handle();
    for _ in 0..20 {
        handle.submit_records(demo_records());
    }
    let wait = Duration::from_millis(500);
    let finishing = Instant::now();
    let report = exporter.finish(wait);
    let finished_in = finishing.elapsed();
    assert!(
        finished_in < wait + Duration::from_secs(1),
        "finish took {finished_in:?}"
    );
    assert_eq!(report.exported_spans, 0);
    // In flight or still queued: all dropped, all counted.
    assert_eq!(report.dropped_sessions, 20, "{report:?}");
    assert_eq!(report.dropped_spans, 20 * spans_per_session(), "{report:?}");
    // A full queue drops the newest session instead of waiting.
    let mut config = ExportConfig::new(format!("http://127.0.0.1:{port}/v1/traces"));
    config.queue_sessions = 1;
    let exporter = Exporter::start(&config).unwrap();
    let handle = exporter.handle();
    let started = Instant::now();
    for _ in 0..50 {
        handle.submit_records(demo_records());
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let report = exporter.finish(Duration::from_millis(300));
    assert!(report.dropped_sessions >= 40, "{report:?}");
    assert!(
        report.errors.iter().any(|e| e.contains("queue")),
        "{report:?}"
    );
}

#[test]
fn header_values_reach_the_collector_as_headers_only_and_never_a_report() {
    let secret = "sk-otel-secret-0123456789";
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::<u8>::new()));
    let seen = Arc::clone(&received);
    // Answers 400 and reflects the whole request, headers included, in its body.
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let body = String::from_utf8_lossy(&request).into_owned();
            seen.lock().unwrap().extend_from_slice(&request);
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let mut config = ExportConfig::new(format!("http://127.0.0.1:{port}/v1/traces"));
    config.headers = vec![("authorization".to_owned(), format!("Bearer {secret}"))];
    config.options = MapOptions { content: true };
    let exporter = Exporter::start(&config).unwrap();
    exporter.handle().submit_records(demo_records());
    let report = exporter.finish(Duration::from_secs(10));
    assert_eq!(report.dropped_sessions, 1, "{report:?}");
    assert!(!report.errors.is_empty(), "{report:?}");
    let request = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    assert!(head.contains(secret), "the header was not sent: {head}");
    assert!(!body.contains(secret), "the key reached the spans");
    for error in &report.errors {
        assert!(
            !error.contains(secret),
            "the key reached the report: {error}"
        );
    }
}

#[test]
fn endpoints_and_headers_follow_the_otlp_environment_conventions() {
    assert_eq!(
        autopilot_otel::traces_url("http://127.0.0.1:6006"),
        "http://127.0.0.1:6006/v1/traces"
    );
    assert_eq!(
        autopilot_otel::traces_url("https://cloud.langfuse.com/api/public/otel/"),
        "https://cloud.langfuse.com/api/public/otel/v1/traces"
    );
    assert_eq!(
        autopilot_otel::traces_url("http://h:4318/v1/traces"),
        "http://h:4318/v1/traces"
    );
    let headers = autopilot_otel::parse_headers(
        "Authorization=Basic%20cGs6c2s=, x-langfuse-ingestion-version=4",
    )
    .unwrap();
    assert_eq!(
        headers,
        [
            ("Authorization".to_owned(), "Basic cGs6c2s=".to_owned()),
            ("x-langfuse-ingestion-version".to_owned(), "4".to_owned()),
        ]
    );
    // A malformed item is named without its value (it may hold a key).
    let err = autopilot_otel::parse_headers("Authorization:Bearer sk-abc123").unwrap_err();
    assert!(!err.to_string().contains("sk-abc123"), "{err}");
}
