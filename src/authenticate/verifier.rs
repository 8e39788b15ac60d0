//! [`Verifier`]: a bearer token in, a [`Principal`] out.

use super::cache::{TokenCache, Verified};
use super::claims::ClaimRules;
use super::jwks::KeysFromUrl;
use super::keys::{KeySet, Signatures};
use super::token::{bearer_token, check_size, parse};
use super::AuthError;
use crate::pipeline::TokenVerifier;
use crate::{Error, Principal};
use std::cell::RefCell;
use std::rc::Rc;

/// How many verified tokens a verifier remembers by default.
pub const DEFAULT_CACHE_TOKENS: usize = 256;

/// Verifies tokens with a [`KeySet`] and checks their claims with [`ClaimRules`].
///
/// Its keys may come from a JWKS URL (`jwksUrl` in [`AuthConfig`](super::AuthConfig)). It does
/// no I/O itself: when they are due it answers [`Error::FetchKeys`], and the edge fetches them
/// and hands them over with [`Verifier::install_jwks`] ([`JwksVerifier`](super::JwksVerifier)
/// does both for Rust workers; the npm package does it in JS).
pub struct Verifier {
    keys: RefCell<Rc<KeySet>>,
    from_url: Option<KeysFromUrl>,
    rules: ClaimRules,
    max_token_bytes: usize,
    cache: RefCell<TokenCache>,
    caller_signatures: bool,
    verdict: RefCell<Option<(Box<str>, usize, bool)>>,
}

impl Verifier {
    /// A verifier; tokens longer than `max_token_bytes` are refused unparsed. It remembers up to
    /// [`DEFAULT_CACHE_TOKENS`] verified tokens ([`Verifier::with_cache`] changes that).
    pub fn new(keys: KeySet, rules: ClaimRules, max_token_bytes: usize) -> Self {
        Self {
            keys: RefCell::new(Rc::new(keys)),
            from_url: None,
            rules,
            max_token_bytes,
            cache: RefCell::new(TokenCache::new(DEFAULT_CACHE_TOKENS)),
            // Without the pure-Rust backends, public-key signatures can only be the caller's.
            caller_signatures: !cfg!(feature = "rust-crypto"),
            verdict: RefCell::new(None),
        }
    }

    /// The same verifier leaving public-key signatures (ES256, EdDSA, RS256) to its caller: a
    /// token it has no verdict for is answered with [`AuthError::SignatureCheckNeeded`], and
    /// the caller gives its verdict with [`Verifier::provide_verdict`] and asks again. HMAC
    /// signatures are still checked here.
    pub fn with_caller_signatures(self) -> Self {
        Self {
            caller_signatures: true,
            ..self
        }
    }

    /// The caller's verdict on `token`'s signature checked with key number `key`, used by the
    /// next [`Verifier::verify`] of that same token (and only of it) if `key` is the one the
    /// token names.
    pub fn provide_verdict(&self, token: &str, key: usize, valid: bool) {
        *self.verdict.borrow_mut() = Some((token.into(), key, valid));
    }

    /// Key number `key`'s public JWK, for a caller that checks signatures itself to import.
    pub fn public_jwk(&self, key: usize) -> Option<serde_json::Value> {
        self.keys.borrow().public_jwk(key)
    }

    /// The same verifier taking its keys from `from_url` (the configured ones stay).
    pub(super) fn with_keys_from(self, from_url: KeysFromUrl) -> Self {
        Self {
            from_url: Some(from_url),
            ..self
        }
    }

    pub(super) fn has_no_keys(&self) -> bool {
        self.keys.borrow().is_empty()
    }

    /// The JWKS URL its keys come from, if any.
    pub fn jwks_url(&self) -> Option<&str> {
        self.from_url.as_ref().map(|from| from.url.as_str())
    }

