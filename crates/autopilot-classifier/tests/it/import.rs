//! The importer on the published corpus: 214 sessions with the outcomes FORMAT.md documents,
//! and traces that pass the trace crate's validation.

use std::collections::BTreeMap;

use autopilot_classifier::import_legacy_all;
use autopilot_trace::{Event, TraceFile};

use crate::support::{corpus, corpus_logs};

#[test]
fn imports_214_sessions_with_the_documented_outcomes() {
    let Some(corpus) = corpus() else { return };
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut success_attempts = Vec::new();
    let mut rows = Vec::new();
    for log in corpus_logs(&corpus) {
        for session in import_legacy_all(&log).unwrap() {
            let row = session.row();
            *outcomes.entry(row.outcome).or_default() += 1;
            *per_file.entry(row.file.clone()).or_default() += 1;
            if let Some(a) = row.success_attempt {
                success_attempts.push(a);
            }
            rows.push(row);
        }
    }
    assert_eq!(rows.len(), 214);
    assert_eq!(outcomes["success"], 11, "{outcomes:?}");
    assert_eq!(outcomes["infrastructure_error"], 13, "{outcomes:?}");
    assert_eq!(outcomes["truncated"], 1, "{outcomes:?}");
    assert_eq!(outcomes["exhausted"], 189, "{outcomes:?}");
    assert_eq!(per_file["sg_gpt4o_7677.log"], 34);
    success_attempts.sort_unstable();
    assert_eq!(success_attempts, vec![2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5]);
    let compiles: u32 = rows.iter().map(|r| r.compile_attempts).sum();
    // One per `Executing/compiling` record (1,045), less the one the truncated log cuts off.
    assert_eq!(compiles, 1044);
    // FORMAT.md says the Ollama crash always comes at attempt 2; the log says 11 at attempt
    // 2, one at 3 and one at 5 (the `Trying to solve the error... Attempt n` before it).
    let mut crash_attempts: Vec<u32> = rows
        .iter()
        .filter(|r| r.outcome == "infrastructure_error")
        .map(|r| r.attempts)
        .collect();
    crash_attempts.sort_unstable();
    assert_eq!(crash_attempts, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 5]);
}

#[test]
fn imported_traces_pass_validation_and_keep_the_log_timestamps() {
    let Some(corpus) = corpus() else { return };
    let out = tempfile::tempdir().unwrap();
    let mut written = 0;
    for log in corpus_logs(&corpus) {
        for session in import_legacy_all(&log).unwrap() {
            let path = session.write_to_run_dir(out.path(), false).unwrap();
            let file = TraceFile::read(&path).unwrap();
            let problems = file.validate();
            assert!(problems.is_empty(), "{}: {problems:?}", path.display());
            assert!(matches!(
                file.records[0].record.event,
                Event::SessionStarted(_)
            ));
            // The logs record no token counts: the totals say unknown, never 0.
            for record in &file.records {
                if let Event::SessionFinished(f) = &record.record.event {
                    assert_eq!(
                        (f.totals.input_tokens, f.totals.output_tokens),
                        (None, None)
                    );
                }
            }
            written += 1;
        }
    }
    assert_eq!(written, 214);
    let first =
        TraceFile::read(&out.path().join("sessions/sg_gpt4o_7677-5584-7f79.jsonl")).unwrap();
    assert_eq!(first.records[0].record.ts, "2025-04-10T11:56:35.400Z");
    // Writing again refuses to overwrite.
    let again = import_legacy_all(&corpus.join("raw_logs/sg_gpt4o_7677.log")).unwrap();
    let err = again[0].write_to_run_dir(out.path(), false).unwrap_err();
    assert!(err.to_string().contains("exists; pass --force"), "{err}");
    again[0].write_to_run_dir(out.path(), true).unwrap();
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logs")).join(name)
}

