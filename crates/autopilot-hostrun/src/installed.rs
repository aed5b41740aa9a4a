//! The target's pinned TFLM library as the user installed it for arduino-cli — found in the
//! sketchbook's `libraries/` by its `library.properties` — built into a host static library from
//! ITS sources (minus what only a board can build, each exclusion recorded with its reason),
//! cached under `<cache>/host-tflm/installed-<key>/` where the key covers the library's content,
//! the compiler version and the flags. Sketches then compile against its real headers: no API
//! profile is involved.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Instant;

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::HostError;
use crate::command::{
    self, HostCompiler, INSTALLED_C_FLAGS, INSTALLED_CXX_FLAGS, has_extension, run_ok,
};
use crate::tflm::run_all;

/// The host's replacements for the library's board glue, in `data/host/cores/common/`: the
/// observer wrapping `Invoke()`/`AllocateTensors()` and `tflite::InitializeTarget()`.
pub const GLUE: &[&str] = &["TflmObserver.cc", "TflmSystemSetup.cc"];

/// The library's board glue the host replaces: `DebugLog` and `InitializeTarget` on the board's
/// `Serial` (and a serial ring buffer of the core); the host runtime provides `DebugLog`,
/// `TflmSystemSetup.cc` the rest.
const BOARD_GLUE: &str = "tensorflow/lite/micro/system_setup.cpp";

/// A pinned library installed in arduino-cli's libraries folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledLibrary {
    pub name: String,
    pub version: String,
    /// The library's folder (`library.properties`, `src/`).
    pub dir: PathBuf,
}

impl InstalledLibrary {
    pub fn src(&self) -> PathBuf {
        self.dir.join("src")
    }
}

/// What the libraries folder holds for a pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The pinned name at the pinned version, with a `src/` folder.
    Found(InstalledLibrary),
    /// A library of that name that cannot stand for the pin (another version, no `src/`).
    NotUsed { dir: PathBuf, reason: String },
    /// Nothing of that name (or no libraries folder).
    Absent,
}

impl Lookup {
    /// Words for traces and `host check`, when something of that name was found but not used.
    pub fn note(&self) -> Option<String> {
        match self {
            Lookup::NotUsed { dir, reason } => Some(format!(
                "the library at {} was not used: {reason}",
                dir.display()
            )),
            Lookup::Found(_) | Lookup::Absent => None,
        }
    }
}

fn property(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
}

