//! The installed-library route: finding the pinned library in arduino-cli's libraries folder (by
//! its properties and version, resolved through arduino-cli's configuration), the plan of what
//! builds on the host, the content-keyed cache, and a real build and check against a tree laid
//! out as arduino-cli installs a library. The real Chirale_TensorFLowLite is on no registry CI
//! reaches, so the tree is a stand-in for the layout, generated at test time from the tfmicro
//! sources setup fetched (plus a generated top header); fidelity against the real library was
//! checked by hand (README.md, "The host TinyML check").

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autopilot_hostrun::build::{TflmSource, build_sketch_with};
use autopilot_hostrun::check::{HostToolchain, check_sketch};
use autopilot_hostrun::installed::{
    InstalledSetup, Lookup, config_directories_user, content_hash, ensure_built, find_built,
    lookup, plan_sources, sketchbook_libraries,
};
use autopilot_hostrun::tflm::library_sources;
use autopilot_hostrun::{BuildRequest, CoreFamily, HostBuildOutcome, Policy};
use autopilot_toolchain::SandboxConfig;
use autopilot_trace::HostVerdictKind;

use crate::support::{cache_dir, data_host, fruit_scene, host, root};

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

#[test]
fn the_pin_is_found_by_properties_and_another_version_is_not_used() {
    let tmp = tempfile::tempdir().unwrap();
    let libs = tmp.path();
    write(
        &libs.join("Chirale_old/library.properties"),
        "name=Chirale_TensorFLowLite\nversion=1.1.1\n",
    );
    fs_err::create_dir_all(libs.join("Chirale_old/src")).unwrap();
    let found = lookup(libs, "Chirale_TensorFLowLite", "2.0.0");
    let Lookup::NotUsed { dir, reason } = &found else {
        panic!("{found:?}")
    };
    assert_eq!(dir, &libs.join("Chirale_old"));
    assert!(
        reason.contains("`1.1.1`") && reason.contains("2.0.0"),
        "{reason}"
    );
    assert!(found.note().unwrap().contains("was not used"));
    // The pinned version without src/ is not the 1.5 layout either.
    write(
        &libs.join("flat/library.properties"),
        "name=Chirale_TensorFLowLite\nversion=2.0.0\n",
    );
    let Lookup::NotUsed { reason, .. } = lookup(libs, "Chirale_TensorFLowLite", "2.0.0") else {
        panic!("a library without src/ is not used")
    };
    assert!(reason.contains("src/"), "{reason}");
    // The pin with src/ is found, whatever its folder is called.
    write(
        &libs.join("zz_tflm/library.properties"),
        "name = Chirale_TensorFLowLite\nversion = 2.0.0\n",
    );
    fs_err::create_dir_all(libs.join("zz_tflm/src")).unwrap();
    let Lookup::Found(library) = lookup(libs, "Chirale_TensorFLowLite", "2.0.0") else {
        panic!("the pin is installed")
    };
    assert_eq!(library.dir, libs.join("zz_tflm"));
    assert_eq!(
        lookup(libs, "Arduino_TensorFlowLite", "2.0.0"),
        Lookup::Absent
    );
    assert_eq!(
        lookup(&libs.join("none"), "Chirale_TensorFLowLite", "2.0.0"),
        Lookup::Absent
    );
}

#[test]
fn the_libraries_folder_follows_arduino_cli_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let config = home.join(".arduino15/arduino-cli.yaml");
    let env = |vars: Vec<(&'static str, String)>| {
        move |key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    };
    let home_var = ("HOME", home.display().to_string());
    // No configuration: arduino-cli's default sketchbook.
    assert_eq!(
        sketchbook_libraries(&env(vec![home_var.clone()])),
        Some(home.join("Arduino/libraries"))
    );
    // directories.user of the configuration file in the data directory.
    write(
        &config,
        "board_manager:\n  additional_urls: []\ndirectories:\n  data: /x/data\n  user: \"/srv/sketchbook\"  # mine\nlogging:\n  level: info\n",
    );
    assert_eq!(
        sketchbook_libraries(&env(vec![home_var.clone()])),
        Some(PathBuf::from("/srv/sketchbook/libraries"))
    );
    // ARDUINO_CONFIG_FILE names another file; the environment variable beats any file.
    let other = tmp.path().join("other.yaml");
    write(&other, "directories:\n    user: /opt/sb\n");
    let with_file = ("ARDUINO_CONFIG_FILE", other.display().to_string());
    assert_eq!(
        sketchbook_libraries(&env(vec![home_var.clone(), with_file.clone()])),
        Some(PathBuf::from("/opt/sb/libraries"))
    );
    assert_eq!(
        sketchbook_libraries(&env(vec![
            home_var,
            with_file,
            ("ARDUINO_DIRECTORIES_USER", "/env/sb".to_owned()),
        ])),
        Some(PathBuf::from("/env/sb/libraries"))
    );
    // `user` outside `directories` is not the sketchbook.
    assert_eq!(
        config_directories_user("logging:\n  user: /nope\ndirectories:\n  data: /d\n"),
        None
    );
}

