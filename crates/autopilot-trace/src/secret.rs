//! Secrets that cannot reach a trace: a redacting string type and URL/header redaction.
//!
//! [`Secret`] deliberately implements neither `Serialize` nor `Display`: a struct that holds one
//! cannot be derived `Serialize`, so an API key cannot be written into a trace by accident.
//!
//! ```compile_fail
//! #[derive(serde::Serialize)]
//! struct Endpoint { key: autopilot_trace::Secret }
//! ```

use std::fmt;

/// A secret string (an API key, a bearer token). Its `Debug` prints `Secret("***")`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

const REDACTED: &str = "***";

/// Query parameters whose values are credentials.
const SECRET_QUERY_KEYS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "secret",
    "password",
    "sig",
];

/// Removes credentials from a URL: the user-info part (`user:pass@`) and the values of
/// credential-like query parameters. Text that is not a URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let after_scheme = scheme_end + 3;
    let rest = &url[after_scheme..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..after_scheme]);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.find('?') {
        None => out.push_str(tail),
        Some(q) => {
            out.push_str(&tail[..=q]);
            let query_and_fragment = &tail[q + 1..];
            let (query, fragment) = match query_and_fragment.find('#') {
                Some(h) => (&query_and_fragment[..h], &query_and_fragment[h..]),
                None => (query_and_fragment, ""),
            };
            let redacted: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if SECRET_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str()) =>
                    {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&redacted.join("&"));
            out.push_str(fragment);
        }
    }
    out
}

/// The value of an HTTP header as it may be shown: credentials (`Authorization`,
/// `Proxy-Authorization`, `*api-key*`, `Cookie`) become `***`.
pub fn redact_header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let secret = lower.contains("authorization")
        || lower.contains("api-key")
        || lower.contains("api_key")
        || lower == "cookie"
        || lower == "set-cookie";
    if secret {
        match value.split_once(' ') {
            // Keep the scheme ("Bearer ***") so a reader knows what was sent.
            Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} {REDACTED}"),
            _ => REDACTED.to_owned(),
        }
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Secret::new("sk-live-1234567890");
        assert!(!format!("{key:?}").contains("1234567890"));
        assert_eq!(key.expose(), "sk-live-1234567890");
    }

    #[test]
    fn urls_lose_userinfo_and_key_parameters() {
        assert_eq!(
            redact_url("https://user:pw@host.example/v1?x=1"),
            "https://***@host.example/v1?x=1"
        );
        assert_eq!(
            redact_url("https://host.example/v1/models?key=AIza123&alt=json#frag"),
            "https://host.example/v1/models?key=***&alt=json#frag"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:11434"),
            "http://127.0.0.1:11434"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn auth_headers_are_redacted() {
        assert_eq!(
            redact_header("Authorization", "Bearer sk-abc"),
            "Bearer ***"
        );
        assert_eq!(redact_header("x-api-key", "abc"), "***");
        assert_eq!(
            redact_header("Content-Type", "application/json"),
            "application/json"
        );
    }
}
