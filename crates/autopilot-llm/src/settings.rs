//! Endpoint settings and their resolution: the config file, the conventional environment
//! variables and the CLI's overrides, merged into one [`LlmSettings`].
//!
//! Precedence, lowest first: built-in defaults, the config file, the environment
//! (`OPENAI_BASE_URL`, `OPENAI_API_KEY` or the variable the file names, `OLLAMA_HOST`), the
//! overrides (CLI flags). The library never reads the environment itself: the caller passes a
//! lookup function, so resolution is testable.
//!
//! # Config file
//!
//! ```toml
//! model = "openai:gpt-4o"               # default model (optional)
//! fallback_model = "ollama:qwen2.5-coder:32b"   # used when the model stays unreachable
//! prices = "my-prices.toml"             # replaces data/prices.toml; relative to this file
//!
//! [providers.openai]
//! base_url = "https://openrouter.ai/api/v1"
//! api_key_env = "OPENROUTER_API_KEY"    # the variable that holds the key (never the key)
//! timeout_secs = 180                    # one try
//! connect_timeout_secs = 10
//! max_body_bytes = 33554432             # one response body (default 32 MiB)
//!
//! [providers.ollama]
//! base_url = "http://gpu-box:11434"
//! timeout_secs = 600
//!
//! [retry]
//! max_attempts = 4
//! initial_delay_ms = 1000
//! max_delay_ms = 30000
//! max_elapsed_secs = 300
//! jitter = true
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::{Redactor, Secret, redact_url};
use serde::Deserialize;

use crate::retry::RetryPolicy;
use autopilot_trace::{ModelRef, Provider};

/// The default OpenAI endpoint.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default Ollama endpoint.
pub const OLLAMA_DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434";
const OLLAMA_DEFAULT_PORT: u16 = 11434;
/// The host of OpenAI's own API.
pub(crate) const OPENAI_HOST: &str = "api.openai.com";

/// How to reach one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSettings {
    /// Without a trailing slash (`https://api.openai.com/v1`, `http://127.0.0.1:11434`).
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// The environment variable the key is read from (named in errors when it is missing).
    pub api_key_env: Option<String>,
    pub connect_timeout: Duration,
    /// The limit for one try when the request sets none.
    pub request_timeout: Duration,
    /// The most bytes one response body may have; a larger one fails the try with
    /// `body_too_large` (never retried).
    pub max_body_bytes: u64,
}

/// The default cap on one response body: far above any answer (a 32k-token stream with its
/// per-token framing is a few MiB), far below what fills memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

impl EndpointSettings {
    /// The defaults of a provider (no key).
    pub fn default_for(provider: Provider) -> Self {
        let (base_url, api_key_env, request_timeout) = match provider {
            Provider::OpenAi => (OPENAI_DEFAULT_BASE_URL, Some("OPENAI_API_KEY"), 180),
            Provider::Ollama | Provider::Replay => (OLLAMA_DEFAULT_BASE_URL, None, 600),
        };
        EndpointSettings {
            base_url: base_url.to_owned(),
            api_key: None,
            api_key_env: api_key_env.map(str::to_owned),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(request_timeout),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// A loopback or custom endpoint without a key, with the given per-try timeout.
    pub fn at(base_url: impl Into<String>, request_timeout: Duration) -> Self {
        EndpointSettings {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            api_key_env: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The base URL with any credentials removed, for traces and messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.base_url)
    }

    /// The redactor of this endpoint's secrets: its key and the credentials in its base URL.
    pub fn redactor(&self) -> Redactor {
        let mut redactor = Redactor::new();
        if let Some(key) = &self.api_key {
            redactor.add_secret(key);
        }
        redactor.add_url(&self.base_url);
        redactor
    }

    /// Whether this is OpenAI's own API, which needs a key (compatible local servers may
    /// have none).
    pub fn is_openai_api(&self) -> bool {
        reqwest::Url::parse(&self.base_url)
            .ok()
            .and_then(|url| url.host_str().map(|host| host == OPENAI_HOST))
            .unwrap_or(false)
    }
}

/// Everything the LLM layer needs, resolved.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub openai: EndpointSettings,
    pub ollama: EndpointSettings,
    pub retry: RetryPolicy,
    /// A price table replacing the built-in one (made absolute against the config file).
    pub prices: Option<PathBuf>,
    pub model: Option<ModelRef>,
    pub fallback_model: Option<ModelRef>,
}

impl LlmSettings {
    /// The redactor of every endpoint's secrets.
    pub fn redactor(&self) -> Redactor {
        let mut redactor = self.openai.redactor();
        redactor.merge(&self.ollama.redactor());
        redactor
    }

