//! The tools tests need and this machine may lack (Debian's AVR toolchain, simavr, the host
//! TFLM library), each checked with the [`crate::require`] rule.

use std::path::{Path, PathBuf};

/// The AVR core of Debian's arduino-core-avr (arduino-builder's hardware folder).
pub const AVR_CORE: &str = "/usr/share/arduino/hardware/arduino/avr/platform.txt";

/// Whether every one of `programs` is on `PATH` (where the code under test looks for them) and
/// every one of `files` exists; `what` names them in the skip or the CI failure.
pub fn installed(what: &str, programs: &[&str], files: &[&str]) -> bool {
    let missing = programs
        .iter()
        .find(|p| which::which(p).is_err())
        .or_else(|| files.iter().find(|f| !Path::new(f).is_file()));
    let what = match missing {
        Some(missing) => format!("`{missing}` ({what}; scripts/install-os-deps.sh)"),
        None => what.to_owned(),
    };
    crate::require(&what, missing.is_none())
}

/// Debian's arduino-builder, the AVR core and avr-gcc.
pub fn avr_toolchain() -> bool {
    installed(
        "the AVR toolchain (arduino-builder, arduino-core-avr, gcc-avr)",
        &["arduino-builder", "avr-gcc", "avr-g++"],
        &[AVR_CORE],
    )
}

/// simavr.
pub fn simavr() -> bool {
    installed("simavr", &["simavr"], &[])
}

/// The AVR toolchain and simavr: what a whole session on the uno needs.
pub fn avr_toolchain_and_simavr() -> bool {
    installed(
        "the AVR toolchain and simavr",
        &["arduino-builder", "avr-gcc", "avr-g++", "simavr"],
        &[AVR_CORE],
    )
}

/// The default cache folder, as the CLI resolves it (`$XDG_CACHE_HOME/autopilot` or
/// `~/.cache/autopilot`).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("autopilot")
}

/// Whether `bash scripts/setup-host-tflm.sh` has built the host TFLM library in the default
/// cache, and the host build's tools (g++, arduino-ctags) are here.
pub fn host_library() -> bool {
    let cache = cache_dir().join("host-tflm");
    let library = fs_err::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("lib/libtflm.a"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| cache.join("<key>/lib/libtflm.a"));
    installed(
        "the host TFLM library from bash scripts/setup-host-tflm.sh, arduino-ctags, g++",
        &["arduino-ctags", "g++"],
        &[&library.to_string_lossy()],
    )
}

/// Whether bubblewrap is on PATH and `bash scripts/setup-python.sh` has made the project's
/// Python environment (its pointer file, or `AUTOPILOT_PYTHON_ENV`, names a venv with
/// `bin/python3`): what every sandboxed Python test needs.
pub fn python_env() -> bool {
    let venv = std::env::var_os("AUTOPILOT_PYTHON_ENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let pointer = cache_dir().join("python-env");
            fs_err::read_to_string(pointer)
                .ok()
                .map(|text| PathBuf::from(text.trim()))
        })
        .unwrap_or_else(|| cache_dir().join("python-<key>"));
    installed(
        "the project's Python environment from bash scripts/setup-python.sh, and bubblewrap",
        &["bwrap"],
        &[&venv.join("bin/python3").to_string_lossy()],
    )
}
