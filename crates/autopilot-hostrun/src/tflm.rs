//! The host TFLM library: the crates.io `tfmicro` 0.1.0 sources fetched through cargo, checked
//! against their checksum, extracted and built into a static library with the host compiler,
//! cached under `<cache>/host-tflm/<key>/` where the key covers the crate checksum, the compiler
//! version and the flags. Built once; every sketch links it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::HostError;
use crate::command::{self, CXX_FLAGS, HostCompiler, RENAME_2020, has_extension, run_ok};

/// The crate's sha256 as crates.io publishes it (Cargo.lock `checksum`).
pub const TFMICRO_SHA256: &str = "b2da8beabd85d11badfc2d603a31c9fb468702cda5fc034ac872fbaf43544e94";
pub const TFMICRO_VERSION: &str = "0.1.0";
/// The TensorFlow tree inside the crate.
const TF_ROOT: &str = "submodules/tensorflow";
const DOWNLOADS: &str = "tensorflow/lite/micro/tools/make/downloads";

/// What `ensure_library` needs.
#[derive(Debug, Clone)]
pub struct TflmSetup {
    /// `~/.cache/autopilot` (the caller resolves it).
    pub cache_dir: PathBuf,
    pub cargo: PathBuf,
    pub compiler: HostCompiler,
    /// Parallel compiles.
    pub jobs: usize,
}

/// Written next to the library: what it was built from and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub source: String,
    pub crate_sha256: String,
    pub compiler: String,
    pub m32: bool,
    pub flags: Vec<String>,
    pub translation_units: usize,
    pub build_ms: u64,
}

/// A built host TFLM library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TflmLibrary {
    pub dir: PathBuf,
    pub archive: PathBuf,
    /// The TensorFlow root (`tensorflow/…` below it).
    pub tf_root: PathBuf,
    pub info: BuildInfo,
}

impl TflmLibrary {
    /// Include directories of the 2020 tree: the TF root, flatbuffers, gemmlowp, ruy.
    pub fn include_dirs(&self) -> Vec<PathBuf> {
        let downloads = self.tf_root.join(DOWNLOADS);
        vec![
            self.tf_root.clone(),
            downloads.join("flatbuffers/include"),
            downloads.join("gemmlowp"),
            downloads.join("ruy"),
        ]
    }

    /// Human words for traces: `crates.io tfmicro 0.1.0 (TF 33689c48ad), g++ …, -m32`.
    pub fn describe(&self) -> String {
        format!(
            "{}, {}{}",
            self.info.source,
            self.info.compiler,
            if self.info.m32 { ", -m32" } else { "" }
        )
    }
}

/// The cache key: crate checksum, compiler version, flags.
pub fn cache_key(compiler: &HostCompiler) -> String {
    let mut hash = Sha256::new();
    hash.update(TFMICRO_SHA256);
    hash.update("\n");
    hash.update(&compiler.version);
    hash.update("\n");
    for flag in compiler
        .machine_flags()
        .iter()
        .chain(CXX_FLAGS)
        .chain(&[RENAME_2020])
    {
        hash.update(flag);
        hash.update(" ");
    }
    hex::encode(&hash.finalize()[..8])
}

fn library_dir(cache_dir: &Path, compiler: &HostCompiler) -> PathBuf {
    cache_dir.join("host-tflm").join(cache_key(compiler))
}

/// The library built for this compiler, if the cache has it.
pub fn find_library(cache_dir: &Path, compiler: &HostCompiler) -> Option<TflmLibrary> {
    let dir = library_dir(cache_dir, compiler);
    let info: BuildInfo =
        serde_json::from_str(&fs_err::read_to_string(dir.join("build-info.json")).ok()?).ok()?;
    let archive = dir.join("lib/libtflm.a");
    archive.is_file().then(|| TflmLibrary {
        tf_root: dir
            .join("src")
            .join(format!("tfmicro-{TFMICRO_VERSION}"))
            .join(TF_ROOT),
        archive,
        dir,
        info,
    })
}

