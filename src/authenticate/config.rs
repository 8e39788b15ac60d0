//! [`AuthConfig`]: token verification settings in the plain serializable form.

use super::jwks::KeysFromUrl;
use super::keys::ConfiguredKeys;
use super::{ClaimPath, ClaimRules, Verifier, DEFAULT_MAX_TOKEN_BYTES};
use crate::config::ConfigError;
use serde::Deserialize;

/// How bearer tokens are verified.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// Public JWKs (a JWKS's `keys`).
    #[serde(default)]
    pub keys: Vec<serde_json::Value>,
    /// A JWKS URL the keys are fetched from (besides `keys` and `secrets`), by the pipeline's
    /// edge: `https:`, or `http:` for a loopback host only.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// When keys from `jwks_url` are fetched again (default: hourly, and on an unknown `kid` at
    /// most once a minute).
    #[serde(default)]
    pub jwks_refresh: Option<super::RefreshPolicy>,
    /// HMAC secrets.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
    /// Required `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required member of `aud`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Leeway on `exp` and `nbf` in seconds (default 60).
    #[serde(default)]
    pub leeway_secs: Option<i64>,
    /// Refuse tokens without `exp` (default true).
    #[serde(default)]
    pub require_exp: Option<bool>,
    /// The tenant claim (default `tenant`); see [`ClaimPath::parse`].
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// The attach-list claim (default `attach`).
    #[serde(default)]
    pub attach_claim: Option<String>,
    /// The longest token in bytes (default 8 KiB).
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    /// How many verified tokens to remember per isolate (default 256; 0 turns the cache off).
    #[serde(default)]
    pub cache_tokens: Option<usize>,
}

/// An HMAC secret.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The secret, as UTF-8 text.
    pub secret: String,
    /// `HS256`, `HS384` or `HS512`.
    pub alg: String,
    /// Its key id.
    #[serde(default)]
    pub kid: Option<String>,
}

/// The checked settings besides the keys.
struct Settings {
    rules: ClaimRules,
    max_token_bytes: usize,
    cache_tokens: usize,
}

impl AuthConfig {
    /// Checks the keys and settings and builds the verifier.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        let configured = ConfiguredKeys {
            secrets: self
                .secrets
                .iter()
                .map(|s| (s.secret.clone(), s.alg.clone(), s.kid.clone()))
                .collect(),
            jwks: self.keys.clone(),
        };
        let keys = configured
            .key_set(None)
            .map_err(|e| ConfigError(format!("authenticate: {e}")))?;
        let Settings {
            rules,
            max_token_bytes,
            cache_tokens,
        } = self.settings()?;
        let verifier = Verifier::new(keys, rules, max_token_bytes).with_cache(cache_tokens);
        match &self.jwks_url {
            Some(url) => {
                let source = KeysFromUrl::new(url, self.jwks_refresh)?;
                Ok(verifier.with_keys_from(source, configured))
            }
            None if verifier.has_no_keys() => Err(ConfigError(
                "authenticate: no keys, secrets or jwksUrl".into(),
            )),
            None => Ok(verifier),
        }
    }

    fn settings(&self) -> Result<Settings, ConfigError> {
        let defaults = ClaimRules::default();
        let leeway_secs = self.leeway_secs.unwrap_or(defaults.leeway_secs);
        if !(0..=3600).contains(&leeway_secs) {
            return Err(ConfigError("authenticate.leewaySecs: 0 to 3600".into()));
        }
        let rules = ClaimRules {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway_secs,
            require_exp: self.require_exp.unwrap_or(defaults.require_exp),
            tenant_claim: self
                .tenant_claim
                .as_deref()
                .map_or(defaults.tenant_claim, ClaimPath::parse),
            attach_claim: self
                .attach_claim
                .as_deref()
                .map_or(defaults.attach_claim, ClaimPath::parse),
        };
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if !(256..=64 * 1024).contains(&max_token_bytes) {
            return Err(ConfigError(
                "authenticate.maxTokenBytes: 256 to 65536".into(),
            ));
        }
        let cache_tokens = self.cache_tokens.unwrap_or(super::DEFAULT_CACHE_TOKENS);
        if cache_tokens > 10_000 {
            return Err(ConfigError(
                "authenticate.cacheTokens: at most 10000".into(),
            ));
        }
        Ok(Settings {
            rules,
            max_token_bytes,
            cache_tokens,
        })
    }
}
