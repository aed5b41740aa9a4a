//! Pulling the sketch out of an LLM answer: reasoning stripped, any fence tag accepted, the
//! block that defines `setup()` and `loop()` chosen, competing sketches rejected.

use std::sync::LazyLock;

use autopilot_trace::{CheckVerdict, CodeExtracted, Stage};
use regex::Regex;

use crate::cpp;

/// Check id of a failed extraction: no code.
pub const CHECK_NO_CODE: &str = "extract.no_code";
/// Check id of a failed extraction: several different complete sketches.
pub const CHECK_COMPETING_SKETCHES: &str = "extract.competing_sketches";

/// A fenced block of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencedBlock {
    /// The info string's first word, lowercased (`cpp`, `c++`, `json`); empty when untagged.
    pub tag: String,
    pub content: String,
    /// False when the answer ended before the closing fence.
    pub closed: bool,
}

/// Code chosen from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    /// The code, with `\n` line ends and a final newline.
    pub code: String,
    /// Fenced blocks in the answer (0 when the answer was bare code).
    pub blocks: u32,
    /// 0-based index of the chosen block.
    pub chosen_block: u32,
    /// The chosen block's tag; `None` when untagged or bare.
    pub fence_tag: Option<String>,
    pub sha256: String,
    pub lines: u32,
}

impl Extraction {
    /// The trace event for this extraction.
    pub fn event(&self, attempt: u32, identical_to_attempt: Option<u32>) -> CodeExtracted {
        CodeExtracted {
            attempt,
            sha256: self.sha256.clone(),
            lines: self.lines,
            blocks: self.blocks,
            chosen_block: self.chosen_block,
            fence_tag: self.fence_tag.clone(),
            identical_to_attempt,
        }
    }
}

/// Why no code could be taken from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractionFailure {
    /// No fenced code block and no bare sketch.
    NoCode {
        /// Fenced blocks that were not code (e.g. `json`).
        other_blocks: u32,
        /// The answer was empty once reasoning was removed.
        only_reasoning: bool,
    },
    /// Two or more different blocks each define `setup()` and `loop()`.
    CompetingSketches {
        /// 0-based indexes of the competing blocks.
        blocks: Vec<u32>,
    },
}

impl ExtractionFailure {
    /// Stable check id.
    pub fn check_id(&self) -> &'static str {
        match self {
            ExtractionFailure::NoCode { .. } => CHECK_NO_CODE,
            ExtractionFailure::CompetingSketches { .. } => CHECK_COMPETING_SKETCHES,
        }
    }

    /// What the next prompt tells the model.
    pub fn message(&self) -> String {
        match self {
            ExtractionFailure::NoCode {
                only_reasoning: true,
                ..
            } => "the answer held only reasoning and no code; answer with the complete sketch in one ```cpp block".to_owned(),
            ExtractionFailure::NoCode { other_blocks: 0, .. } => {
                "the answer held no code block; answer with the complete sketch in one ```cpp block".to_owned()
            }
            ExtractionFailure::NoCode { other_blocks, .. } => format!(
                "the answer held {other_blocks} fenced block(s) but none with C++ code; answer with the complete sketch in one ```cpp block"
            ),
            ExtractionFailure::CompetingSketches { blocks } => {
                let numbers: Vec<String> = blocks.iter().map(|b| (b + 1).to_string()).collect();
                format!(
                    "the answer held {} different complete sketches (blocks {}), each with setup() and loop(); answer with exactly one complete sketch in one ```cpp block",
                    blocks.len(),
                    numbers.join(", ")
                )
            }
        }
    }

    /// The failed verdict for the trace (stage `extract`).
    pub fn verdict(&self, attempt: u32) -> CheckVerdict {
        CheckVerdict {
            stage: Stage::Extract,
            attempt,
            check: self.check_id().to_owned(),
            passed: false,
            message: self.message(),
        }
    }
}

/// Fence tags that hold C or C++ (an untagged fence counts too).
const CODE_TAGS: &[&str] = &[
    "",
    "cpp",
    "c++",
    "cxx",
    "cc",
    "c",
    "arduino",
    "ino",
    "h",
    "hpp",
    "objective-c",
    "objc",
];

static SETUP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bvoid\s+setup\s*\(\s*(?:void\s*)?\)\s*\{").expect("valid regex")
});
static LOOP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bvoid\s+loop\s*\(\s*(?:void\s*)?\)\s*\{").expect("valid regex"));

/// Removes `<think>…</think>` reasoning (an unclosed `<think>` runs to the end).
pub fn strip_reasoning(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("</think>") else {
            rest = "";
            break;
        };
        rest = &rest[start + end + "</think>".len()..];
    }
    out.push_str(rest);
    // A closing tag without an opening one: the reasoning began before the answer.
    if let Some(end) = out.find("</think>") {
        out = out[end + "</think>".len()..].to_owned();
    }
    out
}