/// The library, built now if the cache lacks it (about 30 s of CPU). Steps are logged.
pub async fn ensure_library(setup: &TflmSetup) -> Result<TflmLibrary, HostError> {
    if let Some(found) = find_library(&setup.cache_dir, &setup.compiler) {
        tracing::info!(dir = %found.dir.display(), "host TFLM library found in the cache");
        return Ok(found);
    }
    let dir = library_dir(&setup.cache_dir, &setup.compiler);
    let started = std::time::Instant::now();
    let crate_file = fetch_crate(setup).await?;
    let src = dir.join("src");
    if src.exists() {
        fs_err::remove_dir_all(&src).map_err(HostError::io(&src))?;
    }
    fs_err::create_dir_all(&src).map_err(HostError::io(&src))?;
    tracing::info!(file = %crate_file.display(), "extracting tfmicro {TFMICRO_VERSION}");
    run_ok(&command::extract_spec(&crate_file, &src)).await?;
    let tf_root = src.join(format!("tfmicro-{TFMICRO_VERSION}")).join(TF_ROOT);
    let sources = library_sources(&tf_root)?;
    let obj_dir = dir.join("obj");
    fs_err::create_dir_all(&obj_dir).map_err(HostError::io(&obj_dir))?;
    let partial = TflmLibrary {
        dir: dir.clone(),
        archive: dir.join("lib/libtflm.a"),
        tf_root: tf_root.clone(),
        info: BuildInfo {
            source: format!("crates.io tfmicro {TFMICRO_VERSION}"),
            crate_sha256: TFMICRO_SHA256.to_owned(),
            compiler: setup.compiler.version.clone(),
            m32: setup.compiler.m32,
            flags: setup
                .compiler
                .machine_flags()
                .iter()
                .chain(CXX_FLAGS)
                .chain(&[RENAME_2020])
                .map(|f| (*f).to_owned())
                .collect(),
            translation_units: sources.len(),
            build_ms: 0,
        },
    };
    tracing::info!(
        units = sources.len(),
        jobs = setup.jobs,
        "compiling the host TFLM library ({})",
        setup.compiler.version
    );
    let includes = partial.include_dirs();
    let jobs: Vec<(PathBuf, PathBuf)> = sources
        .iter()
        .map(|rel| {
            let obj = obj_dir.join(format!("{}.o", rel.replace('/', "_")));
            (tf_root.join(rel), obj)
        })
        .collect();
    compile_all(
        &setup.compiler,
        &[RENAME_2020],
        &includes,
        &jobs,
        setup.jobs,
    )
    .await?;
    let lib_dir = dir.join("lib");
    fs_err::create_dir_all(&lib_dir).map_err(HostError::io(&lib_dir))?;
    let objects: Vec<PathBuf> = jobs.into_iter().map(|(_, o)| o).collect();
    run_ok(&command::archive_spec(&partial.archive, &objects)).await?;
    let mut library = partial;
    library.info.build_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let info_path = dir.join("build-info.json");
    let json = serde_json::to_string_pretty(&library.info).expect("build info serializes");
    fs_err::write(&info_path, json).map_err(HostError::io(&info_path))?;
    tracing::info!(archive = %library.archive.display(), "host TFLM library built");
    Ok(library)
}

/// Compiles `(source, object)` pairs, `jobs` at a time; the first failure is the error.
pub(crate) async fn compile_all(
    compiler: &HostCompiler,
    flags: &[&str],
    includes: &[PathBuf],
    units: &[(PathBuf, PathBuf)],
    jobs: usize,
) -> Result<(), HostError> {
    let specs = units
        .iter()
        .map(|(source, object)| compiler.compile_spec(flags, includes, source, object))
        .collect();
    run_all(specs, jobs).await
}

/// Runs compile specs, `jobs` at a time; the first failure is the error.
pub(crate) async fn run_all(
    specs: Vec<autopilot_toolchain::process::ProcessSpec>,
    jobs: usize,
) -> Result<(), HostError> {
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for spec in specs {
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            run_ok(&spec).await.map(|_| ())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("compile task does not panic")?;
    }
    Ok(())
}

