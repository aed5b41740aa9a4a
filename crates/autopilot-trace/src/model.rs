//! Model references: `provider:model` strings such as `openai:gpt-4o` or
//! `ollama:qwen2.5-coder:32b`, the one type every crate (LLM client, policies, traces) names
//! models with. Serialized as that string.

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
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
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

impl TryFrom<String> for ModelRef {
    type Error = ModelRefError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        ModelRef::parse(&text)
    }
}

impl From<ModelRef> for String {
    fn from(model: ModelRef) -> String {
        model.to_string()
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
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
    fn model_refs_serialize_as_their_provider_model_string() {
        let model = ModelRef::new(Provider::Ollama, "qwen2.5-coder:32b");
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(json, r#""ollama:qwen2.5-coder:32b""#);
        assert_eq!(serde_json::from_str::<ModelRef>(&json).unwrap(), model);
        let err = serde_json::from_str::<ModelRef>(r#""gpt-4o""#).unwrap_err();
        assert!(err.to_string().contains("has no provider"), "{err}");
    }
}