#[test]
fn the_plan_replaces_board_glue_and_builds_core_units_with_the_sketch() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    write(&src.join("Lib.h"), "#include <Arduino.h>\n");
    write(
        &src.join("tensorflow/lite/micro/micro_interpreter.cpp"),
        "int a;\n",
    );
    write(
        &src.join("tensorflow/lite/micro/system_setup.cpp"),
        "#include \"Arduino.h\"\n",
    );
    write(
        &src.join("tensorflow/lite/micro/kernels/cmsis_nn/fully_connected.cpp"),
        "int b;\n",
    );
    write(
        &src.join("third_party/cmsis_nn/Source/arm_fc_s8.c"),
        "int c;\n",
    );
    write(
        &src.join("peripherals/utility_arduino.cpp"),
        "  #include <Arduino.h>\n",
    );
    write(
        &src.join("tensorflow/lite/micro/memory_helpers_test.cc"),
        "int main() {}\n",
    );
    let plan = plan_sources(src).unwrap();
    assert_eq!(
        plan.archive,
        [
            "tensorflow/lite/micro/kernels/cmsis_nn/fully_connected.cpp",
            "tensorflow/lite/micro/micro_interpreter.cpp",
            "third_party/cmsis_nn/Source/arm_fc_s8.c",
        ]
    );
    assert_eq!(plan.with_core, ["peripherals/utility_arduino.cpp"]);
    let excluded: Vec<&str> = plan.excluded.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        excluded,
        [
            "tensorflow/lite/micro/memory_helpers_test.cc",
            "tensorflow/lite/micro/system_setup.cpp",
        ]
    );
    assert!(plan.excluded.iter().all(|e| !e.reason.is_empty()));
}

/// Copies the files under `from` whose names pass `keep` to `to`, keeping relative paths.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) {
    for entry in fs_err::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target, keep);
        } else if keep(&path.to_string_lossy()) {
            fs_err::create_dir_all(to).unwrap();
            fs_err::copy(&path, &target).unwrap();
        }
    }
}

/// A library installed as arduino-cli lays one out — `library.properties` naming the pin and a
/// `src/` with the TFLM tree at its root — built from the tfmicro tree setup extracted: the
/// library's translation units, every TFLM header, the third-party headers at the paths the
/// 2020 sources include them by, a top header for discovery, the `system_setup.h` the 2020 tree
/// predates and the `utility.h` its flatbuffers want under `ARDUINO`.
fn layout_library(tf_root: &Path, libraries: &Path, version: &str) -> PathBuf {
    let dir = libraries.join("Chirale_TensorFLowLite");
    let src = dir.join("src");
    write(
        &dir.join("library.properties"),
        &format!(
            "name=Chirale_TensorFLowLite\nversion={version}\nsentence=autopilot test layout \
             (tfmicro 0.1.0 sources), not the real library\nincludes=TfmicroLayout.h\n"
        ),
    );
    write(
        &src.join("TfmicroLayout.h"),
        "// Generated by the autopilot host-run tests: the layout's top header.\n#include <Arduino.h>\n",
    );
    // The 2020 flatbuffers include <utility.h> when ARDUINO is defined (the old Arduino port's
    // name for <utility>).
    write(
        &src.join("utility.h"),
        "// Generated by the autopilot host-run tests.\n#include <utility>\n",
    );
    write(
        &src.join("tensorflow/lite/micro/system_setup.h"),
        "// Generated by the autopilot host-run tests.\nnamespace tflite {\nvoid InitializeTarget();\n}\n",
    );
    let header = |p: &str| autopilot_hostrun::command::has_extension(p, &["h"]);
    copy_tree(
        &tf_root.join("tensorflow/lite"),
        &src.join("tensorflow/lite"),
        &header,
    );
    for unit in library_sources(tf_root).unwrap() {
        let to = src.join(&unit);
        fs_err::create_dir_all(to.parent().unwrap()).unwrap();
        fs_err::copy(tf_root.join(&unit), to).unwrap();
    }
    let downloads = tf_root.join("tensorflow/lite/micro/tools/make/downloads");
    for (from, to) in [
        ("flatbuffers/include/flatbuffers", "flatbuffers"),
        ("gemmlowp/fixedpoint", "fixedpoint"),
        ("gemmlowp/internal", "internal"),
        ("ruy/ruy", "ruy"),
    ] {
        copy_tree(&downloads.join(from), &src.join(to), &header);
    }
    // The 2020 tree's Arduino and test folders are not library sources.
    for extra in [
        "tensorflow/lite/micro/tools",
        "tensorflow/lite/micro/testing",
    ] {
        let _ = fs_err::remove_dir_all(src.join(extra));
    }
    dir
}

