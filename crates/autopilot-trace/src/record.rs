//! One line of a trace file: the envelope (version, session, sequence, time) around an event.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The trace format version written by this build. Readers accept every version up to it.
///
/// Changelog:
/// - 1: first version.
pub const FORMAT_VERSION: u32 = 1;

/// One line on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TraceRecord {
    /// Format version ([`FORMAT_VERSION`] when written by this build).
    pub v: u32,
    /// The session id; equal to the file stem.
    pub session: SessionId,
    /// 0-based, gap-free within a file.
    pub seq: u64,
    /// RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-21T02:03:41.123Z`.
    pub ts: String,
    pub event: Event,
}

/// A session id: 1–128 characters of `[A-Za-z0-9._-]`, not starting with `.` — safe as a
/// file name on every platform.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

/// A string that is not a valid [`SessionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid session id {0:?}: use 1-128 characters of A-Z a-z 0-9 . _ -, not starting with '.'"
)]
pub struct InvalidSessionId(pub String);

impl SessionId {
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidSessionId> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 128
            && !id.starts_with('.')
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(SessionId(id))
        } else {
            Err(InvalidSessionId(id))
        }
    }

    /// Turns any text (a model name with `:` and `/`, say) into a valid id. Text that is
    /// already a valid id is kept as it is; otherwise every other character becomes `_` and
    /// the result is cut to leave room for `-` and a short hash of the whole text, so texts
    /// that differ give different ids (`test/model`, `test:model` and `test_model` do) even
    /// when they differ only in replaced characters or beyond the 128th.
    pub fn sanitized(text: &str) -> Self {
        if let Ok(id) = SessionId::new(text) {
            return id;
        }
        let hash = format!("-{:08x}", short_hash(text));
        let mut id: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .take(128 - hash.len())
            .collect();
        // `.` first would make a hidden file.
        if id.is_empty() || id.starts_with('.') {
            id.insert(0, '_');
            id.truncate(128 - hash.len());
        }
        id.push_str(&hash);
        SessionId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SessionId::new(value)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 32 bits of FNV-1a over the text: stable across builds and platforms (unlike std's hasher),
/// which session ids need.
fn short_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the halves so every input bit reaches the 32 kept bits.
    (hash ^ (hash >> 32)) & 0xffff_ffff
}

/// Formats a timestamp as the trace writes it: RFC 3339, UTC, milliseconds.
pub fn format_timestamp(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a trace timestamp.
pub fn parse_timestamp(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_reject_paths_and_accept_plain_names() {
        assert!(SessionId::new("gpt-4o_7677.s01").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b", "ollama:qwen"] {
            assert!(SessionId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sanitized_ids_are_valid() {
        for text in ["ollama:qwen2.5-coder:32b", "openai/gpt-4o", ".x", "", "ü"] {
            let id = SessionId::sanitized(text);
            assert!(SessionId::new(id.as_str()).is_ok(), "{id}");
        }
        assert!(
            SessionId::sanitized("openai/gpt-4o")
                .as_str()
                .starts_with("openai_gpt-4o-")
        );
        assert_eq!(SessionId::sanitized("gpt-4o_1").as_str(), "gpt-4o_1");
    }

    #[test]
    fn sanitized_ids_of_different_texts_differ() {
        let long = "m".repeat(130);
        let texts = [
            "test/model".to_owned(),
            "test:model".to_owned(),
            "test_model".to_owned(),
            format!("{long}--r000"),
            format!("{long}--r001"),
        ];
        let ids: std::collections::BTreeSet<SessionId> =
            texts.iter().map(|t| SessionId::sanitized(t)).collect();
        assert_eq!(ids.len(), texts.len(), "{ids:?}");
        assert!(ids.iter().all(|id| id.as_str().len() <= 128));
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let ts: jiff::Timestamp = "2026-11-21T02:03:41.1234Z".parse().unwrap();
        assert_eq!(format_timestamp(ts), "2026-11-21T02:03:41.123Z");
        let zero: jiff::Timestamp = "2026-11-21T02:03:41Z".parse().unwrap();
        assert_eq!(format_timestamp(zero), "2026-11-21T02:03:41.000Z");
        let parsed = parse_timestamp("2026-11-21T02:03:41.123Z").unwrap();
        assert_eq!(format_timestamp(parsed), "2026-11-21T02:03:41.123Z");
        assert!(parse_timestamp("yesterday").is_none());
    }
}
