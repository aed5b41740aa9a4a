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

/// The published logs, or `None` (with a message) when they are missing outside CI. With
/// `CI=true` a missing corpus fails the test. The corpus lives in `shared/corpus` next to the
/// checkout (`<root>/../shared/corpus`); a worktree one level deeper finds it one level up.
#[expect(clippy::print_stderr, reason = "tests say why they skip")]
pub fn corpus_logs() -> Option<PathBuf> {
    // An explicit corpus wins; a wrong one is an error, not a skip.
    if let Some(dir) = std::env::var_os("AUTOPILOT_CORPUS").map(PathBuf::from) {
        assert!(
            dir.join("raw_logs").is_dir(),
            "AUTOPILOT_CORPUS={} has no raw_logs/",
            dir.display()
        );
        return Some(dir.join("raw_logs"));
    }
    let root = workspace_root().canonicalize().unwrap();
    let candidates: Vec<PathBuf> = root
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("shared/corpus/autopilot-failures/raw_logs"))
        .collect();
    if let Some(found) = candidates.iter().find(|dir| dir.is_dir()) {
        return Some(found.clone());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the corpus is missing at {}",
        candidates[0].display()
    );
    eprintln!("skipping: the corpus is not at {}", candidates[0].display());
    None
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
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
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
    std::fs::read(examples_dir().join("fruit_to_emoji/model.tflite")).unwrap()
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
