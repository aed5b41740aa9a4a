//! Board definitions (`targets/*.toml`): loading, validation with errors that name the file
//! and the key, and the built-in copies compiled into the binary.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

/// One board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short name, equal to the file stem (`nano33ble_sense`).
    pub name: String,
    pub display_name: String,
    /// Fully qualified board name, with menu options when the board needs them
    /// (`arduino:avr:nano:cpu=atmega328`).
    pub fqbn: String,
    /// The core to install (`arduino:mbed_nano`).
    pub core: String,
    /// Program storage available to sketches, in bytes.
    pub flash_bytes: u64,
    /// RAM available to sketches, in bytes.
    pub ram_bytes: u64,
    pub serial_baud: u32,
    /// The compiler backend to prefer when it is installed.
    pub backend: BackendKind,
    /// The TinyML library sketches for this board use, pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tinyml: Option<TinyMlLibrary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<Sensor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<Simulator>,
    /// Free text shown by `autopilot targets <name>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TinyMlLibrary {
    /// The library's registry name (`Chirale_TensorFLowLite`, spelled as its
    /// `library.properties` spells it).
    pub library: String,
    pub version: String,
    /// The header sketches include first (`Chirale_TensorFlowLite.h`).
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// Chip or part (`APDS9960`).
    pub chip: String,
    /// What it measures (`color`, `gesture`, `imu` …).
    pub kinds: Vec<String>,
    /// The Arduino library that drives it; `None` when the core provides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulator {
    /// Only `simavr` exists today.
    pub kind: String,
    /// The simavr `-m` value (`atmega328p`).
    pub mcu: String,
    /// The simavr `-f` value in Hz.
    pub clock_hz: u64,
}

/// A parsed FQBN: `package:arch:board[:key=value,…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fqbn {
    pub package: String,
    pub architecture: String,
    pub board: String,
    pub options: Vec<(String, String)>,
}

impl Fqbn {
    pub fn parse(text: &str) -> Result<Fqbn, String> {
        let mut parts = text.splitn(4, ':');
        let mut next = |what: &str| {
            parts
                .next()
                .filter(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                })
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("`{text}` is not an FQBN (package:architecture:board): bad {what}")
                })
        };
        let package = next("package")?;
        let architecture = next("architecture")?;
        let board = next("board")?;
        let mut options = Vec::new();
        if let Some(rest) = parts.next() {
            for option in rest.split(',') {
                let (key, value) = option
                    .split_once('=')
                    .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                    .ok_or_else(|| format!("`{text}`: menu option `{option}` is not key=value"))?;
                options.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(Fqbn {
            package,
            architecture,
            board,
            options,
        })
    }

    /// `package:arch`, the core that provides the board.
    pub fn core(&self) -> String {
        format!("{}:{}", self.package, self.architecture)
    }
}

impl Target {
    pub fn fqbn(&self) -> Fqbn {
        Fqbn::parse(&self.fqbn).expect("validated on load")
    }

    /// The architecture (`avr`, `mbed_nano`, `esp32`).
    pub fn architecture(&self) -> String {
        self.fqbn().architecture
    }
}

/// A target file that cannot be used, with the file and the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TargetError {
    pub file: PathBuf,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: key `{key}`: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("cannot read targets directory {}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] TargetError),
    #[error("no target files (*.toml) in {}", dir.display())]
    Empty { dir: PathBuf },
    #[error("unknown target `{name}`; known: {known}")]
    Unknown { name: String, known: String },
}

/// The targets, by name.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    targets: BTreeMap<String, Target>,
}

/// The target files shipped in `targets/`, compiled in.
const BUILTIN: &[(&str, &str)] = &[
    (
        "nano33ble.toml",
        include_str!("../../../targets/nano33ble.toml"),
    ),
    (
        "nano33ble_sense.toml",
        include_str!("../../../targets/nano33ble_sense.toml"),
    ),
    ("esp32.toml", include_str!("../../../targets/esp32.toml")),
    (
        "esp32s3.toml",
        include_str!("../../../targets/esp32s3.toml"),
    ),
    ("uno.toml", include_str!("../../../targets/uno.toml")),
    ("nano.toml", include_str!("../../../targets/nano.toml")),
    ("mega.toml", include_str!("../../../targets/mega.toml")),
];

impl Targets {
    /// The targets of the repository's `targets/` folder as they were at build time.
    pub fn builtin() -> Targets {
        let mut targets = Targets::default();
        for (file, text) in BUILTIN {
            let target = parse_target(Path::new("targets").join(file).as_path(), text)
                .expect("built-in targets are valid (a test checks them)");
            targets.targets.insert(target.name.clone(), target);
        }
        targets
    }

    /// Reads every `*.toml` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Targets, TargetsError> {
        let read_dir = |source| TargetsError::ReadDir {
            dir: dir.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
            .map_err(read_dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(TargetsError::Empty {
                dir: dir.to_owned(),
            });
        }
        let mut targets = Targets::default();
        for file in files {
            let target = load_target(&file)?;
            targets.targets.insert(target.name.clone(), target);
        }
        Ok(targets)
    }

