//! The whole host check of one sketch: build, run on the scene, judge, and the trace event.

use std::path::PathBuf;
use std::time::Duration;

use autopilot_trace::{HostCheckFinished, HostVerdictKind};

use crate::build::{
    BuildRequest, HostBuild, HostBuildOutcome, TflmSource, build_sketch_with, duration_ms,
};
use crate::installed::{InstalledTflm, Lookup};
use crate::profile::PreparedProfile;
use crate::run::{Observation, RunRequest, run_sketch};
use crate::verdict::{Policy, Verdict, judge};
use crate::{HostCompiler, HostError, Scene, TflmLibrary};

/// Serial lines kept in the trace event.
const SERIAL_LINES: usize = 20;

/// What the check needs besides the sketch: a prepared toolchain.
#[derive(Debug, Clone)]
pub struct HostToolchain {
    pub compiler: HostCompiler,
    pub tflm: TflmLibrary,
    pub profile: PreparedProfile,
    /// The user's installed pinned library built for the host: when present the sketch builds
    /// against it (its real headers and kernels) instead of the profile over tfmicro.
    pub installed: Option<InstalledTflm>,
}

impl HostToolchain {
    fn source(&self) -> TflmSource<'_> {
        match &self.installed {
            Some(installed) => TflmSource::Installed(installed),
            None => TflmSource::Profile {
                tflm: &self.tflm,
                profile: &self.profile,
            },
        }
    }

    /// What the trace records as the profile: none when the real headers were used.
    pub fn profile_used(&self) -> String {
        match &self.installed {
            Some(installed) => format!(
                "none: the installed {}@{}'s own headers",
                installed.library.name, installed.library.version
            ),
            None => self.profile.profile.id(),
        }
    }

    /// Which TFLM sources the sketch was built with, in words.
    pub fn source_used(&self) -> String {
        match &self.installed {
            Some(installed) => installed.describe(),
            None => format!("{} + API profile", self.tflm.describe()),
        }
    }
}

/// The check's result: the build, the run (when it built) and the verdict.
#[derive(Debug, Clone)]
pub struct HostCheckReport {
    pub build: HostBuild,
    pub observation: Option<Observation>,
    pub verdict: Verdict,
    pub profile: String,
    pub tflm_source: String,
}

/// Builds the sketch, runs it on the scene within `budget` of wall time, and judges it.
pub async fn check_sketch(
    toolchain: &HostToolchain,
    request: &BuildRequest,
    scene: &Scene,
    policy: &Policy,
    budget: Duration,
) -> Result<HostCheckReport, HostError> {
    let build = build_sketch_with(request, &toolchain.compiler, &toolchain.source()).await?;
    let profile = toolchain.profile_used();
    let tflm_source = toolchain.source_used();
    let (observation, verdict) = match &build.outcome {
        HostBuildOutcome::Built { binary } => {
            let obs = run_sketch(
                &RunRequest {
                    binary: binary.clone(),
                    work_dir: request.build_dir.join("run"),
                    budget,
                    sandbox: request.sandbox.clone(),
                },
                scene,
            )
            .await?;
            let verdict = judge(&obs, scene, policy);
            (Some(obs), verdict)
        }
        HostBuildOutcome::Failed { diagnostics, .. } => {
            (None, build_failed(diagnostics, &build, scene))
        }
    };
    Ok(HostCheckReport {
        build,
        observation,
        verdict,
        profile,
        tflm_source,
    })
}

fn build_failed(
    diagnostics: &[autopilot_trace::Diagnostic],
    _build: &HostBuild,
    scene: &Scene,
) -> Verdict {
    let first = diagnostics.iter().find(|d| {
        matches!(
            d.severity,
            autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
        )
    });
    // A header the real library has but the host cannot provide is not the sketch's fault.
    let unsupported = first.is_some_and(|d| d.message.contains("has no host equivalent"));
    Verdict {
        kind: if unsupported {
            HostVerdictKind::UnsupportedOp
        } else {
            HostVerdictKind::BuildFailed
        },
        summary: first.map_or_else(
            || "the host build failed without a parsed error".to_owned(),
            |d| {
                format!(
                    "the host build failed: {}:{}: {}",
                    d.file.as_deref().unwrap_or("?"),
                    d.line.unwrap_or(0),
                    d.message
                )
            },
        ),
        allocate_ok: None,
        arena_used_bytes: None,
        objects: scene.rows.len(),
        invokes: 0,
        invokes_without_object: 0,
        max_input_deviation: None,
        printed_accuracy: None,
        model_accuracy: None,
        unsupported: Vec::new(),
    }
}

