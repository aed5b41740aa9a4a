//! Board definitions: the shipped files, loading a folder, and errors that name file and key.

use std::path::Path;

use autopilot_toolchain::BackendKind;
use autopilot_toolchain::library::LibraryCatalog;
use autopilot_toolchain::target::{Fqbn, Targets, TargetsError, load_target, parse_target};

use crate::support::root;

#[test]
fn the_repository_targets_load_and_match_the_built_in_copies() {
    let loaded = Targets::load_dir(&root().join("targets")).unwrap();
    let builtin = Targets::builtin();
    let names: Vec<&str> = loaded.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "esp32",
            "esp32s3",
            "mega",
            "nano",
            "nano33ble",
            "nano33ble_sense",
            "uno"
        ]
    );
    for target in loaded.iter() {
        assert_eq!(builtin.get(&target.name).unwrap(), target);
    }
}

#[test]
fn board_facts() {
    let targets = Targets::builtin();
    let uno = targets.get("uno").unwrap();
    assert_eq!((uno.flash_bytes, uno.ram_bytes), (32256, 2048));
    assert_eq!(uno.backend, BackendKind::ArduinoBuilder);
    let simulator = uno.simulator.as_ref().unwrap();
    assert_eq!(
        (simulator.mcu.as_str(), simulator.clock_hz),
        ("atmega328p", 16_000_000)
    );

    let nano = targets.get("nano").unwrap();
    assert_eq!(nano.fqbn, "arduino:avr:nano:cpu=atmega328");
    assert_eq!(
        nano.fqbn().options,
        [("cpu".to_owned(), "atmega328".to_owned())]
    );
    assert_eq!(nano.flash_bytes, 30720);

    let mega = targets.get("mega").unwrap();
    assert_eq!(mega.simulator.as_ref().unwrap().mcu, "atmega2560");

    let sense = targets.get("nano33ble_sense").unwrap();
    assert_eq!(sense.fqbn, "arduino:mbed_nano:nano33ble");
    assert_eq!(sense.core, "arduino:mbed_nano");
    assert_eq!(sense.backend, BackendKind::ArduinoCli);
    assert!(sense.simulator.is_none());
    let tinyml = sense.tinyml.as_ref().unwrap();
    assert_eq!(
        (tinyml.library.as_str(), tinyml.version.as_str()),
        ("Chirale_TensorFLowLite", "2.0.0")
    );
    let colour = sense
        .sensors
        .iter()
        .find(|s| s.kinds.iter().any(|k| k == "color"))
        .unwrap();
    assert_eq!(colour.library.as_deref(), Some("Arduino_APDS9960"));
    let imu = sense.sensors.iter().find(|s| s.chip == "LSM9DS1").unwrap();
    assert_eq!(imu.library.as_deref(), Some("Arduino_LSM9DS1"));
    assert!(sense.sensors.iter().any(|s| s.chip == "HTS221"));
    assert!(sense.sensors.iter().any(|s| s.chip == "LPS22HB"));
    assert!(
        sense
            .sensors
            .iter()
            .any(|s| s.header == "PDM.h" && s.library.is_none())
    );
}

#[test]
fn every_library_a_target_names_is_allow_listed() {
    let catalog = LibraryCatalog::builtin();
    for target in Targets::builtin().iter() {
        let libraries = target
            .tinyml
            .iter()
            .map(|t| t.library.as_str())
            .chain(target.sensors.iter().filter_map(|s| s.library.as_deref()));
        for library in libraries {
            assert!(
                catalog.is_allowed(library),
                "{}: {library} is not allow-listed",
                target.name
            );
        }
    }
}

#[test]
fn fqbn_parsing() {
    let fqbn = Fqbn::parse("arduino:avr:mega:cpu=atmega2560").unwrap();
    assert_eq!(fqbn.core(), "arduino:avr");
    assert_eq!(fqbn.board, "mega");
    assert!(Fqbn::parse("arduino:avr").is_err());
    assert!(Fqbn::parse("arduino:avr:nano:cpu").is_err());
    assert!(Fqbn::parse("arduino::nano").is_err());
}

