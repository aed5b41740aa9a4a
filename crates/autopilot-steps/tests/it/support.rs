//! Helpers shared by the tests: workspace paths, app directories in temp dirs, the corpus.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn examples_dir() -> PathBuf {
    workspace_root().join("examples")
}

pub fn prompts_dir() -> PathBuf {
    workspace_root().join("prompts")
}

/// The published logs (`<corpus>/raw_logs`), or `None` when the corpus is missing: the shared
/// finder of `autopilot-testkit` fails the test under `CI=true` and records a skip elsewhere.
pub fn corpus_logs() -> Option<PathBuf> {
    autopilot_testkit::corpus().map(|corpus| corpus.join("raw_logs"))
}

/// A temporary app directory with files written into it.
pub struct AppDir {
    pub dir: tempfile::TempDir,
}

impl AppDir {
    pub fn new() -> AppDir {
        AppDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, contents).unwrap();
        path
    }

    /// Writes `app.toml` and loads it.
    pub fn load(&self, toml: &str) -> Result<autopilot_steps::App, autopilot_steps::ConfigError> {
        let path = self.write("app.toml", toml);
        autopilot_steps::App::load(&path)
    }
}

/// A dense-model header with a predict function.
pub const DENSE_HEADER: &str = r"// Tiny dense model.
#pragma once
const int tiny_num_classes = 2;
const float tiny_w[2][2] = {{1.0f, -1.0f}, {-1.0f, 1.0f}};
int tiny_predict(const float input[2]) {
  float a = tiny_w[0][0] * input[0] + tiny_w[0][1] * input[1];
  float b = tiny_w[1][0] * input[0] + tiny_w[1][1] * input[1];
  return a >= b ? 0 : 1;
}
";

pub const TWO_CLASS_CSV: &str = "x,y\n0.1,0.9\n0.8,0.2\n0.5,0.5\n";

/// An app directory holding a valid dense app; returns the directory and the app-file text.
pub fn dense_app() -> (AppDir, String) {
    let dir = AppDir::new();
    dir.write("tiny.h", DENSE_HEADER);
    dir.write("data/xy.csv", TWO_CLASS_CSV);
    let toml = r#"
name = "tiny"
description = "Predict left or right."
target = "uno"
classes = ["left", "right"]

[model]
kind = "dense"
header = "tiny.h"
predict_function = "tiny_predict"
input = { dtype = "float32", shape = [1, 2] }
output = { dtype = "float32", shape = [1, 2] }

[[dataset]]
file = "data/xy.csv"
"#
    .to_owned();
    (dir, toml)
}

/// The fruit_to_emoji model bytes.
pub fn fruit_tflite() -> Vec<u8> {
    fs_err::read(examples_dir().join("fruit_to_emoji/model.tflite")).unwrap()
}

/// The app file of a three-class TFLite app whose model is given by `model_source`
/// (`tflite = "m.tflite"` or `header = "model.h"`).
pub fn fruit_toml(model_source: &str) -> String {
    format!(
        r#"
name = "fruit"
description = "Fruit."
target = "nano33ble_sense"
classes = ["apple", "banana", "orange"]
[model]
kind = "tflite"
{model_source}
input = {{ dtype = "float32", shape = [1, 3] }}
output = {{ dtype = "float32", shape = [1, 3] }}
"#
    )
}