    pub fn endpoint(&self, provider: Provider) -> Option<&EndpointSettings> {
        match provider {
            Provider::OpenAi => Some(&self.openai),
            Provider::Ollama => Some(&self.ollama),
            Provider::Replay => None,
        }
    }
}

/// The config file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfigFile {
    pub model: Option<String>,
    pub fallback_model: Option<String>,
    pub prices: Option<PathBuf>,
    #[serde(default)]
    pub providers: ProvidersFile,
    #[serde(default)]
    pub retry: RetryFile,
    /// The folder of the file; relative paths in it are resolved against it.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    /// The file, for messages.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersFile {
    pub openai: Option<ProviderFile>,
    pub ollama: Option<ProviderFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub base_url: Option<String>,
    /// The name of the environment variable holding the API key.
    pub api_key_env: Option<String>,
    pub timeout_secs: Option<f64>,
    pub connect_timeout_secs: Option<f64>,
    /// The most bytes one response body may have.
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    pub max_attempts: Option<u32>,
    pub initial_delay_ms: Option<u64>,
    pub max_delay_ms: Option<u64>,
    pub max_elapsed_secs: Option<f64>,
    pub jitter: Option<bool>,
}

/// What the command line sets for one provider.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverrides {
    pub base_url: Option<String>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
}

/// What the command line sets.
#[derive(Debug, Clone, Default)]
pub struct LlmOverrides {
    pub openai: EndpointOverrides,
    pub ollama: EndpointOverrides,
    pub max_attempts: Option<u32>,
}

impl LlmOverrides {
    pub fn endpoint_mut(&mut self, provider: Provider) -> Option<&mut EndpointOverrides> {
        match provider {
            Provider::OpenAi => Some(&mut self.openai),
            Provider::Ollama => Some(&mut self.ollama),
            Provider::Replay => None,
        }
    }
}

/// Settings that cannot be used. Each names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    InvalidValue { origin: String, message: String },
    #[error(
        "no API key for {base_url}: set {env} (or name another variable with api_key_env in [providers.openai])"
    )]
    MissingApiKey { base_url: String, env: String },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

impl LlmConfigFile {
    /// Reads and checks a config file. Errors name the file, and the key when one is wrong.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = fs_err::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file: LlmConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.dir = path.parent().map(Path::to_owned);
        file.path = Some(path.to_owned());
        Ok(file)
    }

    fn origin(&self, key: &str) -> String {
        match &self.path {
            Some(path) => format!("{}: {key}", path.display()),
            None => format!("config {key}"),
        }
    }
}

/// Looks up an environment variable; empty values count as unset.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Merges the config file, the environment and the overrides.
pub fn resolve_settings(
    file: &LlmConfigFile,
    env: EnvLookup<'_>,
    overrides: &LlmOverrides,
) -> Result<LlmSettings, ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let openai = resolve_endpoint(
        Provider::OpenAi,
        file,
        &env,
        &overrides.openai,
        env("OPENAI_BASE_URL").map(|url| (url, "OPENAI_BASE_URL".to_owned())),
    )?;
    let ollama_host =
        env("OLLAMA_HOST").map(|host| (ollama_host_url(&host), "OLLAMA_HOST".to_owned()));
    let ollama = resolve_endpoint(Provider::Ollama, file, &env, &overrides.ollama, ollama_host)?;
    let retry = resolve_retry(file, overrides)?;
    let model_ref = |key: &str, value: &Option<String>| -> Result<Option<ModelRef>, ConfigError> {
        value
            .as_deref()
            .map(|text| {
                ModelRef::parse(text).map_err(|e| ConfigError::InvalidValue {
                    origin: file.origin(key),
                    message: e.to_string(),
                })
            })
            .transpose()
    };
    Ok(LlmSettings {
        openai,
        ollama,
        retry,
        prices: file.prices.as_ref().map(|p| match &file.dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        }),
        model: model_ref("model", &file.model)?,
        fallback_model: model_ref("fallback_model", &file.fallback_model)?,
    })
}

