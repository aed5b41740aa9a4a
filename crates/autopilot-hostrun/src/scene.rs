//! The scene: the app's dataset rows presented one by one to the sensor stand-in, each held for
//! a dwell time after a gap. Written as a small text file the runtime reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::HostError;

// The app file's `[host]` section is the pure steps' (they read app files); the scene is
// built from it here.
pub use autopilot_steps::{HostSensor, Presentation, SensorMapping};

/// One presented object.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneRow {
    /// The values the model should be given (the dataset's features).
    pub features: Vec<f64>,
    /// The readings the sensor stand-in returns (for the APDS9960: r, g, b, clear counts; for
    /// the LSM9DS1: acceleration, gyroscope, magnetic field x y z as the mapping names them).
    pub readings: Vec<f64>,
    /// Index into `Scene::classes`.
    pub label: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub classes: Vec<String>,
    pub dwell_ms: u64,
    pub gap_ms: u64,
    /// The proximity reading while an object is presented, and while none is.
    pub proximity_near: i64,
    pub proximity_far: i64,
    pub rows: Vec<SceneRow>,
    /// A sensor stream (the IMU): rows are consecutive samples this many microseconds apart,
    /// with no gaps; `None`: rows are objects held for `dwell_ms` after a `gap_ms`.
    pub sample_period_us: Option<u64>,
}

/// The rate at which Arduino_LSM9DS1 1.1.1 configures the accelerometer and gyroscope (its
/// `accelerationSampleRate()`): IMU rows are presented one per 1/119 s of simulated time.
pub const IMU_SAMPLE_HZ: u64 = 119;

impl Scene {
    /// A colour scene (APDS9960): each row's features are r, g, b proportions; counts are the
    /// proportions times a brightness between the presentation's bounds that varies from row to
    /// row. Classes are interleaved (one of each in turn) so that a sketch stuck on one answer
    /// shows.
    pub fn colour_proportions(
        per_class: &[Vec<Vec<f64>>],
        classes: Vec<String>,
        presentation: &Presentation,
    ) -> Scene {
        let mut rows = Vec::new();
        let longest = per_class.iter().map(Vec::len).max().unwrap_or(0);
        let low = u64::from(presentation.brightness_min);
        let span = u64::from(presentation.brightness_max).saturating_sub(low);
        for i in 0..longest {
            for (label, class_rows) in per_class.iter().enumerate() {
                let Some(features) = class_rows.get(i) else {
                    continue;
                };
                // A fixed brightness (min = max) is allowed: the span is then zero.
                let step = if span == 0 {
                    0
                } else {
                    (rows.len() as u64 * 337) % span
                };
                let brightness = (low + step) as f64;
                let mut readings: Vec<f64> = features
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
            dwell_ms: presentation.dwell_ms,
            gap_ms: presentation.gap_ms,
            proximity_near: i64::from(presentation.proximity_near),
            proximity_far: i64::from(presentation.proximity_far),
            rows,
            sample_period_us: None,
        }
    }

    /// The runtime's scene file: `dwell_us gap_us columns near far`, then one row of readings
    /// per object (per sample for a stream: dwell = the sample period, no gap).
    pub fn to_file_text(&self) -> String {
        let columns = self.rows.first().map_or(0, |r| r.readings.len());
        let (dwell_us, gap_us) = match self.sample_period_us {
            Some(period) => (period, 0),
            None => (self.dwell_ms * 1000, self.gap_ms * 1000),
        };
        let mut text = format!(
            "{dwell_us} {gap_us} {columns} {} {}\n",
            self.proximity_near, self.proximity_far
        );
        for row in &self.rows {
            let values: Vec<String> = row.readings.iter().map(ToString::to_string).collect();
            let _ = writeln!(text, "{}", values.join(" "));
        }
        text
    }
}

/// A sensor count: rounded, clamped to what an `int` reading can hold.
fn counts(value: f64) -> f64 {
    value.round().clamp(0.0, f64::from(i32::MAX))
}

/// Reads a numeric CSV with a header line (the app's dataset format) into rows of values.
pub fn read_csv(path: &Path) -> Result<Vec<Vec<f64>>, HostError> {
    let table = read_table(path)?;
    let all: Vec<usize> = (0..table.header.len()).collect();
    table.numbers(path, &all)
}

/// A CSV file: its header and its cells, as text.
struct Table {
    header: Vec<String>,
    /// (line number, cells)
    rows: Vec<(usize, Vec<String>)>,
}

fn read_table(path: &Path) -> Result<Table, HostError> {
    let text = fs_err::read_to_string(path).map_err(HostError::io(path))?;
    let split =
        |line: &str| -> Vec<String> { line.split(',').map(|v| v.trim().to_owned()).collect() };
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| split(l)).unwrap_or_default();
    let rows = lines
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| (index + 1, split(line)))
        .collect();
    Ok(Table { header, rows })
}

impl Table {
    /// The index of the column named `name`.
    fn column(&self, path: &Path, name: &str) -> Result<usize, HostError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| HostError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "no column `{name}` (the header has: {})",
                    self.header.join(", ")
                ),
            })
    }

    /// The cells of `columns` in every row, as numbers.
    fn numbers(&self, path: &Path, columns: &[usize]) -> Result<Vec<Vec<f64>>, HostError> {
        self.rows
            .iter()
            .map(|(line, cells)| {
                columns
                    .iter()
                    .map(|&c| {
                        let cell = cells
                            .get(c)
                            .ok_or_else(|| invalid_line(path, *line, "too few columns"))?;
                        cell.parse::<f64>()
                            .map_err(|e| invalid_line(path, *line, &format!("`{cell}`: {e}")))
                    })
                    .collect()
            })
            .collect()
    }
}

