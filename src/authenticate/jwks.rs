//! Keys from a JWKS URL (`jwksUrl`). The [`Verifier`] decides, with no I/O and by a
//! [`RefreshPolicy`] that reads no clock (`now` is the caller's), when its keys are due: it then
//! answers [`Error::FetchKeys`]. An edge fetches them and hands them over with
//! [`Verifier::install_jwks`]: [`JwksVerifier`] through the [`FetchJwks`] edge in Rust workers,
//! `fetch` in the npm package's JS.
//!
//! The keys are fetched on first use and again when older than `max_age_secs`; a token naming an
//! unknown `kid` (a key rotated in) triggers a refresh, but never more than once per
//! `min_interval_secs`, so a flood of tokens with made-up kids costs one fetch, not one each.
//! A failed fetch keeps the keys it had; with none at all, requests get 503, not 401.

use super::{AuthConfig, KeySet, Verifier};
use crate::pipeline::TokenVerifier;
use crate::resolve::ConfigError;
use crate::{Error, Principal};
use std::cell::Cell;

/// Fetches a JWKS document. Workers implement it with `fetch` (`workers::jwks`); tests with a
/// fake that counts calls.
#[allow(async_fn_in_trait)]
pub trait FetchJwks {
    /// The body of `url`, or why it could not be had (for logs).
    async fn fetch_jwks(&self, url: &str) -> Result<String, String>;
}

/// When to fetch the key set again (`jwksRefresh` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshPolicy {
    /// Refetch keys older than this.
    pub max_age_secs: i64,
    /// At most one fetch attempt per this many seconds, whatever tokens arrive.
    pub min_interval_secs: i64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            max_age_secs: 3600,
            min_interval_secs: 60,
        }
    }
}

impl RefreshPolicy {
    /// Whether to fetch at `now`, given the last success and attempt and whether a token just
    /// named a key the set lacks.
    pub fn due(
        &self,
        fetched_at: Option<i64>,
        attempted_at: Option<i64>,
        now: i64,
        unknown_kid: bool,
    ) -> bool {
        // At least a second apart, so an edge that just fetched is never told to fetch again.
        if attempted_at.is_some_and(|t| now - t < self.min_interval_secs.max(1)) {
            return false;
        }
        match fetched_at {
            None => true,
            Some(t) => unknown_kid || now - t >= self.max_age_secs,
        }
    }
}

/// Where a [`Verifier`]'s keys come from when a JWKS URL is configured, and when they were last
/// fetched and tried.
#[derive(Debug)]
pub(super) struct KeysFromUrl {
    pub url: String,
    pub policy: RefreshPolicy,
    /// The configured keys and secrets, which every fetched set joins.
    pub config: AuthConfig,
    pub fetched_at: Cell<Option<i64>>,
    pub attempted_at: Cell<Option<i64>>,
}

impl KeysFromUrl {
    /// Checks the URL and the policy.
    pub fn new(url: &str, config: AuthConfig) -> Result<Self, ConfigError> {
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(ConfigError("jwksUrl must be an http(s) URL".into()));
        }
        let policy = config.jwks_refresh.unwrap_or_default();
        if policy.min_interval_secs < 1 || policy.max_age_secs < policy.min_interval_secs {
            return Err(ConfigError(
                "jwksRefresh: minIntervalSecs is at least 1 and maxAgeSecs at least that".into(),
            ));
        }
        Ok(Self {
            url: url.to_owned(),
            policy,
            config,
            fetched_at: Cell::new(None),
            attempted_at: Cell::new(None),
        })
    }

    /// Whether to fetch at `now` (see [`RefreshPolicy::due`]).
    pub fn due(&self, now: i64, unknown_kid: bool) -> bool {
        self.policy.due(
            self.fetched_at.get(),
            self.attempted_at.get(),
            now,
            unknown_kid,
        )
    }

    /// The key set of a fetched JWKS `body` with the configured keys: not installed if empty.
    pub fn keys(&self, body: &str) -> Result<KeySet, String> {
        let jwks = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
        let keys = self.config.keys(Some(&jwks)).map_err(|e| e.to_string())?;
        if keys.is_empty() {
            return Err("the key set is empty".into());
        }
        Ok(keys)
    }
}

/// A [`Verifier`] with its I/O edge: when the verifier asks for its keys
/// ([`Error::FetchKeys`]), they are fetched through `F` and the request is answered with them.
pub struct JwksVerifier<F> {
    verifier: Verifier,
    fetcher: F,
}

impl<F: FetchJwks> JwksVerifier<F> {
    /// `verifier` (from an [`AuthConfig`] with `jwksUrl`) fetching its keys with `fetcher`.
    pub fn new(verifier: Verifier, fetcher: F) -> Self {
        Self { verifier, fetcher }
    }
}

impl<F: FetchJwks> TokenVerifier for JwksVerifier<F> {
    async fn verify_bearer(&self, authorization: &str, now: i64) -> Result<Principal, Error> {
        match self.verifier.verify_bearer(authorization, now).await {
            Err(Error::FetchKeys) => {
                let url = self.verifier.jwks_url().ok_or(Error::KeysUnavailable)?;
                self.verifier.fetch_started(now);
                let body = self.fetcher.fetch_jwks(url).await.ok();
                // A failure keeps the old keys; the verifier's answer says what that means.
                let _ = self.verifier.install_jwks(body.as_deref(), now);
                self.verifier.verify_bearer(authorization, now).await
            }
            outcome => outcome,
        }
    }
}
