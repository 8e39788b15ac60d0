//! [`Verifier`]: a bearer token in, a [`Principal`] out.

use super::cache::{TokenCache, Verified};
use super::claims::ClaimRules;
use super::keys::KeySet;
use super::token::{bearer_token, check_size, parse};
use super::AuthError;
use crate::pipeline::TokenVerifier;
use crate::{Error, Principal};
use std::cell::RefCell;

/// How many verified tokens a verifier remembers by default.
pub const DEFAULT_CACHE_TOKENS: usize = 256;

/// Verifies tokens with a [`KeySet`] and checks their claims with [`ClaimRules`].
pub struct Verifier {
    keys: KeySet,
    rules: ClaimRules,
    max_token_bytes: usize,
    cache: RefCell<TokenCache>,
}

impl Verifier {
    /// A verifier; tokens longer than `max_token_bytes` are refused unparsed. It remembers up to
    /// [`DEFAULT_CACHE_TOKENS`] verified tokens ([`Verifier::with_cache`] changes that).
    pub fn new(keys: KeySet, rules: ClaimRules, max_token_bytes: usize) -> Self {
        Self {
            keys,
            rules,
            max_token_bytes,
            cache: RefCell::new(TokenCache::new(DEFAULT_CACHE_TOKENS)),
        }
    }

    /// The same verifier remembering up to `tokens` verified tokens (0: none).
    pub fn with_cache(self, tokens: usize) -> Self {
        Self {
            cache: RefCell::new(TokenCache::new(tokens)),
            ..self
        }
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
        let validated = self.keys.validate(&parse(token)?)?;
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
        let token = bearer_token(authorization, self.max_token_bytes)?;
        Ok(self.verify(token, now)?)
    }
}
