//! Checks of a file a sandboxed run declared it would write: it exists, is not empty, was
//! written by this run (its stamp differs from the one taken before the run), parses as CSV
//! with the expected columns, and has a sane number of rows.
//!
//! The original system took the next dataset path from the raw text of a JSON block and never
//! looked at the file: a run that wrote nothing "succeeded". Here a missing or stale declared
//! output fails the operation.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::SystemTime;

use autopilot_trace::OutputCheck;
use sha2::{Digest, Sha256};

/// What a file was before a run: compared after it to prove the run wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub bytes: u64,
    pub modified: Option<SystemTime>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl FileStamp {
    /// The stamp of `path`, `None` when there is no such file.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let metadata = fs_err::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)?;
        let content = fs_err::read(path).ok()?;
        Some(FileStamp {
            bytes: metadata.len(),
            modified: metadata.modified().ok(),
            sha256: hex::encode(Sha256::digest(&content)),
        })
    }
}

/// Bounds on the data rows of a CSV output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowBounds {
    pub min: u64,
    /// `None`: no upper bound.
    pub max: Option<u64>,
}

/// What a CSV output must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsvExpectation {
    /// Columns that must be present (others may be too).
    pub columns: Vec<String>,
    /// Of those, the ones whose every cell must be a finite number.
    pub numeric: Vec<String>,
    /// A column whose every value must be one of `labels` exactly.
    pub label_column: Option<String>,
    pub labels: Vec<String>,
    pub rows: Option<RowBounds>,
}

/// The checks of one output, in order; the first failure ends the list (later checks would
/// only repeat it).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputReport {
    pub checks: Vec<OutputCheck>,
    /// Data rows read, when the file parsed.
    pub rows: Option<u64>,
    /// The columns of the header row, when the file parsed.
    pub columns: Vec<String>,
}

impl OutputReport {
    /// Adds the check `id` of `file` at `attempt` (its message kept only when it failed);
    /// returns whether it passed.
    fn record(
        &mut self,
        attempt: u32,
        file: &str,
        id: &str,
        passed: bool,
        message: String,
    ) -> bool {
        self.checks.push(OutputCheck {
            attempt,
            check: id.to_owned(),
            file: file.to_owned(),
            passed,
            message: if passed { String::new() } else { message },
        });
        passed
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks as plain sentences, for a repair prompt.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{} ({}): {}", c.file, c.check, c.message))
            .collect()
    }
}

/// Checks that the run wrote the declared file `relative` (under `work_dir`): it exists, is not
/// empty, and differs from its stamp before the run (`None`: it did not exist).
pub fn check_written(
    work_dir: &Path,
    relative: &str,
    before: Option<&FileStamp>,
    attempt: u32,
) -> OutputReport {
    let mut report = OutputReport {
        checks: Vec::new(),
        rows: None,
        columns: Vec::new(),
    };
    let record = |report: &mut OutputReport, id: &str, passed: bool, message: String| {
        report.record(attempt, relative, id, passed, message)
    };
    let after = FileStamp::of(&work_dir.join(relative));
    let exists = record(
        &mut report,
        "output.exists",
        after.is_some(),
        "the run did not write this declared output".to_owned(),
    );
    let Some(after) = after.filter(|_| exists) else {
        return report;
    };
    if !record(
        &mut report,
        "output.nonempty",
        after.bytes > 0,
        "the file is empty".to_owned(),
    ) {
        return report;
    }
    // Same content and same modification time as before the run: the run did not write it
    // (an old file from an earlier operation or attempt is not this run's output).
    let stale = before.is_some_and(|b| b.sha256 == after.sha256 && b.modified == after.modified);
    record(
        &mut report,
        "output.fresh",
        !stale,
        "the file is the one that was there before the run: this run did not write it".to_owned(),
    );
    report
}

