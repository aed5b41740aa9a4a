//! TinyML library API facts (`data/tinyml-api.toml`): per library and pinned version, the
//! headers and symbols that version lacks and what to use instead. The orchestrator's
//! precheck uses [`LibraryApi::violations`] to reject code written against another version
//! before compiling it.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::data::{self, DataError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenItem {
    pub name: String,
    pub reason: String,
    #[serde(default)]
    pub instead: String,
}

impl ForbiddenItem {
    /// `reason; use instead`.
    pub fn describe(&self) -> String {
        if self.instead.is_empty() {
            self.reason.clone()
        } else {
            format!("{}; use {}", self.reason, self.instead)
        }
    }
}

/// What one library version offers and lacks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryApi {
    pub name: String,
    /// Exact versions, or `*`.
    pub versions: Vec<String>,
    pub main_header: String,
    #[serde(default)]
    pub note: String,
    #[serde(default, rename = "forbidden_header")]
    pub forbidden_headers: Vec<ForbiddenItem>,
    #[serde(default, rename = "forbidden_symbol")]
    pub forbidden_symbols: Vec<ForbiddenItem>,
}

/// A use of something the pinned library lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiViolation {
    /// `header` or `symbol`.
    pub kind: &'static str,
    pub name: String,
    /// 1-based line in the source.
    pub line: u32,
    pub message: String,
}

static INCLUDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*#\s*include\s*[<"]([^>"]+)[>"]"#).expect("valid regex"));

fn contains_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

impl LibraryApi {
    /// Every include and symbol in `source` this version lacks (comments skipped).
    pub fn violations(&self, source: &str) -> Vec<ApiViolation> {
        let mut found = Vec::new();
        let mut in_block_comment = false;
        for (index, raw) in source.lines().enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let mut line = raw;
            if in_block_comment {
                match line.find("*/") {
                    Some(end) => {
                        in_block_comment = false;
                        line = &line[end + 2..];
                    }
                    None => continue,
                }
            }
            if let Some(start) = line.find("/*")
                && !line[start..].contains("*/")
            {
                in_block_comment = true;
                line = &line[..start];
            }
            let code = line.split("//").next().unwrap_or(line);
            let violation = |kind, item: &ForbiddenItem| ApiViolation {
                kind,
                name: item.name.clone(),
                line: line_no,
                message: format!(
                    "{} {}: `{}` {}",
                    self.name,
                    self.versions.join("/"),
                    item.name,
                    item.describe()
                ),
            };
            if let Some(caps) = INCLUDE.captures(code) {
                let header = caps[1].trim();
                let header = header.strip_prefix("./").unwrap_or(header);
                if let Some(item) = self.forbidden_headers.iter().find(|f| f.name == header) {
                    found.push(violation("header", item));
                }
                continue;
            }
            for item in &self.forbidden_symbols {
                if contains_word(code, &item.name) {
                    found.push(violation("symbol", item));
                }
            }
        }
        found
    }
}

/// `data/tinyml-api.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TinyMlApi {
    #[serde(default, rename = "library")]
    pub libraries: Vec<LibraryApi>,
}

const BUILTIN: &str = include_str!("../../../data/tinyml-api.toml");

impl TinyMlApi {
    pub fn builtin() -> TinyMlApi {
        TinyMlApi::parse(Path::new("data/tinyml-api.toml"), BUILTIN)
            .expect("the built-in TinyML facts are valid (a test checks them)")
    }

    pub fn load(path: &Path) -> Result<TinyMlApi, DataError> {
        TinyMlApi::parse(path, &data::read(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<TinyMlApi, DataError> {
        let invalid = |message: String| DataError::invalid(path, message);
        let api: TinyMlApi = data::parse_toml(path, text)?;
        for (index, library) in api.libraries.iter().enumerate() {
            if library.versions.is_empty() {
                return Err(invalid(format!(
                    "key `library[{index}].versions`: `{}` lists no version",
                    library.name
                )));
            }
            for item in library
                .forbidden_headers
                .iter()
                .chain(&library.forbidden_symbols)
            {
                if item.name.trim().is_empty() || item.reason.trim().is_empty() {
                    return Err(invalid(format!(
                        "library `{}`: a forbidden item needs `name` and `reason`",
                        library.name
                    )));
                }
            }
        }
        Ok(api)
    }

    /// The facts for `library` at `version` (an exact entry first, then a `*` one).
    pub fn facts(&self, library: &str, version: &str) -> Option<&LibraryApi> {
        let named = || self.libraries.iter().filter(move |l| l.name == library);
        named()
            .find(|l| l.versions.iter().any(|v| v == version))
            .or_else(|| named().find(|l| l.versions.iter().any(|v| v == "*")))
    }
}