#[tokio::test]
async fn a_library_installed_for_arduino_cli_is_built_from_its_sources_and_checks_a_sketch() {
    let Some(host) = host().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let libraries = tmp.path().join("sketchbook/libraries");
    let installed_dir = layout_library(&host.tflm.tf_root, &libraries, "2.0.0");
    let Lookup::Found(library) = lookup(&libraries, "Chirale_TensorFLowLite", "2.0.0") else {
        panic!("the layout is found")
    };
    assert_eq!(library.dir, installed_dir);
    // Built once per content, compiler and flags, in the user's cache like the tfmicro library.
    let setup = InstalledSetup {
        cache_dir: cache_dir(),
        compiler: host.compiler.clone(),
        data_dir: data_host(),
        jobs: 2,
    };
    let built = ensure_built(&setup, &library)
        .await
        .expect("the layout builds");
    assert!(built.archive.is_file());
    assert_eq!(built.info.content_sha256, content_hash(&library).unwrap());
    assert_eq!(
        built.info.translation_units,
        library_sources(&host.tflm.tf_root).unwrap().len()
    );
    assert!(
        built
            .info
            .flags
            .iter()
            .all(|f| f != "-DTF_LITE_STATIC_MEMORY")
    );
    let started = Instant::now();
    let again = ensure_built(&setup, &library).await.unwrap();
    assert_eq!(
        again.dir, built.dir,
        "the same content is the same cache entry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "found, not rebuilt"
    );
    // Another compiler version or changed sources are another key.
    let mut other = host.compiler.clone();
    other.version.push_str(" (other)");
    assert_eq!(
        find_built(&cache_dir(), &library, &other, &data_host()).unwrap(),
        None
    );
    let note = library.src().join("tensorflow/lite/micro/micro_time.h");
    let original = fs_err::read_to_string(&note).unwrap();
    fs_err::write(&note, format!("{original}\n// edited\n")).unwrap();
    assert_eq!(
        find_built(&cache_dir(), &library, &host.compiler, &data_host()).unwrap(),
        None,
        "edited sources are not the cached build"
    );
    fs_err::write(&note, original).unwrap();
    assert_eq!(
        find_built(&cache_dir(), &library, &host.compiler, &data_host()).unwrap(),
        Some(again.clone())
    );

    // A sketch written for the layout's (2020) API builds against its real headers, runs and
    // passes; the verdict records which sources were used.
    let sketch = tmp.path().join("tfmicro_layout");
    fs_err::create_dir_all(&sketch).unwrap();
    fs_err::copy(
        root().join("data/fixtures/host/installed/tfmicro_layout/tfmicro_layout.ino"),
        sketch.join("tfmicro_layout.ino"),
    )
    .unwrap();
    fs_err::copy(
        root().join("examples/fruit_to_emoji/model.h"),
        sketch.join("model.h"),
    )
    .unwrap();
    let request = BuildRequest {
        sketch_dir: sketch.clone(),
        build_dir: tmp.path().join("build"),
        data_dir: data_host(),
        family: CoreFamily::Mbed,
        ctags: PathBuf::from("arduino-ctags"),
        jobs: 2,
        extra_files: Vec::new(),
        sandbox: Some(SandboxConfig::default()),
    };
    let toolchain = HostToolchain {
        compiler: host.compiler.clone(),
        tflm: host.tflm.clone(),
        profile: host.profile.clone(),
        installed: Some(built),
    };
    let report = check_sketch(
        &toolchain,
        &request,
        &fruit_scene(),
        &Policy::default(),
        Duration::from_secs(10),
    )
    .await
    .expect("the check runs");
    assert_eq!(
        report.verdict.kind,
        HostVerdictKind::Pass,
        "{:?}",
        report.verdict
    );
    assert_eq!(report.verdict.invokes, 225);
    assert!(report.verdict.printed_accuracy.unwrap() > 0.9);
    assert_eq!(
        report.build.libraries,
        ["Arduino_APDS9960", "Chirale_TensorFLowLite"]
    );
    let event = report.to_trace_event(1);
    assert!(
        event.tflm_source.starts_with(&format!(
            "installed Chirale_TensorFLowLite 2.0.0 at {}",
            installed_dir.display()
        )) && event.tflm_source.contains("excluded: none"),
        "{}",
        event.tflm_source
    );
    assert!(event.profile.starts_with("none"), "{}", event.profile);

    // The same sketch against the profile (Chirale 2.0.0's API over tfmicro) does not compile:
    // the route decides what a sketch is judged against.
    let profiled = build_sketch_with(
        &request,
        &host.compiler,
        &TflmSource::Profile {
            tflm: &host.tflm,
            profile: &host.profile,
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(profiled.outcome, HostBuildOutcome::Failed { .. }),
        "the 2020 API is not Chirale 2.0.0's"
    );
}
