//! App files: loading, defaults, and errors that name the file and the key.

use autopilot_steps::{
    App, ConfigError, DType, GENERATED_HEADER_NAME, ModelKind, ModelSource, SymbolKind,
};

use autopilot_steps::{HostSensor, Presentation};

use crate::support::{AppDir, dense_app, fruit_tflite, fruit_toml};

fn problems(error: &ConfigError) -> Vec<(String, String)> {
    match error {
        ConfigError::Invalid { problems, .. } => problems
            .iter()
            .map(|p| (p.key.clone(), p.message.clone()))
            .collect(),
        other => panic!("expected an invalid-app error, got {other:?}"),
    }
}

fn has_problem(error: &ConfigError, key: &str, fragment: &str) -> bool {
    problems(error)
        .iter()
        .any(|(k, m)| k == key && m.contains(fragment))
}

#[test]
fn a_valid_dense_app_loads_with_defaults() {
    let (dir, toml) = dense_app();
    let app = dir.load(&toml).unwrap();
    assert_eq!(app.name, "tiny");
    assert_eq!(app.target, "uno");
    assert_eq!(
        app.expected_output, app.classes,
        "expected output defaults to the classes"
    );
    let model = app.model.as_ref().unwrap();
    assert_eq!(model.kind, ModelKind::Dense);
    assert_eq!(model.header_name, "tiny.h");
    assert_eq!(model.inference_call(), Some("tiny_predict"));
    assert_eq!(
        model.scan.get("tiny_predict").unwrap().kind,
        SymbolKind::Function
    );
    assert_eq!(app.dataset.rows(), 3);
    assert_eq!(app.dataset.files[0].file, "data/xy.csv");
    assert!(app.sensor.is_none());
}

#[test]
fn a_tflite_app_gets_a_generated_header_and_model_facts() {
    let dir = AppDir::new();
    dir.write("m.tflite", fruit_tflite());
    let app = dir.load(&fruit_toml("tflite = \"m.tflite\"")).unwrap();
    let model = app.model.unwrap();
    assert_eq!(model.header_name, GENERATED_HEADER_NAME);
    assert!(matches!(model.source, ModelSource::Tflite(_)));
    assert_eq!(model.array.as_deref(), Some("g_model_data"));
    assert_eq!(model.array_len.as_deref(), Some("g_model_data_len"));
    assert!(
        model
            .header_text
            .contains("alignas(16) const unsigned char g_model_data[] = {")
    );
    let facts = model.tflite.unwrap();
    assert_eq!(facts.inputs[0].dtype, Some(DType::Float32));
    assert_eq!(facts.operators, vec!["FULLY_CONNECTED", "SOFTMAX"]);
}

#[test]
fn syntax_errors_name_the_file_line_and_key() {
    let (dir, toml) = dense_app();
    let err = dir
        .load(&toml.replace("name = \"tiny\"\n", ""))
        .unwrap_err();
    let ConfigError::Syntax { path, key, .. } = &err else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert!(path.ends_with("app.toml"));
    assert_eq!(key.as_deref(), Some("name"));
    assert!(err.to_string().contains("app.toml"), "{err}");

    let err = dir
        .load(&toml.replace("predict_function", "predict_fn"))
        .unwrap_err();
    let ConfigError::Syntax {
        key, line, message, ..
    } = &err
    else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!(key.as_deref(), Some("model.predict_fn"), "{message}");
    assert_eq!(*line, Some(10));

    let err = dir
        .load(&toml.replace("target = \"uno\"", "target = 3"))
        .unwrap_err();
    assert_eq!(err.keys(), vec!["target"], "{err}");

    let err = dir
        .load(&toml.replace(
            "\"float32\", shape = [1, 2] }\noutput",
            "\"float64\", shape = [1, 2] }\noutput",
        ))
        .unwrap_err();
    assert!(err.to_string().contains("float64"), "{err}");
    assert_eq!(err.keys(), vec!["model.input"], "{err}");
}

