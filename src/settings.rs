//! Settings every command shares, resolved from flags and the environment: the board
//! definitions, the cache folder, the toolchain configuration, the host check's data and
//! arduino-cli's libraries folder. (`setup` builds on them for the commands that run sessions.)

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use autopilot_toolchain::{Targets, ToolchainConfig};

use crate::cli::{TargetsDirArg, ToolProgramsArgs};
use crate::exit::{CliResult, ErrorKind};

/// `$XDG_CACHE_HOME/autopilot`, else `~/.cache/autopilot`.
pub fn default_cache_dir() -> CliResult<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .ok_or_else(|| anyhow!("no cache folder: set --cache-dir, XDG_CACHE_HOME or HOME"))
        .input_error()?;
    Ok(base.join("autopilot"))
}

/// The cache folder: the flag (or `AUTOPILOT_CACHE_DIR`), else the default.
pub fn cache_dir(flag: Option<&Path>) -> CliResult<PathBuf> {
    match flag {
        Some(dir) => Ok(dir.to_owned()),
        None => default_cache_dir(),
    }
}

/// Defaults with caches under `cache`, the programs of the command line and a user
/// libraries folder.
pub fn toolchain_config(
    cache: &Path,
    programs: &ToolProgramsArgs,
    libraries_dir: Option<&Path>,
) -> ToolchainConfig {
    let mut config = ToolchainConfig::with_cache_dir(cache);
    config
        .arduino_builder
        .program
        .clone_from(&programs.arduino_builder);
    config.arduino_cli.program.clone_from(&programs.arduino_cli);
    config.libraries_dir = libraries_dir.map(Path::to_owned);
    if programs.no_sandbox {
        config.sandbox = None;
    }
    if let Some(sandbox) = &mut config.sandbox {
        // The sandbox clears the environment and shows only what it binds: arduino-cli keeps
        // its configuration variables, and its default folders (under the real HOME) become
        // readable — never writable — from a compile.
        config.arduino_cli.env.extend(
            std::env::vars_os().filter(|(key, _)| key.to_string_lossy().starts_with("ARDUINO_")),
        );
        if let Some(home) = std::env::home_dir() {
            sandbox.read_only.push(home.join(".arduino15"));
            sandbox.read_only.push(home.join("Arduino"));
            config.arduino_cli.env.push(("HOME".into(), home.into()));
        }
    }
    config
}

/// `data/host` of this checkout (stand-ins, profiles): the default of `--host-data`.
pub fn default_host_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/host")
}

/// arduino-cli's libraries folder: `$ARDUINO_DIRECTORIES_USER`, else `directories.user` of
/// arduino-cli's configuration file, else `~/Arduino` (its default sketchbook on Linux); then
/// `libraries/`.
pub fn arduino_libraries() -> Option<PathBuf> {
    autopilot_hostrun::installed::sketchbook_libraries(&|key| std::env::var(key).ok())
}

/// The targets of `--targets-dir`, or the built-in ones.
pub fn targets(arg: &TargetsDirArg) -> CliResult<Targets> {
    match &arg.targets_dir {
        Some(dir) => Targets::load_dir(dir)
            .context("invalid board definitions")
            .input_error(),
        None => Ok(Targets::builtin()),
    }
}
