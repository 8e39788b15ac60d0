//! [`Verifier`]: a bearer token in, a [`Principal`] out.

use super::bearer::bearer_token;
use super::claims::ClaimRules;
use super::keys::KeySet;
use super::AuthError;
use crate::pipeline::TokenVerifier;
use crate::{Error, Principal};
use jwt_compact::UntrustedToken;

/// Verifies tokens with a [`KeySet`] and checks their claims with [`ClaimRules`].
pub struct Verifier {
    keys: KeySet,
    rules: ClaimRules,
    max_token_bytes: usize,
}

impl Verifier {
    /// A verifier; tokens longer than `max_token_bytes` are refused unparsed.
    pub fn new(keys: KeySet, rules: ClaimRules, max_token_bytes: usize) -> Self {
        Self {
            keys,
            rules,
            max_token_bytes,
        }
    }

    /// Verifies a compact JWS at `now` (seconds since the epoch): size, parse, key by `kid`,
    /// the key's own algorithm, signature, then claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        if token.len() > self.max_token_bytes {
            return Err(AuthError::TooLarge {
                max: self.max_token_bytes,
            });
        }
        let untrusted = UntrustedToken::new(token).map_err(|_| AuthError::Malformed)?;
        let token = self.keys.validate(&untrusted)?;
        self.rules.principal(token.claims(), now)
    }
}

impl TokenVerifier for Verifier {
    async fn verify_bearer(&self, authorization: &str, now: i64) -> Result<Principal, Error> {
        let token = bearer_token(authorization, self.max_token_bytes)?;
        Ok(self.verify(token, now)?)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::Unauthenticated(e)
    }
}
