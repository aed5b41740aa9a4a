//! The price table (`data/prices.toml`): US dollars per million input and output tokens, by
//! provider and model. A model without a price has an unknown cost — `None`, never zero.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use autopilot_trace::TokenUsage;
use serde::Deserialize;

use autopilot_trace::Provider;

/// The table shipped in `data/prices.toml`, compiled in.
const BUILTIN: &str = include_str!("../../../data/prices.toml");

/// The model name that prices every unlisted model of a provider.
pub const ANY_MODEL: &str = "*";

/// One model's prices, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// Prices by provider and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<(Provider, String), Price>,
}

/// A price table that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read the price table {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid price table {origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl PriceTable {
    /// The table shipped with autopilot (`data/prices.toml`).
    pub fn builtin() -> Self {
        // The shipped file is checked by a test; an error here cannot happen in a release.
        PriceTable::from_toml(BUILTIN, "data/prices.toml").unwrap_or_default()
    }

    /// The shipped table, parsed once per process and shared: every client starts with it
    /// (a batch makes a client per session; parsing the TOML each time was per-session work).
    pub fn builtin_shared() -> Arc<PriceTable> {
        static SHARED: LazyLock<Arc<PriceTable>> =
            LazyLock::new(|| Arc::new(PriceTable::builtin()));
        SHARED.clone()
    }

    /// Reads a table from a file. Errors name the file by its canonical path (what a `../` or
    /// a symbolic link leads to) and never quote its text: the path may name any file.
    pub fn load(path: &Path) -> Result<Self, PriceError> {
        let read = |source| PriceError::Read {
            path: path.to_owned(),
            source,
        };
        let path = fs_err::canonicalize(path).map_err(read)?;
        if !fs_err::metadata(&path).map_err(read)?.is_file() {
            return Err(PriceError::Invalid {
                origin: path.display().to_string(),
                message: "not a regular file".to_owned(),
            });
        }
        let text = fs_err::read_to_string(&path).map_err(read)?;
        PriceTable::from_toml(&text, &path.display().to_string())
    }

    /// Parses a table; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PriceError> {
        let invalid = |message: String| PriceError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        // toml's own message quotes the offending line; the line number is enough.
        let raw: BTreeMap<String, BTreeMap<String, Price>> = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                before.split('\n').count()
            });
            let message = e.message().trim_end();
            invalid(line.map_or_else(
                || message.to_owned(),
                |line| format!("line {line}: {message}"),
            ))
        })?;
        let mut prices = BTreeMap::new();
        for (provider_name, models) in raw {
            let provider: Provider = provider_name
                .parse()
                .map_err(|e| invalid(format!("[{provider_name}]: {e}")))?;
            for (model, price) in models {
                for (field, value) in [("input", price.input), ("output", price.output)] {
                    if !value.is_finite() || value < 0.0 {
                        return Err(invalid(format!(
                            "{provider_name}.\"{model}\".{field}: {value} is not a price (a number >= 0)"
                        )));
                    }
                }
                prices.insert((provider, model), price);
            }
        }
        Ok(PriceTable { prices })
    }

    /// The price of a model: its own entry, else its provider's `"*"` entry.
    pub fn price(&self, provider: Provider, model: &str) -> Option<Price> {
        self.prices
            .get(&(provider, model.to_owned()))
            .or_else(|| self.prices.get(&(provider, ANY_MODEL.to_owned())))
            .copied()
    }

    /// The cost of a call in US dollars; `None` when the price or either token count is
    /// unknown.
    pub fn cost(&self, provider: Provider, model: &str, usage: TokenUsage) -> Option<f64> {
        let price = self.price(provider, model)?;
        let input = usage.input? as f64;
        let output = usage.output? as f64;
        Some((input * price.input + output * price.output) / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_resolved_file_and_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.txt");
        fs_err::write(&secret, "password=hunter2 is here\n").unwrap();
        let sub = dir.path().join("conf");
        fs_err::create_dir(&sub).unwrap();
        let err = PriceTable::load(&sub.join("../secret.txt")).unwrap_err();
        let text = format!("{err}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains(".."), "{text}");
        assert!(text.contains("secret.txt: line 1"), "{text}");
        let err = PriceTable::load(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    fn usage(input: u64, output: u64) -> TokenUsage {
        TokenUsage {
            input: Some(input),
            output: Some(output),
        }
    }

    #[test]
    fn the_shipped_table_parses_and_prices_known_models_only() {
        PriceTable::from_toml(BUILTIN, "data/prices.toml").unwrap();
        let table = PriceTable::builtin();
        let cost = table
            .cost(Provider::OpenAi, "gpt-4o", usage(1_000_000, 100_000))
            .unwrap();
        assert!((cost - 3.5).abs() < 1e-9, "{cost}");
        assert_eq!(
            table.cost(Provider::OpenAi, "no-such-model", usage(10, 10)),
            None
        );
        assert_eq!(
            table.cost(Provider::Ollama, "qwen2.5-coder:32b", usage(10, 10)),
            None,
            "local models are unknown unless declared"
        );
        assert_eq!(
            table.cost(
                Provider::OpenAi,
                "gpt-4o",
                TokenUsage {
                    input: Some(5),
                    output: None
                }
            ),
            None
        );
    }

    #[test]
    fn a_wildcard_prices_unlisted_models() {
        let table = PriceTable::from_toml(
            "[ollama]\n\"*\" = { input = 0.0, output = 0.0 }\n\"big\" = { input = 1.0, output = 2.0 }\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            table.cost(Provider::Ollama, "small", usage(9, 9)),
            Some(0.0)
        );
        assert_eq!(
            table.cost(Provider::Ollama, "big", usage(1_000_000, 1_000_000)),
            Some(3.0)
        );
        assert_eq!(table.cost(Provider::OpenAi, "small", usage(9, 9)), None);
    }

    #[test]
    fn errors_name_the_table_and_the_key() {
        let cases = [
            (
                "[anthropic]\n\"x\" = { input = 1.0, output = 1.0 }\n",
                "[anthropic]",
            ),
            (
                "[openai]\n\"x\" = { input = -1.0, output = 1.0 }\n",
                "openai.\"x\".input",
            ),
            ("[openai]\n\"x\" = { input = 1.0 }\n", "output"),
            (
                "[openai]\n\"x\" = { input = 1.0, output = 1.0, cached = 0.5 }\n",
                "cached",
            ),
        ];
        for (text, needle) in cases {
            let message = PriceTable::from_toml(text, "my-prices.toml")
                .unwrap_err()
                .to_string();
            assert!(message.contains("my-prices.toml"), "{message}");
            assert!(message.contains(needle), "{needle} not in {message}");
        }
    }
}
