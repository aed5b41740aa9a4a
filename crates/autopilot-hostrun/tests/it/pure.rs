//! The pure parts: prototypes from ctags output, library discovery, the log parser, the verdict.

use autopilot_hostrun::build::{Candidate, discover, includes};
use autopilot_hostrun::prototypes::{functions_needing_prototypes, insert_prototypes};
use autopilot_hostrun::run::parse_log;
use autopilot_hostrun::scene::colour_scene;
use autopilot_hostrun::tflm::installed_arduino_library;
use autopilot_hostrun::{HostSensor, Policy, Presentation, Scene, SceneRow, SensorMapping, judge};
use autopilot_trace::HostVerdictKind;

#[test]
fn ctags_functions_become_prototypes_but_methods_and_declared_ones_do_not() {
    let ctags = "setup\ts.ino\t/^void setup() {$/;\"\tkind:function\tline:18\tsignature:()\treturntype:void\n\
                 helper\ts.ino\t/^static int helper(int a, float* b) {$/;\"\tkind:function\tline:68\tsignature:(int a, float* b)\treturntype:int\n\
                 bar\ts.ino\t/^class Foo { public: int bar(int x) { return x; } };$/;\"\tkind:function\tline:71\tclass:Foo\tsignature:(int x)\treturntype:int\n\
                 known\ts.ino\t/^int known();$/;\"\tkind:prototype\tline:5\tsignature:()\treturntype:int\n\
                 known\ts.ino\t/^int known() {$/;\"\tkind:function\tline:80\tsignature:()\treturntype:int\n";
    let functions = functions_needing_prototypes(ctags);
    let protos: Vec<&str> = functions.iter().map(|f| f.prototype.as_str()).collect();
    assert_eq!(
        protos,
        ["void setup();", "static int helper(int a, float* b);"]
    );
    let source = "#include <Arduino.h>\n#line 1 \"s.ino\"\nint x;\nvoid setup() {\n}\n";
    let out = insert_prototypes(source, "s.ino", &functions[..1], 4, 2);
    assert_eq!(
        out,
        "#include <Arduino.h>\n#line 1 \"s.ino\"\nint x;\n#line 18 \"s.ino\"\nvoid setup();\n#line 2 \"s.ino\"\nvoid setup() {\n}\n"
    );
}

fn has(c: &Candidate, h: &str) -> bool {
    c.all_headers.iter().any(|x| x == h)
}

#[test]
fn a_library_joins_only_through_a_top_level_header_in_include_order() {
    let tflm = Candidate {
        name: "Chirale_TensorFLowLite".into(),
        top_level: vec!["Chirale_TensorFlowLite.h".into()],
        has,
        all_headers: vec![
            "Chirale_TensorFlowLite.h".into(),
            "tensorflow/lite/micro/micro_interpreter.h".into(),
        ],
    };
    let apds = Candidate {
        name: "Arduino_APDS9960".into(),
        top_level: vec!["Arduino_APDS9960.h".into()],
        has,
        all_headers: vec!["Arduino_APDS9960.h".into()],
    };
    let candidates = [tflm, apds];
    let source = "#include <Arduino_APDS9960.h>\n#include <Chirale_TensorFlowLite.h>\n#include \"tensorflow/lite/micro/micro_interpreter.h\"\n#include \"model.h\"\n";
    let joined = discover(&includes(source), &["model.h".into()], &candidates);
    assert_eq!(joined, ["Arduino_APDS9960", "Chirale_TensorFLowLite"]);
    // A nested TFLM header before the main one: nothing provides it yet, discovery stops there.
    let early = "#include \"tensorflow/lite/micro/micro_interpreter.h\"\n#include <Chirale_TensorFlowLite.h>\n";
    assert!(discover(&includes(early), &[], &candidates).is_empty());
}

fn scene() -> Scene {
    let row = |f: [f64; 3], label| SceneRow {
        features: f.to_vec(),
        readings: vec![0.0, 0.0, 0.0, 0.0],
        label,
    };
    Scene {
        classes: vec!["apple".into(), "banana".into()],
        dwell_ms: 1500,
        gap_ms: 1000,
        proximity_near: 0,
        proximity_far: 255,
        rows: vec![row([0.6, 0.2, 0.2], 0), row([0.4, 0.4, 0.2], 1)],
        sample_period_us: None,
    }
}

const SETUP: &str = "start\t2\t1500000\t1000000\nallocate\t1000\t0\t784\nsetup_done\t1000\n";

#[test]
fn a_faithful_run_passes_and_the_log_parses() {
    let log = format!(
        "{SETUP}invoke\t1100000\t0\t0\t0.6,0.2,0.2\t0.9,0.1\nserial\t1100000\t0\tapple\n\
         invoke\t3600000\t1\t0\t0.4,0.4,0.2\t0.2,0.8\nserial\t3600000\t1\tbanana 🍌\nend\tdataset_presented\t5000000\t0\n"
    );
    let obs = parse_log(&log);
    assert_eq!(obs.allocations, [(true, 784)]);
    assert_eq!(obs.invokes.len(), 2);
    assert_eq!(obs.serial[1].text, "banana 🍌");
    let v = judge(&obs, &scene(), &Policy::default());
    assert_eq!(v.kind, HostVerdictKind::Pass, "{}", v.summary);
    assert_eq!(v.printed_accuracy, Some(1.0));
    assert_eq!(v.model_accuracy, Some(1.0));
}