fn resolve_endpoint(
    provider: Provider,
    file: &LlmConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &EndpointOverrides,
    env_base_url: Option<(String, String)>,
) -> Result<EndpointSettings, ConfigError> {
    let mut settings = EndpointSettings::default_for(provider);
    let section = match provider {
        Provider::OpenAi => file.providers.openai.as_ref(),
        Provider::Ollama => file.providers.ollama.as_ref(),
        Provider::Replay => None,
    };
    let key_prefix = format!("providers.{provider}");
    let mut base_url = (settings.base_url.clone(), "the default".to_owned());
    if let Some(section) = section {
        if let Some(url) = &section.base_url {
            base_url = (url.clone(), file.origin(&format!("{key_prefix}.base_url")));
        }
        if let Some(name) = &section.api_key_env {
            settings.api_key_env = Some(name.clone());
        }
        if let Some(secs) = section.timeout_secs {
            settings.request_timeout =
                seconds(secs, &file.origin(&format!("{key_prefix}.timeout_secs")))?;
        }
        if let Some(secs) = section.connect_timeout_secs {
            settings.connect_timeout = seconds(
                secs,
                &file.origin(&format!("{key_prefix}.connect_timeout_secs")),
            )?;
        }
        if let Some(bytes) = section.max_body_bytes {
            if bytes == 0 {
                return Err(ConfigError::InvalidValue {
                    origin: file.origin(&format!("{key_prefix}.max_body_bytes")),
                    message: "must be more than 0".to_owned(),
                });
            }
            settings.max_body_bytes = bytes;
        }
    }
    if let Some(from_env) = env_base_url {
        base_url = from_env;
    }
    if let Some(url) = &overrides.base_url {
        base_url = (url.clone(), "--base-url".to_owned());
    }
    settings.base_url = check_base_url(&base_url.0, &base_url.1)?;
    if let Some(name) = &settings.api_key_env
        && let Some(key) = env(name)
    {
        check_api_key(&key, name)?;
        settings.api_key = Some(Secret::new(key.trim()));
    }
    if let Some(timeout) = overrides.timeout {
        settings.request_timeout = timeout;
    }
    if let Some(timeout) = overrides.connect_timeout {
        settings.connect_timeout = timeout;
    }
    Ok(settings)
}

/// The most tries of one request, as in the policies file.
pub const MAX_ATTEMPTS: u32 = 20;

fn resolve_retry(
    file: &LlmConfigFile,
    overrides: &LlmOverrides,
) -> Result<RetryPolicy, ConfigError> {
    let mut policy = RetryPolicy::default();
    let section = &file.retry;
    if let Some(n) = section.max_attempts {
        policy.max_attempts = n;
    }
    if let Some(ms) = section.initial_delay_ms {
        policy.initial_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = section.max_delay_ms {
        policy.max_delay = Duration::from_millis(ms);
    }
    if let Some(secs) = section.max_elapsed_secs {
        policy.max_elapsed = seconds(secs, &file.origin("retry.max_elapsed_secs"))?;
    }
    if let Some(jitter) = section.jitter {
        policy.jitter = jitter;
    }
    if let Some(n) = overrides.max_attempts {
        policy.max_attempts = n;
    }
    // The policies file's `retry.max_tries` allows 1..=20; the same bound here keeps a typo
    // (4294967295 with no delay) from hammering a provider.
    if !(1..=MAX_ATTEMPTS).contains(&policy.max_attempts) {
        let origin = if overrides.max_attempts == Some(policy.max_attempts) {
            "--max-attempts".to_owned()
        } else {
            file.origin("retry.max_attempts")
        };
        return Err(ConfigError::InvalidValue {
            origin,
            message: format!(
                "{} is out of range: use 1 to {MAX_ATTEMPTS} (1 = no retries)",
                policy.max_attempts
            ),
        });
    }
    Ok(policy)
}

fn seconds(value: f64, origin: &str) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ConfigError::InvalidValue {
            origin: origin.to_owned(),
            message: format!("{value} is not a positive number of seconds"),
        })
}