/// The translation units of the library, relative to the TF root: the interpreter, kernels and
/// memory planners (no tests, no `debug_log.cc` — the runtime provides `DebugLog`, no
/// `test_helpers.cc`), the parts of `core/api` and `kernels/` the interpreter needs, `c/common.c`.
pub fn library_sources(tf_root: &Path) -> Result<Vec<String>, HostError> {
    let mut units = Vec::new();
    for dir in [
        "tensorflow/lite/micro",
        "tensorflow/lite/micro/kernels",
        "tensorflow/lite/micro/memory_planner",
    ] {
        let path = tf_root.join(dir);
        let mut names: Vec<String> = fs_err::read_dir(&path)
            .map_err(HostError::io(&path))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                has_extension(n, &["cc"])
                    && !n.ends_with("_test.cc")
                    && n != "debug_log.cc"
                    && n != "test_helpers.cc"
            })
            .collect();
        names.sort();
        units.extend(names.into_iter().map(|n| format!("{dir}/{n}")));
    }
    units.extend(
        [
            "tensorflow/lite/core/api/error_reporter.cc",
            "tensorflow/lite/core/api/flatbuffer_conversions.cc",
            "tensorflow/lite/core/api/op_resolver.cc",
            "tensorflow/lite/core/api/tensor_utils.cc",
            "tensorflow/lite/kernels/internal/quantization_util.cc",
            "tensorflow/lite/kernels/kernel_util.cc",
            "tensorflow/lite/c/common.c",
        ]
        .map(str::to_owned),
    );
    Ok(units)
}

/// `cargo fetch` + `cargo metadata` on a generated manifest pinning `tfmicro =0.1.0` (outside
/// the repository); returns the `.crate` file after checking its checksum.
async fn fetch_crate(setup: &TflmSetup) -> Result<PathBuf, HostError> {
    let fetch_dir = setup.cache_dir.join("host-tflm").join("fetch");
    fs_err::create_dir_all(&fetch_dir).map_err(HostError::io(&fetch_dir))?;
    let manifest = fetch_dir.join("Cargo.toml");
    let manifest_text = format!(
        "# Generated by autopilot to fetch the TFLM sources; not a crate of the project.\n\
         [package]\nname = \"autopilot-tfmicro-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [lib]\npath = \"lib.rs\"\n[dependencies]\ntfmicro = \"={TFMICRO_VERSION}\"\n"
    );
    fs_err::write(&manifest, manifest_text).map_err(HostError::io(&manifest))?;
    let lib = fetch_dir.join("lib.rs");
    fs_err::write(&lib, "").map_err(HostError::io(&lib))?;
    tracing::info!("fetching tfmicro {TFMICRO_VERSION} with cargo");
    run_ok(&command::cargo_spec(&setup.cargo, "fetch", &manifest, &[])).await?;
    let meta = run_ok(&command::cargo_spec(
        &setup.cargo,
        "metadata",
        &manifest,
        &["--format-version", "1"],
    ))
    .await?;
    let crate_file =
        crate_file_from_metadata(&meta.stdout.text()).ok_or_else(|| HostError::Invalid {
            path: manifest.clone(),
            message: "cargo metadata does not list tfmicro".to_owned(),
        })?;
    let bytes = fs_err::read(&crate_file).map_err(HostError::io(&crate_file))?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != TFMICRO_SHA256 {
        return Err(HostError::Checksum {
            path: crate_file,
            expected: TFMICRO_SHA256.to_owned(),
            actual,
        });
    }
    Ok(crate_file)
}

/// The `.crate` beside cargo's unpacked copy: `registry/src/<index>/tfmicro-0.1.0/Cargo.toml`
/// → `registry/cache/<index>/tfmicro-0.1.0.crate`.
pub fn crate_file_from_metadata(json: &str) -> Option<PathBuf> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let package = value["packages"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "tfmicro" && p["version"] == TFMICRO_VERSION)?;
    let manifest = PathBuf::from(package["manifest_path"].as_str()?);
    let unpacked = manifest.parent()?;
    let index = unpacked.parent()?;
    let registry = index.parent()?.parent()?;
    Some(
        registry
            .join("cache")
            .join(index.file_name()?)
            .join(format!("tfmicro-{TFMICRO_VERSION}.crate")),
    )
}

/// The target's pinned Arduino library where arduino-cli installs it: a folder of `libraries`
/// whose `library.properties` names `name` at `version` (folder names vary, the properties do
/// not).
pub fn installed_arduino_library(libraries: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let entries = fs_err::read_dir(libraries).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|dir| {
            let Ok(text) = fs_err::read_to_string(dir.join("library.properties")) else {
                return false;
            };
            let field = |key: &str| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().to_owned())
            };
            field("name").as_deref() == Some(name) && field("version").as_deref() == Some(version)
        })
}
