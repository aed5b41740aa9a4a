//! Session policies ("parachutes"): attempt budgets, timeouts, session budgets, retries,
//! fallbacks, simulation time and library installs, read from TOML with defaults for every key.
//!
//! ```toml
//! [attempts]
//! spec = 5
//! sketch = 5
//!
//! [timeouts]
//! llm_call_secs = 180
//! compile_secs = 300
//!
//! [budget]                 # each optional: no limit when absent
//! wall_time_secs = 1800
//! tokens = 200000
//! cost_usd = 2.0
//!
//! [retry]                  # deprecated: the LLM config's [retry] owns retries
//! max_tries = 4
//! base_delay_ms = 500
//! max_total_secs = 120
//!
//! [fallback]
//! model = "ollama:qwen2.5-coder:14b"   # provider:model, optional
//! variant = "sg1-markdown-task"        # optional
//!
//! [simulation]
//! time_budget_secs = 10
//!
//! [llm]
//! max_tokens = 4096        # per answer, unless `--max-tokens` says otherwise
//!
//! [libraries]
//! allow_install = false
//! ```

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, KeyProblem};

/// Upper bound of any attempt budget: beyond it a loop is no longer a budget.
pub const MAX_ATTEMPTS: u32 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttemptBudgets {
    pub spec: u32,
    pub sketch: u32,
}

impl Default for AttemptBudgets {
    fn default() -> Self {
        AttemptBudgets { spec: 5, sketch: 5 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// One LLM request (all of its streaming included).
    pub llm_call_secs: u64,
    /// One compile.
    pub compile_secs: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            llm_call_secs: 180,
            compile_secs: 300,
        }
    }
}

impl Timeouts {
    pub fn llm_call(&self) -> Duration {
        Duration::from_secs(self.llm_call_secs)
    }

    pub fn compile(&self) -> Duration {
        Duration::from_secs(self.compile_secs)
    }
}

/// Whole-session budgets; `None` means no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionBudget {
    pub wall_time_secs: Option<u64>,
    pub tokens: Option<u64>,
    pub cost_usd: Option<f64>,
}

impl Default for SessionBudget {
    fn default() -> Self {
        SessionBudget {
            wall_time_secs: Some(1800),
            tokens: None,
            cost_usd: None,
        }
    }
}

impl SessionBudget {
    pub fn wall_time(&self) -> Option<Duration> {
        self.wall_time_secs.map(Duration::from_secs)
    }
}

/// Retrying transient backend faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Tries of one request, the first included.
    pub max_tries: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay_ms: u64,
    /// No retry starts after this much time spent on one request.
    pub max_total_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: 4,
            base_delay_ms: 500,
            max_total_secs: 120,
        }
    }
}

impl RetryPolicy {
    pub fn base_delay(&self) -> Duration {
        Duration::from_millis(self.base_delay_ms)
    }

    pub fn max_total(&self) -> Duration {
        Duration::from_secs(self.max_total_secs)
    }
}

/// A model named as `provider:model`: the one type shared with the LLM client and traces.
pub use autopilot_trace::ModelRef;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fallbacks {
    /// The model to switch to once the primary's transient faults outlast the retries.
    pub model: Option<ModelRef>,
    /// The prompt variant for one more round after the sketch budget is exhausted.
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationPolicy {
    /// Whether targets with a simulator run the firmware (benchmarks of the pipeline's own
    /// overhead turn it off).
    pub enabled: bool,
    /// Wall time the firmware may run in the simulator before it must have predicted.
    pub time_budget_secs: u64,
}

impl Default for SimulationPolicy {
    fn default() -> Self {
        SimulationPolicy {
            enabled: true,
            time_budget_secs: 10,
        }
    }
}

impl SimulationPolicy {
    pub fn time_budget(&self) -> Duration {
        Duration::from_secs(self.time_budget_secs)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryPolicy {
    /// Whether a missing allow-listed library may be installed during a session.
    pub allow_install: bool,
}

/// What every LLM request of a session carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmLimits {
    /// The answer's token cap (`max_tokens`): a looping model stops there with
    /// `finish_reason: length` instead of generating until the call's timeout. 4096 holds a
    /// spec or a whole sketch with room to spare.
    pub max_tokens: u32,
}

impl Default for LlmLimits {
    fn default() -> Self {
        LlmLimits { max_tokens: 4096 }
    }
}

/// All policies of a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policies {
    pub attempts: AttemptBudgets,
    pub timeouts: Timeouts,
    pub budget: SessionBudget,
    /// Deprecated: retries belong to the LLM config's `[retry]` (how to talk to the endpoint).
    /// Still honoured when written here, and the CLI warns; `None` when the file has no
    /// `[retry]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    pub fallback: Fallbacks,
    pub simulation: SimulationPolicy,
    pub libraries: LibraryPolicy,
    pub llm: LlmLimits,
    /// `sandbox = "off"` runs the compiler and simavr on generated code without the sandbox
    /// (the trace notes it); the default is `"on"`.
    pub sandbox: SandboxMode,
    pub artifacts: ArtifactPolicy,
}

/// Which files a session writes under `artifacts/<id>/` besides its sketches and diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArtifactPolicy {
    /// `prompt.md` and `answer.md` per attempt: readable copies of what the trace's
    /// `llm_call` events hold (messages and answer). On by default, for people reading a run;
    /// a large batch turns them off to write a third fewer files per session.
    pub prompt_files: bool,
}

