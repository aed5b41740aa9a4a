//! arduino-cli: the compile command and its `--format json` result, `lib search` /
//! `lib install`, and `version` / `core list` / `lib list` for version reporting.
//!
//! The JSON shapes follow arduino-cli 1.x (`compile --format json`: `compiler_out`,
//! `compiler_err`, `builder_result` with `diagnostics[]`, `success`, `error`). Diagnostics are
//! read from `builder_result.diagnostics` (since 0.36 a missing header is a `FATAL` one there);
//! when that is empty the text in `compiler_err` is parsed instead. A fatal error before the
//! build (bad FQBN, unreadable sketch) prints `{"error": …}` on stderr and nothing on stdout.
//! Versions below [`MINIMUM_VERSION`] are refused: 0.35's `core list` / `lib list` print other
//! shapes (upstream `docs/UPGRADING.md`, 1.0.0).

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::{
    ComponentVersion, Diagnostic, DiagnosticNote, DiagnosticOrigin, LibraryInstalled, Severity,
    SizeReport,
};
use serde::Deserialize;

use super::{ArduinoCliConfig, BuildJob};
use crate::backend::arduino_builder::{keep_relevant, millis, sketch_warnings};
use crate::compile::{BackendOutcome, CompileError, CompileOutcome};
use crate::environment::{library_versions, platform_include_dirs};
use crate::process::{self, ProcessOutput, ProcessSpec, Termination};
use crate::target::Fqbn;
use autopilot_diagnostics::parse_size_report;
use autopilot_diagnostics::{PathMap, parse_gcc_output};

/// Time limit for the short commands (version, lists, search).
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit for `lib install` (downloads).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Capture limit for the JSON of the queries (`lib search` lists whole registries).
const QUERY_CAPTURE_LIMIT: usize = 16 * 1024 * 1024;

/// The oldest arduino-cli whose JSON this backend reads.
pub const MINIMUM_VERSION: CliVersion = CliVersion(1, 0, 0);
/// Since 1.0.4 a given `--build-path` disables the shared core cache (upstream
/// `docs/UPGRADING.md`, 1.0.4; `commands/service_compile.go`): `ARDUINO_BUILD_CACHE_PATH` is
/// passed only to older versions, where it still shares compiled cores between build paths.
pub const BUILD_PATH_DISABLES_CACHE: CliVersion = CliVersion(1, 0, 4);
/// Where users get arduino-cli.
pub const INSTALL_URL: &str = "https://arduino.github.io/arduino-cli/latest/installation/";

/// An arduino-cli release number (`1.2.2`; a pre-release suffix is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CliVersion(pub u64, pub u64, pub u64);