/// Checks a base URL (http or https, with a host) and drops its trailing slash.
fn check_base_url(url: &str, origin: &str) -> Result<String, ConfigError> {
    let invalid = |message: String| ConfigError::InvalidValue {
        origin: origin.to_owned(),
        message,
    };
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|e| invalid(format!("{:?} is not a URL: {e}", redact_url(trimmed))))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(format!(
            "{:?} is not an http:// or https:// URL with a host",
            redact_url(trimmed)
        )));
    }
    Ok(trimmed.to_owned())
}

/// An API key must fit in an HTTP header.
fn check_api_key(key: &str, env_name: &str) -> Result<(), ConfigError> {
    if key.trim().bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            origin: env_name.to_owned(),
            message: "the API key holds spaces or non-ASCII characters".to_owned(),
        })
    }
}

/// Turns `OLLAMA_HOST` into a base URL the way Ollama's own client does: the scheme defaults
/// to `http`, the port to 11434 without a scheme (80 for `http://`, 443 for `https://`), an
/// empty host to 127.0.0.1.
pub fn ollama_host_url(host: &str) -> String {
    let host = host.trim();
    let (scheme, rest, default_port) = match host.split_once("://") {
        None => ("http", host, OLLAMA_DEFAULT_PORT),
        Some(("https", rest)) => ("https", rest, 443),
        Some((scheme, rest)) => (
            scheme,
            rest,
            if scheme == "http" {
                80
            } else {
                OLLAMA_DEFAULT_PORT
            },
        ),
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((hostport, path)) => (hostport, path.trim_end_matches('/')),
        None => (rest, ""),
    };
    let (name, port) = split_host_port(hostport);
    let name = if name.is_empty() { "127.0.0.1" } else { name };
    let port = port.unwrap_or(default_port);
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!("{scheme}://{name}:{port}{path}")
}

