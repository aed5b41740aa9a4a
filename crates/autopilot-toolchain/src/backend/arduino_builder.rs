//! Debian's `arduino-builder` (offline, AVR): the command (the exact recipe of toolchains.md
//! §1), what its output means, and the versions of what it builds with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::{ComponentVersion, Diagnostic, DiagnosticOrigin, Severity};

use super::{ArduinoBuilderConfig, BuildJob};
use crate::compile::{BackendOutcome, CompileError, CompileOutcome};
use crate::environment::{library_versions, platform_version};
use crate::probes::{self, ProbeRun};
use crate::process::{ProcessOutput, ProcessSpec, Termination};
use crate::target::Fqbn;
use autopilot_diagnostics::parse_size_report;
use autopilot_diagnostics::{PathMap, parse_gcc_output};

/// Builds the compile command. The build path and every folder passed must exist and be
/// absolute (the caller prepares them); `LC_ALL=C` keeps GCC's quotes ASCII.
pub fn compile_command(
    config: &ArduinoBuilderConfig,
    program: &Path,
    job: &BuildJob<'_>,
) -> ProcessSpec {
    let mut spec = ProcessSpec::new(program).env("LC_ALL", "C").arg("-compile");
    for dir in &config.hardware_dirs {
        spec = spec.arg("-hardware").arg(dir);
    }
    spec = spec.arg("-tools").arg(&config.tools_dir);
    for dir in job.libraries_dirs {
        spec = spec.arg("-libraries").arg(dir);
    }
    spec = spec
        .arg("-fqbn")
        .arg(job.fqbn)
        .arg("-build-path")
        .arg(job.build_dir)
        .arg("-build-cache")
        .arg(job.build_cache_dir)
        .arg("-warnings")
        .arg(job.warnings.as_str());
    for pref in &config.prefs {
        spec = spec.arg("-prefs").arg(pref);
    }
    spec.arg(&job.sketch.main).timeout(job.timeout)
}

/// The path map for this build: the sketch folder and the build path's copy of it become
/// relative paths, the rest of the build path `<build>`.
pub fn path_map(job: &BuildJob<'_>) -> PathMap {
    PathMap::sketch(&job.sketch.dir)
        .with(job.build_dir.join("sketch"), "")
        .with(job.build_dir, "<build>")
}

/// Turns the finished process into an outcome. `Err` when a failure printed nothing we
/// understand (keeps stdout and stderr).
pub fn interpret(
    output: &ProcessOutput,
    job: &BuildJob<'_>,
) -> Result<BackendOutcome, CompileError> {
    let stdout = output.stdout.text_marked();
    let stderr = output.stderr.text_marked();
    let paths = path_map(job);
    let parsed = parse_gcc_output(&stderr, &paths);
    match output.termination {
        Termination::TimedOut | Termination::Stopped => Ok(BackendOutcome::new(
            CompileOutcome::TimedOut {
                after_ms: millis(job.timeout),
            },
            stderr,
        )),
        Termination::Exited { code: 0 } => {
            let size = parse_size_report(&stdout).map(|parsed| parsed.report);
            let elf = job
                .build_dir
                .join(format!("{}.elf", job.sketch.main_file_name()));
            let mut outcome = BackendOutcome::new(
                CompileOutcome::Succeeded {
                    size,
                    warnings: sketch_warnings(parsed.diagnostics),
                },
                stderr,
            );
            outcome.elf = elf.is_file().then_some(elf);
            Ok(outcome)
        }
        Termination::Exited { .. } if parsed.error_count() > 0 => Ok(BackendOutcome::new(
            CompileOutcome::Failed {
                diagnostics: keep_relevant(parsed.diagnostics),
            },
            stderr,
        )),
        Termination::Exited { .. } if let Some(limit) = resource_limit(&stderr) => {
            Ok(BackendOutcome::new(
                CompileOutcome::Failed {
                    diagnostics: vec![limit],
                },
                stderr,
            ))
        }
        termination => Err(CompileError::Unrecognized {
            backend: "arduino-builder",
            reason: match termination {
                Termination::Exited { code } => {
                    format!("exit status {code} without a compiler error")
                }
                Termination::Signaled { signal } => format!("killed by signal {signal}"),
                _ => "unexpected end".to_owned(),
            },
            exit_code: output.exit_code(),
            stdout,
            stderr,
        }),
    }
}