impl CliVersion {
    /// `None` for strings that are not a release number (`git-snapshot`, `nightly-…`).
    pub fn parse(text: &str) -> Option<CliVersion> {
        let release = text.trim().trim_start_matches('v');
        let release = release.split(['-', '+']).next()?;
        let mut parts = release.split('.').map(|p| p.parse::<u64>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(CliVersion(major, minor, patch))
    }
}

impl std::fmt::Display for CliVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The top level of `arduino-cli compile --format json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompileJson {
    #[serde(default)]
    pub compiler_out: String,
    #[serde(default)]
    pub compiler_err: String,
    #[serde(default)]
    pub builder_result: Option<BuilderResult>,
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BuilderResult {
    #[serde(default)]
    pub build_path: Option<String>,
    #[serde(default)]
    pub used_libraries: Vec<CliLibrary>,
    #[serde(default)]
    pub executable_sections_size: Vec<SectionSize>,
    #[serde(default)]
    pub board_platform: Option<PlatformReference>,
    #[serde(default)]
    pub build_platform: Option<PlatformReference>,
    #[serde(default)]
    pub diagnostics: Vec<CliDiagnostic>,
}

/// A library as arduino-cli describes it (`used_libraries[]`, `lib list` entries).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CliLibrary {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub install_dir: Option<String>,
    #[serde(default)]
    pub source_dir: Option<String>,
    #[serde(default)]
    pub provides_includes: Vec<String>,
}

/// `executable_sections_size[]`: int64 upstream; `size` is -1 when the platform has a
/// `maximum_data_size` but no regex to measure data (`internal/arduino/builder/sizer.go`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SectionSize {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub max_size: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlatformReference {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub install_dir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CliDiagnostic {
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub column: Option<u32>,
    #[serde(default)]
    pub context: Vec<CliLocated>,
    #[serde(default)]
    pub notes: Vec<CliLocated>,
}

/// A context frame or a note of a diagnostic.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CliLocated {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub column: Option<u32>,
}

/// The command every arduino-cli call starts with (config file and environment).
pub fn base_command(config: &ArduinoCliConfig, program: &Path) -> ProcessSpec {
    let mut spec = ProcessSpec::new(program).envs(config.env.iter().cloned());
    if let Some(file) = &config.config_file {
        spec = spec.arg("--config-file").arg(file);
    }
    spec
}

/// `arduino-cli compile --format json …` in the session's build path.
///
/// One build path per session, reused by every attempt: the libraries (TFLM is most of a
/// build) and the core are compiled once and later attempts rebuild only the sketch. Since
/// 1.0.4 a given `--build-path` turns arduino-cli's shared core cache off; leaving the build
/// path to arduino-cli would keep the core cache but give every attempt (a new sketch folder)
/// a new build folder and recompile the libraries each time, the larger cost. The cache
/// setting is passed only to versions older than [`BUILD_PATH_DISABLES_CACHE`]; `cli_version`
/// `None` (unknown) counts as current.
pub fn compile_command(
    config: &ArduinoCliConfig,
    program: &Path,
    job: &BuildJob<'_>,
    cli_version: Option<CliVersion>,
) -> ProcessSpec {
    let mut spec = base_command(config, program);
    if cli_version.is_some_and(|v| v < BUILD_PATH_DISABLES_CACHE) {
        spec = spec.env("ARDUINO_BUILD_CACHE_PATH", job.build_cache_dir);
    }
    let mut spec = spec
        .capture_limit(config.json_capture_limit)
        .args(["compile", "--format", "json", "--fqbn"])
        .arg(job.fqbn)
        .arg("--build-path")
        .arg(job.build_dir)
        .arg("--warnings")
        .arg(job.warnings.as_str());
    for dir in job.libraries_dirs {
        spec = spec.arg("--libraries").arg(dir);
    }
    spec.arg(&job.sketch.dir).timeout(job.timeout)
}

pub fn parse_compile_json(text: &str) -> Result<CompileJson, serde_json::Error> {
    serde_json::from_str(text.trim())
}

fn path_map(job: &BuildJob<'_>, build_path: Option<&str>) -> PathMap {
    let mut paths = PathMap::sketch(&job.sketch.dir)
        .with(job.build_dir.join("sketch"), "")
        .with(job.build_dir, "<build>");
    if let Some(build_path) = build_path {
        paths = paths
            .with(Path::new(build_path).join("sketch"), "")
            .with(build_path, "<build>");
    }
    paths
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// Converts `builder_result.diagnostics` to ours (paths mapped, code echo dropped).
pub fn convert_diagnostics(diagnostics: &[CliDiagnostic], paths: &PathMap) -> Vec<Diagnostic> {
    let path = |file: &Option<String>| {
        file.as_deref()
            .filter(|f| !f.is_empty())
            .map(|f| paths.apply(f))
    };
    let location = |located: &CliLocated| {
        let file = path(&located.file).unwrap_or_default();
        match located.line.filter(|l| *l > 0) {
            Some(line) => format!("{file}:{line}"),
            None => file,
        }
    };
    diagnostics
        .iter()
        .map(|d| {
            // arduino-cli's parser keeps an include trace until the next one and hands it to
            // the first diagnostic after it, even one in the including file itself (a note
            // in between, `parser_gcc.go`). A file named in its own include chain means the
            // chain belongs to something else: drop it.
            let stale_trace = d.context.iter().any(|frame| {
                is_include_frame(frame) && frame.file.is_some() && frame.file == d.file
            });
            let mut included = 0;
            let context = d
                .context
                .iter()
                .filter(|frame| !(stale_trace && is_include_frame(frame)))
                .map(|frame| {
                    if is_include_frame(frame) {
                        included += 1;
                        if included == 1 {
                            format!("In file included from {}", location(frame))
                        } else {
                            format!("from {}", location(frame))
                        }
                    } else {
                        first_line(&frame.message).trim_end_matches(':').to_owned()
                    }
                })
                .collect();
            Diagnostic {
                file: path(&d.file),
                line: d.line.filter(|l| *l > 0),
                column: d.column.filter(|c| *c > 0),
                severity: match d.severity.to_ascii_uppercase().as_str() {
                    "FATAL" => Severity::Fatal,
                    "WARNING" => Severity::Warning,
                    "INFO" | "NOTE" => Severity::Note,
                    _ => Severity::Error,
                },
                message: first_line(&d.message),
                origin: DiagnosticOrigin::Compiler,
                context,
                notes: d
                    .notes
                    .iter()
                    .map(|n| DiagnosticNote {
                        file: path(&n.file),
                        line: n.line.filter(|l| *l > 0),
                        column: n.column.filter(|c| *c > 0),
                        message: first_line(&n.message),
                    })
                    .collect(),
                source_line: None,
            }
        })
        .collect()
}

fn is_include_frame(frame: &CliLocated) -> bool {
    frame.message.starts_with("included from")
}

/// Flash (`text`) and RAM (`data`) from `executable_sections_size`. A negative size is
/// "not measured" (unknown, never zero).
fn sections_size(sections: &[SectionSize]) -> Option<SizeReport> {
    let positive = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
    let measured = |n: i64| u64::try_from(n).ok();
    let text = sections.iter().find(|s| s.name == "text")?;
    let data = sections.iter().find(|s| s.name == "data");
    Some(SizeReport {
        flash_used: measured(text.size)?,
        flash_max: positive(text.max_size),
        ram_used: data.and_then(|d| measured(d.size)),
        ram_max: data.and_then(|d| positive(d.max_size)),
    })
}

/// The message of `{"error": …}`, what arduino-cli prints (on stderr in JSON mode) when a
/// command fails before producing its result (`internal/cli/feedback`).
pub fn json_error(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

/// An `error` that means the core is not installed: a *toolchain missing* outcome.
fn is_missing_platform(error: &str) -> bool {
    error.contains("platform not installed")
        || (error.contains("Platform '") && error.contains("not found"))
        || error.contains("Unknown package")
}

/// Turns the finished `compile` into an outcome. `Err` when the output is not the JSON we
/// expect (keeps stdout and stderr).
pub fn interpret_compile(
    output: &ProcessOutput,
    job: &BuildJob<'_>,
) -> Result<BackendOutcome, CompileError> {
    let stdout = output.stdout.text_marked();
    let stderr = output.stderr.text_marked();
    if matches!(
        output.termination,
        Termination::TimedOut | Termination::Stopped
    ) {
        return Ok(BackendOutcome::new(
            CompileOutcome::TimedOut {
                after_ms: millis(job.timeout),
            },
            stderr,
        ));
    }
    let unrecognized = |reason: String| CompileError::Unrecognized {
        backend: "arduino-cli",
        reason,
        exit_code: output.exit_code(),
        stdout: stdout.clone(),
        stderr: stderr.clone(),
    };
    if output.stdout.is_truncated() {
        return Err(unrecognized(
            "the JSON result exceeded the capture limit".to_owned(),
        ));
    }
    if stdout.trim().is_empty()
        && let Some(error) = json_error(&stderr)
    {
        // Failed before building: the real message, not "unrecognized output".
        if is_missing_platform(&error) {
            return Ok(BackendOutcome::new(
                CompileOutcome::ToolchainMissing { detail: error },
                stderr,
            ));
        }
        return Err(CompileError::Tool {
            backend: "arduino-cli",
            message: error,
            exit_code: output.exit_code(),
        });
    }
    let json = parse_compile_json(&stdout)
        .map_err(|e| unrecognized(format!("stdout is not arduino-cli's JSON result: {e}")))?;
    let builder = json.builder_result.clone().unwrap_or_default();
    let paths = path_map(job, builder.build_path.as_deref());
    let mut diagnostics = convert_diagnostics(&builder.diagnostics, &paths);
    if diagnostics.is_empty() {
        diagnostics = parse_gcc_output(&json.compiler_err, &paths).diagnostics;
    }
    let tool_output = if json.compiler_err.is_empty() {
        stderr.clone()
    } else {
        json.compiler_err.clone()
    };
    let used_libraries = builder
        .used_libraries
        .iter()
        .map(|lib| ComponentVersion {
            name: lib.name.clone(),
            version: lib.version.clone(),
        })
        .collect();
    let include_dirs = include_dirs(&builder, job.fqbn);
    let outcome = if json.success {
        let size = sections_size(&builder.executable_sections_size)
            .or_else(|| parse_size_report(&json.compiler_out).map(|p| p.report));
        CompileOutcome::Succeeded {
            size,
            warnings: sketch_warnings(diagnostics),
        }
    } else if diagnostics
        .iter()
        .any(|d| matches!(d.severity, Severity::Error | Severity::Fatal))
    {
        CompileOutcome::Failed {
            diagnostics: keep_relevant(diagnostics),
        }
    } else if let Some(error) = json.error.as_deref().filter(|e| is_missing_platform(e)) {
        CompileOutcome::ToolchainMissing {
            detail: error.to_owned(),
        }
    } else if let Some(error) = json.error.as_deref() {
        CompileOutcome::Failed {
            diagnostics: vec![Diagnostic {
                file: None,
                line: None,
                column: None,
                severity: Severity::Error,
                message: error
                    .strip_prefix("Error during build: ")
                    .unwrap_or(error)
                    .to_owned(),
                origin: DiagnosticOrigin::Tool,
                context: Vec::new(),
                notes: Vec::new(),
                source_line: None,
            }],
        }
    } else {
        return Err(unrecognized(
            "`success` is false but there is neither a diagnostic nor an `error`".to_owned(),
        ));
    };
    let mut result = BackendOutcome::new(outcome, tool_output);
    if json.success {
        let build_path = builder
            .build_path
            .as_deref()
            .map_or_else(|| job.build_dir.to_owned(), PathBuf::from);
        let elf = build_path.join(format!("{}.elf", job.sketch.main_file_name()));
        result.elf = elf.is_file().then_some(elf);
    }
    result.used_libraries = used_libraries;
    result.include_dirs = include_dirs;
    Ok(result)
}

/// The folders whose headers the build saw: the core and variant folders of the board
/// (`build.core` / `build.variant` in the platform's `boards.txt`: `cores/esp32` on ESP32, the
/// mbed variant folder holds headers too), the platform's libraries and the source folder of
/// every used library.
fn include_dirs(builder: &BuilderResult, fqbn: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = builder
        .board_platform
        .as_ref()
        .and_then(|p| p.install_dir.as_deref())
    {
        match Fqbn::parse(fqbn) {
            Ok(fqbn) => dirs.extend(platform_include_dirs(Path::new(dir), &fqbn)),
            Err(_) => dirs.push(Path::new(dir).join("libraries")),
        }
    }
    for lib in &builder.used_libraries {
        if let Some(dir) = lib.source_dir.as_deref().or(lib.install_dir.as_deref()) {
            dirs.push(PathBuf::from(dir));
        }
    }
    dirs
}

async fn query(
    config: &ArduinoCliConfig,
    program: &Path,
    args: &[&str],
) -> Result<serde_json::Value, CompileError> {
    let spec = base_command(config, program)
        .args(args.iter().copied())
        .args(["--format", "json"])
        .capture_limit(QUERY_CAPTURE_LIMIT)
        .timeout(QUERY_TIMEOUT);
    let output = process::run(&spec).await?;
    let stdout = output.stdout.text_marked();
    let stderr = output.stderr.text_marked();
    if !output.success() {
        // In JSON mode the reason is `{"error": …}` on stderr.
        return Err(CompileError::Tool {
            backend: "arduino-cli",
            message: format!(
                "`arduino-cli {}` failed: {}",
                args.join(" "),
                json_error(&stderr).unwrap_or_else(|| first_line(&stderr))
            ),
            exit_code: output.exit_code(),
        });
    }
    serde_json::from_str(stdout.trim()).map_err(|e| CompileError::Unrecognized {
        backend: "arduino-cli",
        reason: format!("`arduino-cli {}` printed no JSON: {e}", args.join(" ")),
        exit_code: output.exit_code(),
        stdout: stdout.clone(),
        stderr,
    })
}

/// `arduino-cli version`, `core list` and `lib list`: the CLI's version, installed cores and
/// installed libraries; then the libraries of the `--libraries` folders, which `lib list`
/// does not show (it lists `directories.user/libraries` only) but a compile uses. A version
/// below [`MINIMUM_VERSION`] is [`CompileError::Unsupported`], before the lists are read.
pub async fn versions(
    config: &ArduinoCliConfig,
    program: &Path,
    libraries_dirs: &[PathBuf],
) -> Result<Vec<ComponentVersion>, CompileError> {
    let mut versions = Vec::new();
    let version = query(config, program, &["version"]).await?;
    if let Some(v) = version.get("VersionString").and_then(|v| v.as_str()) {
        if let Some(parsed) = CliVersion::parse(v)
            && parsed < MINIMUM_VERSION
        {
            return Err(CompileError::Unsupported {
                tool: "arduino-cli",
                version: v.to_owned(),
                minimum: MINIMUM_VERSION.to_string(),
                fix: format!("upgrade arduino-cli: {INSTALL_URL}"),
            });
        }
        versions.push(ComponentVersion {
            name: "arduino-cli".to_owned(),
            version: v.to_owned(),
        });
    }
    let cores = query(config, program, &["core", "list"]).await?;
    versions.extend(parse_core_list(&cores));
    let libraries = query(config, program, &["lib", "list"]).await?;
    versions.extend(
        parse_lib_list(&libraries)
            .into_iter()
            .map(|lib| ComponentVersion {
                name: lib.name,
                version: lib.version,
            }),
    );
    for dir in libraries_dirs {
        for library in library_versions(dir) {
            if !versions.contains(&library) {
                versions.push(library);
            }
        }
    }
    Ok(versions)
}

/// Installed cores from `core list --format json` (`platforms[].id`, `installed_version`).
pub fn parse_core_list(json: &serde_json::Value) -> Vec<ComponentVersion> {
    json.get("platforms")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|platform| {
            Some(ComponentVersion {
                name: platform.get("id")?.as_str()?.to_owned(),
                version: platform.get("installed_version")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// Installed libraries from `lib list --format json` (`installed_libraries[].library`).
pub fn parse_lib_list(json: &serde_json::Value) -> Vec<CliLibrary> {
    json.get("installed_libraries")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|entry| serde_json::from_value(entry.get("library")?.clone()).ok())
        .collect()
}

/// One `lib search` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub name: String,
    pub latest: Option<String>,
    pub provides_includes: Vec<String>,
}

/// `arduino-cli lib search provides:<header> --omit-releases-details --format json`: the
/// libraries that declare exactly this header (case-insensitively, as arduino-cli compares),
/// in arduino-cli's order (by name). `provides:` is a substring match upstream
/// (`commands/utility_libraries_index_search_matcher.go`): `provides:APDS9960.h` also lists
/// `Adafruit_APDS9960.h` and `SparkFun_APDS9960.h`, which are dropped here.
pub async fn lib_search(
    config: &ArduinoCliConfig,
    program: &Path,
    header: &str,
) -> Result<Vec<SearchHit>, CompileError> {
    let json = query(
        config,
        program,
        &[
            "lib",
            "search",
            &format!("provides:{header}"),
            "--omit-releases-details",
        ],
    )
    .await?;
    Ok(providing(parse_lib_search(&json), header))
}

/// The hits whose `provides_includes` name `header` exactly (ignoring case).
pub fn providing(hits: Vec<SearchHit>, header: &str) -> Vec<SearchHit> {
    hits.into_iter()
        .filter(|hit| {
            hit.provides_includes
                .iter()
                .any(|h| h.eq_ignore_ascii_case(header))
        })
        .collect()
}

pub fn parse_lib_search(json: &serde_json::Value) -> Vec<SearchHit> {
    json.get("libraries")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|lib| {
            let latest = lib.get("latest");
            Some(SearchHit {
                name: lib.get("name")?.as_str()?.to_owned(),
                latest: latest
                    .and_then(|l| l.get("version"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                provides_includes: latest
                    .and_then(|l| l.get("provides_includes"))
                    .and_then(|p| p.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}

/// The `lib install` command for `name[@version]`.
pub fn install_command(
    config: &ArduinoCliConfig,
    program: &Path,
    name: &str,
    version: Option<&str>,
) -> ProcessSpec {
    let spec_name = match version {
        Some(version) => format!("{name}@{version}"),
        None => name.to_owned(),
    };
    base_command(config, program)
        .args(["lib", "install", "--no-overwrite"])
        .arg(spec_name)
        .timeout(INSTALL_TIMEOUT)
}

/// Runs `lib install`; success is the exit code, never assumed.
pub async fn lib_install(
    config: &ArduinoCliConfig,
    program: &Path,
    attempt: u32,
    name: &str,
    version: Option<&str>,
) -> Result<LibraryInstalled, CompileError> {
    let output = process::run(&install_command(config, program, name, version)).await?;
    Ok(install_result(&output, attempt, name, version))
}

pub fn install_result(
    output: &ProcessOutput,
    attempt: u32,
    name: &str,
    version: Option<&str>,
) -> LibraryInstalled {
    let mut message = format!("{}{}", output.stdout.text(), output.stderr.text())
        .trim()
        .to_owned();
    if output.termination == Termination::TimedOut {
        message = format!("timed out; {message}");
    }
    crate::data::truncate(&mut message, 500);
    LibraryInstalled {
        attempt,
        library: name.to_owned(),
        version: version.map(str::to_owned),
        succeeded: output.success(),
        exit_code: output.exit_code(),
        message,
    }
}
