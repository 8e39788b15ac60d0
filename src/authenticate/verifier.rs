//! [`Verifier`]: a bearer token in; a [`Principal`], or the I/O it needs first, out.

use super::cache::{TokenCache, Verified};
use super::claims::ClaimRules;
use super::external::{KeyRef, SignatureCheck};
use super::jwks::{FetchId, JwksFetch, KeysFromUrl, Settled, MAX_JWKS_BYTES};
use super::keys::{ConfiguredKeys, KeySet, Signatures, Validation};
use super::token::{check_size, parse, parse_unsigned, CustomClaims, HeaderExtensions};
use super::AuthError;
use crate::{Error, Principal, UnixTime};
use jwt_compact::Token;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// How many verified tokens a verifier remembers by default.
pub const DEFAULT_CACHE_TOKENS: usize = 256;

/// How many bytes of tokens a verifier remembers at most.
pub const CACHE_MAX_BYTES: usize = 1024 * 1024;

/// What verifying a token came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verification {
    /// The token holds: the caller is this principal.
    Verified(Principal),
    /// The keys must be fetched from the JWKS URL first.
    FetchKeys(JwksFetch),
    /// The caller must check this public-key signature first.
    CheckSignature(SignatureCheck),
}

/// What earlier steps of the same request bring back to the verifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The caller's verdict on the token's signature, and the key it was reached with.
    pub verdict: Option<(KeyRef, bool)>,
    /// Whether the request already waited for a JWKS fetch: it does not wait for another.
    pub waited_for_keys: bool,
}

/// Keys from a JWKS URL: the source's state, the configured keys every fetched set joins, and
/// the last document installed.
#[derive(Debug)]
struct UrlKeys {
    source: KeysFromUrl,
    configured: ConfiguredKeys,
    last_body: RefCell<Option<Box<str>>>,
}

/// Verifies tokens with a [`KeySet`] and checks their claims with [`ClaimRules`].
///
/// It does no I/O. When its keys are due from a JWKS URL, or a public-key signature is left to
/// its caller, verification says so, and the [pipeline](crate::pipeline) turns that into an I/O
/// request for its edge.
pub struct Verifier {
    keys: RefCell<Rc<KeySet>>,
    generation: Cell<u32>,
    from_url: Option<UrlKeys>,
    rules: ClaimRules,
    max_token_bytes: usize,
    cache: RefCell<TokenCache>,
    caller_signatures: bool,
}

impl Verifier {
    /// A verifier; tokens longer than `max_token_bytes` are refused unparsed. It remembers up to
    /// [`DEFAULT_CACHE_TOKENS`] verified tokens ([`Verifier::with_cache`] changes that).
    pub(super) fn new(keys: KeySet, rules: ClaimRules, max_token_bytes: usize) -> Self {
        Self {
            keys: RefCell::new(Rc::new(keys)),
            generation: Cell::new(0),
            from_url: None,
            rules,
            max_token_bytes,
            cache: RefCell::new(TokenCache::new(DEFAULT_CACHE_TOKENS, CACHE_MAX_BYTES)),
            // Without the pure-Rust backends, public-key signatures can only be the caller's.
            caller_signatures: !super::rust_crypto::IN_PROCESS,
        }
    }

    /// The same verifier leaving public-key signatures (ES256, EdDSA, RS256) to its caller
    /// (the pipeline's [`Io::CheckSignature`](crate::pipeline::Io::CheckSignature)). HMAC
    /// signatures are still checked here.
    pub fn with_caller_signatures(self) -> Self {
        Self {
            caller_signatures: true,
            ..self
        }
    }

    /// The same verifier taking its keys also from `source`, joined to `configured`.
    pub(super) fn with_keys_from(self, source: KeysFromUrl, configured: ConfiguredKeys) -> Self {
        Self {
            from_url: Some(UrlKeys {
                source,
                configured,
                last_body: RefCell::new(None),
            }),
            ..self
        }
    }

