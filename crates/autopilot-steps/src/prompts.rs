//! Prompt templates: loading a set of variants from `prompts/`, validating it, and rendering a
//! typed request into a system and a user message.
//!
//! Layout of a prompt directory:
//!
//! ```text
//! prompts/
//!   variants.toml            [variants.<name>] description, flow = "single"|"staged",
//!                            user_format = "markdown"|"json"
//!   _shared/*.j2             includable snippets ({% include "_shared/x.j2" %})
//!   <variant>/context.j2     the system message
//!   <variant>/guidelines.j2  rendered first, passed to the task templates as `guidelines`
//!   <variant>/spec_fill.j2  spec_repair.j2  sketch.j2  sketch_repair.j2
//!   <variant>/outline.j2  design.j2        (staged variants only)
//! ```
//!
//! Every template sees `app`, `target`, `model` (or none), `dataset`, `forbidden`; task templates
//! also see `guidelines` and their task's fields (see [`Task`]). Undefined variables are errors,
//! so a typo fails when the set is loaded: [`PromptSet::load`] renders every template of every
//! variant with sample contexts (with a TFLM model, a dense model and no model).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use autopilot_trace::{ChatMessage, Role};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::{App, DType, ModelInfo, ModelKind, SensorHints, TensorSpec};
use crate::config::{self, ConfigError};
use crate::dataset::{ColumnKind, ColumnSummary, DatasetSummary, FileSummary};
use crate::precheck::ForbiddenApi;
use crate::repair::{BoardFacts, RepairMaterial, model_facts};
use crate::spec::SpecProblem;

/// The manifest file of a prompt directory.
pub const MANIFEST: &str = "variants.toml";
/// The directory of includable snippets.
pub(crate) const SHARED_DIR: &str = "_shared";
const EXTENSION: &str = "j2";

/// The templates of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Context,
    Guidelines,
    SpecFill,
    SpecRepair,
    Outline,
    Design,
    Sketch,
    SketchRepair,
}

impl Template {
    pub const ALL: [Template; 8] = [
        Template::Context,
        Template::Guidelines,
        Template::SpecFill,
        Template::SpecRepair,
        Template::Outline,
        Template::Design,
        Template::Sketch,
        Template::SketchRepair,
    ];

    /// The file stem (`spec_fill`).
    pub fn name(self) -> &'static str {
        match self {
            Template::Context => "context",
            Template::Guidelines => "guidelines",
            Template::SpecFill => "spec_fill",
            Template::SpecRepair => "spec_repair",
            Template::Outline => "outline",
            Template::Design => "design",
            Template::Sketch => "sketch",
            Template::SketchRepair => "sketch_repair",
        }
    }

    /// The templates a variant of this flow must have.
    pub fn required(flow: Flow) -> Vec<Template> {
        Template::ALL
            .into_iter()
            .filter(|t| flow == Flow::Staged || !matches!(t, Template::Outline | Template::Design))
            .collect()
    }
}

/// How a variant gets from spec to sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// One sketch prompt.
    Single,
    /// Outline → design → code (after AutoIOT).
    Staged,
}

/// The shape of a variant's user messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserFormat {
    #[default]
    Markdown,
    /// The user message must be one JSON document; it is checked and pretty-printed.
    Json,
}

/// One variant as the manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantInfo {
    pub description: String,
    pub flow: Flow,
    #[serde(default)]
    pub user_format: UserFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    variants: BTreeMap<String, VariantInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ConfigError),
    #[error("prompt variant `{variant}` has no `{template}` template (expected `{}`)", path.display())]
    MissingTemplate {
        variant: String,
        template: &'static str,
        path: PathBuf,
    },
    #[error("`{}` is not a template of its variant (templates: {known})", path.display())]
    UnknownFile { path: PathBuf, known: String },
    #[error("`{}` is a directory of variant templates but `{MANIFEST}` does not declare it", path.display())]
    UndeclaredVariant { path: PathBuf },
    #[error("{name}: {message}")]
    Template { name: String, message: String },
    #[error("{name}: the user message of a JSON variant is not valid JSON: {message}")]
    NotJson { name: String, message: String },
    #[error("unknown prompt variant `{name}`; variants: {known}")]
    UnknownVariant { name: String, known: String },
    #[error("prompt variant `{variant}` has no `{template}` template (flow {flow:?})")]
    NotInFlow {
        variant: String,
        template: &'static str,
        flow: Flow,
    },
}