#[test]
fn every_invalid_value_is_reported_with_its_key() {
    let (dir, toml) = dense_app();
    let bad = toml
        .replace(
            "description = \"Predict left or right.\"",
            "description = \"  \"",
        )
        .replace(
            "classes = [\"left\", \"right\"]",
            "classes = [\"left\", \"Left\", \"up\\\"\"]",
        )
        .replace(
            "file = \"data/xy.csv\"",
            "file = \"../outside.csv\"\nclass = \"down\"",
        );
    let err = dir.load(&bad).unwrap_err();
    assert!(has_problem(&err, "description", "empty"), "{err}");
    assert!(has_problem(&err, "classes[1]", "appears twice"), "{err}");
    assert!(has_problem(&err, "classes[2]", "quotes"), "{err}");
    assert!(
        has_problem(&err, "dataset[0].file", "leaves the app directory"),
        "{err}"
    );
    assert!(
        has_problem(&err, "dataset[0].class", "not one of the classes"),
        "{err}"
    );
    assert!(
        has_problem(
            &err,
            "model.output.shape",
            "2 elements but there are 3 classes"
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("app.toml") && text.contains("key `dataset[0].file`"),
        "{text}"
    );
}

#[test]
fn paths_must_exist_have_the_right_extension_and_stay_inside_unless_absolute() {
    let (dir, toml) = dense_app();
    let err = dir
        .load(&toml.replace("data/xy.csv", "data/missing.csv"))
        .unwrap_err();
    assert!(
        has_problem(&err, "dataset[0].file", "file not found"),
        "{err}"
    );
    let err = dir
        .load(&toml.replace("data/xy.csv", "tiny.h"))
        .unwrap_err();
    assert!(
        has_problem(&err, "dataset[0].file", "should end in .csv"),
        "{err}"
    );
    let err = dir
        .load(&toml.replace("data/xy.csv", "data/../../xy.csv"))
        .unwrap_err();
    assert!(
        has_problem(&err, "dataset[0].file", "leaves the app directory"),
        "{err}"
    );
    // `data/../data/xy.csv` stays inside and is fine.
    dir.load(&toml.replace("data/xy.csv", "data/../data/xy.csv"))
        .unwrap();
    // An absolute path outside the app directory is allowed.
    let elsewhere = AppDir::new();
    let csv = elsewhere.write("other.csv", "x,y\n1,2\n");
    dir.load(&toml.replace("data/xy.csv", csv.to_str().unwrap()))
        .unwrap();
    // A relative path through a symbolic link that leads outside does not stay inside.
    std::os::unix::fs::symlink(elsewhere.dir.path(), dir.dir.path().join("link")).unwrap();
    let err = dir
        .load(&toml.replace("data/xy.csv", "link/other.csv"))
        .unwrap_err();
    assert!(
        has_problem(&err, "dataset[0].file", "through a symbolic link"),
        "{err}"
    );
    // A link that stays inside is fine.
    std::os::unix::fs::symlink(dir.dir.path().join("data"), dir.dir.path().join("same")).unwrap();
    dir.load(&toml.replace("data/xy.csv", "same/xy.csv"))
        .unwrap();
}

#[test]
fn a_tensor_too_large_to_count_is_a_problem_not_zero_elements() {
    let (dir, toml) = dense_app();
    let bad = toml.replace(
        "output = { dtype = \"float32\", shape = [1, 2] }",
        "output = { dtype = \"float32\", shape = [4294967295, 4294967295, 4294967295] }",
    );
    assert_ne!(bad, toml);
    let err = dir.load(&bad).unwrap_err();
    assert!(
        has_problem(&err, "model.output.shape", "more elements than"),
        "{err}"
    );
    assert!(!err.to_string().contains("0 elements"), "{err}");
}

#[test]
fn model_sections_are_checked() {
    let (dir, toml) = dense_app();
    let both = toml.replace(
        "header = \"tiny.h\"",
        "header = \"tiny.h\"\ntflite = \"m.tflite\"",
    );
    assert!(has_problem(
        &dir.load(&both).unwrap_err(),
        "model",
        "not both"
    ));
    let neither = toml.replace("header = \"tiny.h\"\n", "");
    assert!(has_problem(
        &dir.load(&neither).unwrap_err(),
        "model",
        "give `header`"
    ));
    dir.write("m.tflite", fruit_tflite());
    let dense_tflite = toml.replace("header = \"tiny.h\"", "tflite = \"m.tflite\"");
    assert!(has_problem(
        &dir.load(&dense_tflite).unwrap_err(),
        "model.tflite",
        "dense model"
    ));
    let unknown_fn = toml.replace(
        "predict_function = \"tiny_predict\"",
        "predict_function = \"predict\"",
    );
    assert!(has_problem(
        &dir.load(&unknown_fn).unwrap_err(),
        "model.predict_function",
        "not a function declared in tiny.h"
    ));
    let no_fn = toml.replace("predict_function = \"tiny_predict\"\n", "");
    assert!(has_problem(
        &dir.load(&no_fn).unwrap_err(),
        "model.predict_function",
        "needs the name"
    ));
    let zero = toml.replace("shape = [1, 2] }\noutput", "shape = [1, 0] }\noutput");
    assert!(has_problem(
        &dir.load(&zero).unwrap_err(),
        "model.input.shape",
        "zero"
    ));
}

#[test]
fn tflite_models_are_checked_against_the_declared_tensors() {
    let dir = AppDir::new();
    dir.write("m.tflite", fruit_tflite());
    dir.write("junk.tflite", b"not a model at all");
    let base = &fruit_toml("tflite = \"m.tflite\"").replacen(
        "\"float32\", shape = [1, 3]",
        "\"int8\", shape = [1, 4]",
        1,
    );
    let err = dir.load(base).unwrap_err();
    assert!(has_problem(&err, "model.input.dtype", "FLOAT32"), "{err}");
    assert!(has_problem(&err, "model.input.shape", "[1, 3]"), "{err}");
    let err = dir
        .load(&base.replace("m.tflite", "junk.tflite"))
        .unwrap_err();
    assert!(has_problem(&err, "model.tflite", "TFL3"), "{err}");
    let err = dir
        .load(&base.replace(
            "tflite = \"m.tflite\"",
            "tflite = \"m.tflite\"\nsymbol = \"model\"",
        ))
        .unwrap_err();
    assert!(has_problem(&err, "model.symbol", "clashes"), "{err}");
    // A header without a byte array is no TFLite model.
    dir.write("weights.h", "const float w[2] = {1.0f, 2.0f};\n");
    let err = dir
        .load(&base.replace("tflite = \"m.tflite\"", "header = \"weights.h\""))
        .unwrap_err();
    assert!(has_problem(&err, "model.header", "no byte array"), "{err}");
}

#[test]
fn a_header_holding_the_model_bytes_is_inspected_like_a_tflite_file() {
    let dir = AppDir::new();
    let header =
        autopilot_steps::tflite_to_header(&fruit_tflite(), "fruit_model", "x.tflite").unwrap();
    dir.write("fruit_model.h", header);
    let app = dir.load(&fruit_toml("header = \"fruit_model.h\"")).unwrap();
    let model = app.model.unwrap();
    assert_eq!(model.header_name, "fruit_model.h");
    assert_eq!(model.array.as_deref(), Some("fruit_model"));
    assert_eq!(model.array_len.as_deref(), Some("fruit_model_len"));
    assert_eq!(model.tflite.unwrap().outputs[0].shape, vec![1, 3]);
}

#[test]
fn the_target_is_checked_against_known_targets() {
    let (dir, toml) = dense_app();
    let app = dir.load(&toml).unwrap();
    app.check_target(&["uno".to_owned(), "nano33ble_sense".to_owned()])
        .unwrap();
    let err = app.check_target(&["esp32".to_owned()]).unwrap_err();
    assert_eq!(err.keys(), vec!["target"]);
    assert!(err.to_string().contains("unknown target `uno`"), "{err}");
}

#[test]
fn a_missing_app_file_is_a_read_error_naming_it() {
    let err = App::load(std::path::Path::new("/nonexistent/app.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/app.toml"));
}

#[test]
fn a_tflite_model_needs_a_target_with_tflm() {
    let dir = AppDir::new();
    dir.write("m.tflite", fruit_tflite());
    let app = dir.load(&fruit_toml("tflite = \"m.tflite\"")).unwrap();
    app.check_model_runtime(true).unwrap();
    let err = app.check_model_runtime(false).unwrap_err();
    assert_eq!(err.keys(), vec!["model.kind"]);
    let (dense_dir, toml) = dense_app();
    dense_dir
        .load(&toml)
        .unwrap()
        .check_model_runtime(false)
        .unwrap();
}

/// The fruit app with its three data files and a `[host]` section.
fn fruit_host_app(host: &str) -> (AppDir, String) {
    let dir = AppDir::new();
    dir.write("m.tflite", fruit_tflite());
    let csv = "Red,Green,Blue,fruit\n0.6,0.2,0.2,apple\n";
    dir.write("data/a.csv", csv);
    dir.write("data/b.csv", csv);
    let toml = format!(
        "{}\n[[dataset]]\nfile = \"data/a.csv\"\nclass = \"apple\"\n\n[[dataset]]\nfile = \
         \"data/b.csv\"\n\n[host]\n{host}\n",
        fruit_toml("tflite = \"m.tflite\"")
    );
    (dir, toml)
}

#[test]
fn the_host_section_defaults_to_the_prototype_presentation() {
    let (dir, toml) = fruit_host_app("label_column = \"fruit\"");
    let app = dir.load(&toml).unwrap();
    assert_eq!(app.host.label_column.as_deref(), Some("fruit"));
    assert!(app.host.columns.is_empty());
    assert_eq!(app.host.presentation, Presentation::default());
    assert_eq!(app.host.presentation.dwell_ms, 1500);
    let (dir, toml) = fruit_host_app(
        "columns = [\"Red\", \"Green\", \"Blue\"]\nlabel_column = \"fruit\"\ndwell_ms = 800\n\
         gap_ms = 400\nbrightness_min = 100\nbrightness_max = 100\nproximity_near = 10\n\
         proximity_far = 0",
    );
    let host = dir.load(&toml).unwrap().host;
    assert_eq!(host.columns, ["Red", "Green", "Blue"]);
    assert_eq!(
        host.presentation,
        Presentation {
            dwell_ms: 800,
            gap_ms: 400,
            brightness_min: 100,
            brightness_max: 100,
            proximity_near: 10,
            proximity_far: 0,
        }
    );
    // The example fills it in.
    let example = App::load(&crate::support::examples_dir().join("fruit_to_emoji/app.toml"));
    assert_eq!(example.unwrap().host.columns, ["Red", "Green", "Blue"]);
}

#[test]
fn every_bad_host_value_is_named() {
    let (dir, toml) = fruit_host_app(
        "sensor = \"lsm9ds1\"\ncolumns = [\"Red\", \"Green\", \"blue\"]\ndwell_ms = 5\n\
         gap_ms = 100000\nbrightness_min = 4000\nbrightness_max = 3000\nproximity_near = 300\n\
         proximity_far = 255",
    );
    let error = dir.load(&toml).unwrap_err();
    assert!(has_problem(
        &error,
        "host.sensor",
        "`lsm9ds1` is not a sensor"
    ));
    assert!(has_problem(
        &error,
        "host.columns[2]",
        "`blue` is not a column of data/a.csv"
    ));
    assert!(has_problem(
        &error,
        "host.dwell_ms",
        "5 is outside 100..=60000"
    ));
    assert!(has_problem(&error, "host.gap_ms", "100000 is outside"));
    assert!(has_problem(
        &error,
        "host.brightness_min",
        "above brightness_max"
    ));
    assert!(has_problem(
        &error,
        "host.proximity_near",
        "300 is outside 0..=255"
    ));
    assert!(
        error.to_string().contains("app.toml"),
        "the error names the file: {error}"
    );
    let (dir, toml) = fruit_host_app("columns = [\"Red\"]\nproximity_near = 255");
    let error = dir.load(&toml).unwrap_err();
    assert!(has_problem(&error, "host.columns", "needs 3"));
    assert!(has_problem(
        &error,
        "host.proximity_far",
        "equals proximity_near"
    ));
    // Without a label column every file needs its class.
    assert!(has_problem(&error, "dataset[1].class", "is missing"));
    assert!(
        !problems(&error)
            .iter()
            .any(|(k, _)| k == "dataset[0].class")
    );
    let (dir, toml) = fruit_host_app("label_column = \"kind\"");
    let error = dir.load(&toml).unwrap_err();
    assert!(has_problem(
        &error,
        "host.label_column",
        "`kind` is not a column"
    ));
}

#[test]
fn the_imu_sensor_takes_3_6_or_9_columns() {
    let (dir, toml) = fruit_host_app(
        "sensor = \"lsm9ds1_imu\"\ncolumns = [\"Red\", \"Green\", \"Blue\"]\nlabel_column = \"fruit\"",
    );
    let host = dir.load(&toml).unwrap().host;
    assert_eq!(host.sensor, HostSensor::Lsm9ds1Imu);
    assert_eq!(host.columns, ["Red", "Green", "Blue"]);
    let (dir, toml) = fruit_host_app(
        "sensor = \"lsm9ds1_imu\"\ncolumns = [\"Red\", \"Green\"]\nlabel_column = \"fruit\"",
    );
    let error = dir.load(&toml).unwrap_err();
    assert!(has_problem(&error, "host.columns", "3, 6 or 9"));
    let (dir, toml) = fruit_host_app("label_column = \"fruit\"");
    assert_eq!(
        dir.load(&toml).unwrap().host.sensor,
        HostSensor::Apds9960Colour
    );
}