/// A verdict for a target whose pinned library has no profile: skipped, never passed.
pub fn skipped_no_profile(library: &str, version: &str) -> HostCheckFinished {
    HostCheckFinished {
        attempt: 0,
        verdict: HostVerdictKind::SkippedNoProfile,
        summary: format!("no host API profile for {library}@{version}: the host check is skipped"),
        profile: String::new(),
        tflm_source: String::new(),
        diagnostics: Vec::new(),
        allocate_ok: None,
        arena_used_bytes: None,
        objects_presented: None,
        invokes: None,
        invokes_without_object: None,
        max_input_deviation: None,
        printed_accuracy: None,
        model_accuracy: None,
        blocked_in_setup: false,
        unsupported: Vec::new(),
        serial: Vec::new(),
        build_ms: 0,
        run_ms: None,
    }
}

impl HostCheckReport {
    pub fn to_trace_event(&self, attempt: u32) -> HostCheckFinished {
        let v = &self.verdict;
        let ran = self.observation.as_ref();
        HostCheckFinished {
            attempt,
            verdict: v.kind,
            summary: v.summary.clone(),
            profile: self.profile.clone(),
            tflm_source: self.tflm_source.clone(),
            diagnostics: match &self.build.outcome {
                HostBuildOutcome::Failed { diagnostics, .. } => diagnostics.clone(),
                HostBuildOutcome::Built { .. } => Vec::new(),
            },
            allocate_ok: v.allocate_ok,
            arena_used_bytes: v.arena_used_bytes,
            objects_presented: ran.map(|_| u32::try_from(v.objects).unwrap_or(u32::MAX)),
            invokes: ran.map(|_| u32::try_from(v.invokes).unwrap_or(u32::MAX)),
            invokes_without_object: ran
                .map(|_| u32::try_from(v.invokes_without_object).unwrap_or(u32::MAX)),
            max_input_deviation: v.max_input_deviation,
            printed_accuracy: v.printed_accuracy,
            model_accuracy: v.model_accuracy,
            blocked_in_setup: v.kind == HostVerdictKind::BlockedInSetup,
            unsupported: v.unsupported.clone(),
            serial: ran
                .map(|o| {
                    o.serial
                        .iter()
                        .take(SERIAL_LINES)
                        .map(|l| l.text.clone())
                        .collect()
                })
                .unwrap_or_default(),
            build_ms: duration_ms(&self.build),
            run_ms: ran.map(|o| u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// The build folder the check used.
    pub fn binary(&self) -> Option<PathBuf> {
        match &self.build.outcome {
            HostBuildOutcome::Built { binary } => Some(binary.clone()),
            HostBuildOutcome::Failed { .. } => None,
        }
    }
}

/// Where the host check finds its tools and data (cheap to build; nothing is run until used).
#[derive(Debug, Clone)]
pub struct HostCheckConfig {
    /// `~/.cache/autopilot` (the library is looked up there, never built by a session).
    pub cache_dir: PathBuf,
    /// `data/host` of the checkout.
    pub data_dir: PathBuf,
    pub cxx: PathBuf,
    pub ctags: PathBuf,
    /// Wall-time budget of one run.
    pub budget: Duration,
    pub policy: Policy,
    /// The sandbox the sketch is built and run in; `None` only when the user opted out.
    pub sandbox: Option<autopilot_toolchain::SandboxConfig>,
    /// arduino-cli's libraries folder (`<sketchbook>/libraries`), where the target's pinned
    /// library may be installed.
    pub arduino_libraries: Option<PathBuf>,
}

/// One sketch to check for a target, as a session knows it.
#[derive(Debug, Clone)]
pub struct HostCheckInput<'a> {
    /// The target's core (`arduino:mbed_nano`) and pinned TinyML library and version.
    pub core: &'a str,
    pub library: &'a str,
    pub version: &'a str,
    pub sketch_dir: PathBuf,
    pub build_dir: PathBuf,
    /// The dataset files, each with the class the app gives it (if any), and the class names.
    pub dataset: Vec<(PathBuf, Option<usize>)>,
    pub classes: Vec<String>,
    /// The app's sensor mapping (`[host]`): columns, label, presentation.
    pub mapping: crate::SensorMapping,
    /// Files a session puts beside the sketch (`model.h`).
    pub extra_files: Vec<(String, String)>,
}

/// The whole check from a session's point of view: a target without a core stand-in or a
/// library version without a profile is `skipped_no_profile`; a missing host library is an `Err`
/// ([`HostError::LibraryMissing`]).
pub async fn run_host_check(
    config: &HostCheckConfig,
    input: &HostCheckInput<'_>,
    attempt: u32,
) -> Result<HostCheckFinished, HostError> {
    let family = crate::profile::CoreFamily::for_core(input.core);
    let profile = crate::Profile::load(
        &config.data_dir.join("profiles"),
        input.library,
        input.version,
    )?;
    let (Some(family), Some(profile)) = (family, profile) else {
        let mut skipped = skipped_no_profile(input.library, input.version);
        skipped.attempt = attempt;
        return Ok(skipped);
    };
    let compiler =
        HostCompiler::detect(&config.cxx, &config.cache_dir.join("host-tflm/probe")).await?;
    let tflm =
        crate::find_library(&config.cache_dir, &compiler).ok_or(HostError::LibraryMissing)?;
    let prepared = crate::profile::prepare(
        &profile,
        &tflm,
        &compiler,
        &config.data_dir.join("cores/common"),
        2,
    )
    .await?;
    let scene = crate::scene::scene_for(&input.dataset, input.classes.clone(), &input.mapping)?;
    // The installed pinned library, when `autopilot host setup` has built it: never built here.
    let lookup = config
        .arduino_libraries
        .as_deref()
        .map_or(Lookup::Absent, |libraries| {
            crate::installed::lookup(libraries, input.library, input.version)
        });
    let (installed, note) = match &lookup {
        Lookup::Found(library) => match crate::installed::find_built(
            &config.cache_dir,
            library,
            &compiler,
            &config.data_dir,
        )? {
            Some(built) => (Some(built), None),
            None => (
                None,
                Some(format!(
                    "{}@{} is installed at {} but not built for the host yet (run `autopilot \
                     host setup`), so the API profile over tfmicro was used",
                    library.name,
                    library.version,
                    library.dir.display()
                )),
            ),
        },
        other => (None, other.note()),
    };
    let toolchain = HostToolchain {
        compiler,
        tflm,
        profile: prepared,
        installed,
    };
    let request = BuildRequest {
        sketch_dir: input.sketch_dir.clone(),
        build_dir: input.build_dir.clone(),
        data_dir: config.data_dir.clone(),
        family,
        ctags: config.ctags.clone(),
        jobs: 2,
        extra_files: input.extra_files.clone(),
        sandbox: config.sandbox.clone(),
    };
    let mut report =
        check_sketch(&toolchain, &request, &scene, &config.policy, config.budget).await?;
    if let Some(note) = note {
        report.tflm_source = format!("{}; {note}", report.tflm_source);
    }
    Ok(report.to_trace_event(attempt))
}

/// Whether the host check could judge sketches for a target, found without running anything: a
/// core stand-in, a profile for the library version and a built library in the cache. Sessions
/// ask it before their first LLM call, so a board nothing here can build stops early. `Err`
/// says what is missing, with its fix.
pub fn readiness(
    config: &HostCheckConfig,
    core: &str,
    library: &str,
    version: &str,
) -> Result<(), String> {
    if crate::profile::CoreFamily::for_core(core).is_none() {
        return Err(format!(
            "the host check has no stand-in for the core `{core}`"
        ));
    }
    match crate::Profile::load(&config.data_dir.join("profiles"), library, version) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(format!(
                "the host check has no API profile for {library}@{version}"
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    // Any built library counts here; the exact one (keyed by the compiler) is looked up when
    // the check runs, and its absence then is a note, not a pass.
    let built = fs_err::read_dir(config.cache_dir.join("host-tflm"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|entry| entry.path().join("lib/libtflm.a").is_file());
    if built {
        Ok(())
    } else {
        Err(format!(
            "the host TFLM library is not built under {} (run `autopilot host setup` or \
             `bash scripts/setup-host-tflm.sh`)",
            config.cache_dir.join("host-tflm").display()
        ))
    }
}
