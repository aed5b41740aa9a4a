//! The app file (TOML): what to build, for which board, with which model and data. Loading it
//! validates everything it names (paths, model, dataset) and reports every problem with the
//! file and the key.
//!
//! ```toml
//! name = "color_uno"
//! description = "Classify a colour sample as red, green or blue and print the class."
//! target = "uno"
//! classes = ["red", "green", "blue"]
//! expected_output = ["red", "green", "blue"]   # optional, defaults to the classes
//!
//! [model]
//! kind = "dense"                 # "tflite" (TFLite Micro) or "dense" (plain C arrays)
//! header = "color_model.h"       # or: tflite = "model.tflite" (converted to model.h)
//! predict_function = "color_model_predict"
//! input = { dtype = "float32", shape = [1, 3] }
//! output = { dtype = "float32", shape = [1, 3] }
//!
//! [[dataset]]
//! file = "data/colors.csv"
//!
//! [sensor]
//! name = "TCS34725"
//! hints = ["values are normalised to 0..1"]
//!
//! [host]                         # optional: how the host check shows the dataset to the sensor
//! sensor = "apds9960_colour"     # or "lsm9ds1_imu" (Arduino_LSM9DS1 1.1.1, motion apps)
//! columns = ["r", "g", "b"]      # CSV columns with the r, g, b proportions (default: first 3);
//!                                # lsm9ds1_imu: 3, 6 or 9 columns — acceleration x y z (g), then
//!                                # gyroscope x y z (deg/s), then magnetic field x y z (uT)
//!                                # (default: the first 3, 6 or 9). Every row is one sample, in
//!                                # file order, at the sensor's 119 Hz of simulated time; a group
//!                                # not mapped is never available. dwell, gap, brightness and
//!                                # proximity apply to the colour sensor only.
//! label_column = "fruit"         # optional; default: each [[dataset]] file's class
//! dwell_ms = 1500                # each object in front of the sensor (100..=60000)
//! gap_ms = 1000                  # nothing in front before each object (100..=60000)
//! brightness_min = 600           # counts = proportion x brightness, varied row to row
//! brightness_max = 3000          # (1..=50000, min <= max)
//! proximity_near = 0             # proximity with an object / without (0..=255, different)
//! proximity_far = 255
//! ```

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, KeyProblem};
use crate::dataset::{DatasetSummary, summarize_csv};
use crate::header::{HeaderScan, HeaderSymbol, SymbolKind, scan_header};
use crate::sensor::{HostSensor, Presentation, SensorMapping};
use crate::tflite::{self, DEFAULT_MODEL_SYMBOL, TfliteFacts, inspect_tflite, is_c_identifier};

/// The file name under which a converted `.tflite` model is placed in the sketch folder.
pub const GENERATED_HEADER_NAME: &str = "model.h";

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    Float32,
    Int8,
    Uint8,
    Int16,
    Int32,
}

impl DType {
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Int8 => "int8",
            DType::Uint8 => "uint8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
        }
    }

    /// The C type of one element (`float`, `int8_t`).
    pub fn c_type(self) -> &'static str {
        match self {
            DType::Float32 => "float",
            DType::Int8 => "int8_t",
            DType::Uint8 => "uint8_t",
            DType::Int16 => "int16_t",
            DType::Int32 => "int32_t",
        }
    }
}

/// How the model runs on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A TFLite flatbuffer run by TensorFlow Lite Micro (`Invoke()`).
    Tflite,
    /// A small dense network as plain C arrays with a predict function (AVR, no TFLM).
    Dense,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Tflite => "tflite",
            ModelKind::Dense => "dense",
        }
    }
}

/// Element type and shape of a tensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub dtype: DType,
    pub shape: Vec<u32>,
}

impl TensorSpec {
    /// Number of elements (product of the shape); `u64::MAX` when it does not fit, which
    /// loading reports as a problem ([`TensorSpec::checked_elements`]).
    pub fn elements(&self) -> u64 {
        self.checked_elements().unwrap_or(u64::MAX)
    }