/// The application facts every template sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppFacts {
    pub name: String,
    pub description: String,
    pub classes: Vec<String>,
    pub expected_output: Vec<String>,
    pub sensor: Option<SensorHints>,
}

/// The TinyML library pinned for a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TinymlLibrary {
    pub name: String,
    pub version: String,
    /// The header a sketch includes first (`TensorFlowLite.h`).
    pub header: String,
}

/// The target facts every template sees (from the toolchain's target definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetFacts {
    pub name: String,
    pub board: String,
    pub fqbn: String,
    pub flash_bytes: Option<u64>,
    pub ram_bytes: Option<u64>,
    pub tinyml: Option<TinymlLibrary>,
    /// `simavr` when the sketch will run in a simulator (no real sensor there).
    pub simulator: Option<String>,
    pub allowed_libraries: Vec<String>,
}

impl TargetFacts {
    /// The board block of a repair prompt's build environment, from the same facts.
    pub fn board(&self) -> BoardFacts {
        BoardFacts {
            name: self.board.clone(),
            fqbn: self.fqbn.clone(),
            flash_bytes: self.flash_bytes,
            ram_bytes: self.ram_bytes,
        }
    }
}

/// The model facts every template sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFacts {
    pub kind: ModelKind,
    pub header: String,
    pub array: Option<String>,
    pub array_len: Option<String>,
    pub predict_function: Option<String>,
    /// The predict function's declaration as the header writes it.
    pub predict_declaration: Option<String>,
    pub input: TensorSpec,
    pub output: TensorSpec,
    pub input_elements: u64,
    pub output_elements: u64,
    /// Builtin operators of a TFLite model.
    pub operators: Vec<String>,
    /// The `MicroMutableOpResolver` methods they need.
    pub resolver_methods: Vec<String>,
    /// `(scale, zero_point)` of a quantised input/output.
    pub input_quantization: Option<(f32, i64)>,
    pub output_quantization: Option<(f32, i64)>,
    /// One line per fact, as the repair block states them.
    pub lines: Vec<String>,
    /// The symbols the header declares (name, kind), so the sketch avoids them.
    pub symbols: Vec<(String, String)>,
}

impl ModelFacts {
    pub fn from_model(model: &ModelInfo) -> ModelFacts {
        let facts = model.tflite.as_ref();
        ModelFacts {
            kind: model.kind,
            header: model.header_name.clone(),
            array: model.array.clone(),
            array_len: model.array_len.clone(),
            predict_function: model.predict_function.clone(),
            predict_declaration: model
                .predict_function
                .as_ref()
                .and_then(|f| model.scan.get(f))
                .map(|s| s.declaration.clone()),
            input_elements: model.input.elements(),
            output_elements: model.output.elements(),
            input: model.input.clone(),
            output: model.output.clone(),
            operators: facts.map(|f| f.operators.clone()).unwrap_or_default(),
            resolver_methods: facts
                .map(crate::tflite::TfliteFacts::resolver_methods)
                .unwrap_or_default(),
            input_quantization: facts
                .and_then(|f| f.inputs.first())
                .and_then(|t| t.quantization),
            output_quantization: facts
                .and_then(|f| f.outputs.first())
                .and_then(|t| t.quantization),
            lines: model_facts(model),
            symbols: model
                .symbols()
                .iter()
                .map(|s| (s.name.clone(), s.kind.as_str().to_owned()))
                .collect(),
        }
    }
}

/// The dataset as templates see it: the compact text and the structured summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetFacts {
    pub text: String,
    pub summary: DatasetSummary,
}

/// Everything common to every prompt of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptFacts {
    pub app: AppFacts,
    pub target: TargetFacts,
    pub model: Option<ModelFacts>,
    pub dataset: DatasetFacts,
    /// APIs the pinned TinyML library lacks.
    pub forbidden: Vec<ForbiddenApi>,
}

impl PromptFacts {
    pub fn new(app: &App, target: TargetFacts, forbidden: Vec<ForbiddenApi>) -> PromptFacts {
        PromptFacts {
            app: AppFacts {
                name: app.name.clone(),
                description: app.description.clone(),
                classes: app.classes.clone(),
                expected_output: app.expected_output.clone(),
                sensor: app.sensor.clone(),
            },
            target,
            model: app.model.as_ref().map(ModelFacts::from_model),
            dataset: DatasetFacts {
                text: app.dataset.render(),
                summary: app.dataset.clone(),
            },
            forbidden,
        }
    }
}