#[test]
fn swapped_names_are_wrong_output_quoted_in_plain_words() {
    let log = format!(
        "{SETUP}invoke\t1100000\t0\t0\t0.6,0.2,0.2\t0.9,0.1\nserial\t1100000\t0\tbanana\n\
         invoke\t3600000\t1\t0\t0.4,0.4,0.2\t0.2,0.8\nserial\t3600000\t1\tapple\n"
    );
    let v = judge(&parse_log(&log), &scene(), &Policy::default());
    assert_eq!(v.kind, HostVerdictKind::WrongOutput);
    assert!(
        v.summary
            .starts_with("printed 'banana' for 1 of 1 apples; the model itself says apple for 1"),
        "{}",
        v.summary
    );
}

#[test]
fn no_run_figures_are_unknown_not_zero() {
    let v = judge(&parse_log("start\t2\t1\t1\n"), &scene(), &Policy::default());
    assert_eq!(v.kind, HostVerdictKind::BlockedInSetup);
    assert_eq!(v.printed_accuracy, None);
    assert_eq!(v.model_accuracy, None);
    assert_eq!(v.arena_used_bytes, None);
    assert_eq!(v.max_input_deviation, None);
}

#[test]
fn an_operator_the_host_lacks_is_unsupported_never_a_pass() {
    let log = format!("log\t0\tautopilot-host: unsupported_op BROADCAST_ARGS\n{SETUP}");
    let v = judge(&parse_log(&log), &scene(), &Policy::default());
    assert_eq!(v.kind, HostVerdictKind::UnsupportedOp);
}

#[test]
fn a_missing_profile_is_skipped() {
    let profiles = crate::support::data_host().join("profiles");
    let none =
        autopilot_hostrun::Profile::load(&profiles, "Chirale_TensorFLowLite", "1.1.1").unwrap();
    assert!(none.is_none());
    let event = autopilot_hostrun::check::skipped_no_profile("Chirale_TensorFLowLite", "1.1.1");
    assert_eq!(event.verdict, HostVerdictKind::SkippedNoProfile);
}

#[test]
fn the_mapping_picks_columns_labels_and_presentation() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("mixed.csv");
    fs_err::write(
        &csv,
        "id,fruit,b,g,r\n1,banana,0.1,0.5,0.4\n2,apple,0.2,0.2,0.6\n",
    )
    .unwrap();
    let mapping = SensorMapping {
        sensor: HostSensor::Apds9960Colour,
        columns: vec!["r".into(), "g".into(), "b".into()],
        label_column: Some("fruit".into()),
        presentation: Presentation {
            dwell_ms: 700,
            gap_ms: 300,
            brightness_min: 1000,
            brightness_max: 1000,
            proximity_near: 5,
            proximity_far: 200,
        },
    };
    let classes = vec!["apple".to_owned(), "banana".to_owned()];
    let scene = colour_scene(&[(csv.clone(), None)], classes.clone(), &mapping).unwrap();
    assert_eq!(scene.rows[0].features, [0.6, 0.2, 0.2]);
    assert_eq!(
        scene.rows[0].label, 0,
        "labels come from the `fruit` column"
    );
    assert_eq!(scene.rows[1].label, 1);
    assert_eq!(scene.rows[1].readings, [400.0, 500.0, 100.0, 1100.0]);
    assert_eq!(
        scene.to_file_text(),
        "700000 300000 4 5 200\n600 200 200 1100\n400 500 100 1100\n"
    );
    // The default presentation is the prototype's; a changed dwell is in the scene file.
    let default = SensorMapping {
        presentation: Presentation::default(),
        ..mapping.clone()
    };
    let text = colour_scene(&[(csv.clone(), None)], classes.clone(), &default)
        .unwrap()
        .to_file_text();
    assert!(text.starts_with("1500000 1000000 4 0 255\n"), "{text}");
    // A column or a label the file lacks is an error naming the file.
    let missing = SensorMapping {
        columns: vec!["red".into(), "g".into(), "b".into()],
        ..mapping.clone()
    };
    let error = colour_scene(&[(csv.clone(), None)], classes.clone(), &missing).unwrap_err();
    assert!(error.to_string().contains("mixed.csv") && error.to_string().contains("`red`"));
    let one_class = vec!["apple".to_owned(), "cherry".to_owned()];
    let error = colour_scene(&[(csv, None)], one_class, &mapping).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    assert!(error.to_string().contains("`banana`"), "{error}");
}

#[test]
fn the_pinned_library_is_found_by_its_properties_not_its_folder_name() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |folder: &str, properties: &str| {
        let dir = tmp.path().join(folder);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("library.properties"), properties).unwrap();
        dir
    };
    write("Other", "name=Arduino_APDS9960\nversion=1.0.4\n");
    write("Old", "name=Chirale_TensorFLowLite\nversion=1.0.0\n");
    let found = write(
        "tflm_lib",
        "name = Chirale_TensorFLowLite\nversion = 2.0.0\n",
    );
    let lookup = |name, version| installed_arduino_library(tmp.path(), name, version);
    assert_eq!(lookup("Chirale_TensorFLowLite", "2.0.0"), Some(found));
    assert_eq!(lookup("Chirale_TensorFLowLite", "2.1.0"), None);
    assert_eq!(
        installed_arduino_library(
            &tmp.path().join("absent"),
            "Chirale_TensorFLowLite",
            "2.0.0"
        ),
        None
    );
}
