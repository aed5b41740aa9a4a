//! Model names in LLM calls: which model a call is priced as, and a model name for people.
//! (`ModelRef` and `Provider` live in the trace crate.)

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