/// Splits Markdown fenced blocks (``` or ~~~, up to three spaces of indent) out of text.
pub fn fenced_blocks(text: &str) -> Vec<FencedBlock> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, String, Vec<&str>)> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = line.trim_start_matches(' ');
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        let is_fence = indent <= 3 && fence_len >= 3;
        match &mut open {
            None if is_fence => {
                let Some(c) = fence_char else { continue };
                let info = trimmed[fence_len..].trim();
                let tag = info
                    .split(|ch: char| ch.is_whitespace() || ch == '{' || ch == ',')
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                open = Some((c, fence_len, tag, Vec::new()));
            }
            None => {}
            Some((c, len, _, lines)) => {
                let closes = is_fence
                    && fence_char == Some(*c)
                    && fence_len >= *len
                    && trimmed[fence_len..].trim().is_empty();
                if closes {
                    if let Some((_, _, tag, lines)) = open.take() {
                        blocks.push(FencedBlock {
                            tag,
                            content: join_lines(&lines),
                            closed: true,
                        });
                    }
                } else {
                    lines.push(line);
                }
            }
        }
    }
    if let Some((_, _, tag, lines)) = open {
        blocks.push(FencedBlock {
            tag,
            content: join_lines(&lines),
            closed: false,
        });
    }
    blocks
}

fn join_lines(lines: &[&str]) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Whether code defines `setup()` and `loop()` (comments and strings ignored).
pub(crate) fn defines_setup_and_loop(code: &str) -> (bool, bool) {
    let blanked = cpp::blank(code, true).text;
    (SETUP.is_match(&blanked), LOOP.is_match(&blanked))
}

/// Chooses the sketch in an answer.
///
/// Rules: reasoning is stripped; fenced blocks with a C/C++ tag (or none) are candidates; the
/// one block defining both `setup()` and `loop()` wins; several *different* such blocks are
/// rejected; with no complete sketch the candidate with most of the two functions (then the
/// longest) is taken, and the prechecks will say what is missing; an answer without fences
/// that itself defines `setup()` and `loop()` is taken whole.
pub fn extract_code(answer: &str) -> Result<Extraction, ExtractionFailure> {
    let text = strip_reasoning(&answer.replace("\r\n", "\n"));
    let blocks = fenced_blocks(&text);
    let total = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
    let mut candidates: Vec<(usize, &FencedBlock, (bool, bool))> = blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.content.trim().is_empty())
        .map(|(i, b)| (i, b, defines_setup_and_loop(&b.content)))
        .filter(|(_, b, (setup, looped))| {
            CODE_TAGS.contains(&b.tag.as_str()) || (*setup && *looped)
        })
        .collect();
    if candidates.is_empty() {
        let (setup, looped) = defines_setup_and_loop(&text);
        if blocks.is_empty() && setup && looped {
            return Ok(finish(text.trim_matches('\n'), 0, 0, None));
        }
        return Err(ExtractionFailure::NoCode {
            other_blocks: total,
            only_reasoning: text.trim().is_empty() && !answer.trim().is_empty(),
        });
    }
    let full: Vec<&(usize, &FencedBlock, (bool, bool))> = candidates
        .iter()
        .filter(|(_, _, (s, l))| *s && *l)
        .collect();
    let chosen = if let Some(first) = full.first() {
        let distinct: Vec<u32> = full
            .iter()
            .filter(|(_, b, _)| b.content.trim() != first.1.content.trim())
            .map(|(i, _, _)| u32::try_from(*i).unwrap_or(u32::MAX))
            .collect();
        if !distinct.is_empty() {
            let mut blocks = vec![u32::try_from(first.0).unwrap_or(u32::MAX)];
            blocks.extend(distinct);
            return Err(ExtractionFailure::CompetingSketches { blocks });
        }
        first.0
    } else {
        candidates.sort_by_key(|(i, b, (s, l))| {
            (
                std::cmp::Reverse(u8::from(*s) + u8::from(*l)),
                std::cmp::Reverse(b.content.len()),
                *i,
            )
        });
        candidates[0].0
    };
    let block = &blocks[chosen];
    let tag = (!block.tag.is_empty()).then(|| block.tag.clone());
    Ok(finish(
        &block.content,
        total,
        u32::try_from(chosen).unwrap_or(u32::MAX),
        tag,
    ))
}

fn finish(code: &str, blocks: u32, chosen_block: u32, fence_tag: Option<String>) -> Extraction {
    let mut code = code.trim_end().to_owned();
    code.push('\n');
    let lines = u32::try_from(code.lines().count()).unwrap_or(u32::MAX);
    Extraction {
        sha256: autopilot_trace::sha256_hex(code.as_bytes()),
        code,
        blocks,
        chosen_block,
        fence_tag,
        lines,
    }
}