/// What to render.
#[derive(Debug, Clone, Copy)]
pub enum Task<'a> {
    /// `spec_template` (pretty JSON), `spec_template_value`.
    SpecFill { template: &'a Value },
    /// Also `previous_answer`, `problems` (list of "`path`: message").
    SpecRepair {
        template: &'a Value,
        previous_answer: &'a str,
        problems: &'a [SpecProblem],
    },
    /// `spec` (pretty JSON), `spec_value`.
    Outline { spec: &'a Value },
    /// Also `outline`.
    Design { spec: &'a Value, outline: &'a str },
    /// Also `outline`, `design` (none unless staged).
    Sketch {
        spec: &'a Value,
        outline: Option<&'a str>,
        design: Option<&'a str>,
    },
    /// Also `attempt`, `code` (the last extracted code, may be empty), `repair`
    /// ([`RepairMaterial`]: diagnostics, problems, recurring, identical_to, environment).
    SketchRepair {
        spec: &'a Value,
        attempt: u32,
        code: &'a str,
        repair: &'a RepairMaterial,
    },
}

impl Task<'_> {
    pub fn template(&self) -> Template {
        match self {
            Task::SpecFill { .. } => Template::SpecFill,
            Task::SpecRepair { .. } => Template::SpecRepair,
            Task::Outline { .. } => Template::Outline,
            Task::Design { .. } => Template::Design,
            Task::Sketch { .. } => Template::Sketch,
            Task::SketchRepair { .. } => Template::SketchRepair,
        }
    }

    fn variables(&self) -> serde_json::Map<String, Value> {
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let mut vars = serde_json::Map::new();
        let mut put = |key: &str, value: Value| {
            vars.insert(key.to_owned(), value);
        };
        match *self {
            Task::SpecFill { template } => {
                put("spec_template", Value::String(pretty(template)));
                put("spec_template_value", template.clone());
            }
            Task::SpecRepair {
                template,
                previous_answer,
                problems,
            } => {
                put("spec_template", Value::String(pretty(template)));
                put("spec_template_value", template.clone());
                put("previous_answer", Value::String(previous_answer.to_owned()));
                put(
                    "problems",
                    Value::Array(
                        problems
                            .iter()
                            .map(|p| Value::String(p.to_string()))
                            .collect(),
                    ),
                );
            }
            Task::Outline { spec } => {
                put("spec", Value::String(pretty(spec)));
                put("spec_value", spec.clone());
            }
            Task::Design { spec, outline } => {
                put("spec", Value::String(pretty(spec)));
                put("spec_value", spec.clone());
                put("outline", Value::String(outline.to_owned()));
            }
            Task::Sketch {
                spec,
                outline,
                design,
            } => {
                put("spec", Value::String(pretty(spec)));
                put("spec_value", spec.clone());
                put(
                    "outline",
                    outline.map_or(Value::Null, |o| Value::String(o.to_owned())),
                );
                put(
                    "design",
                    design.map_or(Value::Null, |d| Value::String(d.to_owned())),
                );
            }
            Task::SketchRepair {
                spec,
                attempt,
                code,
                repair,
            } => {
                put("spec", Value::String(pretty(spec)));
                put("spec_value", spec.clone());
                put("attempt", Value::from(attempt));
                put("code", Value::String(code.to_owned()));
                put(
                    "repair",
                    serde_json::to_value(repair).unwrap_or(Value::Null),
                );
            }
        }
        vars
    }
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPrompt {
    pub variant: String,
    pub template: Template,
    pub system: String,
    pub user: String,
}

impl RenderedPrompt {
    /// The chat messages: system, then user.
    pub fn messages(&self) -> Vec<ChatMessage> {
        vec![
            ChatMessage {
                role: Role::System,
                content: self.system.clone(),
            },
            ChatMessage {
                role: Role::User,
                content: self.user.clone(),
            },
        ]
    }
}

/// A template environment as every prompt of ours is rendered: undefined variables are errors,
/// no escaping, block tags leave no blank lines.
pub(crate) fn template_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env
}

