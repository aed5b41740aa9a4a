//! API profiles: per pinned library version, the header paths the real library has, facade
//! headers presenting its public API over the host's 2020 interpreter, poison headers for the
//! paths it lacks, and an adapter compiled once. Data under `data/host/profiles/<lib>@<ver>/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::HostError;
use crate::command::{HostCompiler, RENAME_2020};
use crate::tflm::{TflmLibrary, compile_all};

/// The Arduino core family a target's core belongs to (which stand-in core to build with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreFamily {
    /// `arduino:mbed_nano` (Nano 33 BLE, Nano 33 BLE Sense).
    Mbed,
    /// `esp32:esp32`.
    Esp32,
}

impl CoreFamily {
    /// The family of an arduino-cli core id, if the host has a stand-in for it.
    pub fn for_core(core: &str) -> Option<CoreFamily> {
        match core {
            "arduino:mbed_nano" | "arduino:mbed" | "arduino:mbed_nano33ble" => {
                Some(CoreFamily::Mbed)
            }
            "esp32:esp32" => Some(CoreFamily::Esp32),
            _ => None,
        }
    }

    pub fn dir_name(self) -> &'static str {
        match self {
            CoreFamily::Mbed => "mbed",
            CoreFamily::Esp32 => "esp32",
        }
    }

    /// The defines a real build of the board has.
    pub fn defines(self) -> &'static [&'static str] {
        match self {
            CoreFamily::Mbed => &[
                "-DARDUINO=10819",
                "-DARDUINO_ARDUINO_NANO33BLE",
                "-DARDUINO_ARCH_MBED",
                "-DARDUINO_ARCH_NRF52840",
            ],
            CoreFamily::Esp32 => &[
                "-DARDUINO=10819",
                "-DARDUINO_ESP32_DEV",
                "-DARDUINO_ARCH_ESP32",
                "-DESP32",
            ],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    library: String,
    version: String,
    headers: PathBuf,
}

/// A library profile as loaded from its folder.
#[derive(Debug, Clone)]
pub struct Profile {
    pub library: String,
    pub version: String,
    pub dir: PathBuf,
    /// Header paths of the real library (relative to its `src/`).
    pub headers: BTreeSet<String>,
}

/// A profile ready to build with: poison headers generated and the adapter compiled.
#[derive(Debug, Clone)]
pub struct PreparedProfile {
    pub profile: Profile,
    pub poison_dir: PathBuf,
    /// Adapter objects to link with every sketch (facade functions, bridge, observer).
    pub objects: Vec<PathBuf>,
}

impl Profile {
    /// `<profiles>/<library>@<version>/profile.toml`; `Ok(None)` when there is no profile for
    /// that version (the check is then skipped, never passed).
    pub fn load(
        profiles: &Path,
        library: &str,
        version: &str,
    ) -> Result<Option<Profile>, HostError> {
        let dir = profiles.join(format!("{library}@{version}"));
        let path = dir.join("profile.toml");
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs_err::read_to_string(&path).map_err(HostError::io(&path))?;
        let file: ProfileFile = toml::from_str(&text).map_err(|e| HostError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if file.library != library || file.version != version {
            return Err(HostError::Invalid {
                path,
                message: format!(
                    "says {}@{}, but its folder is {library}@{version}",
                    file.library, file.version
                ),
            });
        }
        let headers_path = dir.join(&file.headers);
        let headers = fs_err::read_to_string(&headers_path)
            .map_err(HostError::io(&headers_path))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        Ok(Some(Profile {
            library: file.library,
            version: file.version,
            dir,
            headers,
        }))
    }

    pub fn id(&self) -> String {
        format!("{}@{}", self.library, self.version)
    }

    pub fn facade_dir(&self) -> PathBuf {
        self.dir.join("include")
    }

    fn adapter_dir(&self) -> PathBuf {
        self.dir.join("adapter")
    }

    /// Headers directly in the library's `src/`: including one makes the library join the
    /// sketch's include path (arduino-cli's discovery).
    pub fn top_level_headers(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|h| !h.contains('/'))
            .map(String::as_str)
    }

    /// Include directories the sketch sees for this library, in order.
    pub fn include_dirs(&self, prepared_poison: &Path, tflm: &TflmLibrary) -> Vec<PathBuf> {
        let mut dirs = vec![self.facade_dir(), prepared_poison.to_owned()];
        dirs.extend(tflm.include_dirs());
        dirs
    }
}

/// Poison header text for a path the real library lacks. Included straight from the sketch it
/// fails as the board's build would; included from another header (the 2020 internals) it
/// passes through to the 2020 file.
pub fn poison_text(path: &str, profile_id: &str) -> String {
    format!(
        "// Generated by autopilot host run: {path} is not a header of {profile_id}.\n\
         #if __INCLUDE_LEVEL__ <= 1\n\
         #error \"{path}: No such file or directory (not in {profile_id})\"\n\
         #else\n\
         #include_next <{path}>\n\
         #endif\n"
    )
}

/// Text for a header the real library has but the host cannot provide.
pub fn unsupported_text(path: &str, profile_id: &str) -> String {
    format!(
        "// Generated by autopilot host run.\n\
         #error \"autopilot-host: {path} of {profile_id} has no host equivalent (unsupported)\"\n"
    )
}

fn relative_files(root: &Path, under: &Path, suffix: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs_err::read_dir(under) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            relative_files(root, &path, suffix, out);
        } else if path.to_string_lossy().ends_with(suffix)
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

fn hash_dir(hash: &mut Sha256, dir: &Path) {
    let mut files = Vec::new();
    relative_files(dir, dir, "", &mut files);
    files.sort();
    for rel in files {
        hash.update(rel.as_bytes());
        if let Ok(bytes) = fs_err::read(dir.join(&rel)) {
            hash.update(&bytes);
        }
    }
}

/// Generates the poison headers and compiles the adapter, once per profile content, library
/// and compiler (cached beside the library).
pub async fn prepare(
    profile: &Profile,
    tflm: &TflmLibrary,
    compiler: &HostCompiler,
    core_common: &Path,
    jobs: usize,
) -> Result<PreparedProfile, HostError> {
    let mut hash = Sha256::new();
    hash_dir(&mut hash, &profile.dir);
    hash_dir(&mut hash, core_common);
    for h in &profile.headers {
        hash.update(h.as_bytes());
    }
    let key = hex::encode(&hash.finalize()[..8]);
    let out = tflm
        .dir
        .join("profiles")
        .join(format!("{}-{key}", profile.id()));
    let poison_dir = out.join("poison");
    let objects = vec![
        out.join("api.o"),
        out.join("bridge_2020.o"),
        out.join("observer.o"),
    ];
    let prepared = PreparedProfile {
        profile: profile.clone(),
        poison_dir: poison_dir.clone(),
        objects,
    };
    if out.join("done").is_file() {
        return Ok(prepared);
    }
    let id = profile.id();
    let mut facade = Vec::new();
    relative_files(
        &profile.facade_dir(),
        &profile.facade_dir(),
        ".h",
        &mut facade,
    );
    let facade: BTreeSet<String> = facade.into_iter().collect();
    let mut tree = Vec::new();
    relative_files(
        &tflm.tf_root,
        &tflm.tf_root.join("tensorflow"),
        ".h",
        &mut tree,
    );
    let tree: BTreeSet<String> = tree.into_iter().collect();
    let write = |rel: &str, text: String| -> Result<(), HostError> {
        let path = poison_dir.join(rel);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(HostError::io(parent))?;
        }
        fs_err::write(&path, text).map_err(HostError::io(&path))
    };
    for rel in tree.difference(&profile.headers) {
        if !facade.contains(rel) {
            write(rel, poison_text(rel, &id))?;
        }
    }
    for rel in &profile.headers {
        if !facade.contains(rel) && !tree.contains(rel) {
            write(rel, unsupported_text(rel, &id))?;
        }
    }
    fs_err::create_dir_all(&poison_dir).map_err(HostError::io(&poison_dir))?;
    let adapter = profile.adapter_dir();
    let mut sketch_view = profile.include_dirs(&poison_dir, tflm);
    sketch_view.push(core_common.to_owned());
    compile_all(
        compiler,
        &[],
        &sketch_view,
        &[
            (adapter.join("api.cc"), prepared.objects[0].clone()),
            (
                core_common.join("TflmObserver.cc"),
                prepared.objects[2].clone(),
            ),
        ],
        jobs,
    )
    .await?;
    compile_all(
        compiler,
        &[RENAME_2020],
        &tflm.include_dirs(),
        &[(adapter.join("bridge_2020.cc"), prepared.objects[1].clone())],
        jobs,
    )
    .await?;
    let done = out.join("done");
    fs_err::write(&done, "").map_err(HostError::io(&done))?;
    Ok(prepared)
}