/// Checks the CSV file `relative` (under `work_dir`) that a run declared, against its stamp
/// before the run (`None`: it did not exist) and what it must hold.
pub fn check_csv_output(
    work_dir: &Path,
    relative: &str,
    before: Option<&FileStamp>,
    expect: &CsvExpectation,
    attempt: u32,
) -> OutputReport {
    let mut report = check_written(work_dir, relative, before, attempt);
    if !report.passed() {
        return report;
    }
    let record = |report: &mut OutputReport, id: &str, passed: bool, message: String| {
        report.record(attempt, relative, id, passed, message)
    };
    let path = work_dir.join(relative);
    let table = match read_csv(&path) {
        Ok(table) => table,
        Err(message) => {
            record(&mut report, "output.csv", false, message);
            return report;
        }
    };
    record(&mut report, "output.csv", true, String::new());
    report.rows = Some(table.rows.len() as u64);
    report.columns.clone_from(&table.header);
    let missing: Vec<&str> = expect
        .columns
        .iter()
        .filter(|c| !table.header.contains(c))
        .map(String::as_str)
        .collect();
    if !record(
        &mut report,
        "output.columns",
        missing.is_empty(),
        format!(
            "missing column(s) {}; the header row is `{}`",
            missing.join(", "),
            table.header.join(",")
        ),
    ) {
        return report;
    }
    if let Some(bounds) = expect.rows {
        let rows = table.rows.len() as u64;
        let within = rows >= bounds.min && bounds.max.is_none_or(|max| rows <= max);
        let range = match bounds.max {
            Some(max) => format!("{}..={max}", bounds.min),
            None => format!("at least {}", bounds.min),
        };
        if !record(
            &mut report,
            "output.rows",
            within,
            format!("{rows} data rows; expected {range}"),
        ) {
            return report;
        }
    }
    for column in &expect.numeric {
        let Some(index) = table.header.iter().position(|h| h == column) else {
            continue;
        };
        let bad = table.rows.iter().enumerate().find(|(_, row)| {
            row.get(index)
                .is_none_or(|cell| cell.parse::<f64>().map_or(true, |n| !n.is_finite()))
        });
        let message = bad.map_or_else(String::new, |(i, row)| {
            format!(
                "column `{column}` must hold a finite number in every row; data row {} holds `{}`",
                i + 1,
                row.get(index).map_or("", String::as_str)
            )
        });
        if !record(&mut report, "output.numeric", bad.is_none(), message) {
            return report;
        }
    }
    if let Some(column) = &expect.label_column
        && let Some(index) = table.header.iter().position(|h| h == column)
    {
        let unknown: BTreeSet<&str> = table
            .rows
            .iter()
            .filter_map(|row| row.get(index))
            .map(String::as_str)
            .filter(|value| !expect.labels.iter().any(|l| l == value))
            .take(5)
            .collect();
        let message = format!(
            "column `{column}` holds value(s) that are not a class ({}): {}",
            expect.labels.join(", "),
            unknown
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        record(&mut report, "output.labels", unknown.is_empty(), message);
    }
    report
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_csv(path: &Path) -> Result<Table, String> {
    let file = fs_err::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut reader = crate::dataset::csv_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("not CSV: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("no header row".to_owned());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("not CSV: {e}"))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(Table { header, rows })
}

/// The last `max_lines` lines of `text`, at most `max_bytes` bytes (cut at a character
/// boundary): what a trace event or a repair prompt quotes of a run's output.
pub fn tail(text: &str, max_lines: usize, max_bytes: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let joined = lines[start..].join("\n");
    if joined.len() <= max_bytes {
        return joined;
    }
    let mut cut = joined.len() - max_bytes;
    while !joined.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &joined[cut..])
}

/// The Python code of an answer: its `python`/`py` block, else its only untagged block; `None`
/// when there is none or several compete (a repair prompt asks again).
pub fn python_code(answer: &str) -> Option<String> {
    let text = crate::strip_reasoning(&answer.replace("\r\n", "\n"));
    let blocks = crate::fenced_blocks(&text);
    let tagged: Vec<_> = blocks
        .iter()
        .filter(|b| matches!(b.tag.as_str(), "python" | "py" | "python3"))
        .collect();
    let chosen = match tagged.as_slice() {
        [one] => *one,
        [] => match blocks
            .iter()
            .filter(|b| b.tag.is_empty())
            .collect::<Vec<_>>()
            .as_slice()
        {
            [one] => *one,
            _ => return None,
        },
        _ => return None,
    };
    let code = chosen.content.trim_end();
    (!code.trim().is_empty()).then(|| format!("{code}\n"))
}