    /// Number of elements, `None` when the product overflows 64 bits.
    pub fn checked_elements(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |n, d| n.checked_mul(u64::from(*d)))
    }

    /// `float32[1, 3]`
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(u32::to_string).collect();
        format!("{}[{}]", self.dtype.as_str(), dims.join(", "))
    }
}

/// Where the model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Header(PathBuf),
    Tflite(PathBuf),
}

/// The model, validated and ready to be placed next to the sketch.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub kind: ModelKind,
    pub source: ModelSource,
    /// The file name the sketch includes (`model.h`, `color_model.h`).
    pub header_name: String,
    /// The header's contents, to be written next to the sketch.
    pub header_text: String,
    /// What the header declares.
    pub scan: HeaderScan,
    /// The array holding the model (TFLM models).
    pub array: Option<String>,
    /// The array's length symbol, if the header declares one.
    pub array_len: Option<String>,
    pub input: TensorSpec,
    pub output: TensorSpec,
    /// The function the sketch must call for a prediction (dense models).
    pub predict_function: Option<String>,
    /// Facts read from the flatbuffer (TFLM models).
    pub tflite: Option<TfliteFacts>,
}

impl ModelInfo {
    pub fn symbols(&self) -> &[HeaderSymbol] {
        &self.scan.symbols
    }

    /// The inference call a sketch must contain: `Invoke` or the predict function.
    pub fn inference_call(&self) -> Option<&str> {
        match self.kind {
            ModelKind::Tflite => Some("Invoke"),
            ModelKind::Dense => self.predict_function.as_deref(),
        }
    }
}

/// A dataset file named by the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFile {
    pub path: PathBuf,
    /// As written in the app file (shown in prompts).
    pub written: String,
    /// The class all rows of the file belong to, if the app says.
    pub class: Option<String>,
}

/// Hints about the sensor the sketch reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorHints {
    #[serde(default)]
    pub name: Option<String>,
    /// The Arduino library usually used for it.
    #[serde(default)]
    pub library: Option<String>,
    #[serde(default)]
    pub hints: Vec<String>,
}

/// A validated app file.
#[derive(Debug, Clone)]
pub struct App {
    /// The app file.
    pub path: PathBuf,
    /// Its directory: relative paths are resolved against it.
    pub dir: PathBuf,
    pub name: String,
    pub description: String,
    pub target: String,
    pub classes: Vec<String>,
    /// Tokens the serial output must show for a prediction (defaults to the classes).
    pub expected_output: Vec<String>,
    pub model: Option<ModelInfo>,
    pub dataset_files: Vec<DatasetFile>,
    pub dataset: DatasetSummary,
    pub sensor: Option<SensorHints>,
    /// How the host check presents the dataset (the `[host]` section; defaults without it).
    pub host: SensorMapping,
    /// What the lifecycle pipeline starts from (the `[pipeline]` section), if any.
    pub pipeline: Option<PipelineInputs>,
}

/// The `[pipeline]` section: what `autopilot pipeline` starts from (raw data, a trained Keras
/// model, held-out data) and what the data-processing stage must make of the raw data.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineInputs {
    /// What the data processing must achieve, in the user's words.
    pub goal: String,
    /// The raw CSV the data-processing stage starts from.
    pub raw: PathBuf,
    /// The trained Keras model the conversion stage starts from.
    pub keras: PathBuf,
    /// Held-out rows (features and label) the converted model is judged on.
    pub held_out: PathBuf,
    /// The model's input columns, in order (the processed dataset must have them).
    pub features: Vec<String>,
    /// The column holding the class name.
    pub label_column: String,
    /// Most operations a data-processing plan may have.
    pub max_operations: u32,
    /// Whether the converted model must be quantized (int8 weights and activations).
    pub quantize: bool,
    /// Largest accuracy drop of the converted model below the Keras model's (0.05 = 5 points).
    pub max_accuracy_drop: f64,
}

