//! The experiment file (TOML): models × targets × prompt variants × sampling settings × runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use autopilot_trace::{PipelineStage, SamplingParams};
use serde::{Deserialize, Serialize};

/// A named sampling setting (the published experiments call theirs `P` and `NP`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingSetting {
    pub name: String,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub num_ctx: Option<u32>,
}

impl SamplingSetting {
    /// The parameters of one run, with its seed.
    pub fn params(&self, seed: u64) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            seed: Some(seed),
            max_tokens: self.max_tokens,
            num_ctx: self.num_ctx,
        }
    }
}

/// How many sessions run at once, in all and per LLM provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyLimits {
    /// Sessions at once in all (`--concurrency` overrides it).
    #[serde(default = "default_total")]
    pub total: usize,
    /// Per provider (`openai`, `ollama`, …). Ollama defaults to 1: a local server runs one
    /// model at a time and hangs under concurrent requests.
    #[serde(default)]
    pub providers: BTreeMap<String, usize>,
}

fn default_total() -> usize {
    4
}

impl Default for ConcurrencyLimits {
    fn default() -> Self {
        ConcurrencyLimits {
            total: default_total(),
            providers: BTreeMap::new(),
        }
    }
}

impl ConcurrencyLimits {
    /// The limit for one provider.
    pub fn for_provider(&self, provider: &str) -> usize {
        let default = if provider == "ollama" { 1 } else { self.total };
        self.providers
            .get(provider)
            .copied()
            .unwrap_or(default)
            .clamp(1, self.total.max(1))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: String,
    app: PathBuf,
    models: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    sampling: Vec<SamplingSetting>,
    #[serde(default = "default_runs")]
    runs: u32,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    concurrency: ConcurrencyLimits,
    #[serde(default)]
    policies: Option<PathBuf>,
    #[serde(default)]
    answers: Option<PathBuf>,
    #[serde(default)]
    stages: Vec<PipelineStage>,
}

fn default_runs() -> u32 {
    1
}

/// The most sessions one experiment may plan.
pub(crate) const MAX_SESSIONS: u64 = 100_000;

/// A validated experiment. Paths are resolved against the experiment file's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub name: String,
    /// The app file every session runs.
    pub app: PathBuf,
    /// `provider:model` strings.
    pub models: Vec<String>,
    /// Empty: the app's own target.
    pub targets: Vec<String>,
    pub variants: Vec<String>,
    pub sampling: Vec<SamplingSetting>,
    pub runs: u32,
    /// Run `r` of every cell gets seed `seed + r`, so cells are compared on equal seeds.
    pub seed: u64,
    pub concurrency: ConcurrencyLimits,
    /// A policies file for every session.
    pub policies: Option<PathBuf>,
    /// A scripted answers file that `replay:` models answer from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<PathBuf>,
    /// Lifecycle stages each planned item runs as one pipeline (`autopilot pipeline`), in
    /// order; empty: one sketch-generation session per item, as before pipelines existed.
    /// Left out of the manifest when empty, so older run directories keep their hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<PipelineStage>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("cannot read experiment file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Experiment {
    pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
        let text = fs_err::read_to_string(path).map_err(|source| ExperimentError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates experiment text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Experiment, ExperimentError> {
        let invalid = |message: String| ExperimentError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: ExperimentFile =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_owned()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if file.name.trim().is_empty() {
            return Err(invalid("key `name`: must not be empty".into()));
        }
        if file.models.is_empty() {
            return Err(invalid(
                "key `models`: list at least one `provider:model`".into(),
            ));
        }
        for (i, model) in file.models.iter().enumerate() {
            match model.split_once(':') {
                Some((provider, name)) if !provider.is_empty() && !name.is_empty() => {}
                _ => {
                    return Err(invalid(format!(
                        "key `models[{i}]`: {model:?} is not `provider:model`"
                    )));
                }
            }
        }
        if file.runs == 0 {
            return Err(invalid("key `runs`: must be at least 1".into()));
        }
        // The matrix is expanded eagerly (ids are checked for collisions before anything runs),
        // so its size is bounded here rather than by the memory of the machine.
        let sessions = [
            file.models.len(),
            file.targets.len().max(1),
            file.variants.len().max(1),
            file.sampling.len().max(1),
        ]
        .into_iter()
        .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        .fold(u64::from(file.runs), u64::saturating_mul);
        if sessions > MAX_SESSIONS {
            return Err(invalid(format!(
                "key `runs`: the matrix has {sessions} sessions (models × targets × variants × sampling × runs); an experiment may have at most {MAX_SESSIONS}"
            )));
        }
        if file.concurrency.total == 0 {
            return Err(invalid(
                "key `concurrency.total`: must be at least 1".into(),
            ));
        }
        if let Some((provider, _)) = file.concurrency.providers.iter().find(|(_, n)| **n == 0) {
            return Err(invalid(format!(
                "key `concurrency.providers.{provider}`: must be at least 1"
            )));
        }
        check_unique(&file.models, "models").map_err(&invalid)?;
        check_unique(&file.targets, "targets").map_err(&invalid)?;
        check_unique(&file.variants, "variants").map_err(&invalid)?;
        // Each stage once, in the lifecycle's order: a later stage starts from an earlier one's
        // outputs.
        if !file.stages.windows(2).all(|w| w[0] < w[1]) {
            return Err(invalid(format!(
                "key `stages`: {:?} must list each stage once, in the order dp, mc, sg",
                file.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>()
            )));
        }
        let names: Vec<String> = file.sampling.iter().map(|s| s.name.clone()).collect();
        check_unique(&names, "sampling").map_err(&invalid)?;
        for (i, setting) in file.sampling.iter().enumerate() {
            let plain = !setting.name.is_empty()
                && setting
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plain {
                return Err(invalid(format!(
                    "key `sampling[{i}].name`: {:?} must be letters, digits, - or _",
                    setting.name
                )));
            }
        }
        let variants = if file.variants.is_empty() {
            vec!["default".to_owned()]
        } else {
            file.variants
        };
        let sampling = if file.sampling.is_empty() {
            vec![SamplingSetting {
                name: "default".into(),
                temperature: None,
                top_p: None,
                max_tokens: None,
                num_ctx: None,
            }]
        } else {
            file.sampling
        };
        Ok(Experiment {
            name: file.name,
            app: base.join(file.app),
            models: file.models,
            targets: file.targets,
            variants,
            sampling,
            runs: file.runs,
            seed: file.seed,
            concurrency: file.concurrency,
            policies: file.policies.map(|p| base.join(p)),
            answers: file.answers.map(|p| base.join(p)),
            stages: file.stages,
        })
    }
}

fn check_unique(values: &[String], key: &str) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(format!("key `{key}`: {value:?} is listed twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "prompt-structure"
app = "../examples/color_uno/app.toml"
models = ["openai:gpt-4o", "ollama:qwen2.5-coder:32b"]
variants = ["sg0-json", "sg1-markdown-task"]
runs = 30
seed = 100
[[sampling]]
name = "P"
temperature = 0.1
top_p = 0.3
[[sampling]]
name = "NP"
[concurrency]
total = 8
"#;

    #[test]
    fn a_full_experiment_parses_with_paths_resolved() {
        let exp = Experiment::parse(GOOD, Path::new("/x/exps/e.toml")).unwrap();
        assert_eq!(exp.app, Path::new("/x/exps/../examples/color_uno/app.toml"));
        assert_eq!(exp.models.len(), 2);
        assert_eq!(exp.sampling[0].params(7).temperature, Some(0.1));
        assert_eq!(exp.sampling[1].params(7).seed, Some(7));
        assert_eq!(exp.concurrency.for_provider("ollama"), 1);
        assert_eq!(exp.concurrency.for_provider("openai"), 8);
    }

    #[test]
    fn defaults_fill_variants_and_sampling() {
        let exp = Experiment::parse(
            "name='x'\napp='a.toml'\nmodels=['replay:demo']\n",
            Path::new("e.toml"),
        )
        .unwrap();
        assert_eq!(exp.variants, ["default"]);
        assert_eq!(exp.sampling.len(), 1);
        assert_eq!(exp.runs, 1);
        assert!(exp.stages.is_empty(), "one SG session per item by default");
    }

    #[test]
    fn stages_make_pipelines_and_leave_older_manifests_their_hash() {
        let text = "name='x'\napp='a.toml'\nmodels=['replay:demo']\n";
        let plain = Experiment::parse(text, Path::new("e.toml")).unwrap();
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("stages"), "{json}");
        let piped = Experiment::parse(
            &format!("{text}stages=['dp','mc','sg']\n"),
            Path::new("e.toml"),
        )
        .unwrap();
        assert_eq!(
            piped.stages,
            [PipelineStage::Dp, PipelineStage::Mc, PipelineStage::Sg]
        );
        assert!(
            serde_json::to_string(&piped)
                .unwrap()
                .contains("\"stages\":[\"dp\",\"mc\",\"sg\"]")
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let cases = [
            ("name='x'\napp='a'\nmodels=[]\n", "key `models`"),
            ("name='x'\napp='a'\nmodels=['gpt-4o']\n", "key `models[0]`"),
            ("name='x'\napp='a'\nmodels=['a:b']\nruns=0\n", "key `runs`"),
            (
                "name='x'\napp='a'\nmodels=['a:b']\nruns=20000000\n",
                "20000000 sessions",
            ),
            (
                "name='x'\napp='a'\nmodels=['a:b','a:c']\nvariants=['a','b','c']\nruns=20000\n",
                "at most 100000",
            ),
            ("name='x'\napp='a'\nmodels=['a:b','a:b']\n", "listed twice"),
            (
                "name='x'\napp='a'\nmodels=['a:b']\ncolour='red'\n",
                "colour",
            ),
            (
                "name='x'\napp='a'\nmodels=['a:b']\n[concurrency]\nproviders={ollama=0}\n",
                "concurrency.providers.ollama",
            ),
            (
                "name='x'\napp='a'\nmodels=['a:b']\nstages=['mc','dp']\n",
                "key `stages`",
            ),
            (
                "name='x'\napp='a'\nmodels=['a:b']\nstages=['dp','dp']\n",
                "each stage once",
            ),
            (
                "name='x'\napp='a'\nmodels=['a:b']\nstages=['xx']\n",
                "stages",
            ),
        ];
        for (text, expected) in cases {
            let err = Experiment::parse(text, Path::new("exp/e.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("exp/e.toml: "), "{err}");
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
    }
}