    /// The same verifier remembering up to `tokens` verified tokens (0: none).
    pub(super) fn with_cache(self, tokens: usize) -> Self {
        Self {
            cache: RefCell::new(TokenCache::new(tokens, CACHE_MAX_BYTES)),
            ..self
        }
    }

    pub(super) fn has_no_keys(&self) -> bool {
        self.keys.borrow().is_empty()
    }

    /// How many verified tokens it remembers.
    pub fn cache_capacity(&self) -> usize {
        self.cache.borrow().capacity()
    }

    /// The generation of the key set: a new one whenever keys from the JWKS URL change.
    pub fn generation(&self) -> u32 {
        self.generation.get()
    }

    /// The largest token taken.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// The public JWK of `key`, for a caller that checks signatures itself to import; `None`
    /// for a key of another generation (it is gone) or a secret.
    pub fn public_jwk(&self, key: KeyRef) -> Option<serde_json::Value> {
        if key.generation != self.generation.get() {
            return None;
        }
        self.keys.borrow().public_jwk(key.index)
    }

    /// The first time at which an answer reached with `principal` at `now` may no longer hold:
    /// its token's `exp` plus the leeway, or when the keys fall due from the JWKS URL, whichever
    /// comes first. `None`: neither bounds it.
    pub fn valid_until(&self, principal: &Principal) -> Option<UnixTime> {
        let expiry = principal
            .expires_at()
            .map(|exp| UnixTime::from_secs(exp.saturating_add(self.rules.leeway_secs)));
        let keys_due = self.from_url.as_ref().and_then(|u| u.source.due_at());
        match (expiry, keys_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Verifies a compact JWS at `now`: size, keys (fetched first when due), parse, key by
    /// `kid`, the key's own algorithm, signature, then claims. A token verified before skips the
    /// signature, never the time checks.
    pub(crate) fn verify(
        &self,
        token: &str,
        now: UnixTime,
        progress: Progress,
    ) -> Result<Verification, Error> {
        check_size(token, self.max_token_bytes)?;
        if let Some(url) = &self.from_url {
            if url.source.stale(now) && !progress.waited_for_keys {
                if let Some(fetch) = url.source.fetch(now, false) {
                    return Ok(Verification::FetchKeys(fetch));
                }
            }
            // Never fetched, or kept past their time by failed refreshes: no key verifies, and
            // nothing verified with them before is taken from the cache either.
            if !url.source.usable(now) {
                return Err(Error::KeysUnavailable);
            }
        }
        let cached = self.cache.borrow().get(token).cloned();
        if let Some(Verified {
            principal,
            not_before,
        }) = cached
        {
            let checked = self
                .rules
                .check_time(principal.expires_at(), not_before, now.secs());
            if checked.is_err() {
                self.cache.borrow_mut().remove(token);
            }
            return Ok(checked.map(|()| Verification::Verified(principal))?);
        }
        let generation = self.generation.get();
        let (signing_input, _) = token.rsplit_once('.').unwrap_or((token, ""));
        // A verdict reached with a key of another generation names a key that is gone.
        let verdict = progress
            .verdict
            .filter(|(key, _)| key.generation == generation)
            .map(|(key, valid)| (key.index, valid));
        let keys = Rc::clone(&self.keys.borrow());
        let validated = match self.valid_on_verdict(&keys, token, signing_input, verdict) {
            Some(validated) => validated,
            None => {
                let parsed = parse(token)?;
                let signatures = if self.caller_signatures {
                    Signatures::Caller {
                        signing_input,
                        signature_len: parsed.signature_bytes().len(),
                        verdict,
                    }
                } else {
                    Signatures::InProcess
                };
                match keys.validate(&parsed, signatures) {
                    Ok(Validation::Valid(validated)) => validated,
                    Ok(Validation::NeedsCheck { index, alg }) => {
                        return Ok(Verification::CheckSignature(SignatureCheck {
                            key: KeyRef { generation, index },
                            alg,
                            signing_input: signing_input.to_owned(),
                            signature: parsed.signature_bytes().to_vec(),
                        }))
                    }
                    // A key rotated in since the last fetch, perhaps.
                    Err(AuthError::UnknownKey) if !progress.waited_for_keys => {
                        let fetch = self
                            .from_url
                            .as_ref()
                            .and_then(|u| u.source.fetch(now, true));
                        return fetch
                            .map(Verification::FetchKeys)
                            .ok_or(Error::Unauthenticated(AuthError::UnknownKey));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        };
        let principal = self.rules.principal(validated.claims(), now.secs())?;
        let verified = Verified {
            principal: principal.clone(),
            not_before: validated.claims().not_before.map(|t| t.timestamp()),
        };
        self.cache.borrow_mut().insert(token, verified);
        Ok(Verification::Verified(principal))
    }

    /// The token validated on the caller's `verdict` without decoding its signature, which is
    /// the caller's to check (only the segment's form and length are checked here); `None`
    /// unless that lets it through. Whatever it does not let through (no verdict, a verdict for
    /// another key, a refusal) is decided on the whole token, so this only ever saves work: the
    /// decoding of a signature already checked, most of the base64 of an RS256 token.
    fn valid_on_verdict(
        &self,
        keys: &KeySet,
        token: &str,
        signing_input: &str,
        verdict: Option<(usize, bool)>,
    ) -> Option<Token<CustomClaims, HeaderExtensions>> {
        verdict.filter(|_| self.caller_signatures)?;
        let (parsed, signature_len) = parse_unsigned(token).ok()?;
        let signatures = Signatures::Caller {
            signing_input,
            signature_len,
            verdict,
        };
        match keys.validate(&parsed, signatures) {
            Ok(Validation::Valid(validated)) => Some(validated),
            _ => None,
        }
    }

    /// Takes the answer to JWKS fetch `fetch`, made at `now`: the document (`Err`: why there is
    /// none). The configured keys join every fetched set; a document that is too large, not a
    /// JWKS, or empty leaves the keys as they were, and the reason is returned for the log.
    pub(crate) fn install_jwks(
        &self,
        fetch: FetchId,
        body: Result<&str, &str>,
        now: UnixTime,
    ) -> Result<(), String> {
        let url = self.from_url.as_ref().ok_or("no JWKS URL is configured")?;
        if url.source.settle(fetch) == Settled::Already {
            // Another request's answer to this fetch was installed first.
            return Ok(());
        }
        let body =
            body.map_err(|why| format!("{} could not be fetched: {why}", url.source.url()))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
        }
        if url.last_body.borrow().as_deref() == Some(body) {
            // The same document: the keys are fresh again, and what they verified stays.
            url.source.fetched(fetch, now);
            return Ok(());
        }
        let jwks = serde_json::from_str(body).map_err(|_| "the JWKS is not JSON".to_owned())?;
        let keys = url
            .configured
            .key_set(Some(&jwks))
            .map_err(|e| e.to_string())?;
        if keys.is_empty() {
            return Err("the JWKS has no usable key".into());
        }
        *self.keys.borrow_mut() = Rc::new(keys);
        self.generation.set(self.generation.get().wrapping_add(1));
        let emptied = self.cache.borrow().emptied();
        *self.cache.borrow_mut() = emptied;
        *url.last_body.borrow_mut() = Some(body.into());
        url.source.fetched(fetch, now);
        Ok(())
    }

    /// Verifies `token` at `now` (seconds) in process, for tests: an I/O request is a panic.
    #[cfg(test)]
    pub(crate) fn verify_now(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        match self.verify(token, UnixTime::from_secs(now), Progress::default()) {
            Ok(Verification::Verified(principal)) => Ok(principal),
            Ok(other) => panic!("the verifier asked for I/O: {other:?}"),
            Err(Error::Unauthenticated(error)) => Err(error),
            Err(other) => panic!("not an authentication error: {other:?}"),
        }
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("generation", &self.generation.get())
            .field("jwks_url", &self.from_url.as_ref().map(|u| u.source.url()))
            .field("caller_signatures", &self.caller_signatures)
            .finish_non_exhaustive()
    }
}
