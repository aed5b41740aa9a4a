//! The toolchain inventory of this machine: which compilers, cores, libraries, simulator and
//! sandbox are installed, and their versions. `autopilot doctor` judges and renders it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::ComponentVersion;

use crate::backend::{ToolchainConfig, arduino_builder, arduino_cli};
use crate::environment::{library_versions, platform_version};
use crate::process::{self, ProcessSpec};
use crate::target::Fqbn;

/// The board whose core stands for the AVR platform: arduino-builder reports its versions
/// for one FQBN, and every `arduino:avr` board shares the platform folder and compiler.
pub const AVR_REFERENCE_FQBN: &str = "arduino:avr:uno";

/// A program that was found, and its version or why it could not be read.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub version: Result<String, String>,
}

/// What `arduino-cli` reports about itself and its installation.
#[derive(Debug, Clone, Default)]
pub struct CliInventory {
    pub version: Option<String>,
    pub cores: Vec<ComponentVersion>,
    pub libraries: Vec<ComponentVersion>,
}

/// Everything found about the compilers, the simulator and the sandbox.
#[derive(Debug, Clone)]
pub struct ToolInventory {
    pub builder: Option<Found>,
    /// The AVR platform folder arduino-builder uses, and its version.
    pub avr_core: Option<(PathBuf, Option<String>)>,
    pub avr_gcc: Option<Found>,
    pub simavr: Option<PathBuf>,
    /// bubblewrap, the sandbox of generated code (`None` also when the sandbox is off).
    pub bwrap: Option<PathBuf>,
    /// Libraries arduino-builder sees (the platform's and the user libraries folder).
    pub builder_libraries: Vec<ComponentVersion>,
    /// arduino-cli, when on PATH, with its inventory or why it could not be read.
    pub cli: Option<(PathBuf, Result<CliInventory, String>)>,
}

/// Finds the compilers, the AVR core, `simavr` (a name looked up on PATH, or a path) and the
/// sandbox of `config`, and reads their versions. Nothing found is a `None`, never an error.
pub async fn gather(config: &ToolchainConfig, simavr: &Path) -> ToolInventory {
    let avr = Fqbn::parse(AVR_REFERENCE_FQBN).expect("a valid FQBN");
    let builder_config = &config.arduino_builder;
    let builder = match which::which(&builder_config.program) {
        Ok(path) => {
            let version = arduino_builder::versions(builder_config, &path, &avr, &[], None)
                .await
                .map_err(|e| e.to_string())
                .and_then(|versions| {
                    versions
                        .into_iter()
                        .find(|v| v.name == "arduino-builder")
                        .map(|v| v.version)
                        .ok_or_else(|| "no version reported".to_owned())
                });
            Some(Found { path, version })
        }
        Err(_) => None,
    };
    let avr_core = builder_config.platform_dir(&avr).map(|dir| {
        let version = platform_version(&dir);
        (dir, version)
    });
    let gcc = builder_config.tools_dir.join("avr-gcc");
    let avr_gcc = if gcc.is_file() {
        let version = match process::run(
            &ProcessSpec::new(&gcc)
                .arg("-dumpversion")
                .timeout(Duration::from_secs(20)),
        )
        .await
        {
            Ok(output) if output.success() => Ok(output.stdout.text().trim().to_owned()),
            Ok(output) => Err(format!(
                "`avr-gcc -dumpversion` failed: {}",
                output.stderr.text().trim()
            )),
            Err(error) => Err(error.to_string()),
        };
        Some(Found { path: gcc, version })
    } else {
        None
    };
    let mut builder_libraries = avr_core
        .as_ref()
        .map(|(dir, _)| library_versions(&dir.join("libraries")))
        .unwrap_or_default();
    if let Some(dir) = &config.libraries_dir {
        builder_libraries.extend(library_versions(dir));
    }
    let cli = match which::which(&config.arduino_cli.program) {
        Ok(path) => {
            let libraries_dirs: Vec<_> = config.libraries_dir.iter().cloned().collect();
            let inventory = arduino_cli::versions(&config.arduino_cli, &path, &libraries_dirs)
                .await
                .map(split_cli_versions)
                .map_err(|e| e.to_string());
            Some((path, inventory))
        }
        Err(_) => None,
    };
    ToolInventory {
        builder,
        avr_core,
        avr_gcc,
        simavr: which::which(simavr).ok(),
        bwrap: config
            .sandbox
            .as_ref()
            .and_then(|sandbox| which::which(&sandbox.bwrap).ok()),
        builder_libraries,
        cli,
    }
}

/// `arduino_cli::versions` lists the CLI, its cores and its libraries together: cores are
/// the `package:architecture` names (library names never hold a `:`).
pub fn split_cli_versions(versions: Vec<ComponentVersion>) -> CliInventory {
    let mut inventory = CliInventory::default();
    for component in versions {
        if component.name == "arduino-cli" {
            inventory.version = Some(component.version);
        } else if component.name.contains(':') {
            inventory.cores.push(component);
        } else {
            inventory.libraries.push(component);
        }
    }
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_versions_split_into_the_cli_its_cores_and_its_libraries() {
        let component = |name: &str, version: &str| ComponentVersion {
            name: name.to_owned(),
            version: version.to_owned(),
        };
        let inventory = split_cli_versions(vec![
            component("arduino-cli", "1.2.2"),
            component("arduino:mbed_nano", "4.2.4"),
            component("Arduino_APDS9960", "1.0.4"),
        ]);
        assert_eq!(inventory.version.as_deref(), Some("1.2.2"));
        assert_eq!(inventory.cores, [component("arduino:mbed_nano", "4.2.4")]);
        assert_eq!(
            inventory.libraries,
            [component("Arduino_APDS9960", "1.0.4")]
        );
    }
}