/// Default and ceiling of `pipeline.max_operations`.
pub const DEFAULT_MAX_OPERATIONS: u32 = 8;
const MAX_OPERATIONS_CEILING: u32 = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: String,
    description: String,
    target: String,
    classes: Vec<String>,
    #[serde(default)]
    expected_output: Option<Vec<String>>,
    #[serde(default)]
    model: Option<RawModel>,
    #[serde(default)]
    dataset: Vec<RawDataset>,
    #[serde(default)]
    sensor: Option<SensorHints>,
    #[serde(default)]
    host: Option<RawHost>,
    #[serde(default)]
    pipeline: Option<RawPipeline>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    goal: String,
    raw: String,
    keras: String,
    held_out: String,
    features: Vec<String>,
    #[serde(default)]
    label_column: Option<String>,
    #[serde(default)]
    max_operations: Option<i64>,
    #[serde(default)]
    quantize: bool,
    #[serde(default)]
    max_accuracy_drop: Option<f64>,
}

/// The `[host]` section as written; numbers are wide so that an out-of-range value is named by
/// validation rather than rejected by the parser.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    #[serde(default)]
    sensor: Option<String>,
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default)]
    label_column: Option<String>,
    #[serde(default)]
    dwell_ms: Option<i64>,
    #[serde(default)]
    gap_ms: Option<i64>,
    #[serde(default)]
    brightness_min: Option<i64>,
    #[serde(default)]
    brightness_max: Option<i64>,
    #[serde(default)]
    proximity_near: Option<i64>,
    #[serde(default)]
    proximity_far: Option<i64>,
}

/// The sensor stand-ins the host check can feed from a dataset.
const HOST_SENSORS: &[&str] = &["apds9960_colour", "lsm9ds1_imu"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    kind: ModelKind,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    tflite: Option<String>,
    /// Array name for a converted `.tflite` (default `g_model_data`).
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    predict_function: Option<String>,
    input: TensorSpec,
    output: TensorSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    file: String,
    #[serde(default)]
    class: Option<String>,
}

const MAX_CLASS_LEN: usize = 40;
const MAX_NAME_LEN: usize = 64;

impl App {
    /// Reads and validates an app file, the model it names and its dataset.
    pub fn load(path: &Path) -> Result<App, ConfigError> {
        let text = config::read_to_string(path)?;
        App::from_toml(path, &text)
    }

