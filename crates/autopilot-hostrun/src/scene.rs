//! The scene: the app's dataset rows presented one by one to the sensor stand-in, each held for
//! a dwell time after a gap. Written as a small text file the runtime reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::HostError;

/// One presented object.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneRow {
    /// The values the model should be given (the dataset's features).
    pub features: Vec<f64>,
    /// The readings the sensor stand-in returns (for the APDS9960: r, g, b, clear counts).
    pub readings: Vec<i64>,
    /// Index into `Scene::classes`.
    pub label: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub classes: Vec<String>,
    pub dwell_ms: u64,
    pub gap_ms: u64,
    pub rows: Vec<SceneRow>,
}

impl Scene {
    /// A colour scene (APDS9960): each row's features are r, g, b proportions; counts are the
    /// proportions times a brightness between 600 and 3000 that varies from row to row. Classes
    /// are interleaved (one of each in turn) so that a sketch stuck on one answer shows.
    pub fn colour_proportions(
        per_class: &[Vec<Vec<f64>>],
        classes: Vec<String>,
        dwell_ms: u64,
        gap_ms: u64,
    ) -> Scene {
        let mut rows = Vec::new();
        let longest = per_class.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for (label, class_rows) in per_class.iter().enumerate() {
                let Some(features) = class_rows.get(i) else {
                    continue;
                };
                let brightness = 600.0 + ((rows.len() * 337) % 2400) as f64;
                let mut readings: Vec<i64> = features
                    .iter()
                    .take(3)
                    .map(|p| counts(p * brightness))
                    .collect();
                readings.push(counts(brightness * 1.1));
                rows.push(SceneRow {
                    features: features.clone(),
                    readings,
                    label,
                });
            }
        }
        Scene {
            classes,
            dwell_ms,
            gap_ms,
            rows,
        }
    }

    /// The runtime's scene file: `dwell gap columns`, then one row of readings per object.
    pub fn to_file_text(&self) -> String {
        let columns = self.rows.first().map_or(0, |r| r.readings.len());
        let mut text = format!("{} {} {columns}\n", self.dwell_ms, self.gap_ms);
        for row in &self.rows {
            let values: Vec<String> = row.readings.iter().map(ToString::to_string).collect();
            let _ = writeln!(text, "{}", values.join(" "));
        }
        text
    }
}

/// A sensor count: rounded, clamped to what an `int` reading can hold.
#[expect(
    clippy::cast_possible_truncation,
    reason = "clamped to the i32 range first"
)]
fn counts(value: f64) -> i64 {
    value.round().clamp(0.0, f64::from(i32::MAX)) as i64
}

/// Reads a numeric CSV with a header line (the app's dataset format) into rows of values.
pub fn read_csv(path: &Path) -> Result<Vec<Vec<f64>>, HostError> {
    let text = fs_err::read_to_string(path).map_err(HostError::io(path))?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let values: Result<Vec<f64>, _> =
            line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        rows.push(values.map_err(|e| HostError::Invalid {
            path: PathBuf::from(path),
            message: format!("line {}: {e}", index + 1),
        })?);
    }
    Ok(rows)
}

/// The colour scene of labelled dataset files (`(file, class index)`), with the presentation the
/// prototype validated: 1.5 s in front of the sensor, 1 s gaps.
pub fn colour_scene_from_files(
    files: &[(PathBuf, usize)],
    classes: Vec<String>,
) -> Result<Scene, HostError> {
    let mut per_class: Vec<Vec<Vec<f64>>> = vec![Vec::new(); classes.len()];
    for (path, class) in files {
        let rows = read_csv(path)?;
        if let Some(bad) = rows.iter().position(|r| r.len() < 3) {
            return Err(HostError::Invalid {
                path: path.clone(),
                message: format!("row {} has fewer than 3 columns (r, g, b)", bad + 2),
            });
        }
        if let Some(slot) = per_class.get_mut(*class) {
            slot.extend(rows);
        }
    }
    Ok(Scene::colour_proportions(&per_class, classes, 1500, 1000))
}