/// Looks for `name` at `version` among the folders of `libraries` (folder names vary; the
/// `library.properties` name and version decide). A different version is not the pin.
pub fn lookup(libraries: &Path, name: &str, version: &str) -> Lookup {
    let Ok(entries) = fs_err::read_dir(libraries) else {
        return Lookup::Absent;
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    // The pinned version in the wrong layout says more than another version does.
    let (mut other_version, mut wrong_layout) = (None, None);
    for dir in dirs {
        let Ok(text) = fs_err::read_to_string(dir.join("library.properties")) else {
            continue;
        };
        if property(&text, "name").as_deref() != Some(name) {
            continue;
        }
        let found = property(&text, "version").unwrap_or_default();
        if found != version {
            other_version.get_or_insert(Lookup::NotUsed {
                dir,
                reason: format!("it is version `{found}`, the target pins {name} {version}"),
            });
        } else if !dir.join("src").is_dir() {
            wrong_layout.get_or_insert(Lookup::NotUsed {
                dir,
                reason: "it has no src/ folder (not the 1.5 library layout)".to_owned(),
            });
        } else {
            return Lookup::Found(InstalledLibrary {
                name: name.to_owned(),
                version: version.to_owned(),
                dir,
            });
        }
    }
    wrong_layout.or(other_version).unwrap_or(Lookup::Absent)
}

/// arduino-cli's libraries folder, resolved as arduino-cli does: `ARDUINO_DIRECTORIES_USER`,
/// else `directories.user` of its configuration file (`ARDUINO_CONFIG_FILE`, else
/// `arduino-cli.yaml` in the data directory — `ARDUINO_DIRECTORIES_DATA` or `~/.arduino15`),
/// else `~/Arduino`; then `libraries/` below it. `env` reads the environment.
pub fn sketchbook_libraries(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |key: &str| env(key).filter(|v| !v.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let user = var("ARDUINO_DIRECTORIES_USER")
        .map(PathBuf::from)
        .or_else(|| {
            let config = var("ARDUINO_CONFIG_FILE").map(PathBuf::from).or_else(|| {
                let data = var("ARDUINO_DIRECTORIES_DATA")
                    .map(PathBuf::from)
                    .or_else(|| home.as_ref().map(|h| h.join(".arduino15")))?;
                Some(data.join("arduino-cli.yaml"))
            })?;
            let text = fs_err::read_to_string(config).ok()?;
            config_directories_user(&text).map(PathBuf::from)
        })
        .or_else(|| home.map(|h| h.join("Arduino")))?;
    Some(user.join("libraries"))
}

/// `directories.user` of an arduino-cli YAML configuration (the nested block form it writes).
pub fn config_directories_user(yaml: &str) -> Option<String> {
    let mut in_directories = false;
    for line in yaml.lines() {
        let content = line.split(" #").next().unwrap_or_default();
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let indented = content.starts_with(' ') || content.starts_with('\t');
        if !indented {
            in_directories = content.trim_end() == "directories:";
            continue;
        }
        if in_directories
            && let Some((key, value)) = content.trim().split_once(':')
            && key.trim() == "user"
        {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            return (!value.is_empty()).then(|| value.to_owned());
        }
    }
    None
}

/// A source of the library the host does not compile as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub path: String,
    pub reason: String,
}

/// How the library's translation units are built on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourcePlan {
    /// Into the cached static library (relative to `src/`).
    pub archive: Vec<String>,
    /// With each sketch, against its core stand-in (they include `Arduino.h`).
    pub with_core: Vec<String>,
    pub excluded: Vec<Exclusion>,
}

static INCLUDES_ARDUINO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*#\s*include\s*[<"]Arduino\.h[>"]"#).expect("valid regex")
});

fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), HostError> {
    for entry in fs_err::read_dir(dir).map_err(HostError::io(dir))? {
        let path = entry.map_err(HostError::io(dir))?.path();
        if path.is_dir() {
            files_under(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Sorts the library's `.cpp`/`.cc`/`.c` files: the board's serial glue and test programs are
/// excluded (with the reason), units that include `Arduino.h` are built with each sketch
/// against the core stand-in, the rest — the interpreter, every kernel including the CMSIS-NN
/// ones `-DARDUINO` selects, whose portable C paths build on any host — go into the library.
pub fn plan_sources(src: &Path) -> Result<SourcePlan, HostError> {
    let mut files = Vec::new();
    files_under(src, src, &mut files)?;
    files.sort();
    let mut plan = SourcePlan::default();
    for rel in files {
        if !has_extension(&rel, &["cpp", "cc", "c"]) {
            continue;
        }
        if rel == BOARD_GLUE {
            plan.excluded.push(Exclusion {
                path: rel,
                reason: "board serial glue (DebugLog and InitializeTarget on Serial, the core's \
                         ring buffer): replaced by the host runtime's DebugLog and \
                         TflmSystemSetup.cc"
                    .to_owned(),
            });
            continue;
        }
        let stem = rel.rsplit_once('.').map_or(rel.as_str(), |(s, _)| s);
        if stem.ends_with("_test") {
            plan.excluded.push(Exclusion {
                path: rel,
                reason: "a test program with its own main()".to_owned(),
            });
            continue;
        }
        let path = src.join(&rel);
        let text = fs_err::read_to_string(&path).map_err(HostError::io(&path))?;
        if INCLUDES_ARDUINO.is_match(&text) {
            plan.with_core.push(rel);
        } else {
            plan.archive.push(rel);
        }
    }
    Ok(plan)
}

/// What the host build of an installed library set up with.
#[derive(Debug, Clone)]
pub struct InstalledSetup {
    /// `~/.cache/autopilot`.
    pub cache_dir: PathBuf,
    pub compiler: HostCompiler,
    /// `data/host` (for the glue in `cores/common/`).
    pub data_dir: PathBuf,
    pub jobs: usize,
}

/// Written next to the built library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledInfo {
    pub library: String,
    pub version: String,
    pub dir: PathBuf,
    pub content_sha256: String,
    pub compiler: String,
    pub m32: bool,
    pub flags: Vec<String>,
    pub translation_units: usize,
    pub with_core: Vec<String>,
    pub excluded: Vec<Exclusion>,
    pub build_ms: u64,
}

/// An installed library built for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledTflm {
    pub library: InstalledLibrary,
    /// The cache folder of this build.
    pub dir: PathBuf,
    pub archive: PathBuf,
    /// The glue objects (observer, system setup) linked with every sketch.
    pub objects: Vec<PathBuf>,
    pub info: InstalledInfo,
}

impl InstalledTflm {
    /// Human words for traces: which source, where, what was left out.
    pub fn describe(&self) -> String {
        let excluded: Vec<&str> = self
            .info
            .excluded
            .iter()
            .map(|e| e.path.rsplit('/').next().unwrap_or(&e.path))
            .collect();
        format!(
            "installed {} {} at {} (its own sources: {} units; excluded: {}), {}{}",
            self.library.name,
            self.library.version,
            self.library.dir.display(),
            self.info.translation_units,
            if excluded.is_empty() {
                "none".to_owned()
            } else {
                excluded.join(", ")
            },
            self.info.compiler,
            if self.info.m32 { ", -m32" } else { "" }
        )
    }

    /// Every header under the library's `src/` (relative), for library discovery.
    pub fn headers(&self) -> Result<Vec<String>, HostError> {
        let src = self.library.src();
        let mut files = Vec::new();
        files_under(&src, &src, &mut files)?;
        files.retain(|f| has_extension(f, &["h", "hpp"]));
        files.sort();
        Ok(files)
    }

    /// The library's units built with each sketch (they need the core).
    pub fn core_sources(&self) -> Vec<PathBuf> {
        let src = self.library.src();
        self.info.with_core.iter().map(|r| src.join(r)).collect()
    }
}

/// The flags of the library's C++ units (machine flags first), as recorded and keyed.
fn flags(compiler: &HostCompiler) -> Vec<String> {
    compiler
        .machine_flags()
        .iter()
        .chain(INSTALLED_CXX_FLAGS)
        .chain(&["|"])
        .chain(INSTALLED_C_FLAGS)
        .map(|f| (*f).to_owned())
        .collect()
}

/// The sha256 of the library's `library.properties` and every file under `src/` (paths and
/// bytes, in path order).
pub fn content_hash(library: &InstalledLibrary) -> Result<String, HostError> {
    let src = library.src();
    let mut files = Vec::new();
    files_under(&src, &src, &mut files)?;
    files.sort();
    let mut hash = Sha256::new();
    let properties = library.dir.join("library.properties");
    hash.update(fs_err::read(&properties).map_err(HostError::io(&properties))?);
    for rel in files {
        let path = src.join(&rel);
        hash.update(rel.as_bytes());
        hash.update([0]);
        hash.update(fs_err::read(&path).map_err(HostError::io(&path))?);
    }
    Ok(hex::encode(hash.finalize()))
}

/// The cache key: the library's content, the compiler version, the flags and the host glue.
pub fn cache_key(
    content_sha256: &str,
    compiler: &HostCompiler,
    data_dir: &Path,
) -> Result<String, HostError> {
    let mut hash = Sha256::new();
    hash.update(content_sha256);
    hash.update("\n");
    hash.update(&compiler.version);
    hash.update("\n");
    for flag in flags(compiler) {
        hash.update(flag);
        hash.update(" ");
    }
    let common = data_dir.join("cores/common");
    for file in GLUE.iter().chain(&["HostRuntime.h"]) {
        let path = common.join(file);
        hash.update(fs_err::read(&path).map_err(HostError::io(&path))?);
    }
    Ok(hex::encode(&hash.finalize()[..8]))
}

fn build_dir(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join("host-tflm").join(format!("installed-{key}"))
}

fn glue_objects(dir: &Path) -> Vec<PathBuf> {
    GLUE.iter()
        .map(|g| dir.join("glue").join(format!("{g}.o")))
        .collect()
}

fn load(dir: &Path, library: &InstalledLibrary) -> Option<InstalledTflm> {
    let info: InstalledInfo =
        serde_json::from_str(&fs_err::read_to_string(dir.join("build-info.json")).ok()?).ok()?;
    let archive = dir.join("lib/libtflm.a");
    let objects = glue_objects(dir);
    (archive.is_file() && objects.iter().all(|o| o.is_file())).then(|| InstalledTflm {
        library: library.clone(),
        dir: dir.to_owned(),
        archive,
        objects,
        info,
    })
}

/// The host build of this library for this compiler, if the cache has it.
pub fn find_built(
    cache_dir: &Path,
    library: &InstalledLibrary,
    compiler: &HostCompiler,
    data_dir: &Path,
) -> Result<Option<InstalledTflm>, HostError> {
    let key = cache_key(&content_hash(library)?, compiler, data_dir)?;
    Ok(load(&build_dir(cache_dir, &key), library))
}

/// The host build of the installed library, built now if the cache lacks it (a few minutes of
/// CPU: every kernel of the library).
pub async fn ensure_built(
    setup: &InstalledSetup,
    library: &InstalledLibrary,
) -> Result<InstalledTflm, HostError> {
    let content = content_hash(library)?;
    let key = cache_key(&content, &setup.compiler, &setup.data_dir)?;
    let dir = build_dir(&setup.cache_dir, &key);
    if let Some(found) = load(&dir, library) {
        tracing::info!(dir = %dir.display(), "host build of the installed library found in the cache");
        return Ok(found);
    }
    let started = Instant::now();
    let src = library.src();
    let plan = plan_sources(&src)?;
    let obj_dir = dir.join("obj");
    let glue_dir = dir.join("glue");
    for d in [&obj_dir, &glue_dir, &dir.join("lib")] {
        fs_err::create_dir_all(d).map_err(HostError::io(d))?;
    }
    tracing::info!(
        units = plan.archive.len(),
        library = %library.dir.display(),
        "compiling the installed {} {} for the host ({})",
        library.name,
        library.version,
        setup.compiler.version
    );
    let includes = vec![src.clone()];
    let mut specs = Vec::new();
    let mut objects = Vec::new();
    for rel in &plan.archive {
        let object = obj_dir.join(format!("{}.o", rel.replace('/', "_")));
        let (language, base) = if has_extension(rel, &["c"]) {
            ("c", INSTALLED_C_FLAGS)
        } else {
            ("c++", INSTALLED_CXX_FLAGS)
        };
        specs.push(setup.compiler.compile_spec_as(
            language,
            base,
            &[],
            &includes,
            &src.join(rel),
            &object,
        ));
        objects.push(object);
    }
    let common = setup.data_dir.join("cores/common");
    let glue_includes = vec![src.clone(), common.clone()];
    for (file, object) in GLUE.iter().zip(glue_objects(&dir)) {
        specs.push(setup.compiler.compile_spec_as(
            "c++",
            INSTALLED_CXX_FLAGS,
            &[],
            &glue_includes,
            &common.join(file),
            &object,
        ));
    }
    run_all(specs, setup.jobs).await?;
    let archive = dir.join("lib/libtflm.a");
    if archive.exists() {
        fs_err::remove_file(&archive).map_err(HostError::io(&archive))?;
    }
    run_ok(&command::archive_spec(&archive, &objects)).await?;
    let info = InstalledInfo {
        library: library.name.clone(),
        version: library.version.clone(),
        dir: library.dir.clone(),
        content_sha256: content,
        compiler: setup.compiler.version.clone(),
        m32: setup.compiler.m32,
        flags: flags(&setup.compiler),
        translation_units: plan.archive.len(),
        with_core: plan.with_core,
        excluded: plan.excluded,
        build_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let info_path = dir.join("build-info.json");
    let json = serde_json::to_string_pretty(&info).expect("build info serializes");
    fs_err::write(&info_path, json).map_err(HostError::io(&info_path))?;
    tracing::info!(archive = %archive.display(), "host build of the installed library done");
    load(&dir, library).ok_or_else(|| HostError::Invalid {
        path: dir,
        message: "the host build of the installed library left no archive".to_owned(),
    })
}