    /// Validates app-file text as if read from `path` (relative paths resolve against its
    /// directory).
    pub fn from_toml(path: &Path, text: &str) -> Result<App, ConfigError> {
        let raw: RawApp = config::parse_toml(path, text)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let mut problems = Vec::new();
        check_name(&raw.name, &mut problems);
        if raw.description.trim().is_empty() {
            problems.push(KeyProblem::new(
                "description",
                "is empty; say what the sketch must do",
            ));
        }
        if raw.target.is_empty()
            || !raw
                .target
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(KeyProblem::new(
                "target",
                format!(
                    "`{}` is not a target name (lowercase letters, digits, `_`)",
                    raw.target
                ),
            ));
        }
        check_labels("classes", &raw.classes, 2, &mut problems);
        let expected_output = match raw.expected_output {
            Some(tokens) => {
                check_labels("expected_output", &tokens, 1, &mut problems);
                tokens
            }
            None => raw.classes.clone(),
        };
        let model = raw
            .model
            .as_ref()
            .and_then(|m| load_model(&dir, m, &raw.classes, &mut problems));
        let mut dataset_files = Vec::new();
        let mut dataset = DatasetSummary::default();
        for (i, entry) in raw.dataset.iter().enumerate() {
            let key = format!("dataset[{i}].file");
            if let Some(class) = &entry.class
                && !raw.classes.contains(class)
            {
                problems.push(KeyProblem::new(
                    format!("dataset[{i}].class"),
                    format!(
                        "`{class}` is not one of the classes ({})",
                        raw.classes.join(", ")
                    ),
                ));
            }
            let Some(path) = resolve_file(&dir, &entry.file, &key, &["csv"], &mut problems) else {
                continue;
            };
            match summarize_csv(&path, &entry.file, entry.class.as_deref()) {
                Ok(summary) => dataset.files.push(summary),
                Err(e) => problems.push(KeyProblem::new(key, e.message)),
            }
            dataset_files.push(DatasetFile {
                path,
                written: entry.file.clone(),
                class: entry.class.clone(),
            });
        }
        if let Some(sensor) = &raw.sensor
            && let Some(library) = &sensor.library
            && library.trim().is_empty()
        {
            problems.push(KeyProblem::new("sensor.library", "is empty"));
        }
        let host = raw
            .host
            .as_ref()
            .map(|h| check_host(h, &raw.dataset, &dataset, &mut problems))
            .unwrap_or_default();
        let pipeline = raw
            .pipeline
            .as_ref()
            .and_then(|p| load_pipeline(&dir, p, &mut problems));
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(App {
            path: path.to_owned(),
            dir,
            name: raw.name,
            description: raw.description.trim().to_owned(),
            target: raw.target,
            classes: raw.classes,
            expected_output,
            model,
            dataset_files,
            dataset,
            sensor: raw.sensor,
            host,
            pipeline,
        })
    }

    /// The same app with its model replaced by a `.tflite` file (the conversion stage's
    /// output): the app file is read again with `model.tflite` pointing at `tflite`, so the new
    /// model passes every check the app file's own model passes.
    pub fn with_tflite(&self, tflite: &Path) -> Result<App, ConfigError> {
        let text = config::read_to_string(&self.path)?;
        let mut value: toml::Table = config::parse_toml(&self.path, &text)?;
        let Some(toml::Value::Table(model)) = value.get_mut("model") else {
            return Err(ConfigError::Invalid {
                path: self.path.clone(),
                problems: vec![KeyProblem::new(
                    "model",
                    "is missing; the pipeline needs the tensor shapes of the model it converts",
                )],
            });
        };
        model.remove("header");
        model.insert(
            "tflite".to_owned(),
            toml::Value::String(tflite.display().to_string()),
        );
        let text = toml::to_string(&value).unwrap_or_default();
        let mut app = App::from_toml(&self.path, &text)?;
        app.path.clone_from(&self.path);
        Ok(app)
    }

    /// The dataset files for the host check, each with the index of the class the app gives
    /// it (if any).
    pub fn host_dataset(&self) -> Vec<(PathBuf, Option<usize>)> {
        self.dataset_files
            .iter()
            .map(|f| {
                let class = f
                    .class
                    .as_ref()
                    .and_then(|c| self.classes.iter().position(|x| x == c));
                (f.path.clone(), class)
            })
            .collect()
    }

    /// Checks the app's target against the names of the known targets.
    pub fn check_target(&self, known: &[String]) -> Result<(), ConfigError> {
        if known.contains(&self.target) {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            path: self.path.clone(),
            problems: vec![KeyProblem::new(
                "target",
                format!(
                    "unknown target `{}`; known targets: {}",
                    self.target,
                    known.join(", ")
                ),
            )],
        })
    }

    /// Checks that the target can run the model: a TFLite model needs a target with a TinyML
    /// (TFLite Micro) library; AVR boards take dense C-array models.
    pub fn check_model_runtime(&self, target_has_tflm: bool) -> Result<(), ConfigError> {
        match &self.model {
            Some(model) if model.kind == ModelKind::Tflite && !target_has_tflm => {
                Err(ConfigError::Invalid {
                    path: self.path.clone(),
                    problems: vec![KeyProblem::new(
                        "model.kind",
                        format!(
                            "target `{}` has no TensorFlow Lite Micro library; give a dense model as C arrays (`kind = \"dense\"`)",
                            self.target
                        ),
                    )],
                })
            }
            _ => Ok(()),
        }
    }
}

