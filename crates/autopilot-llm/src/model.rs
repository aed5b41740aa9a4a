//! Model selection: `provider:model` strings such as `openai:gpt-4o` or
//! `ollama:qwen2.5-coder:32b`.

use std::fmt;
use std::str::FromStr;

/// Where a model is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Any OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter, vLLM, llama.cpp,
    /// Ollama's `/v1`).
    OpenAi,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// Recorded traces or a scripted answers file; no network.
    Replay,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::OpenAi, Provider::Ollama, Provider::Replay];

    /// The name used in model strings, config files and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Ollama => "ollama",
            Provider::Replay => "replay",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = ModelRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ModelRefError::UnknownProvider(s.to_owned()))
    }
}

/// A model on a provider. Parsed from `provider:model`; everything after the first `:` is the
/// model name, which may itself contain `:` and `/` (`ollama:qwen2.5-coder:32b`,
/// `openai:openai/gpt-4o` on OpenRouter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    pub provider: Provider,
    pub model: String,
}

/// A model string that is not `provider:model`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefError {
    #[error(
        "model {0:?} has no provider: write provider:model, e.g. openai:gpt-4o or ollama:qwen2.5-coder:32b"
    )]
    MissingProvider(String),
    #[error("unknown provider {0:?}: use openai, ollama or replay")]
    UnknownProvider(String),
    #[error("model {0:?} has an empty model name after the provider")]
    EmptyModel(String),
}

impl ModelRef {
    pub fn new(provider: Provider, model: impl Into<String>) -> Self {
        ModelRef {
            provider,
            model: model.into(),
        }
    }

    /// Parses `provider:model`.
    pub fn parse(text: &str) -> Result<Self, ModelRefError> {
        let text = text.trim();
        let Some((provider, model)) = text.split_once(':') else {
            return Err(ModelRefError::MissingProvider(text.to_owned()));
        };
        let provider: Provider = provider.parse()?;
        if model.trim().is_empty() {
            return Err(ModelRefError::EmptyModel(text.to_owned()));
        }
        Ok(ModelRef::new(provider, model))
    }
}

impl FromStr for ModelRef {
    type Err = ModelRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelRef::parse(s)
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

/// The model a call is priced as: the one that answered. A dated snapshot of the requested
/// model (`gpt-4o-mini-2024-07-18` for `gpt-4o-mini`) is the requested model; any other name
/// (a local server's alias, a gguf file path, a router's substitute) is a different model,
/// priced by its own entry or unknown. No answering name: the requested model.
pub fn pricing_model<'a>(requested: &'a str, answered: Option<&'a str>) -> &'a str {
    let Some(answered) = answered.filter(|a| !a.is_empty()) else {
        return requested;
    };
    let snapshot = answered
        .strip_prefix(requested)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if answered == requested || snapshot {
        requested
    } else {
        answered
    }
}

/// A model name for people: a file path (llama.cpp without `--alias` names its model by the
/// gguf path it loaded) shortened to its file name; provider names such as `openai/gpt-4o`
/// are kept whole.
pub fn display_model_name(name: &str) -> &str {
    let path_like = name.starts_with(['/', '.', '~'])
        || name.contains('\\')
        || [".gguf", ".bin", ".safetensors", ".ggml"]
            .iter()
            .any(|ext| name.to_ascii_lowercase().ends_with(ext));
    if path_like {
        name.rsplit(['/', '\\'])
            .find(|part| !part.is_empty())
            .unwrap_or(name)
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_keep_their_colons_and_slashes() {
        let cases = [
            ("openai:gpt-4o", Provider::OpenAi, "gpt-4o"),
            (
                "ollama:qwen2.5-coder:32b",
                Provider::Ollama,
                "qwen2.5-coder:32b",
            ),
            ("openai:openai/gpt-4o", Provider::OpenAi, "openai/gpt-4o"),
            ("replay:demo", Provider::Replay, "demo"),
        ];
        for (text, provider, model) in cases {
            let parsed = ModelRef::parse(text).unwrap();
            assert_eq!(parsed, ModelRef::new(provider, model), "{text}");
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn bad_model_strings_say_what_is_wrong() {
        assert!(matches!(
            ModelRef::parse("gpt-4o"),
            Err(ModelRefError::MissingProvider(_))
        ));
        assert!(matches!(
            ModelRef::parse("anthropic:claude"),
            Err(ModelRefError::UnknownProvider(p)) if p == "anthropic"
        ));
        assert!(matches!(
            ModelRef::parse("ollama:"),
            Err(ModelRefError::EmptyModel(_))
        ));
    }

    #[test]
    fn calls_are_priced_as_the_model_that_answered() {
        assert_eq!(pricing_model("gpt-4o-mini", None), "gpt-4o-mini");
        assert_eq!(
            pricing_model("gpt-4o-mini", Some("gpt-4o-mini-2024-07-18")),
            "gpt-4o-mini"
        );
        assert_eq!(pricing_model("gpt-4o", Some("gpt-4o-mini")), "gpt-4o-mini");
        assert_eq!(
            pricing_model("gpt-4o-mini", Some("smollm2-135m")),
            "smollm2-135m"
        );
        assert_eq!(
            pricing_model("gpt-4o-mini", Some("/models/SmolLM2.gguf")),
            "/models/SmolLM2.gguf"
        );
    }

    #[test]
    fn file_paths_are_shortened_for_display() {
        assert_eq!(
            display_model_name("/root/.cache/autopilot/llama-x/model.gguf"),
            "model.gguf"
        );
        assert_eq!(
            display_model_name("models/SmolLM2.Q4_1.gguf"),
            "SmolLM2.Q4_1.gguf"
        );
        assert_eq!(display_model_name("openai/gpt-4o"), "openai/gpt-4o");
        assert_eq!(display_model_name("qwen2.5-coder:32b"), "qwen2.5-coder:32b");
    }
}