#[test]
fn fixture_sessions_have_the_events_the_log_shows() {
    use autopilot_trace::{CompileStatus, LlmCallResult, ResolutionSource, Severity};
    let sessions = import_legacy_all(&fixture("sg_demo_1a2b.log")).unwrap();
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sg_demo_1a2b-1a2b-aa01",
            "sg_demo_1a2b-1a2b-bb02",
            "sg_demo_1a2b-9c9c-cc03"
        ]
    );
    let first = &sessions[0];
    let row = first.row();
    assert_eq!(
        (
            row.outcome,
            row.attempts,
            row.success_attempt,
            row.compile_attempts,
            row.llm_calls
        ),
        ("success", 3, Some(3), 3, 5)
    );
    assert_eq!(row.start, "2025-04-01T10:00:00.000Z");
    assert_eq!(row.end, "2025-04-01T10:02:20.002Z");
    let events: Vec<&Event> = first.events.iter().map(|e| &e.event).collect();
    // The spec answer the log quotes is kept with its measured latency.
    let Event::LlmCall(spec) = events[2] else {
        panic!("{:?}", events[2])
    };
    assert_eq!(spec.latency_ms, 5000);
    let LlmCallResult::Answered(answer) = &spec.result else {
        panic!()
    };
    assert!(answer.text.starts_with("```json"), "{}", answer.text);
    // The library step: what the search offered, what was picked, the real exit code.
    let resolved = events
        .iter()
        .find_map(|e| match e {
            Event::LibraryResolved(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(resolved.header, "SparkFun_APDS9960.h");
    assert_eq!(resolved.source, ResolutionSource::LibSearch);
    assert_eq!(resolved.library, None);
    assert_eq!(resolved.candidates.len(), 2);
    let installed = events
        .iter()
        .find_map(|e| match e {
            Event::LibraryInstalled(i) => Some(i),
            _ => None,
        })
        .unwrap();
    assert_eq!((installed.succeeded, installed.exit_code), (false, Some(1)));
    let compiles: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::CompileFinished(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(compiles.len(), 3);
    assert!(
        compiles[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("reconstructed")
    );
    assert_eq!(compiles[1].diagnostics[0].severity, Severity::Fatal);
    assert_eq!(
        compiles[1].diagnostics[0].file.as_deref(),
        Some("compiling20250401100019.ino")
    );
    assert_eq!(
        compiles[1].detail.as_deref(),
        Some("Error during build: exit status 1")
    );
    assert_eq!(compiles[2].status, CompileStatus::Succeeded);
    assert_eq!(compiles[2].size.unwrap().flash_used, 485_216);
    assert_eq!(compiles[2].duration_ms, 93_998);

    let crash = sessions[1].outcome().unwrap();
    assert_eq!(crash.as_str(), "infrastructure_error");
    let truncated = &sessions[2];
    assert!(truncated.outcome().is_none());
    assert_eq!(truncated.row().outcome, "truncated");
    assert!(
        truncated
            .events
            .iter()
            .any(|e| matches!(&e.event, Event::Note(n) if n.kind == "latency_probe"))
    );
}

#[test]
fn vocabulary_b_start_end_spec_and_compile_templates_are_read() {
    use autopilot_trace::{AttemptOutcome, SessionOutcome, Stage};
    let sessions = import_legacy_all(&fixture("sg_demo_b2025.log")).unwrap();
    let outcomes: Vec<Option<&SessionOutcome>> = sessions.iter().map(|s| s.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            Some(&SessionOutcome::Exhausted {
                stage: Stage::Sketch
            }),
            Some(&SessionOutcome::Exhausted { stage: Stage::Spec }),
            Some(&SessionOutcome::Aborted {
                reason: "keyboard interrupt".into()
            }),
        ]
    );
    let first = &sessions[0];
    assert_eq!(
        (first.provider.as_str(), first.model.as_str()),
        ("ollama", "phi4")
    );
    let attempts: Vec<(Stage, u32, AttemptOutcome)> = first
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::AttemptFinished(a) => Some((a.stage, a.attempt, a.outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (Stage::Spec, 1, AttemptOutcome::SpecInvalid),
            (Stage::Spec, 2, AttemptOutcome::Succeeded),
            (Stage::Sketch, 1, AttemptOutcome::PrecheckFailed),
            (Stage::Sketch, 2, AttemptOutcome::CompileFailed),
        ]
    );
    // The unprefixed cleanup line is continuation text, not a diagnostic.
    let compile = first
        .events
        .iter()
        .find_map(|e| match &e.event {
            Event::CompileFinished(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(compile.diagnostics.len(), 1);
    for session in &sessions {
        let dir = tempfile::tempdir().unwrap();
        let path = session.write_to_run_dir(dir.path(), false).unwrap();
        assert!(TraceFile::read(&path).unwrap().validate().is_empty());
    }
}

#[test]
fn long_log_names_give_distinct_ids_and_a_repeated_id_is_an_error() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/logs/sg_demo_1a2b.log"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut count = 0;
    for end in ["a", "b"] {
        // Names alike in their first 128 characters.
        let log = dir.path().join(format!("sg_{}_{end}.log", "x".repeat(130)));
        fs_err::copy(fixture, &log).unwrap();
        for session in import_legacy_all(&log).unwrap() {
            count += 1;
            assert!(session.id.as_str().len() <= 128);
            ids.insert(session.id);
        }
    }
    assert_eq!(ids.len(), count);

    let out = tempfile::tempdir().unwrap();
    let mut staged = autopilot_classifier::StagedImport::new(out.path(), false).unwrap();
    let session = &import_legacy_all(std::path::Path::new(fixture)).unwrap()[0];
    staged.add(session).unwrap();
    let err = staged.add(session).unwrap_err().to_string();
    assert!(err.contains("two sessions get the session id"), "{err}");
    drop(staged);
    // Nothing committed: nothing left behind but the empty `sessions/`.
    let left: Vec<_> = walk(out.path());
    assert_eq!(left, [out.path().join("sessions")]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        found.push(path.clone());
        if path.is_dir() {
            found.extend(walk(&path));
        }
    }
    found
}

/// An invalid byte anywhere in a header line (model, level, prefix, message) never splits a
/// session: the corpus log keeps its 34 sessions with every header line damaged.
#[test]
fn invalid_utf8_in_header_lines_never_splits_a_session() {
    use autopilot_classifier::LegacyImporter;
    let Some(corpus) = corpus() else { return };
    let log = fs_err::read(corpus.join("raw_logs/sg_gpt4o_7677.log")).unwrap();
    // Byte offsets into each header line: inside the model name, the level, the batch id, the
    // message; one bad byte inserted per header line.
    for offset in [24, 26, 31, 40, 60, 80] {
        let mut damaged = Vec::with_capacity(log.len() * 2);
        let mut previous_prefix: &[u8] = b"";
        for line in log.split_inclusive(|&b| b == b'\n') {
            let header = line.len() > offset + 1 && line[..4].iter().all(u8::is_ascii_digit);
            // The prefix (level to `: `) names the session; the first line of a session is
            // left whole, so that damage that turns a header into a continuation line (a bad
            // byte in the level or the ids) cannot hide a session.
            let prefix = &line[..line
                .len()
                .min(24 + memchr_colon_space(&line[24.min(line.len())..]))];
            let same_session = header && prefix == previous_prefix;
            if header {
                previous_prefix = prefix;
            }
            if same_session {
                damaged.extend_from_slice(&line[..offset]);
                damaged.push(0xFF);
                damaged.extend_from_slice(&line[offset..]);
            } else {
                damaged.extend_from_slice(line);
            }
        }
        let sessions = LegacyImporter::new(&damaged[..], "sg_gpt4o_7677.log")
            .collect::<std::io::Result<Vec<_>>>()
            .unwrap();
        assert_eq!(sessions.len(), 34, "bad byte at offset {offset}");
    }
}

fn memchr_colon_space(text: &[u8]) -> usize {
    text.windows(2)
        .position(|w| w == b": ")
        .unwrap_or(text.len())
}

/// Invalid UTF-8 in continuation lines (a build's output) reads as if each line had been
/// decoded on its own with U+FFFD for the bad bytes: the importer checks a record's lines
/// together, and that must not change what any line says (a bad byte at a line's end, a
/// multi-byte sequence cut by the newline, a bad byte mid-line).
#[test]
fn invalid_utf8_in_build_output_reads_as_line_by_line_replacement() {
    use autopilot_classifier::LegacyImporter;
    let Some(corpus) = corpus() else { return };
    let log = fs_err::read(corpus.join("raw_logs/sg_gpt4o_7677.log")).unwrap();
    let bad_bytes: [&[u8]; 3] = [b"\xFF", b"\xE2\x80", b"\xF0\x9F\x98"];
    let mut damaged = Vec::with_capacity(log.len() * 2);
    let mut by_line = String::with_capacity(log.len() * 2);
    let mut hits = 0;
    for line in log.split_inclusive(|&b| b == b'\n') {
        let continuation = !line.first().is_some_and(u8::is_ascii_digit);
        let mut out = line.to_vec();
        if continuation && memchr::memmem::find(line, b"error: ").is_some() {
            let damage = bad_bytes[hits % bad_bytes.len()];
            hits += 1;
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            // Alternately at the end of the line (the newline cuts the sequence) and in its
            // middle.
            let at = if hits % 2 == 0 {
                body.len()
            } else {
                body.len() / 2
            };
            out = [&body[..at], damage, &body[at..], &line[body.len()..]].concat();
        }
        by_line.push_str(&String::from_utf8_lossy(&out));
        damaged.extend_from_slice(&out);
    }
    assert!(hits > 10, "the log has compiler errors to damage ({hits})");
    let import = |bytes: &[u8]| {
        LegacyImporter::new(bytes, "sg_gpt4o_7677.log")
            .collect::<std::io::Result<Vec<_>>>()
            .unwrap()
    };
    let sessions = import(&damaged);
    assert_eq!(sessions, import(by_line.as_bytes()));
    assert_eq!(sessions.len(), 34);
    let replaced = sessions
        .iter()
        .flat_map(|s| &s.events)
        .filter(|e| format!("{:?}", e.event).contains('\u{FFFD}'))
        .count();
    assert!(replaced > 0, "the damage reaches the imported events");
}