/// Splits `host:port`, `[v6]:port`, `[v6]`, `host`; a bad port counts as none.
fn split_host_port(hostport: &str) -> (&str, Option<u16>) {
    if hostport.starts_with('[') {
        return match hostport.rsplit_once("]:") {
            Some((host, port)) => (&hostport[..=host.len()], port.parse().ok()),
            None => (hostport, None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (hostport, None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn resolve(
        file: &LlmConfigFile,
        env: &HashMap<String, String>,
        overrides: &LlmOverrides,
    ) -> Result<LlmSettings, ConfigError> {
        resolve_settings(file, &|name| env.get(name).cloned(), overrides)
    }

    fn parse_file(text: &str) -> LlmConfigFile {
        let mut file: LlmConfigFile = toml::from_str(text).unwrap();
        file.path = Some(PathBuf::from("/etc/autopilot.toml"));
        file.dir = Some(PathBuf::from("/etc"));
        file
    }

    #[test]
    fn defaults_without_file_or_environment() {
        let settings = resolve(
            &LlmConfigFile::default(),
            &env_of(&[]),
            &LlmOverrides::default(),
        )
        .unwrap();
        assert_eq!(settings.openai.base_url, OPENAI_DEFAULT_BASE_URL);
        assert_eq!(settings.openai.api_key, None);
        assert_eq!(
            settings.openai.api_key_env.as_deref(),
            Some("OPENAI_API_KEY")
        );
        assert_eq!(settings.ollama.base_url, OLLAMA_DEFAULT_BASE_URL);
        assert_eq!(settings.retry, RetryPolicy::default());
        assert_eq!(settings.model, None);
    }

    #[test]
    fn file_then_environment_then_flags() {
        let file = parse_file(
            r#"
            model = "ollama:qwen2.5-coder:32b"
            fallback_model = "openai:openai/gpt-4o"
            prices = "prices.toml"
            [providers.openai]
            base_url = "https://openrouter.ai/api/v1/"
            api_key_env = "OPENROUTER_API_KEY"
            timeout_secs = 30
            max_body_bytes = 1000
            [providers.ollama]
            base_url = "http://gpu-box:11434"
            [retry]
            max_attempts = 2
            jitter = false
            "#,
        );
        let none = LlmOverrides::default();
        let settings =
            resolve(&file, &env_of(&[("OPENROUTER_API_KEY", "sk-or-1")]), &none).unwrap();
        assert_eq!(settings.openai.base_url, "https://openrouter.ai/api/v1");
        assert_eq!(
            settings.openai.api_key.as_ref().map(Secret::expose),
            Some("sk-or-1")
        );
        assert_eq!(settings.openai.max_body_bytes, 1000);
        assert_eq!(settings.ollama.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(settings.redactor().redact("key sk-or-1"), "key ***");
        assert_eq!(settings.openai.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.ollama.base_url, "http://gpu-box:11434");
        assert_eq!(settings.retry.max_attempts, 2);
        assert!(!settings.retry.jitter);
        assert_eq!(settings.prices, Some(PathBuf::from("/etc/prices.toml")));
        assert_eq!(settings.model.unwrap().model, "qwen2.5-coder:32b");
        assert_eq!(settings.fallback_model.unwrap().model, "openai/gpt-4o");

        // The environment beats the file.
        let env = env_of(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("OLLAMA_HOST", "0.0.0.0"),
            (
                "OPENAI_API_KEY",
                "sk-ignored-because-the-file-names-another",
            ),
        ]);
        let settings = resolve(&file, &env, &none).unwrap();
        assert_eq!(settings.openai.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(settings.openai.api_key, None);
        assert_eq!(settings.ollama.base_url, "http://0.0.0.0:11434");

        // Flags beat both.
        let mut flags = LlmOverrides {
            max_attempts: Some(1),
            ..LlmOverrides::default()
        };
        flags.ollama.base_url = Some("http://127.0.0.1:9999".to_owned());
        flags.ollama.timeout = Some(Duration::from_millis(250));
        let settings = resolve(&file, &env, &flags).unwrap();
        assert_eq!(settings.ollama.base_url, "http://127.0.0.1:9999");
        assert_eq!(settings.ollama.request_timeout, Duration::from_millis(250));
        assert_eq!(settings.retry.max_attempts, 1);
    }

    #[test]
    fn bad_values_name_their_origin() {
        let file = parse_file("[providers.ollama]\nbase_url = \"ftp://x\"\n");
        let message = resolve(&file, &env_of(&[]), &LlmOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/etc/autopilot.toml: providers.ollama.base_url"),
            "{message}"
        );

        let message = resolve(
            &LlmConfigFile::default(),
            &env_of(&[("OPENAI_BASE_URL", "not a url")]),
            &LlmOverrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(message.starts_with("OPENAI_BASE_URL: "), "{message}");

        let file = parse_file("model = \"gpt-4o\"\n");
        let message = resolve(&file, &env_of(&[]), &LlmOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("/etc/autopilot.toml: model"), "{message}");

        for n in [0u64, 21, 4_294_967_295] {
            let file = parse_file(&format!(
                "[retry]\nmax_attempts = {n}\ninitial_delay_ms = 0\n"
            ));
            let message = resolve(&file, &env_of(&[]), &LlmOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(message.contains("retry.max_attempts"), "{message}");
            assert!(message.contains("use 1 to 20"), "{message}");
        }
        let overrides = LlmOverrides {
            max_attempts: Some(21),
            ..LlmOverrides::default()
        };
        let message = resolve(&LlmConfigFile::default(), &env_of(&[]), &overrides)
            .unwrap_err()
            .to_string();
        assert!(message.contains("--max-attempts"), "{message}");

        let message = resolve(
            &LlmConfigFile::default(),
            &env_of(&[("OPENAI_API_KEY", "sk bad key")]),
            &LlmOverrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(message.starts_with("OPENAI_API_KEY: "), "{message}");
        assert!(!message.contains("sk bad key"), "{message}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        for text in [
            "[providers.anthropic]\nbase_url = \"https://x\"\n",
            "[providers.openai]\napi_key = \"sk-literal\"\n",
            "retries = 3\n",
        ] {
            assert!(toml::from_str::<LlmConfigFile>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn ollama_host_is_read_like_ollama_reads_it() {
        let table = [
            ("", "http://127.0.0.1:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("gpu-box", "http://gpu-box:11434"),
            ("http://gpu-box", "http://gpu-box:80"),
            ("https://ollama.example", "https://ollama.example:443"),
            (
                "https://ollama.example:8443/",
                "https://ollama.example:8443",
            ),
            ("http://proxy:8080/ollama", "http://proxy:8080/ollama"),
            ("[::1]:11500", "http://[::1]:11500"),
            ("[::1]", "http://[::1]:11434"),
            (":7777", "http://127.0.0.1:7777"),
        ];
        for (host, url) in table {
            assert_eq!(ollama_host_url(host), url, "{host:?}");
        }
    }
}