    /// Notes that a fetch of the JWKS URL started at `now`, so requests meanwhile do not start
    /// another one.
    pub fn fetch_started(&self, now: i64) {
        if let Some(from_url) = &self.from_url {
            from_url.attempted_at.set(Some(now));
        }
    }

    /// Installs the JWKS `body` fetched at `now` (`None`: the fetch failed), with the configured
    /// keys added; on any failure the old keys stay and the reason is returned. New keys also
    /// empty the token cache, so a key rotated out takes its tokens along.
    pub fn install_jwks(&self, body: Option<&str>, now: i64) -> Result<(), String> {
        let from_url = self.from_url.as_ref().ok_or("no JWKS URL is configured")?;
        from_url.attempted_at.set(Some(now));
        let keys = from_url.keys(body.ok_or("the fetch failed")?)?;
        *self.keys.borrow_mut() = Rc::new(keys);
        let capacity = self.cache_capacity();
        *self.cache.borrow_mut() = TokenCache::new(capacity);
        from_url.fetched_at.set(Some(now));
        Ok(())
    }

    /// The same verifier remembering up to `tokens` verified tokens (0: none).
    pub fn with_cache(self, tokens: usize) -> Self {
        Self {
            cache: RefCell::new(TokenCache::new(tokens)),
            ..self
        }
    }

    /// How many verified tokens it remembers.
    pub fn cache_capacity(&self) -> usize {
        self.cache.borrow().capacity()
    }

    /// The first time (seconds since the epoch) at which `principal`'s token fails its time
    /// checks: `exp` plus the leeway. `None` for a token without `exp`.
    pub fn valid_until(&self, principal: &Principal) -> Option<i64> {
        principal
            .expires_at
            .map(|exp| exp.saturating_add(self.rules.leeway_secs))
    }

    /// Verifies a compact JWS at `now` (seconds since the epoch): size, parse, key by `kid`,
    /// the key's own algorithm, signature, then claims. A token verified before skips the
    /// signature, never the time checks.
    pub fn verify(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        check_size(token, self.max_token_bytes)?;
        let cached = self.cache.borrow().get(token).cloned();
        if let Some(Verified {
            principal,
            not_before,
        }) = cached
        {
            let checked = self.rules.check_time(principal.expires_at, not_before, now);
            if checked.is_err() {
                self.cache.borrow_mut().remove(token);
            }
            return checked.map(|()| principal);
        }
        let signatures = if self.caller_signatures {
            let verdict = self.verdict.borrow_mut().take();
            Signatures::Caller {
                signing_input: token.rsplit_once('.').map_or(token, |(input, _)| input),
                verdict: verdict
                    .filter(|(t, _, _)| **t == *token)
                    .map(|(_, key, valid)| (key, valid)),
            }
        } else {
            Signatures::InProcess
        };
        let keys = Rc::clone(&self.keys.borrow());
        let validated = keys.validate(&parse(token)?, signatures)?;
        let principal = self.rules.principal(validated.claims(), now)?;
        let verified = Verified {
            principal: principal.clone(),
            not_before: validated.claims().not_before.map(|t| t.timestamp()),
        };
        self.cache.borrow_mut().insert(token, verified);
        Ok(principal)
    }
}

impl TokenVerifier for Verifier {
    async fn verify_bearer(&self, authorization: &str, now: i64) -> Result<Principal, Error> {
        if let Some(from_url) = &self.from_url {
            if from_url.due(now, false) {
                return Err(Error::FetchKeys);
            }
            if from_url.fetched_at.get().is_none() {
                return Err(Error::KeysUnavailable);
            }
        }
        let token = bearer_token(authorization, self.max_token_bytes)?;
        match self.verify(token, now) {
            // A key rotated in since the last fetch, perhaps.
            Err(AuthError::UnknownKey)
                if self
                    .from_url
                    .as_ref()
                    .is_some_and(|from| from.due(now, true)) =>
            {
                Err(Error::FetchKeys)
            }
            outcome => Ok(outcome?),
        }
    }
}
