//! [`Verifier`]: a bearer token in, a [`Principal`] out.

use super::cache::{TokenCache, Verified};
use super::claims::ClaimRules;
use super::keys::{KeySet, Signatures};
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
    caller_signatures: bool,
    verdict: RefCell<Option<(Box<str>, usize, bool)>>,
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
    pub fn public_jwk(&self, key: usize) -> Option<&serde_json::Value> {
        self.keys.public_jwk(key)
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
        let validated = self.keys.validate(&parse(token)?, signatures)?;
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
