//! The library resolver without a registry: project files, the pinned TinyML library, the
//! curated map, board mismatches. (Searching and installing: `arduino_cli.rs`.)

use autopilot_toolchain::TinyMlApi;
use autopilot_toolchain::library::{
    LibraryCatalog, ResolveContext, normalize_header, pinned_version, resolve_offline,
};
use autopilot_trace::{LibraryResolved, ResolutionSource};

use crate::support::target;

fn resolve(target_name: &str, installed: &[&str], header: &str) -> Option<LibraryResolved> {
    let catalog = LibraryCatalog::builtin();
    let api = TinyMlApi::builtin();
    let target = target(target_name);
    let installed: Vec<String> = installed.iter().map(|s| (*s).to_owned()).collect();
    let ctx = ResolveContext {
        target: &target,
        installed: &installed,
        tinyml_api: Some(&api),
    };
    resolve_offline(&catalog, &ctx, 3, header)
}

#[test]
fn project_files_and_invented_sketch_files_are_never_libraries() {
    for header in [
        "model.h",
        "./model.tflite.h",
        "model.tflite",
        "main_functions.h",
        "main_header_file.h",
        "{decide_when_generating_code_based_on_given_board_and_application_description}.h",
        "color_model_data.h",
    ] {
        let resolved = resolve("nano33ble_sense", &[], header).unwrap();
        assert_eq!(resolved.source, ResolutionSource::ProjectFile, "{header}");
        assert_eq!(resolved.library, None, "{header}");
        assert!(!resolved.allowed);
        assert_eq!(resolved.attempt, 3);
    }
}

#[test]
fn curated_headers_map_to_allow_listed_libraries() {
    let resolved = resolve("nano33ble_sense", &[], "SparkFun_APDS9960.h").unwrap();
    assert_eq!(
        resolved.library.as_deref(),
        Some("SparkFun APDS9960 RGB and Gesture Sensor")
    );
    assert_eq!(resolved.source, ResolutionSource::CuratedMap);
    assert!(resolved.allowed);
    let resolved = resolve("nano33ble_sense", &[], "<Arduino_APDS9960.h>").unwrap();
    assert_eq!(resolved.library.as_deref(), Some("Arduino_APDS9960"));
    assert!(resolved.allowed);
}

#[test]
fn tensorflow_headers_resolve_to_the_pinned_library() {
    let resolved = resolve("nano33ble_sense", &[], "Chirale_TensorFlowLite.h").unwrap();
    assert_eq!(resolved.library.as_deref(), Some("Chirale_TensorFLowLite"));
    assert!(resolved.allowed);
    let resolved = resolve(
        "nano33ble_sense",
        &[],
        "tensorflow/lite/micro/micro_interpreter.h",
    )
    .unwrap();
    assert_eq!(resolved.library.as_deref(), Some("Chirale_TensorFLowLite"));
    assert!(resolved.allowed);
    // Chirale 2.0.0 renamed its main header: `TensorFlowLite.h` is not part of it, and no
    // other TFLM library is offered in its place.
    let resolved = resolve("nano33ble_sense", &[], "TensorFlowLite.h").unwrap();
    assert_eq!(
        (resolved.library.as_deref(), resolved.allowed),
        (None, false)
    );
    assert!(
        resolved.reason.contains("Chirale_TensorFlowLite.h"),
        "{}",
        resolved.reason
    );
    // Installed already: the header is simply not part of that version.
    let resolved = resolve(
        "nano33ble_sense",
        &["Chirale_TensorFLowLite"],
        "tensorflow/lite/micro/micro_log.h",
    )
    .unwrap();
    assert_eq!(resolved.library.as_deref(), Some("Chirale_TensorFLowLite"));
    assert!(
        resolved
            .reason
            .contains("is installed but has no `tensorflow/lite/micro/micro_log.h`"),
        "{}",
        resolved.reason
    );
}

#[test]
fn a_header_the_pinned_version_lacks_is_an_api_mismatch_not_a_library() {
    // The old main header included: no other TFLM library (Harvard_TinyMLx also ships a
    // TensorFlowLite.h) is offered in place of the pinned one.
    for (header, reason, instead) in [
        (
            "tensorflow/lite/version.h",
            "removed",
            "micro_interpreter.h, which defines TFLITE_SCHEMA_VERSION",
        ),
        (
            "TensorFlowLite.h",
            "not a header of 2.0.0",
            "use Chirale_TensorFlowLite.h",
        ),
    ] {
        let resolved = resolve("nano33ble_sense", &[], header).unwrap();
        assert_eq!(resolved.source, ResolutionSource::NotFound, "{header}");
        assert_eq!(resolved.library, None, "{header}");
        assert!(!resolved.allowed, "{header}");
        assert!(
            resolved.reason.starts_with(&format!(
                "not part of Chirale_TensorFLowLite 2.0.0: {reason}"
            )) && resolved.reason.contains(instead),
            "{}",
            resolved.reason
        );
    }
}

#[test]
fn a_library_for_other_boards_is_not_offered() {
    let resolved = resolve("uno", &[], "TensorFlowLite.h").unwrap();
    assert_eq!(resolved.source, ResolutionSource::NotFound);
    assert_eq!(resolved.library, None);
    assert!(
        resolved.reason.contains("not avr (Arduino Uno)"),
        "{}",
        resolved.reason
    );
}

#[test]
fn core_headers_of_another_board_are_a_board_mismatch() {
    let resolved = resolve("nano33ble", &[], "SoftwareSerial.h").unwrap();
    assert_eq!(resolved.source, ResolutionSource::NotFound);
    assert!(
        resolved
            .reason
            .contains("comes with the avr core, not with mbed_nano"),
        "{}",
        resolved.reason
    );
    let resolved = resolve("uno", &[], "PDM.h").unwrap();
    assert!(
        resolved.reason.contains("comes with the mbed_nano core"),
        "{}",
        resolved.reason
    );
    let resolved = resolve("esp32", &[], "freertos/FreeRTOS.h").unwrap();
    assert!(
        resolved
            .reason
            .contains("comes with the esp32 core; nothing to install"),
        "{}",
        resolved.reason
    );
}

#[test]
fn unknown_headers_need_a_registry_search() {
    assert_eq!(resolve("nano33ble_sense", &[], "Arduino_LIS33GH.h"), None);
    assert_eq!(resolve("nano33ble_sense", &[], "Unicode.h"), None);
}

#[test]
fn the_allow_list_refuses_invented_and_withdrawn_names() {
    let catalog = LibraryCatalog::builtin();
    assert!(!catalog.is_allowed("None"));
    assert!(
        !catalog.is_allowed("Arduino_TensorFlowLite"),
        "gone from the Library Manager"
    );
    assert!(catalog.is_allowed("Arduino_APDS9960"));
    assert_eq!(normalize_header(" \"./model.h\" "), "model.h");
}

#[test]
fn pinned_versions_come_from_the_target() {
    let sense = target("nano33ble_sense");
    assert_eq!(
        pinned_version(&sense, "Chirale_TensorFLowLite").as_deref(),
        Some("2.0.0")
    );
    assert_eq!(
        pinned_version(&sense, "Arduino_APDS9960").as_deref(),
        Some("1.0.4")
    );
    assert_eq!(pinned_version(&sense, "Servo"), None);
}

#[test]
fn a_catalog_without_headers_is_rejected_with_its_key() {
    let error = LibraryCatalog::parse(
        std::path::Path::new("data/libraries.toml"),
        "[[library]]\nname = \"X\"\n",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "data/libraries.toml: key `library[0].headers`: `X` lists no header"
    );
}