/// Validates the `[host]` section against the dataset files' headers; problems name
/// `host.<key>`.
fn check_host(
    raw: &RawHost,
    files: &[RawDataset],
    dataset: &DatasetSummary,
    problems: &mut Vec<KeyProblem>,
) -> SensorMapping {
    if let Some(sensor) = &raw.sensor
        && !HOST_SENSORS.contains(&sensor.as_str())
    {
        problems.push(KeyProblem::new(
            "host.sensor",
            format!(
                "`{sensor}` is not a sensor the host check has ({})",
                HOST_SENSORS.join(", ")
            ),
        ));
    }
    let has_column = |name: &str, key: &str, problems: &mut Vec<KeyProblem>| {
        for file in &dataset.files {
            if !file.columns.iter().any(|c| c.name == name) {
                problems.push(KeyProblem::new(
                    key,
                    format!("`{name}` is not a column of {}", file.file),
                ));
            }
        }
    };
    let sensor = raw
        .sensor
        .as_deref()
        .and_then(HostSensor::from_name)
        .unwrap_or_default();
    let columns = raw.columns.clone().unwrap_or_default();
    if raw.columns.is_some() {
        if sensor == HostSensor::Lsm9ds1Imu {
            if !matches!(columns.len(), 3 | 6 | 9) {
                problems.push(KeyProblem::new(
                    "host.columns",
                    format!(
                        "names {} columns; the IMU needs 3, 6 or 9 (acceleration, gyroscope, \
                         magnetic field x y z)",
                        columns.len()
                    ),
                ));
            }
        } else if columns.len() != 3 {
            problems.push(KeyProblem::new(
                "host.columns",
                format!(
                    "names {} columns; the colour sensor needs 3 (red, green, blue proportions)",
                    columns.len()
                ),
            ));
        }
        for (i, name) in columns.iter().enumerate() {
            has_column(name, &format!("host.columns[{i}]"), problems);
        }
    }
    match &raw.label_column {
        Some(name) => has_column(name, "host.label_column", problems),
        None => {
            // Per-file labels: every file needs its class, or its rows cannot be judged.
            for (i, file) in files.iter().enumerate() {
                if file.class.is_none() {
                    problems.push(KeyProblem::new(
                        format!("dataset[{i}].class"),
                        "is missing; the host check needs each file's class (or                          `host.label_column`)",
                    ));
                }
            }
        }
    }
    let defaults = Presentation::default();
    let mut number = |key: &str, value: Option<i64>, default: u64, range: (i64, i64)| -> u64 {
        let Some(value) = value else {
            return default;
        };
        if value < range.0 || value > range.1 {
            problems.push(KeyProblem::new(
                format!("host.{key}"),
                format!("{value} is outside {}..={}", range.0, range.1),
            ));
            return default;
        }
        value.unsigned_abs()
    };
    let dwell_ms = number("dwell_ms", raw.dwell_ms, defaults.dwell_ms, (100, 60_000));
    let gap_ms = number("gap_ms", raw.gap_ms, defaults.gap_ms, (100, 60_000));
    // The clear count is 1.1 x brightness and the sensor's counts are 16-bit.
    let brightness = (1, 50_000);
    let brightness_min = number(
        "brightness_min",
        raw.brightness_min,
        defaults.brightness_min.into(),
        brightness,
    );
    let brightness_max = number(
        "brightness_max",
        raw.brightness_max,
        defaults.brightness_max.into(),
        brightness,
    );
    let near = number(
        "proximity_near",
        raw.proximity_near,
        defaults.proximity_near.into(),
        (0, 255),
    );
    let far = number(
        "proximity_far",
        raw.proximity_far,
        defaults.proximity_far.into(),
        (0, 255),
    );
    if brightness_min > brightness_max {
        problems.push(KeyProblem::new(
            "host.brightness_min",
            format!("{brightness_min} is above brightness_max ({brightness_max})"),
        ));
    }
    if near == far {
        problems.push(KeyProblem::new(
            "host.proximity_far",
            format!("equals proximity_near ({near}); a sketch could not tell an object is there"),
        ));
    }
    SensorMapping {
        sensor,
        columns,
        label_column: raw.label_column.clone(),
        presentation: Presentation {
            dwell_ms,
            gap_ms,
            brightness_min: u32::try_from(brightness_min).unwrap_or(defaults.brightness_min),
            brightness_max: u32::try_from(brightness_max).unwrap_or(defaults.brightness_max),
            proximity_near: u8::try_from(near).unwrap_or(defaults.proximity_near),
            proximity_far: u8::try_from(far).unwrap_or(defaults.proximity_far),
        },
    }
}

fn check_name(name: &str, problems: &mut Vec<KeyProblem>) {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if !ok {
        problems.push(KeyProblem::new(
            "name",
            format!(
                "`{name}` is not a usable name (1–{MAX_NAME_LEN} of A–Z a–z 0–9 _ - ., not starting with .)"
            ),
        ));
    }
}