/// A validated set of prompt variants.
#[derive(Debug)]
pub struct PromptSet {
    dir: PathBuf,
    env: Environment<'static>,
    variants: BTreeMap<String, VariantInfo>,
    /// Recent renders (see [`RenderCache`]).
    cache: Mutex<RenderCache>,
}

/// What a variant renders from a session's facts alone: the facts as template variables, the
/// system message and the guidelines (the same for every prompt of a session).
#[derive(Debug)]
struct FactsRender {
    vars: serde_json::Map<String, Value>,
    system: String,
    guidelines: String,
}

/// The most recent renders, reused when the same inputs come again: the sessions of a batch
/// cell share their facts, send the same spec prompt, and the same sketch prompt for equal
/// specs. Templates are pure (no clock, no randomness), so equal inputs render equal text.
/// Bounded: the oldest entry goes first.
#[derive(Debug, Default)]
struct RenderCache {
    facts: Vec<(String, PromptFacts, Arc<FactsRender>)>,
    /// Keyed on the variant, the template, the facts' render (by identity) and the task's
    /// variables.
    prompts: Vec<CachedPrompt>,
}

#[derive(Debug)]
struct CachedPrompt {
    facts: Arc<FactsRender>,
    template: Template,
    task_vars: serde_json::Map<String, Value>,
    prompt: RenderedPrompt,
}

impl RenderCache {
    const FACTS: usize = 8;
    const PROMPTS: usize = 32;

    fn facts(&self, variant: &str, facts: &PromptFacts) -> Option<Arc<FactsRender>> {
        self.facts
            .iter()
            .find(|(v, f, _)| v == variant && f == facts)
            .map(|(_, _, render)| render.clone())
    }

    fn prompt(
        &self,
        facts: &Arc<FactsRender>,
        variant: &str,
        template: Template,
        task_vars: &serde_json::Map<String, Value>,
    ) -> Option<RenderedPrompt> {
        self.prompts
            .iter()
            .find(|c| {
                Arc::ptr_eq(&c.facts, facts)
                    && c.template == template
                    && c.prompt.variant == variant
                    && &c.task_vars == task_vars
            })
            .map(|c| c.prompt.clone())
    }

    fn keep<T>(list: &mut Vec<T>, entry: T, limit: usize) {
        if list.len() >= limit {
            list.remove(0);
        }
        list.push(entry);
    }
}

