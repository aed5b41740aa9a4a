//! Helpers: the repository's data, a shared prepared host toolchain (its absence is "required
//! under CI, skipped elsewhere" through `autopilot-testkit`), and a helper that builds and
//! judges a sketch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_hostrun::profile::{self, PreparedProfile};
use autopilot_hostrun::{
    BuildRequest, CoreFamily, HostBuild, HostBuildOutcome, HostCompiler, Observation, Policy,
    Presentation, Profile, RunRequest, Scene, TflmLibrary, Verdict, build_sketch, find_library,
    judge, run_sketch,
};
use autopilot_toolchain::SandboxConfig;
use tokio::sync::OnceCell;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn data_host() -> PathBuf {
    root().join("data/host")
}

pub use autopilot_testkit::require;
pub use autopilot_testkit::tools::cache_dir;

/// Compiler, library and the Chirale 2.0.0 profile, prepared once per test binary.
#[derive(Debug)]
pub struct Host {
    pub compiler: HostCompiler,
    pub tflm: TflmLibrary,
    pub profile: PreparedProfile,
}

static HOST: OnceCell<Result<Host, &'static str>> = OnceCell::const_new();

/// The prepared host, or `None` (skipped, or failed under CI) when the library is not built.
/// Every test that gets `None` records its own skip, not only the one that prepared the host.
pub async fn host() -> Option<&'static Host> {
    let prepared = HOST.get_or_init(prepare).await;
    match prepared {
        Ok(host) => Some(host),
        Err(missing) => {
            require(missing, false);
            None
        }
    }
}

async fn prepare() -> Result<Host, &'static str> {
    if !(which::which("g++").is_ok() && which::which("arduino-ctags").is_ok()) {
        return Err("g++ and arduino-ctags");
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let compiler = HostCompiler::detect(Path::new("g++"), scratch.path())
        .await
        .expect("g++ runs");
    let Some(tflm) = find_library(&cache_dir(), &compiler) else {
        return Err("the host TFLM library (bash scripts/setup-host-tflm.sh)");
    };
    let chirale = Profile::load(
        &data_host().join("profiles"),
        "Chirale_TensorFLowLite",
        "2.0.0",
    )
    .expect("profile loads")
    .expect("profile exists");
    let profile = profile::prepare(
        &chirale,
        &tflm,
        &compiler,
        &data_host().join("cores/common"),
        2,
    )
    .await
    .expect("profile prepares");
    Ok(Host {
        compiler,
        tflm,
        profile,
    })
}

/// A sketch folder `<tmp>/<name>/<name>.ino` with the fruit_to_emoji model beside it.
pub fn sketch_with(tmp: &Path, name: &str, code: &str) -> PathBuf {
    let dir = tmp.join(name);
    fs_err::create_dir_all(&dir).expect("mkdir");
    fs_err::write(dir.join(format!("{name}.ino")), code).expect("write sketch");
    fs_err::copy(
        root().join("examples/fruit_to_emoji/model.h"),
        dir.join("model.h"),
    )
    .expect("copy model.h");
    dir
}

pub fn correct_sketch() -> String {
    fs_err::read_to_string(root().join("data/fixtures/host/engine/correct/correct.ino"))
        .expect("fixture")
}

pub async fn build(host: &Host, sketch_dir: &Path, family: CoreFamily) -> HostBuild {
    let request = BuildRequest {
        sketch_dir: sketch_dir.to_owned(),
        build_dir: sketch_dir.with_extension("build"),
        data_dir: data_host(),
        family,
        ctags: PathBuf::from("arduino-ctags"),
        jobs: 2,
        extra_files: Vec::new(),
        sandbox: Some(SandboxConfig::default()),
    };
    build_sketch(&request, &host.compiler, &host.tflm, &host.profile)
        .await
        .expect("the build runs")
}

/// The fruit_to_emoji dataset as a colour scene.
pub fn fruit_scene() -> Scene {
    let dir = root().join("examples/fruit_to_emoji/data");
    let classes = ["apple", "banana", "orange"];
    let per_class: Vec<Vec<Vec<f64>>> = classes
        .iter()
        .map(|c| autopilot_hostrun::scene::read_csv(&dir.join(format!("{c}.csv"))).expect("csv"))
        .collect();
    Scene::colour_proportions(
        &per_class,
        classes.iter().map(|c| (*c).to_owned()).collect(),
        &Presentation::default(),
    )
}

/// Builds, runs and judges a sketch on the fruit scene.
pub async fn check(host: &Host, sketch_dir: &Path) -> (Observation, Verdict) {
    check_on(host, sketch_dir, &fruit_scene()).await
}

/// Builds, runs and judges a sketch on `scene`.
pub async fn check_on(host: &Host, sketch_dir: &Path, scene: &Scene) -> (Observation, Verdict) {
    let built = build(host, sketch_dir, CoreFamily::Mbed).await;
    let HostBuildOutcome::Built { binary } = built.outcome else {
        panic!("build failed: {:?}", built.outcome);
    };
    let obs = run_sketch(
        &RunRequest {
            binary,
            work_dir: sketch_dir.with_extension("run"),
            budget: Duration::from_secs(5),
            sandbox: Some(SandboxConfig::default()),
        },
        scene,
    )
    .await
    .expect("the run runs");
    let verdict = judge(&obs, scene, &Policy::default());
    (obs, verdict)
}

/// The first error message of a failed build.
pub fn first_error(built: &HostBuild) -> String {
    match &built.outcome {
        HostBuildOutcome::Failed {
            diagnostics,
            output,
        } => diagnostics
            .iter()
            .find(|d| {
                matches!(
                    d.severity,
                    autopilot_trace::Severity::Error | autopilot_trace::Severity::Fatal
                )
            })
            .map_or_else(
                || format!("no parsed error in: {output}"),
                |d| d.message.clone(),
            ),
        HostBuildOutcome::Built { .. } => "built".to_owned(),
    }
}