impl Default for ArtifactPolicy {
    fn default() -> Self {
        ArtifactPolicy { prompt_files: true }
    }
}

/// Whether tools that touch generated code run in the sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    #[default]
    On,
    Off,
}

impl Policies {
    /// Reads and validates a policies file; missing keys take their defaults.
    pub fn load(path: &Path) -> Result<Policies, ConfigError> {
        let text = config::read_to_string(path)?;
        Policies::from_toml(path, &text)
    }

    /// Validates policies text as if read from `path`.
    pub fn from_toml(path: &Path, text: &str) -> Result<Policies, ConfigError> {
        let policies: Policies = config::parse_toml(path, text)?;
        let problems = policies.problems();
        if problems.is_empty() {
            Ok(policies)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    /// Every rule the values break.
    pub fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        let mut range = |key: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(KeyProblem::new(
                    key,
                    format!("is {value}; it must be between {min} and {max}"),
                ));
            }
        };
        range(
            "llm.max_tokens",
            u64::from(self.llm.max_tokens),
            16,
            1_000_000,
        );
        range(
            "attempts.spec",
            u64::from(self.attempts.spec),
            1,
            u64::from(MAX_ATTEMPTS),
        );
        range(
            "attempts.sketch",
            u64::from(self.attempts.sketch),
            1,
            u64::from(MAX_ATTEMPTS),
        );
        range(
            "timeouts.llm_call_secs",
            self.timeouts.llm_call_secs,
            1,
            3600,
        );
        range("timeouts.compile_secs", self.timeouts.compile_secs, 1, 3600);
        if let Some(wall) = self.budget.wall_time_secs {
            range("budget.wall_time_secs", wall, 1, 7 * 24 * 3600);
        }
        if let Some(tokens) = self.budget.tokens {
            range("budget.tokens", tokens, 1, u64::MAX);
        }
        if let Some(retry) = &self.retry {
            range("retry.max_tries", u64::from(retry.max_tries), 1, 20);
            range("retry.base_delay_ms", retry.base_delay_ms, 0, 600_000);
            range("retry.max_total_secs", retry.max_total_secs, 0, 3600);
        }
        range(
            "simulation.time_budget_secs",
            self.simulation.time_budget_secs,
            1,
            600,
        );
        if let Some(cost) = self.budget.cost_usd
            && !(cost.is_finite() && cost > 0.0)
        {
            problems.push(KeyProblem::new(
                "budget.cost_usd",
                format!("is {cost}; it must be a positive amount of US dollars"),
            ));
        }
        if let Some(variant) = &self.fallback.variant
            && (variant.is_empty()
                || !variant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            problems.push(KeyProblem::new(
                "fallback.variant",
                format!("`{variant}` is not a prompt variant name"),
            ));
        }
        problems
    }

    /// Checks `fallback.variant` against the variants that exist.
    pub fn check_variant(&self, path: &Path, variants: &[&str]) -> Result<(), ConfigError> {
        match &self.fallback.variant {
            Some(variant) if !variants.contains(&variant.as_str()) => Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems: vec![KeyProblem::new(
                    "fallback.variant",
                    format!(
                        "unknown prompt variant `{variant}`; variants: {}",
                        variants.join(", ")
                    ),
                )],
            }),
            _ => Ok(()),
        }
    }
}