fn error_of(file: &str, text: &str) -> String {
    parse_target(Path::new(file), text).unwrap_err().to_string()
}

const VALID: &str = r#"
name = "board"
display_name = "A board"
fqbn = "arduino:avr:uno"
core = "arduino:avr"
flash_bytes = 32256
ram_bytes = 2048
serial_baud = 9600
backend = "arduino-builder"
"#;

#[test]
fn invalid_files_name_the_file_and_the_key() {
    assert!(parse_target(Path::new("targets/board.toml"), VALID).is_ok());
    let cases = [
        (
            VALID.replace("ram_bytes = 2048", "ram_bytes = \"lots\""),
            "targets/board.toml: key `ram_bytes`",
        ),
        (
            VALID.replace("ram_bytes = 2048", "ram_bytes = 0"),
            "targets/board.toml: key `ram_bytes`: must be greater than 0",
        ),
        (
            VALID.replace("serial_baud = 9600", "serial_baud = 9601"),
            "key `serial_baud`: 9601 is not a standard baud rate",
        ),
        (
            VALID.replace("core = \"arduino:avr\"", "core = \"arduino:mbed_nano\""),
            "key `core`",
        ),
        (
            VALID.replace("fqbn = \"arduino:avr:uno\"", "fqbn = \"uno\""),
            "key `fqbn`",
        ),
        (
            VALID.replace("name = \"board\"", "name = \"other\""),
            "key `name`: `other` must equal the file name",
        ),
        (
            VALID.replace("backend = \"arduino-builder\"", "backend = \"platformio\""),
            "key `backend`",
        ),
        (
            format!("{VALID}\nflavour = \"sweet\"\n"),
            "unknown field `flavour`",
        ),
        (
            VALID.replace("flash_bytes = 32256\n", ""),
            "missing field `flash_bytes`",
        ),
        (
            format!("{VALID}\n[simulator]\nkind = \"qemu\"\nmcu = \"x\"\nclock_hz = 1\n"),
            "key `simulator.kind`",
        ),
        (
            format!("{VALID}\n[[sensors]]\nchip = \"X\"\nkinds = []\nheader = \"X.h\"\n"),
            "key `sensors[0].kinds`",
        ),
        (
            format!("{VALID}\n[tinyml]\nlibrary = \"L\"\nversion = \"latest\"\nheader = \"L.h\"\n"),
            "key `tinyml.version`",
        ),
    ];
    for (text, expected) in cases {
        let message = error_of("targets/board.toml", &text);
        assert!(message.starts_with("targets/board.toml: "), "{message}");
        assert!(
            message.contains(expected),
            "expected `{expected}` in: {message}"
        );
    }
    let esp = VALID
        .replace("arduino:avr:uno", "esp32:esp32:esp32")
        .replace("core = \"arduino:avr\"", "core = \"esp32:esp32\"");
    assert!(
        error_of("targets/board.toml", &esp)
            .contains("key `backend`: arduino-builder (Debian) only has the AVR core")
    );
}

#[test]
fn a_directory_with_a_bad_file_fails_on_that_file() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("board.toml"), VALID).unwrap();
    fs_err::write(dir.path().join("broken.toml"), "name = \"broken\"\n").unwrap();
    let error = Targets::load_dir(dir.path()).unwrap_err();
    let TargetsError::Invalid(invalid) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(invalid.file, dir.path().join("broken.toml"));
    assert!(error.to_string().contains("missing field"), "{error}");
    fs_err::remove_file(dir.path().join("broken.toml")).unwrap();
    let targets = Targets::load_dir(dir.path()).unwrap();
    assert_eq!(targets.len(), 1);
    assert!(
        load_target(&dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string()
            .contains("missing.toml")
    );
    let unknown = targets.get("nano").unwrap_err().to_string();
    assert_eq!(unknown, "unknown target `nano`; known: board");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Targets::load_dir(empty.path()),
        Err(TargetsError::Empty { .. })
    ));
}
