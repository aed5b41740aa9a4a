//! Splitting reasoning out of an answer: `<think>…</think>` blocks in the text, and the
//! reasoning fields some providers send beside it (`reasoning_content`, `reasoning`,
//! Ollama's `thinking`).

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// The answer text without reasoning, and the reasoning (`None` when there was none).
///
/// - Every `<think>…</think>` block is removed from the text and kept as reasoning.
/// - A `</think>` with no opening tag (chat templates that put `<think>` in the prompt) makes
///   everything before it reasoning.
/// - An unclosed `<think>` (the answer was cut off while thinking) makes the rest reasoning.
/// - `provider_reasoning` (a separate field) comes first in the reasoning.
pub fn split_reasoning(text: &str, provider_reasoning: Option<&str>) -> (String, Option<String>) {
    let mut parts: Vec<String> = Vec::new();
    if let Some(field) = provider_reasoning.map(str::trim).filter(|r| !r.is_empty()) {
        parts.push(field.to_owned());
    }
    let mut rest = text;
    if let Some(close) = rest.find(CLOSE)
        && !rest[..close].contains(OPEN)
    {
        push_trimmed(&mut parts, &rest[..close]);
        rest = &rest[close + CLOSE.len()..];
    }
    let mut answer = String::with_capacity(rest.len());
    while let Some(open) = rest.find(OPEN) {
        answer.push_str(&rest[..open]);
        let inner = &rest[open + OPEN.len()..];
        if let Some(close) = inner.find(CLOSE) {
            push_trimmed(&mut parts, &inner[..close]);
            rest = &inner[close + CLOSE.len()..];
        } else {
            push_trimmed(&mut parts, inner);
            rest = "";
        }
    }
    answer.push_str(rest);
    let reasoning = (!parts.is_empty()).then(|| parts.join("\n\n"));
    (answer.trim().to_owned(), reasoning)
}

fn push_trimmed(parts: &mut Vec<String>, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        parts.push(text.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_blocks_and_reasoning_fields_are_split_out() {
        let table: &[(&str, Option<&str>, &str, Option<&str>)] = &[
            ("plain answer", None, "plain answer", None),
            (
                "<think>\nplan it\n</think>\n\nvoid setup() {}",
                None,
                "void setup() {}",
                Some("plan it"),
            ),
            (
                "a <think>one</think> b <think>two</think> c",
                None,
                "a  b  c",
                Some("one\n\ntwo"),
            ),
            (
                "plan first\n</think>\nanswer",
                None,
                "answer",
                Some("plan first"),
            ),
            (
                "<think>cut off while thin",
                None,
                "",
                Some("cut off while thin"),
            ),
            (
                "answer",
                Some("field reasoning"),
                "answer",
                Some("field reasoning"),
            ),
            (
                "<think>inline</think>answer",
                Some("field"),
                "answer",
                Some("field\n\ninline"),
            ),
            ("<think></think>answer", Some("  "), "answer", None),
        ];
        for &(text, field, answer, reasoning) in table {
            let (got_answer, got_reasoning) = split_reasoning(text, field);
            assert_eq!(got_answer, answer, "{text:?}");
            assert_eq!(got_reasoning.as_deref(), reasoning, "{text:?}");
        }
    }
}