impl PromptSet {
    /// Loads and validates every variant of a prompt directory.
    pub fn load(dir: &Path) -> Result<PromptSet, PromptError> {
        let manifest_path = dir.join(MANIFEST);
        let manifest: Manifest =
            config::parse_toml(&manifest_path, &config::read_to_string(&manifest_path)?)?;
        let mut env = template_environment();
        env.add_filter("json", json_filter);
        env.add_filter("from_json", from_json_filter);
        let read_dir = |path: &Path| -> Result<Vec<PathBuf>, PromptError> {
            let mut entries: Vec<PathBuf> = fs_err::read_dir(path)
                .map_err(|source| PromptError::Read {
                    path: path.to_owned(),
                    source,
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            entries.sort();
            Ok(entries)
        };
        let read = |path: &Path| {
            fs_err::read_to_string(path).map_err(|source| PromptError::Read {
                path: path.to_owned(),
                source,
            })
        };
        // Every directory is a declared variant or the shared snippets.
        for entry in read_dir(dir)? {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            if entry.is_dir() && name != SHARED_DIR && !manifest.variants.contains_key(&name) {
                return Err(PromptError::UndeclaredVariant { path: entry });
            }
        }
        let shared = dir.join(SHARED_DIR);
        if shared.is_dir() {
            for path in read_dir(&shared)? {
                if path.extension().and_then(|e| e.to_str()) == Some(EXTENSION) {
                    let name = format!("{SHARED_DIR}/{}", file_name(&path));
                    add_template(&mut env, name, read(&path)?)?;
                }
            }
        }
        for (variant, info) in &manifest.variants {
            let variant_dir = dir.join(variant);
            let required = Template::required(info.flow);
            for template in &required {
                let path = variant_dir.join(format!("{}.{EXTENSION}", template.name()));
                if !path.is_file() {
                    return Err(PromptError::MissingTemplate {
                        variant: variant.clone(),
                        template: template.name(),
                        path,
                    });
                }
                add_template(&mut env, template_name(variant, *template), read(&path)?)?;
            }
            for path in read_dir(&variant_dir)? {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                let known = required.iter().any(|t| t.name() == stem)
                    && path.extension().and_then(|e| e.to_str()) == Some(EXTENSION);
                if !known && !stem.starts_with('_') && !file_name(&path).starts_with('.') {
                    let names: Vec<String> = required
                        .iter()
                        .map(|t| format!("{}.{EXTENSION}", t.name()))
                        .collect();
                    return Err(PromptError::UnknownFile {
                        path,
                        known: names.join(", "),
                    });
                }
            }
        }
        let set = PromptSet {
            dir: dir.to_owned(),
            env,
            variants: manifest.variants,
            cache: Mutex::default(),
        };
        set.check_with_samples()?;
        Ok(set)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Variant names, sorted.
    pub fn variants(&self) -> Vec<&str> {
        self.variants.keys().map(String::as_str).collect()
    }

    pub fn variant(&self, name: &str) -> Result<&VariantInfo, PromptError> {
        self.variants
            .get(name)
            .ok_or_else(|| PromptError::UnknownVariant {
                name: name.to_owned(),
                known: self.variants().join(", "),
            })
    }

    /// Renders one task of a variant: the context template as the system message, the task's
    /// template (with the rendered guidelines) as the user message. Inputs rendered recently
    /// are not rendered again ([`RenderCache`]).
    pub fn render(
        &self,
        variant: &str,
        facts: &PromptFacts,
        task: &Task<'_>,
    ) -> Result<RenderedPrompt, PromptError> {
        let info = self.variant(variant)?;
        let template = task.template();
        if !Template::required(info.flow).contains(&template) {
            return Err(PromptError::NotInFlow {
                variant: variant.to_owned(),
                template: template.name(),
                flow: info.flow,
            });
        }
        let cache = || self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = cache().facts(variant, facts);
        let prepared = if let Some(prepared) = cached {
            prepared
        } else {
            // Rendered outside the lock: sessions render in parallel; a race renders twice.
            let prepared = Arc::new(self.prepare(variant, facts)?);
            RenderCache::keep(
                &mut cache().facts,
                (variant.to_owned(), facts.clone(), prepared.clone()),
                RenderCache::FACTS,
            );
            prepared
        };
        let task_vars = task.variables();
        if let Some(prompt) = cache().prompt(&prepared, variant, template, &task_vars) {
            return Ok(prompt);
        }
        let prompt = self.render_task(variant, info, &prepared, template, task_vars.clone())?;
        RenderCache::keep(
            &mut cache().prompts,
            CachedPrompt {
                facts: prepared,
                template,
                task_vars,
                prompt: prompt.clone(),
            },
            RenderCache::PROMPTS,
        );
        Ok(prompt)
    }

    /// The part of every prompt that depends on the facts alone.
    fn prepare(&self, variant: &str, facts: &PromptFacts) -> Result<FactsRender, PromptError> {
        let vars = match serde_json::to_value(facts) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let system = self.render_one(variant, Template::Context, &vars)?;
        let guidelines = self.render_one(variant, Template::Guidelines, &vars)?;
        Ok(FactsRender {
            vars,
            system,
            guidelines,
        })
    }

    /// The task's template over the facts, the guidelines and the task's variables.
    fn render_task(
        &self,
        variant: &str,
        info: &VariantInfo,
        prepared: &FactsRender,
        template: Template,
        task_vars: serde_json::Map<String, Value>,
    ) -> Result<RenderedPrompt, PromptError> {
        let mut vars = prepared.vars.clone();
        vars.insert(
            "guidelines".to_owned(),
            Value::String(prepared.guidelines.clone()),
        );
        vars.extend(task_vars);
        let mut user = self.render_one(variant, template, &vars)?;
        if info.user_format == UserFormat::Json {
            let parsed: Value = serde_json::from_str(&user).map_err(|e| PromptError::NotJson {
                name: template_name(variant, template),
                message: e.to_string(),
            })?;
            user = serde_json::to_string_pretty(&parsed).unwrap_or(user);
        }
        Ok(RenderedPrompt {
            variant: variant.to_owned(),
            template,
            system: prepared.system.clone(),
            user,
        })
    }

    fn render_one(
        &self,
        variant: &str,
        template: Template,
        vars: &serde_json::Map<String, Value>,
    ) -> Result<String, PromptError> {
        let name = template_name(variant, template);
        let error = |e: &minijinja::Error| PromptError::Template {
            name: name.clone(),
            message: describe(e),
        };
        let compiled = self.env.get_template(&name).map_err(|e| error(&e))?;
        let text = compiled.render(vars).map_err(|e| error(&e))?;
        Ok(tidy(&text))
    }

    /// Renders every template of every variant with the sample contexts.
    fn check_with_samples(&self) -> Result<(), PromptError> {
        let template =
            serde_json::json!({"board": {"target": "uno"}, "libraries": ["<fill: libraries>"]});
        let spec = serde_json::json!({"board": {"target": "uno"}, "libraries": []});
        let problems = [SpecProblem {
            check: crate::spec::SpecCheck::Fields,
            path: "output.serial_baud".to_owned(),
            message: "is missing".to_owned(),
        }];
        let repair = sample_repair();
        for facts in sample_facts() {
            for variant in self.variants() {
                let info = self.variant(variant)?;
                // The facts' part once per variant, each task over it: what `render` does,
                // without filling the cache with samples.
                let prepared = self.prepare(variant, &facts)?;
                let tasks = [
                    Task::SpecFill {
                        template: &template,
                    },
                    Task::SpecRepair {
                        template: &template,
                        previous_answer: "{\"board\": {}}",
                        problems: &problems,
                    },
                    Task::Outline { spec: &spec },
                    Task::Design {
                        spec: &spec,
                        outline: "1. read\n2. predict",
                    },
                    Task::Sketch {
                        spec: &spec,
                        outline: (info.flow == Flow::Staged).then_some("1. read"),
                        design: (info.flow == Flow::Staged).then_some("read() -> predict()"),
                    },
                    Task::SketchRepair {
                        spec: &spec,
                        attempt: 2,
                        code: "void setup() {}\nvoid loop() {}\n",
                        repair: &repair,
                    },
                    Task::SketchRepair {
                        spec: &spec,
                        attempt: 2,
                        code: "",
                        repair: &RepairMaterial {
                            diagnostics: Vec::new(),
                            problems: vec!["the answer held no code block".to_owned()],
                            recurring: Vec::new(),
                            identical_to: None,
                            ..repair.clone()
                        },
                    },
                ];
                for task in &tasks {
                    if Template::required(info.flow).contains(&task.template()) {
                        self.render_task(
                            variant,
                            info,
                            &prepared,
                            task.template(),
                            task.variables(),
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn add_template(
    env: &mut Environment<'static>,
    name: String,
    source: String,
) -> Result<(), PromptError> {
    env.add_template_owned(name.clone(), source)
        .map_err(|e| PromptError::Template {
            name,
            message: describe(&e),
        })
}

fn template_name(variant: &str, template: Template) -> String {
    format!("{variant}/{}.{EXTENSION}", template.name())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An error with its cause chain and line.
fn describe(error: &minijinja::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    message
}

/// `{{ value | json }}`: pretty JSON without HTML escaping.
fn json_filter(value: &minijinja::Value) -> Result<String, minijinja::Error> {
    serde_json::to_string_pretty(value).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "cannot serialise to JSON",
        )
        .with_source(e)
    })
}

/// `{{ text | from_json }}`: a JSON text (e.g. JSON guidelines) as a value to nest.
fn from_json_filter(text: &str) -> Result<minijinja::Value, minijinja::Error> {
    serde_json::from_str::<Value>(text)
        .map(|value| minijinja::Value::from_serialize(&value))
        .map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "not valid JSON")
                .with_source(e)
        })
}

/// Trailing spaces removed, runs of blank lines collapsed, one final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Sample contexts used to validate templates: a TFLM app, a dense app, an app without model.
pub fn sample_facts() -> Vec<PromptFacts> {
    let dataset = DatasetSummary {
        files: vec![FileSummary {
            file: "data/apple.csv".to_owned(),
            label: Some("apple".to_owned()),
            rows: 3,
            columns: vec![ColumnSummary {
                name: "Red".to_owned(),
                kind: ColumnKind::Float,
                missing: 0,
                min: Some(0.1),
                max: Some(0.9),
                mean: Some(0.5),
                examples: Vec::new(),
            }],
            first_rows: vec![vec!["0.5".to_owned()]],
        }],
    };
    let app = AppFacts {
        name: "sample".to_owned(),
        description: "Classify a colour.".to_owned(),
        classes: vec!["apple".to_owned(), "banana".to_owned()],
        expected_output: vec!["apple".to_owned(), "banana".to_owned()],
        sensor: Some(SensorHints {
            name: Some("APDS9960".to_owned()),
            library: Some("Arduino_APDS9960".to_owned()),
            hints: vec!["proximity first".to_owned()],
        }),
    };
    let tensor = TensorSpec {
        dtype: DType::Float32,
        shape: vec![1, 3],
    };
    let tflite_model = ModelFacts {
        kind: ModelKind::Tflite,
        header: "model.h".to_owned(),
        array: Some("g_model_data".to_owned()),
        array_len: Some("g_model_data_len".to_owned()),
        predict_function: None,
        predict_declaration: None,
        input: tensor.clone(),
        output: tensor.clone(),
        input_elements: 3,
        output_elements: 3,
        operators: vec!["FULLY_CONNECTED".to_owned(), "SOFTMAX".to_owned()],
        resolver_methods: vec!["AddFullyConnected".to_owned(), "AddSoftmax".to_owned()],
        input_quantization: Some((0.5, -128)),
        output_quantization: None,
        lines: vec!["input tensor float32[1, 3]".to_owned()],
        symbols: vec![("g_model_data".to_owned(), "array".to_owned())],
    };
    let dense_model = ModelFacts {
        kind: ModelKind::Dense,
        header: "color_model.h".to_owned(),
        array: None,
        array_len: None,
        predict_function: Some("color_model_predict".to_owned()),
        predict_declaration: Some("int color_model_predict(const float input[3])".to_owned()),
        operators: Vec::new(),
        resolver_methods: Vec::new(),
        input_quantization: None,
        ..tflite_model.clone()
    };
    let target = TargetFacts {
        name: "nano33ble_sense".to_owned(),
        board: "Arduino Nano 33 BLE Sense".to_owned(),
        fqbn: "arduino:mbed_nano:nano33ble".to_owned(),
        flash_bytes: Some(983_040),
        ram_bytes: Some(262_144),
        tinyml: Some(TinymlLibrary {
            name: "Arduino_TensorFlowLite".to_owned(),
            version: "1.15.0".to_owned(),
            header: "TensorFlowLite.h".to_owned(),
        }),
        simulator: None,
        allowed_libraries: vec!["Arduino_APDS9960".to_owned()],
    };
    let avr = TargetFacts {
        name: "uno".to_owned(),
        board: "Arduino Uno".to_owned(),
        fqbn: "arduino:avr:uno".to_owned(),
        flash_bytes: Some(32_256),
        ram_bytes: Some(2048),
        tinyml: None,
        simulator: Some("simavr".to_owned()),
        allowed_libraries: Vec::new(),
    };
    let forbidden = vec![ForbiddenApi {
        symbol_or_header: "AllOpsResolver".to_owned(),
        reason: "removed; use MicroMutableOpResolver".to_owned(),
    }];
    let base = PromptFacts {
        app,
        target,
        model: Some(tflite_model),
        dataset: DatasetFacts {
            text: dataset.render(),
            summary: dataset,
        },
        forbidden,
    };
    vec![
        base.clone(),
        PromptFacts {
            target: avr.clone(),
            model: Some(dense_model),
            forbidden: Vec::new(),
            ..base.clone()
        },
        PromptFacts {
            target: avr,
            model: None,
            app: AppFacts {
                sensor: None,
                ..base.app.clone()
            },
            forbidden: Vec::new(),
            ..base
        },
    ]
}

fn sample_repair() -> RepairMaterial {
    RepairMaterial {
        diagnostics: vec!["sketch.ino:3:1: error: 'foo' was not declared in this scope".to_owned()],
        diagnostics_shown: 1,
        diagnostics_total: 4,
        problems: vec!["line 2: placeholder `TODO`".to_owned()],
        recurring: vec![crate::repair::Recurrence {
            signature: "error: sketch.ino: 'foo' was not declared in this scope".to_owned(),
            attempts: vec![1],
        }],
        identical_to: Some(1),
        environment: "board: Arduino Uno (arduino:avr:uno)".to_owned(),
        context: autopilot_trace::RepairContext {
            attempt: 2,
            diagnostics_shown: 1,
            diagnostics_total: 4,
            recurring: Vec::new(),
            identical_to_attempt: Some(1),
            declarations: Vec::new(),
            versions: Vec::new(),
            block: String::new(),
        },
    }
}
