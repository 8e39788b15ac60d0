//! Stage 2, authenticate: who is calling, from a verified bearer token.
//!
//! [`Verifier::verify`] takes the token from `Authorization: Bearer …` ([`bearer_token`]), caps
//! its size, parses it with jwt-compact, picks the key by `kid` from a [`KeySet`] in which each
//! key allows exactly one algorithm, checks the signature, and only then reads the claims:
//! `exp`/`nbf` with leeway against the caller's `now`, `iss`, `aud`, and the tenant, scopes and
//! attach list of the [`Principal`](crate::Principal) ([`ClaimRules`]). Verified tokens are
//! remembered per isolate (bounded, time checks re-run on every use), so a repeated token costs
//! no signature check.

mod bearer;
mod cache;
mod claims;
mod config;
mod error;
mod jwks;
mod keys;
mod verifier;

#[cfg(test)]
mod tests;

pub use bearer::{bearer_token, DEFAULT_MAX_TOKEN_BYTES};
pub use claims::{ClaimPath, ClaimRules};
pub use config::{AuthConfig, SecretConfig};
pub use error::AuthError;
pub use jwks::{FetchJwks, JwksVerifier, RefreshPolicy};
pub use keys::{KeyError, KeySet};
pub use verifier::{Verifier, DEFAULT_CACHE_TOKENS};