/// Class names and expected tokens end up in C string literals and serial matching: printable,
/// no quotes or backslashes, unique.
fn load_pipeline(
    dir: &Path,
    raw: &RawPipeline,
    problems: &mut Vec<KeyProblem>,
) -> Option<PipelineInputs> {
    let before = problems.len();
    if raw.goal.trim().is_empty() {
        problems.push(KeyProblem::new(
            "pipeline.goal",
            "is empty; say what the data processing must achieve",
        ));
    }
    let raw_csv = resolve_file(dir, &raw.raw, "pipeline.raw", &["csv"], problems);
    let keras = resolve_file(
        dir,
        &raw.keras,
        "pipeline.keras",
        &["keras", "h5"],
        problems,
    );
    let held_out = resolve_file(dir, &raw.held_out, "pipeline.held_out", &["csv"], problems);
    check_labels("pipeline.features", &raw.features, 1, problems);
    let label_column = raw
        .label_column
        .clone()
        .unwrap_or_else(|| "label".to_owned());
    if label_column.trim().is_empty() || raw.features.contains(&label_column) {
        problems.push(KeyProblem::new(
            "pipeline.label_column",
            format!("`{label_column}` must be a non-empty column name that is not a feature"),
        ));
    }
    let max_operations = match raw.max_operations {
        None => DEFAULT_MAX_OPERATIONS,
        Some(n) => match u32::try_from(n) {
            Ok(n) if (1..=MAX_OPERATIONS_CEILING).contains(&n) => n,
            _ => {
                problems.push(KeyProblem::new(
                    "pipeline.max_operations",
                    format!("{n} is outside 1..={MAX_OPERATIONS_CEILING}"),
                ));
                DEFAULT_MAX_OPERATIONS
            }
        },
    };
    let max_accuracy_drop = raw.max_accuracy_drop.unwrap_or(0.05);
    if !(0.0..=1.0).contains(&max_accuracy_drop) {
        problems.push(KeyProblem::new(
            "pipeline.max_accuracy_drop",
            format!("{max_accuracy_drop} is outside 0..=1 (a share of the rows)"),
        ));
    }
    if problems.len() > before {
        return None;
    }
    Some(PipelineInputs {
        goal: raw.goal.trim().to_owned(),
        raw: raw_csv?,
        keras: keras?,
        held_out: held_out?,
        features: raw.features.clone(),
        label_column,
        max_operations,
        quantize: raw.quantize,
        max_accuracy_drop,
    })
}

fn check_labels(key: &str, labels: &[String], min: usize, problems: &mut Vec<KeyProblem>) {
    if labels.len() < min {
        problems.push(KeyProblem::new(
            key,
            format!("needs at least {min} entries"),
        ));
    }
    for (i, label) in labels.iter().enumerate() {
        let item = format!("{key}[{i}]");
        if label.trim().is_empty() {
            problems.push(KeyProblem::new(item, "is empty"));
        } else if label.len() > MAX_CLASS_LEN
            || label
                .chars()
                .any(|c| c.is_control() || matches!(c, '"' | '\\'))
            || label.trim() != label
        {
            problems.push(KeyProblem::new(
                item,
                format!("`{label}` must be at most {MAX_CLASS_LEN} bytes, without quotes, backslashes, control characters or surrounding spaces"),
            ));
        } else if labels[..i].iter().any(|l| l.eq_ignore_ascii_case(label)) {
            problems.push(KeyProblem::new(item, format!("`{label}` appears twice")));
        }
    }
}

