//! Keys from a JWKS URL: [`JwksVerifier`] fetches them through the [`FetchJwks`] edge and
//! refreshes them by a [`RefreshPolicy`] that reads no clock (`now` is the caller's).
//!
//! The keys are fetched on first use and again when older than `max_age_secs`; a token naming an
//! unknown `kid` (a key rotated in) triggers a refresh, but never more than once per
//! `min_interval_secs`, so a flood of tokens with made-up kids costs one fetch, not one each.
//! A failed fetch keeps the keys it had; with none at all, requests get 503, not 401.

use super::{AuthConfig, AuthError, Verifier};
use crate::pipeline::TokenVerifier;
use crate::{Error, Principal};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Fetches a JWKS document. Workers implement it with `fetch` (`workers::jwks`); tests with a
/// fake that counts calls.
#[allow(async_fn_in_trait)]
pub trait FetchJwks {
    /// The body of `url`, or why it could not be had (for logs).
    async fn fetch_jwks(&self, url: &str) -> Result<String, String>;
}

/// When to fetch the key set again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        if attempted_at.is_some_and(|t| now - t < self.min_interval_secs) {
            return false;
        }
        match fetched_at {
            None => true,
            Some(t) => unknown_kid || now - t >= self.max_age_secs,
        }
    }
}

/// A [`TokenVerifier`] whose keys come from a JWKS URL (plus any keys and secrets configured).
pub struct JwksVerifier<F> {
    url: String,
    config: AuthConfig,
    policy: RefreshPolicy,
    fetcher: F,
    verifier: RefCell<Option<Rc<Verifier>>>,
    fetched_at: Cell<Option<i64>>,
    attempted_at: Cell<Option<i64>>,
}

impl<F: FetchJwks> JwksVerifier<F> {
    /// Checks `config` once (its static keys may be empty: the URL brings them) and returns a
    /// verifier that fetches `url` when first used.
    pub fn new(
        url: impl Into<String>,
        config: AuthConfig,
        policy: RefreshPolicy,
        fetcher: F,
    ) -> Result<Self, crate::resolve::ConfigError> {
        let url = url.into();
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(crate::resolve::ConfigError(
                "jwksUrl must be an http(s) URL".into(),
            ));
        }
        config.check()?;
        Ok(Self {
            url,
            config,
            policy,
            fetcher,
            verifier: RefCell::new(None),
            fetched_at: Cell::new(None),
            attempted_at: Cell::new(None),
        })
    }

    /// Fetches and installs the key set; on any failure the old one stays.
    async fn refresh(&self, now: i64) {
        self.attempted_at.set(Some(now));
        let fetched = match self.fetcher.fetch_jwks(&self.url).await {
            Ok(body) => serde_json::from_str::<serde_json::Value>(&body).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let built = fetched.and_then(|jwks| {
            self.config
                .clone()
                .build_with_jwks(Some(&jwks))
                .map_err(|e| e.to_string())
        });
        if let Ok(verifier) = built {
            // A new verifier also means a new token cache: a key rotated out takes its tokens along.
            *self.verifier.borrow_mut() = Some(Rc::new(verifier));
            self.fetched_at.set(Some(now));
        }
    }

    fn current(&self) -> Option<Rc<Verifier>> {
        self.verifier.borrow().clone()
    }
}

impl<F: FetchJwks> TokenVerifier for JwksVerifier<F> {
    async fn verify_bearer(&self, authorization: &str, now: i64) -> Result<Principal, Error> {
        if self
            .policy
            .due(self.fetched_at.get(), self.attempted_at.get(), now, false)
        {
            self.refresh(now).await;
        }
        let verifier = self.current().ok_or(Error::KeysUnavailable)?;
        match verifier.verify_bearer(authorization, now).await {
            Err(Error::Unauthenticated(AuthError::UnknownKey))
                if self
                    .policy
                    .due(self.fetched_at.get(), self.attempted_at.get(), now, true) =>
            {
                self.refresh(now).await;
                let verifier = self.current().ok_or(Error::KeysUnavailable)?;
                verifier.verify_bearer(authorization, now).await
            }
            outcome => outcome,
        }
    }
}
