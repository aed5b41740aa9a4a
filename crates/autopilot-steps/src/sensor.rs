//! The app file's `[host]` section as values: how the host check presents the dataset to the
//! sensor stand-in (columns, label column, dwell, gaps, brightness, proximity).

/// How the dataset is shown to the sensor: the app file's `[host]` section (defaults are the
/// presentation the prototype validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// How long each object stays in front of the sensor.
    pub dwell_ms: u64,
    /// The empty time before each object (and after the last).
    pub gap_ms: u64,
    /// The brightness (sum of the colour counts scale) varies between these from row to row.
    pub brightness_min: u32,
    pub brightness_max: u32,
    /// The proximity reading while an object is there, and while none is.
    pub proximity_near: u8,
    pub proximity_far: u8,
}

impl Default for Presentation {
    fn default() -> Self {
        Presentation {
            dwell_ms: 1500,
            gap_ms: 1000,
            brightness_min: 600,
            brightness_max: 3000,
            proximity_near: 0,
            proximity_far: 255,
        }
    }
}

/// Which dataset columns feed the sensor, and where each row's label comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SensorMapping {
    /// The CSV columns (by header name) holding the red, green and blue proportions; empty means
    /// the first three columns.
    pub columns: Vec<String>,
    /// A CSV column holding each row's class name; `None`: the class the app gives each file.
    pub label_column: Option<String>,
    pub presentation: Presentation,
}