/// A compiler stopped by a sandbox limit (`cc1plus: out of memory allocating …` after
/// `#include "/dev/zero"`, a file-size or CPU limit) failed because of the sketch: an outcome
/// with one error saying so, not an unrecognised tool failure.
pub(crate) fn resource_limit(stderr: &str) -> Option<Diagnostic> {
    const SIGNS: [&str; 4] = [
        "out of memory allocating",
        "virtual memory exhausted",
        "File size limit exceeded",
        "CPU time limit exceeded",
    ];
    let line = stderr
        .lines()
        .find(|line| SIGNS.iter().any(|sign| line.contains(sign)))?;
    Some(Diagnostic {
        file: None,
        line: None,
        column: None,
        severity: Severity::Error,
        message: format!(
            "the compiler hit a resource limit of the sandbox: {}",
            line.trim()
        ),
        origin: DiagnosticOrigin::Tool,
        context: Vec::new(),
        notes: Vec::new(),
        source_line: None,
    })
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Warnings from the core or libraries change with the cache state (the core is compiled
/// on a cold build only): keep those in the sketch (relative paths) and everything else.
pub(crate) fn keep_relevant(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .filter(|d| d.severity != Severity::Warning || in_sketch(d))
        .collect()
}

pub(crate) fn sketch_warnings(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Warning && in_sketch(d))
        .collect()
}

fn in_sketch(diagnostic: &Diagnostic) -> bool {
    diagnostic
        .file
        .as_deref()
        .is_some_and(|f| !f.starts_with('/'))
}

/// arduino-builder's version (`Arduino Builder 1.3.25`), the compiler's, the core's and the
/// libraries'.
pub async fn versions(
    config: &ArduinoBuilderConfig,
    program: &Path,
    fqbn: &Fqbn,
    libraries_dirs: &[PathBuf],
    persist: Option<&Path>,
) -> Result<Vec<ComponentVersion>, CompileError> {
    let mut versions = Vec::new();
    // Both probes are facts about their binaries, asked once per process (see `probes`).
    let (text, failed) = match probes::probe(program, &["-version"], persist).await? {
        ProbeRun::Known(text) => (text, None),
        ProbeRun::Failed(output) => (output.stdout.text().into_owned(), Some(output)),
    };
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("Arduino Builder "))
        .map(str::trim)
        .ok_or_else(|| CompileError::Unrecognized {
            backend: "arduino-builder",
            reason: "`-version` printed no `Arduino Builder <version>` line".to_owned(),
            exit_code: failed.as_ref().map_or(Some(0), ProcessOutput::exit_code),
            stdout: text.clone(),
            stderr: failed
                .as_ref()
                .map(|output| output.stderr.text_marked())
                .unwrap_or_default(),
        })?;
    versions.push(ComponentVersion {
        name: "arduino-builder".to_owned(),
        version: version.to_owned(),
    });
    let compiler = config.tools_dir.join(format!("{}-gcc", fqbn.architecture));
    if let Ok(ProbeRun::Known(text)) = probes::probe(&compiler, &["-dumpversion"], persist).await {
        versions.push(ComponentVersion {
            name: format!("{}-gcc", fqbn.architecture),
            version: text.trim().to_owned(),
        });
    }
    if let Some(platform) = config.platform_dir(fqbn) {
        if let Some(version) = platform_version(&platform) {
            versions.push(ComponentVersion {
                name: fqbn.core(),
                version,
            });
        }
        versions.extend(library_versions(&platform.join("libraries")));
    }
    for dir in libraries_dirs {
        versions.extend(library_versions(dir));
    }
    Ok(versions)
}
