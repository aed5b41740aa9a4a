//! The report's data: the rows it is computed from (sessions and classified failures) and the
//! tables it computes.

use crate::stats::Proportion;

/// One session, as a report sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSession {
    pub session: String,
    /// The model; `replay:<name>` when answers came from the replay backend (not a model).
    pub model: String,
    /// The provider of `session_started` (`openai`, `ollama`, `replay`, …).
    pub provider: String,
    /// Where the answers came from: `live`, `replayed` (recordings), `hand-written` (the replay
    /// backend's scripted answers), `mixed`, or `none` (no LLM call).
    pub answers: String,
    pub target: String,
    pub variant: String,
    /// The lifecycle stage the session was (`dp`, `mc`, `sg`): `sg` for a session that is no
    /// stage of a pipeline (every `autopilot run` and legacy session generates a sketch).
    pub stage: String,
    /// The pipeline id the session was a stage of; empty when none.
    pub pipeline: String,
    /// `success`, `exhausted`, `aborted`, `infrastructure_error`, or, for a session without
    /// `session_finished`, `truncated` (a legacy log that stops inside it) or `unfinished`.
    pub outcome: String,
    pub success_attempt: Option<u32>,
    /// Sketch attempts made.
    pub attempts: u32,
    pub llm_calls: u32,
    /// `None` when no LLM call of the session reported token usage (legacy logs never do).
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub wall_ms: u64,
    /// `None` when any call had an unknown price.
    pub cost_usd: Option<f64>,
}

impl ReportSession {
    /// Whether the answers were anything but live model output.
    pub fn not_live(&self) -> bool {
        !matches!(self.answers.as_str(), "live" | "none")
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == "success"
    }

    /// Input plus output tokens, `None` when unknown.
    pub fn tokens(&self) -> Option<u64> {
        match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (input, output) => Some(input.unwrap_or(0) + output.unwrap_or(0)),
        }
    }
}

/// Classified failures of one category for one model (a failure is one diagnostic or one
/// failed step; in legacy mode one entry of the published jsonizer). Counted, not listed, so a
/// report's memory grows with its sessions, not with their diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFailure {
    pub model: String,
    pub group: String,
    pub category: String,
    pub count: u64,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub title: String,
    /// Which taxonomy labelled the failures (`default`, `legacy`, a file).
    pub taxonomy: String,
    /// What the failure counts count (legacy mode counts entries).
    pub unit: Option<autopilot_classifier::Unit>,
    pub sessions: Vec<ReportSession>,
    /// Rows with the same model, group and category add up.
    pub failures: Vec<ReportFailure>,
    /// Groups in taxonomy order with their categories, for the taxonomy table.
    pub taxonomy_order: Vec<(String, Vec<String>)>,
}

impl ReportInput {
    /// All classified failures.
    pub fn failure_count(&self) -> u64 {
        self.failures.iter().map(|f| f.count).sum()
    }

    /// What one counted failure is, for titles: `root defects`, `failures`, `sessions
    /// touched`, or `failures` (legacy entries).
    pub fn unit_noun(&self) -> &'static str {
        self.unit
            .map_or("failures", autopilot_classifier::Unit::noun)
    }
}

/// The dimensions success rates and costs are sliced by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Model,
    Target,
    Variant,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Model, Dimension::Target, Dimension::Variant];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Target => "target",
            Dimension::Variant => "variant",
        }
    }

    /// The slice a session belongs to.
    pub fn of(self, session: &ReportSession) -> &str {
        match self {
            Dimension::Model => &session.model,
            Dimension::Target => &session.target,
            Dimension::Variant => &session.variant,
        }
    }
}

/// A success rate of one slice (a model, a target, a variant).
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub dimension: Dimension,
    pub value: String,
    pub rate: Proportion,
}

/// Resource use of successes and failures in one slice (means per session).
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub dimension: Dimension,
    pub value: String,
    pub successes: u64,
    pub failures: u64,
    /// Means over the sessions whose token usage is known.
    pub tokens_success: Option<f64>,
    pub tokens_failure: Option<f64>,
    pub seconds_success: Option<f64>,
    pub seconds_failure: Option<f64>,
    pub llm_calls_success: Option<f64>,
    pub llm_calls_failure: Option<f64>,
    /// Means, `None` when any session of the side is unpriced.
    pub cost_success: Option<f64>,
    pub cost_failure: Option<f64>,
    /// Total cost of the slice ÷ successes (`None` if unpriced or no success).
    pub cost_per_success: Option<f64>,
}

/// How many sessions of a model succeeded at one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub model: String,
    pub attempt: u32,
    pub successes: u64,
}

/// Failures of one category for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryRow {
    pub model: String,
    pub group: String,
    pub category: String,
    pub count: u64,
    /// `count` ÷ sessions of the model.
    pub per_session: f64,
}

/// The first paper's per-stage table: one lifecycle stage of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    pub stage: String,
    pub model: String,
    pub rate: Proportion,
    /// Wall seconds per session: mean, median, max, min.
    pub seconds: [f64; 4],
    /// Mean input and output tokens over the sessions that reported them; `None`: unknown.
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    /// Mean cost; `None` when any session of the row is unpriced.
    pub cost_usd: Option<f64>,
}

/// Sessions of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRow {
    pub model: String,
    pub sessions: u64,
}

/// Sessions of one model that ended in one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub model: String,
    pub outcome: String,
    pub sessions: u64,
}

/// Sessions of one model whose answers were not live model output (hand-written or
/// replayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLiveRow {
    pub answers: String,
    pub model: String,
    pub sessions: u64,
}

/// The computed report: its tables, and the files to write (name, content). Everything the
/// files show is computed here, so rendering only reads.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub sessions: u64,
    pub successes: u64,
    /// Models sorted by name.
    pub models: Vec<ModelRow>,
    /// The outcomes that occur, in the order tables show them.
    pub outcomes: Vec<String>,
    /// Sessions per (model, outcome), sorted by model then outcome.
    pub model_outcomes: Vec<OutcomeRow>,
    /// Sorted by answers then model.
    pub not_live: Vec<NotLiveRow>,
    /// The taxonomy's groups and categories in its order, with every counted category
    /// placed (categories the taxonomy does not list follow in their group, or in a group
    /// of their own).
    pub taxonomy_order: Vec<(String, Vec<String>)>,
    pub rates: Vec<RateRow>,
    pub attempts: Vec<AttemptRow>,
    pub costs: Vec<CostRow>,
    pub categories: Vec<CategoryRow>,
    /// Per lifecycle stage and model; empty unless some session was a DP or MC stage.
    pub stages: Vec<StageRow>,
    pub files: Vec<(String, String)>,
}
