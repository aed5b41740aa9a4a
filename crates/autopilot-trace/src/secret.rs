//! Secrets that cannot reach a trace: a redacting string type, URL/header redaction, and a
//! [`Redactor`] that removes known secret values from text that came from outside.
//!
//! [`Secret`] deliberately implements neither `Serialize` nor `Display`: a struct that holds one
//! cannot be derived `Serialize`, so an API key cannot be written into a trace by accident.
//!
//! ```compile_fail
//! #[derive(serde::Serialize)]
//! struct Endpoint { key: autopilot_trace::Secret }
//! ```

use std::fmt;
use std::fmt::Write as _;

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

/// Whether a query parameter's value is a credential: a known name, or a name that says so
/// (`x-api-key`, `auth_token`, `client_secret`).
fn is_secret_query_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_QUERY_KEYS.contains(&lower.as_str())
        || ["key", "token", "secret", "password", "auth", "sig"]
            .iter()
            .any(|word| lower.contains(word))
}

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
                    Some((k, _)) if is_secret_query_key(k) => {
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

/// Values shorter than this are not searched for: they would match ordinary text everywhere.
const MIN_SECRET_LEN: usize = 4;

/// Removes known secret values from text that came from outside (error bodies, transport
/// errors, answers, log lines) before it is traced, printed or reported.
///
/// It knows values, not patterns: an API key (also as sent, `Bearer <key>`, percent-encoded or
/// JSON-escaped), the user-info of a URL (also as HTTP basic auth, base64) and the values of a
/// URL's credential-like query parameters (also percent-decoded). Every occurrence becomes
/// `***`. Values shorter than four characters are ignored.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so a value is replaced before any shorter one inside it.
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.needles.len())
    }
}

impl Redactor {
    /// A redactor that knows no secret (text passes unchanged).
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Whether it knows no secret.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Adds a secret (an API key) and the forms it travels in.
    pub fn add_secret(&mut self, secret: &Secret) {
        self.add_value(secret.expose());
    }

    /// Adds the credentials of a URL: its user-info (`user:pass@`, and the base64 form that
    /// basic auth sends) and the values of its credential-like query parameters.
    pub fn add_url(&mut self, url: &str) {
        let Some(scheme_end) = url.find("://") else {
            return;
        };
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let userinfo = &rest[..at];
            self.add_value(userinfo);
            let decoded = percent_decode(userinfo);
            self.push(base64(decoded.as_bytes()));
            if let Some((user, password)) = decoded.split_once(':') {
                self.add_value(password);
                self.push(base64(format!("{user}:{password}").as_bytes()));
            }
        }
        let tail = &rest[authority_end..];
        if let Some(q) = tail.find('?') {
            let query = tail[q + 1..].split('#').next().unwrap_or_default();
            for pair in query.split('&') {
                if let Some((key, value)) = pair.split_once('=')
                    && is_secret_query_key(key)
                {
                    self.add_value(value);
                }
            }
        }
    }

    /// Adds everything another redactor knows.
    pub fn merge(&mut self, other: &Redactor) {
        for needle in &other.needles {
            self.push(needle.clone());
        }
    }

    /// A value, raw, percent-encoded (both hex cases), percent-decoded and JSON-escaped.
    fn add_value(&mut self, value: &str) {
        self.push(value.to_owned());
        for encoded in [percent_encode(value, false), percent_encode(value, true)] {
            self.push(encoded.to_ascii_lowercase());
            self.push(encoded);
        }
        self.push(percent_decode(value));
        let json = serde_json::to_string(value).unwrap_or_default();
        self.push(json.trim_matches('"').to_owned());
        self.push(value.replace('/', "\\/"));
    }

    fn push(&mut self, needle: String) {
        if needle.chars().count() < MIN_SECRET_LEN || self.needles.contains(&needle) {
            return;
        }
        let at = self
            .needles
            .iter()
            .position(|n| n.len() < needle.len())
            .unwrap_or(self.needles.len());
        self.needles.insert(at, needle);
    }

    /// The text with every known secret replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(needle.as_str(), REDACTED));
            }
        }
        out
    }

    /// [`Redactor::redact`] into an owned string.
    pub fn redact_string(&self, text: String) -> String {
        match self.redact(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(redacted) => redacted,
        }
    }
}

/// Percent-encodes every byte outside RFC 3986's unreserved set (or, `strict`, every byte but
/// letters and digits, as some encoders do), upper-case hex.
fn percent_encode(value: &str, strict: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || (!strict && matches!(byte, b'-' | b'.' | b'_' | b'~')) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (and leaves malformed ones as they are).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (the form of HTTP basic auth).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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

    #[test]
    fn the_redactor_finds_a_key_in_its_travelling_forms() {
        let mut redactor = Redactor::new();
        redactor.add_secret(&Secret::new("sk-te/st+key=1"));
        for text in [
            "bad key Bearer sk-te/st+key=1 given",
            r#"{"error":"sk-te\/st+key=1"}"#,
            "url?key=sk-te%2Fst%2Bkey%3D1",
            "url?key=sk-te%2fst%2bkey%3d1",
        ] {
            let redacted = redactor.redact(text);
            assert!(
                !redacted.contains("st+key") && !redacted.contains("st%2"),
                "{redacted}"
            );
            assert!(redacted.contains("***"), "{redacted}");
        }
        assert_eq!(redactor.redact("nothing here"), "nothing here");
        assert!(Redactor::new().redact("sk-te/st+key=1").contains("st+key"));
    }

    #[test]
    fn the_redactor_knows_url_credentials_and_query_secrets() {
        let mut redactor = Redactor::new();
        redactor.add_url("http://user:hunter2@host:8080/v1?api-version=2024&key=qsecret99#x");
        assert_eq!(base64(b"user:hunter2"), "dXNlcjpodW50ZXIy");
        for (text, expected) in [
            ("auth hunter2", "auth ***"),
            ("Basic dXNlcjpodW50ZXIy", "Basic ***"),
            ("GET /v1/x?key=qsecret99", "GET /v1/x?key=***"),
            ("api-version=2024", "api-version=2024"),
        ] {
            assert_eq!(redactor.redact(text), expected);
        }
        // Too short to search for.
        let mut short = Redactor::new();
        short.add_secret(&Secret::new("ab"));
        assert!(short.is_empty());
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(percent_decode("a%2Fb%zz"), "a/b%zz");
    }
}
