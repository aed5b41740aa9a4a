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

/// The sensor stand-in a dataset feeds (the app's `[host] sensor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostSensor {
    /// Arduino_APDS9960: each row an object's r, g, b proportions.
    #[default]
    Apds9960Colour,
    /// Arduino_LSM9DS1: each row one IMU sample (acceleration, gyroscope, magnetic field).
    Lsm9ds1Imu,
}

impl HostSensor {
    /// The app file's name of the sensor.
    pub fn name(self) -> &'static str {
        match self {
            HostSensor::Apds9960Colour => "apds9960_colour",
            HostSensor::Lsm9ds1Imu => "lsm9ds1_imu",
        }
    }

    pub fn from_name(name: &str) -> Option<HostSensor> {
        [HostSensor::Apds9960Colour, HostSensor::Lsm9ds1Imu]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Which dataset columns feed the sensor, and where each row's label comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SensorMapping {
    /// The stand-in the dataset feeds.
    pub sensor: HostSensor,
    /// The CSV columns (by header name): for the colour sensor the red, green and blue
    /// proportions (empty: the first three columns); for the IMU 3, 6 or 9 columns —
    /// acceleration x y z (g), then gyroscope x y z (degrees/s), then magnetic field x y z (uT)
    /// (empty: the first 3, 6 or 9 columns).
    pub columns: Vec<String>,
    /// A CSV column holding each row's class name; `None`: the class the app gives each file.
    pub label_column: Option<String>,
    pub presentation: Presentation,
}