fn invalid_line(path: &Path, line: usize, message: &str) -> HostError {
    HostError::Invalid {
        path: path.to_owned(),
        message: format!("line {line}: {message}"),
    }
}

/// The colour scene of the dataset files (each with the class the app gives it, if any), read
/// through the app's sensor mapping.
pub fn colour_scene(
    files: &[(PathBuf, Option<usize>)],
    classes: Vec<String>,
    mapping: &SensorMapping,
) -> Result<Scene, HostError> {
    let mut per_class: Vec<Vec<Vec<f64>>> = vec![Vec::new(); classes.len()];
    for (path, class) in files {
        let table = read_table(path)?;
        let columns: Vec<usize> = if mapping.columns.is_empty() {
            if table.header.len() < 3 {
                return Err(HostError::Invalid {
                    path: path.clone(),
                    message: "fewer than 3 columns (r, g, b)".into(),
                });
            }
            vec![0, 1, 2]
        } else {
            mapping
                .columns
                .iter()
                .map(|name| table.column(path, name))
                .collect::<Result<_, _>>()?
        };
        let features = table.numbers(path, &columns)?;
        match &mapping.label_column {
            Some(name) => {
                let label = table.column(path, name)?;
                for ((line, cells), row) in table.rows.iter().zip(features) {
                    let value = cells.get(label).map_or("", String::as_str);
                    let index = classes.iter().position(|c| c == value).ok_or_else(|| {
                        invalid_line(
                            path,
                            *line,
                            &format!("`{value}` in column `{name}` is not one of the classes"),
                        )
                    })?;
                    per_class[index].push(row);
                }
            }
            // Per-file labels: a file the app gives no class has no label to judge against.
            None => {
                if let Some(slot) = class.and_then(|c| per_class.get_mut(c)) {
                    slot.extend(features);
                }
            }
        }
    }
    Ok(Scene::colour_proportions(
        &per_class,
        classes,
        &mapping.presentation,
    ))
}

/// The scene of the dataset for the app's sensor stand-in.
pub fn scene_for(
    files: &[(PathBuf, Option<usize>)],
    classes: Vec<String>,
    mapping: &SensorMapping,
) -> Result<Scene, HostError> {
    match mapping.sensor {
        HostSensor::Apds9960Colour => colour_scene(files, classes, mapping),
        HostSensor::Lsm9ds1Imu => motion_scene(files, classes, mapping),
    }
}

/// The IMU scene: every row of every file, in order, one sample per 1/119 s; its readings are
/// the mapped columns (3, 6 or 9: acceleration, gyroscope, magnetic field). A row's label is
/// its file's class or the label column (unlabelled rows get label 0 and count for nothing
/// the IMU reads).
pub fn motion_scene(
    files: &[(PathBuf, Option<usize>)],
    classes: Vec<String>,
    mapping: &SensorMapping,
) -> Result<Scene, HostError> {
    let mut rows = Vec::new();
    for (path, class) in files {
        let table = read_table(path)?;
        let columns: Vec<usize> = if mapping.columns.is_empty() {
            let usable = table.header.len().min(9) / 3 * 3;
            if usable == 0 {
                return Err(HostError::Invalid {
                    path: path.clone(),
                    message: "fewer than 3 columns (acceleration x, y, z)".into(),
                });
            }
            (0..usable).collect()
        } else if matches!(mapping.columns.len(), 3 | 6 | 9) {
            mapping
                .columns
                .iter()
                .map(|name| table.column(path, name))
                .collect::<Result<_, _>>()?
        } else {
            return Err(HostError::Invalid {
                path: path.clone(),
                message: format!(
                    "the IMU mapping names {} columns; it needs 3, 6 or 9 (acceleration, \
                     gyroscope, magnetic field x y z)",
                    mapping.columns.len()
                ),
            });
        };
        let values = table.numbers(path, &columns)?;
        let labels: Vec<usize> = match &mapping.label_column {
            Some(name) => {
                let label = table.column(path, name)?;
                table
                    .rows
                    .iter()
                    .map(|(line, cells)| {
                        let value = cells.get(label).map_or("", String::as_str);
                        classes.iter().position(|c| c == value).ok_or_else(|| {
                            invalid_line(
                                path,
                                *line,
                                &format!("`{value}` in column `{name}` is not one of the classes"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            None => vec![class.unwrap_or(0); values.len()],
        };
        rows.extend(values.into_iter().zip(labels).map(|(v, label)| SceneRow {
            readings: v.clone(),
            features: v,
            label,
        }));
    }
    let presentation = &mapping.presentation;
    Ok(Scene {
        classes,
        dwell_ms: presentation.dwell_ms,
        gap_ms: presentation.gap_ms,
        proximity_near: i64::from(presentation.proximity_near),
        proximity_far: i64::from(presentation.proximity_far),
        rows,
        sample_period_us: Some(1_000_000 / IMU_SAMPLE_HZ),
    })
}
