//! Stage 1, authenticate: who is calling, from a verified bearer token.
//!
//! The stage is sans-I/O: it reads no clock (`now` is always an argument) and fetches nothing.
//! When it needs keys from a JWKS URL or a signature checked by its caller, it says so, and the
//! [pipeline](crate::pipeline) asks its edge.
//!
//! - [`bearer_token`] takes the token out of `Authorization: Bearer …`, capped in size before
//!   anything parses it.
//! - [`KeySet`] holds the keys (JWK, JWKS, HMAC secrets), each allowing exactly one algorithm;
//!   a token's `kid` picks the key and its `alg` must be that key's, so a token never chooses
//!   how it is checked. Unusable keys are a [`KeyError`] at configuration time.
//! - [`Verifier`] parses the token with jwt-compact, checks the signature, and only then
//!   reads the claims — jwt-compact hands them out only inside a validated token — against
//!   [`ClaimRules`]: `exp`/`nbf` with leeway, `iss`, `aud`, and the tenant ([`ClaimPath`]),
//!   scopes and attach list of the [`Principal`](crate::Principal). Verified tokens are
//!   remembered per isolate (bounded, time checks re-run on every use), so a repeated token
//!   costs no signature check. Public-key signatures can be left to the caller
//!   ([`Verifier::with_caller_signatures`], [`SignatureCheck`]): on Workers the runtime's
//!   WebCrypto checks them several times faster than Rust in wasm. Keys are named by
//!   [`KeyRef`] (key set generation and place), so a verdict never crosses a key rotation.
//! - [`AuthConfig`] builds a verifier from plain configuration. Keys from a JWKS URL are kept
//!   fresh by a [`RefreshPolicy`]: the verifier says when they are due ([`JwksFetch`]), and the
//!   pipeline's edge fetches them.

mod cache;
mod claims;
mod config;
mod error;
mod external;
mod jwks;
mod key_error;
mod keys;
mod rust_crypto;
mod token;
mod verifier;

#[cfg(test)]
pub(crate) mod tests;

pub use claims::{ClaimPath, ClaimRules};
pub use config::{AuthConfig, SecretConfig};
pub use error::AuthError;
pub use external::{KeyRef, SignatureCheck};
pub use jwks::{FetchId, JwksFetch, RefreshPolicy, DEFAULT_MAX_STALE_SECS, MAX_JWKS_BYTES};
pub use key_error::KeyError;
pub use keys::KeySet;
pub use token::{bearer_token, DEFAULT_MAX_TOKEN_BYTES};
pub(crate) use verifier::{Progress, Verification};
pub use verifier::{Verifier, DEFAULT_CACHE_TOKENS};