/// Resolves a path written in the app file: relative paths stay inside the app directory,
/// absolute paths are taken as written; the file must exist and have one of `extensions`.
fn resolve_file(
    dir: &Path,
    written: &str,
    key: &str,
    extensions: &[&str],
    problems: &mut Vec<KeyProblem>,
) -> Option<PathBuf> {
    let mut problem = |message: String| {
        problems.push(KeyProblem::new(key, message));
        None
    };
    if written.trim().is_empty() {
        return problem("is empty".to_owned());
    }
    if written.contains('\0') {
        return problem("contains a NUL byte".to_owned());
    }
    let as_written = Path::new(written);
    let path = if as_written.is_absolute() {
        as_written.to_owned()
    } else {
        let mut depth = 0i32;
        for component in as_written.components() {
            match component {
                Component::Normal(_) => depth += 1,
                Component::ParentDir => depth -= 1,
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => depth = -1,
            }
            if depth < 0 {
                return problem(format!(
                    "`{written}` leaves the app directory; write an absolute path to use a file outside it"
                ));
            }
        }
        dir.join(as_written)
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !extensions.contains(&extension.as_str()) {
        let wanted: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
        return problem(format!("`{written}` should end in {}", wanted.join(" or ")));
    }
    match fs_err::metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return problem(format!("`{}` is not a file", path.display())),
        Err(_) => return problem(format!("file not found: `{}`", path.display())),
    }
    // The lexical check above cannot see symbolic links: a relative path must also stay inside
    // once they are resolved.
    if !as_written.is_absolute() {
        let inside = match (fs_err::canonicalize(dir), fs_err::canonicalize(&path)) {
            (Ok(dir), Ok(real)) => real.starts_with(dir),
            _ => false,
        };
        if !inside {
            return problem(format!(
                "`{written}` leaves the app directory through a symbolic link; write an absolute path to use a file outside it"
            ));
        }
    }
    Some(path)
}

fn load_model(
    dir: &Path,
    raw: &RawModel,
    classes: &[String],
    problems: &mut Vec<KeyProblem>,
) -> Option<ModelInfo> {
    let before = problems.len();
    check_tensor("model.input", &raw.input, problems);
    check_tensor("model.output", &raw.output, problems);
    let outputs = raw.output.elements();
    let classes_len = classes.len() as u64;
    if !raw.output.shape.is_empty() && outputs != classes_len && !(classes_len == 2 && outputs == 1)
    {
        problems.push(KeyProblem::new(
            "model.output.shape",
            format!("has {outputs} elements but there are {classes_len} classes"),
        ));
    }
    if let Some(function) = &raw.predict_function
        && !is_c_identifier(function)
    {
        problems.push(KeyProblem::new(
            "model.predict_function",
            format!("`{function}` is not a C identifier"),
        ));
    }
    let (source, header_name, header_text, key) = match (&raw.header, &raw.tflite, raw.kind) {
        (Some(_), Some(_), _) => {
            problems.push(KeyProblem::new(
                "model",
                "give either `header` or `tflite`, not both",
            ));
            return None;
        }
        (None, None, _) => {
            problems.push(KeyProblem::new(
                "model",
                "give `header` (a C header) or `tflite` (a .tflite file)",
            ));
            return None;
        }
        (None, Some(_), ModelKind::Dense) => {
            problems.push(KeyProblem::new(
                "model.tflite",
                "a dense model is plain C arrays: give `header`, or set `kind = \"tflite\"`",
            ));
            return None;
        }
        (Some(header), None, _) => {
            let path = resolve_file(dir, header, "model.header", &["h", "hpp"], problems)?;
            let header_name = path.file_name()?.to_string_lossy().into_owned();
            if !header_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                problems.push(KeyProblem::new(
                    "model.header",
                    format!("the file name `{header_name}` must be A–Z a–z 0–9 _ - . only (it is #included)"),
                ));
                return None;
            }
            if raw.symbol.is_some() {
                problems.push(KeyProblem::new(
                    "model.symbol",
                    "only applies to a converted `tflite` file; a header names its own arrays",
                ));
            }
            let text = match fs_err::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(KeyProblem::new("model.header", format!("cannot read: {e}")));
                    return None;
                }
            };
            (ModelSource::Header(path), header_name, text, "model.header")
        }
        (None, Some(file), ModelKind::Tflite) => {
            let path = resolve_file(dir, file, "model.tflite", &["tflite"], problems)?;
            let symbol = raw.symbol.as_deref().unwrap_or(DEFAULT_MODEL_SYMBOL);
            let bytes = match fs_err::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    problems.push(KeyProblem::new("model.tflite", format!("cannot read: {e}")));
                    return None;
                }
            };
            let source_name = path.file_name()?.to_string_lossy().into_owned();
            match tflite::tflite_to_header(&bytes, symbol, &source_name) {
                Ok(text) => (
                    ModelSource::Tflite(path),
                    GENERATED_HEADER_NAME.to_owned(),
                    text,
                    "model.tflite",
                ),
                Err(e) => {
                    problems.push(KeyProblem::new(
                        "model.symbol",
                        format!("{e} (and `model` clashes with `const tflite::Model* model`)"),
                    ));
                    return None;
                }
            }
        }
    };
    let scan = scan_header(&header_text);
    let mut array = None;
    let mut array_len = None;
    let mut facts = None;
    match raw.kind {
        ModelKind::Tflite => {
            let Some(model_array) = scan.model_array() else {
                problems.push(KeyProblem::new(
                    key,
                    "declares no byte array holding a TFLite model",
                ));
                return None;
            };
            array = Some(model_array.name.clone());
            array_len = scan.length_of(&model_array.name).map(|s| s.name.clone());
            let bytes = scan.bytes_of(&model_array.name).unwrap_or_default();
            match inspect_tflite(bytes) {
                Ok(f) => {
                    compare_tensor("model.input", &raw.input, f.inputs.first(), problems);
                    compare_tensor("model.output", &raw.output, f.outputs.first(), problems);
                    facts = Some(f);
                }
                Err(e) => {
                    problems.push(KeyProblem::new(key, format!("`{}`: {e}", model_array.name)));
                }
            }
        }
        ModelKind::Dense => match &raw.predict_function {
            None => problems.push(KeyProblem::new(
                "model.predict_function",
                "a dense model needs the name of the function that runs it",
            )),
            Some(function) => {
                let declared = scan.get(function).is_some_and(|s| {
                    matches!(s.kind, SymbolKind::Function | SymbolKind::Prototype)
                });
                if !declared && is_c_identifier(function) {
                    problems.push(KeyProblem::new(
                        "model.predict_function",
                        format!("`{function}` is not a function declared in {header_name}"),
                    ));
                }
            }
        },
    }
    if problems.len() > before {
        return None;
    }
    Some(ModelInfo {
        kind: raw.kind,
        source,
        header_name,
        header_text,
        scan,
        array,
        array_len,
        input: raw.input.clone(),
        output: raw.output.clone(),
        predict_function: raw.predict_function.clone(),
        tflite: facts,
    })
}