    pub fn get(&self, name: &str) -> Result<&Target, TargetsError> {
        self.targets.get(name).ok_or_else(|| TargetsError::Unknown {
            name: name.to_owned(),
            known: self.targets.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets.values()
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// Reads and validates one target file.
pub fn load_target(path: &Path) -> Result<Target, TargetError> {
    let text = fs_err::read_to_string(path).map_err(|e| TargetError {
        file: path.to_owned(),
        key: None,
        message: e.to_string(),
    })?;
    parse_target(path, &text)
}

/// Parses and validates target TOML; `path` names the file in errors and gives the
/// expected `name` (the file stem).
pub fn parse_target(path: &Path, text: &str) -> Result<Target, TargetError> {
    let error = |key: Option<&str>, message: String| TargetError {
        file: path.to_owned(),
        key: key.map(str::to_owned),
        message,
    };
    let target: Target = toml::from_str(text).map_err(|e| {
        let key = toml_error_key(text, &e);
        error(key.as_deref(), e.message().to_owned())
    })?;
    validate(&target, path).map_err(|(key, message)| error(Some(&key), message))?;
    Ok(target)
}

/// The key a TOML error points at: the `key = …` on the line of its span, if any.
fn toml_error_key(text: &str, error: &toml::de::Error) -> Option<String> {
    let span = error.span()?;
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let key = line.split('=').next()?.trim();
    (!key.is_empty() && !key.starts_with('[') && line.contains('=')).then(|| key.to_owned())
}

const BAUDS: &[u32] = &[
    300, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115_200, 230_400, 250_000,
    460_800, 500_000, 921_600, 1_000_000, 2_000_000,
];

fn validate(target: &Target, path: &Path) -> Result<(), (String, String)> {
    let err = |key: &str, message: String| Err((key.to_owned(), message));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.as_deref() != Some(target.name.as_str()) {
        return err(
            "name",
            format!(
                "`{}` must equal the file name without `.toml` ({})",
                target.name,
                stem.unwrap_or_default()
            ),
        );
    }
    if !target
        .name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || target.name.is_empty()
    {
        return err("name", "use lowercase letters, digits and `_`".to_owned());
    }
    if target.display_name.trim().is_empty() {
        return err("display_name", "must not be empty".to_owned());
    }
    let fqbn = match Fqbn::parse(&target.fqbn) {
        Ok(fqbn) => fqbn,
        Err(message) => return err("fqbn", message),
    };
    if fqbn.core() != target.core {
        return err(
            "core",
            format!(
                "`{}` does not provide `{}` (expected `{}`)",
                target.core,
                target.fqbn,
                fqbn.core()
            ),
        );
    }
    if target.flash_bytes == 0 {
        return err("flash_bytes", "must be greater than 0".to_owned());
    }
    if target.ram_bytes == 0 {
        return err("ram_bytes", "must be greater than 0".to_owned());
    }
    if !BAUDS.contains(&target.serial_baud) {
        return err(
            "serial_baud",
            format!("{} is not a standard baud rate", target.serial_baud),
        );
    }
    if target.backend == BackendKind::ArduinoBuilder && fqbn.architecture != "avr" {
        return err(
            "backend",
            format!(
                "arduino-builder (Debian) only has the AVR core; `{}` needs arduino-cli",
                target.fqbn
            ),
        );
    }
    if let Some(tinyml) = &target.tinyml {
        for (key, value) in [
            ("tinyml.library", &tinyml.library),
            ("tinyml.version", &tinyml.version),
            ("tinyml.header", &tinyml.header),
        ] {
            if value.trim().is_empty() {
                return err(key, "must not be empty".to_owned());
            }
        }
        if !tinyml
            .version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            return err(
                "tinyml.version",
                format!("`{}` is not a pinned version", tinyml.version),
            );
        }
    }
    for (index, sensor) in target.sensors.iter().enumerate() {
        let key = |field: &str| format!("sensors[{index}].{field}");
        if sensor.chip.trim().is_empty() {
            return err(&key("chip"), "must not be empty".to_owned());
        }
        if sensor.kinds.is_empty() {
            return err(&key("kinds"), "list at least one kind".to_owned());
        }
        if Path::new(&sensor.header)
            .extension()
            .is_none_or(|ext| !ext.eq_ignore_ascii_case("h"))
        {
            return err(
                &key("header"),
                format!("`{}` is not a header", sensor.header),
            );
        }
        if sensor.version.is_some() && sensor.library.is_none() {
            return err(&key("version"), "a version needs a library".to_owned());
        }
    }
    if let Some(simulator) = &target.simulator {
        if simulator.kind != "simavr" {
            return err(
                "simulator.kind",
                format!(
                    "`{}` is unknown; only `simavr` is supported",
                    simulator.kind
                ),
            );
        }
        if fqbn.architecture != "avr" {
            return err("simulator", "simavr only runs AVR boards".to_owned());
        }
        if simulator.mcu.trim().is_empty() {
            return err("simulator.mcu", "must not be empty".to_owned());
        }
        if simulator.clock_hz == 0 {
            return err("simulator.clock_hz", "must be greater than 0".to_owned());
        }
    }
    Ok(())
}
