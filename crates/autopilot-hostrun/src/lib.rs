//! Builds and runs Arduino TinyML sketches natively on the host, as a simulator for boards
//! nothing here can emulate (Nano 33 BLE, ESP32): a static TFLM library built once from the
//! crates.io `tfmicro` sources ([`tflm`]), an API profile per pinned library version that
//! presents the real library's public API over that interpreter ([`profile`]), Arduino core and
//! sensor stand-ins on a simulated clock (`data/host/`), the sketch build with real GCC
//! diagnostics ([`build`]), the run with the dataset presented to the sensor ([`run`]), and the
//! verdict ([`verdict`]). Processes run only through `autopilot_toolchain::process`; every
//! command comes from one builder in [`command`].

pub mod build;
pub mod check;
pub mod command;
pub mod error;
pub mod installed;
pub mod profile;
pub mod prototypes;
pub mod run;
pub mod scene;
pub mod tflm;
pub mod verdict;

pub use build::{BuildRequest, HostBuild, HostBuildOutcome, build_sketch};
pub use check::{HostCheckReport, HostToolchain, check_sketch};
pub use command::HostCompiler;
pub use error::HostError;
pub use profile::{CoreFamily, Profile};
pub use run::{Observation, RunRequest, run_sketch};
pub use scene::{HostSensor, Presentation, Scene, SceneRow, SensorMapping};
pub use tflm::{TflmLibrary, TflmSetup, ensure_library, find_library};
pub use verdict::{Policy, Verdict, judge};