fn check_tensor(key: &str, spec: &TensorSpec, problems: &mut Vec<KeyProblem>) {
    if spec.shape.is_empty() {
        problems.push(KeyProblem::new(format!("{key}.shape"), "is empty"));
    } else if spec.shape.contains(&0) {
        problems.push(KeyProblem::new(
            format!("{key}.shape"),
            "has a zero dimension",
        ));
    } else if spec.checked_elements().is_none() {
        problems.push(KeyProblem::new(
            format!("{key}.shape"),
            "has more elements than a 64-bit count holds",
        ));
    }
}

fn compare_tensor(
    key: &str,
    declared: &TensorSpec,
    actual: Option<&tflite::TensorFacts>,
    problems: &mut Vec<KeyProblem>,
) {
    let Some(actual) = actual else {
        problems.push(KeyProblem::new(key, "the model has no such tensor"));
        return;
    };
    if actual.dtype != Some(declared.dtype) {
        problems.push(KeyProblem::new(
            format!("{key}.dtype"),
            format!(
                "is {} but the model's tensor is {}",
                declared.dtype.as_str(),
                actual.type_name
            ),
        ));
    }
    let same_shape = actual.shape.len() == declared.shape.len()
        && actual
            .shape
            .iter()
            .zip(&declared.shape)
            .all(|(a, d)| i64::from(*a) == i64::from(*d) || *a == -1);
    if !same_shape {
        problems.push(KeyProblem::new(
            format!("{key}.shape"),
            format!(
                "is {:?} but the model's tensor has shape {:?}",
                declared.shape, actual.shape
            ),
        ));
    }
}
