//! Dataset summaries: shape, column types, ranges and first rows of the app's CSV files,
//! computed in one streaming pass and rendered compactly for prompts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Rows quoted verbatim per file.
const FIRST_ROWS: usize = 3;
/// Example values kept for a text column.
const TEXT_EXAMPLES: usize = 5;
/// Bytes of one cell of the first rows quoted in a prompt; longer ones are cut with `…`.
pub const MAX_CELL_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Integer,
    Float,
    Text,
    /// Every value was empty.
    Empty,
}

impl ColumnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Integer => "integer",
            ColumnKind::Float => "float",
            ColumnKind::Text => "text",
            ColumnKind::Empty => "empty",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnSummary {
    pub name: String,
    pub kind: ColumnKind,
    /// Empty cells.
    pub missing: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// For text columns: the first distinct values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSummary {
    /// The file as the app file names it.
    pub file: String,
    /// The class the file's rows belong to, when the app file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub rows: usize,
    pub columns: Vec<ColumnSummary>,
    pub first_rows: Vec<Vec<String>>,
}

/// The summary of every dataset file of an app.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetSummary {
    pub files: Vec<FileSummary>,
}

#[derive(Debug, thiserror::Error)]
#[error("`{}`: {message}", path.display())]
pub struct DatasetError {
    pub path: PathBuf,
    pub message: String,
}

impl DatasetSummary {
    /// Total rows over all files.
    pub fn rows(&self) -> usize {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// A compact text block for prompts:
    ///
    /// ```text
    /// apple.csv (class apple): 80 rows × 3 columns
    ///   Red float [0.41, 0.93] mean 0.712
    ///   …
    ///   first rows: Red,Green,Blue | 0.71,0.19,0.12 | …
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let _ = write!(out, "{}", file.file);
            if let Some(label) = &file.label {
                let _ = write!(out, " (class {label})");
            }
            let _ = writeln!(out, ": {} rows × {} columns", file.rows, file.columns.len());
            for column in &file.columns {
                let _ = write!(out, "  {} {}", column.name, column.kind.as_str());
                if let (Some(min), Some(max)) = (column.min, column.max) {
                    let _ = write!(out, " [{}, {}]", format_number(min), format_number(max));
                }
                if let Some(mean) = column.mean {
                    let _ = write!(out, " mean {}", format_number(mean));
                }
                if !column.examples.is_empty() {
                    let _ = write!(out, " e.g. {}", column.examples.join(", "));
                }
                if column.missing > 0 {
                    let _ = write!(out, " ({} empty)", column.missing);
                }
                out.push('\n');
            }
            let header = file
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let rows: Vec<String> = file.first_rows.iter().map(|r| r.join(",")).collect();
            let _ = writeln!(out, "  first rows: {header} | {}", rows.join(" | "));
        }
        out
    }
}

/// Formats a number with at most 4 decimals and no trailing zeros (`0.5`, `12`, `0.3333`).
pub fn format_number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[derive(Default)]
struct ColumnStats {
    integers: usize,
    floats: usize,
    texts: usize,
    missing: usize,
    sum: f64,
    min: f64,
    max: f64,
    examples: Vec<String>,
}

/// A reader of a CSV file with a header row, cells trimmed, every row as wide as the header.
pub(crate) fn csv_reader(file: fs_err::File) -> csv::Reader<std::io::BufReader<fs_err::File>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file))
}

/// Summarises one CSV file (with a header row). `display` is the name shown in prompts.
pub fn summarize_csv(
    path: &Path,
    display: &str,
    label: Option<&str>,
) -> Result<FileSummary, DatasetError> {
    let error = |message: String| DatasetError {
        path: path.to_owned(),
        message,
    };
    let file = fs_err::File::open(path).map_err(|e| error(format!("cannot open: {e}")))?;
    let mut reader = csv_reader(file);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| error(csv_message(&e)))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(error("the file is empty or has no header row".to_owned()));
    }
    if let Some(blank) = headers.iter().position(String::is_empty) {
        return Err(error(format!(
            "column {} has no name in the header row",
            blank + 1
        )));
    }
    for (i, name) in headers.iter().enumerate() {
        if headers[..i].contains(name) {
            return Err(error(format!(
                "column `{name}` appears twice in the header row"
            )));
        }
    }
    let mut stats: Vec<ColumnStats> = headers
        .iter()
        .map(|_| ColumnStats {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..ColumnStats::default()
        })
        .collect();
    let mut rows = 0usize;
    let mut first_rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| error(csv_message(&e)))?;
        rows += 1;
        if first_rows.len() < FIRST_ROWS {
            first_rows.push(
                record
                    .iter()
                    .map(|value| crate::header::truncate(value, MAX_CELL_BYTES))
                    .collect(),
            );
        }
        for (value, column) in record.iter().zip(&mut stats) {
            if value.is_empty() {
                column.missing += 1;
            } else if let Ok(number) = value
                .parse::<f64>()
                .map_err(drop)
                .and_then(|n| if n.is_finite() { Ok(n) } else { Err(()) })
            {
                if value.parse::<i64>().is_ok() {
                    column.integers += 1;
                } else {
                    column.floats += 1;
                }
                column.sum += number;
                column.min = column.min.min(number);
                column.max = column.max.max(number);
            } else {
                column.texts += 1;
                if column.examples.len() < TEXT_EXAMPLES
                    && !column.examples.iter().any(|e| e == value)
                {
                    column.examples.push(value.chars().take(20).collect());
                }
            }
        }
    }
    if rows == 0 {
        return Err(error(
            "the file has a header row but no data rows".to_owned(),
        ));
    }
    let columns = headers
        .into_iter()
        .zip(stats)
        .map(|(name, s)| {
            let numeric = s.integers + s.floats;
            let kind = if s.texts > 0 {
                ColumnKind::Text
            } else if s.floats > 0 {
                ColumnKind::Float
            } else if s.integers > 0 {
                ColumnKind::Integer
            } else {
                ColumnKind::Empty
            };
            let numeric_stats = kind != ColumnKind::Text && numeric > 0;
            ColumnSummary {
                name,
                kind,
                missing: s.missing,
                min: numeric_stats.then_some(s.min),
                max: numeric_stats.then_some(s.max),
                mean: numeric_stats.then(|| round4(s.sum / numeric as f64)),
                examples: if kind == ColumnKind::Text {
                    s.examples
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    Ok(FileSummary {
        file: display.to_owned(),
        label: label.map(str::to_owned),
        rows,
        columns,
        first_rows,
    })
}

/// Rounds to 4 decimals: means are for reading, not for computing.
fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn csv_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!("line {line} has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!("line {line} is not valid UTF-8")
        }
        _ => error.to_string(),
    }
}
