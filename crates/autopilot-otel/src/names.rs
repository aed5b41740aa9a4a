//! The attribute names we emit: OpenTelemetry GenAI semantic conventions (last main-repo version,
//! see ../shared/reference/observability.md) and our own `autopilot.*` keys.
//!
//! Defined here rather than taken from the semconv crates, whose `gen_ai.*` constants are being
//! deprecated since the conventions moved to their own repository.

pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
pub const ERROR_TYPE: &str = "error.type";
pub const SERVER_ADDRESS: &str = "server.address";

/// Arize Phoenix's span kind (OpenInference): it decides the icon and the LLM view in Phoenix.
pub const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";

pub const SESSION_ID: &str = "autopilot.session.id";
pub const BATCH_EXPERIMENT: &str = "autopilot.batch.experiment";
pub const BATCH_CELL: &str = "autopilot.batch.cell";
pub const REPEAT_INDEX: &str = "autopilot.repeat.index";
pub const APP: &str = "autopilot.app";
pub const TARGET: &str = "autopilot.target";
pub const BOARD_FQBN: &str = "autopilot.board.fqbn";
pub const MODEL: &str = "autopilot.model";
pub const PROVIDER: &str = "autopilot.provider";
pub const PROMPT_VARIANT: &str = "autopilot.prompt.variant";
pub const ORIGIN: &str = "autopilot.origin";
pub const LEGACY_FILE: &str = "autopilot.legacy.file";
pub const VERSION: &str = "autopilot.version";
pub const OUTCOME: &str = "autopilot.outcome";
pub const OUTCOME_STAGE: &str = "autopilot.outcome.stage";
pub const OUTCOME_ATTEMPT: &str = "autopilot.outcome.attempt";
pub const OUTCOME_REASON: &str = "autopilot.outcome.reason";
pub const ATTEMPTS: &str = "autopilot.attempts";
pub const LLM_CALLS: &str = "autopilot.llm_calls";
pub const COMPILES: &str = "autopilot.compiles";
pub const CACHE_HITS: &str = "autopilot.cache_hits";
pub const INPUT_TOKENS: &str = "autopilot.usage.input_tokens";
pub const OUTPUT_TOKENS: &str = "autopilot.usage.output_tokens";
pub const COST_USD: &str = "autopilot.cost_usd";
pub const WALL_MS: &str = "autopilot.wall_ms";
pub const INTERRUPTED: &str = "autopilot.interrupted";
pub const STAGE: &str = "autopilot.stage";
pub const ATTEMPT: &str = "autopilot.attempt";
pub const ATTEMPT_KIND: &str = "autopilot.attempt.kind";
pub const ATTEMPT_OUTCOME: &str = "autopilot.attempt.outcome";
/// The failure category of an attempt: its outcome when it did not succeed.
pub const FAILURE_CATEGORY: &str = "autopilot.failure.category";
pub const SUCCEEDED: &str = "autopilot.succeeded";
pub const RETRY: &str = "autopilot.retry";
pub const RETRY_IN_MS: &str = "autopilot.retry_in_ms";
pub const REQUEST_HASH: &str = "autopilot.request.hash";
pub const LLM_SOURCE: &str = "autopilot.llm.source";
pub const LLM_HTTP_STATUS: &str = "autopilot.llm.http_status";
pub const COMPILE_BACKEND: &str = "autopilot.compile.backend";
pub const COMPILE_OUTCOME: &str = "autopilot.compile.outcome";
pub const COMPILE_ERRORS: &str = "autopilot.compile.errors";
pub const DIAGNOSTICS: &str = "autopilot.diagnostics";
pub const FLASH_BYTES: &str = "autopilot.compile.flash_bytes";
pub const FLASH_MAX: &str = "autopilot.compile.flash_max";
pub const RAM_BYTES: &str = "autopilot.compile.ram_bytes";
pub const RAM_MAX: &str = "autopilot.compile.ram_max";
pub const CACHE_HIT: &str = "autopilot.cache.hit";
pub const SIMULATION_STATUS: &str = "autopilot.simulation.status";
pub const SIMULATION_MATCHED: &str = "autopilot.simulation.matched";
pub const HOST_VERDICT: &str = "autopilot.host.verdict";
