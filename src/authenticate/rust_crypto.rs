//! Public-key signatures checked in this crate with jwt-compact's pure-Rust backends (feature
//! `rust-crypto`, on by default): for native code and Rust workers. The npm package leaves the
//! feature off and has WebCrypto check them instead (see [`super::external`]), which keeps
//! several hundred kilobytes of elliptic-curve and RSA code out of its wasm.

use super::key_error::KeyError;
use super::token::{CustomClaims, HeaderExtensions, Untrusted};
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Token, ValidationError};

/// A public key jwt-compact verifies with.
pub(super) enum LocalKey {
    Es256(Box<<Es256 as jwt_compact::Algorithm>::VerifyingKey>),
    EdDsa(Box<<Ed25519 as jwt_compact::Algorithm>::VerifyingKey>),
    Rs256(Box<RsaPublicKey>),
}

impl LocalKey {
    /// The key for `alg` from a JWK already checked for type, curve and size. Key material that
    /// is not a valid public key (a point off the curve) is refused.
    pub fn new(alg: &str, jwk: &JsonWebKey<'_>) -> Result<Self, KeyError> {
        Ok(match (alg, jwk) {
            ("RS256", _) => Self::Rs256(Box::new(
                RsaPublicKey::try_from(jwk).map_err(|_| KeyError::InvalidKey)?,
            )),
            ("ES256", JsonWebKey::EllipticCurve { x, y, .. }) => {
                let sec1 = [&[4u8][..], x, y].concat();
                let key = jwt_compact::alg::VerifyingKey::<Es256>::from_slice(&sec1)
                    .map_err(|_| KeyError::InvalidKey)?;
                Self::Es256(Box::new(key))
            }
            ("EdDSA", _) => Self::EdDsa(Box::new(
                <Ed25519 as jwt_compact::Algorithm>::VerifyingKey::try_from(jwk)
                    .map_err(|_| KeyError::InvalidKey)?,
            )),
            _ => return Err(KeyError::UnsupportedAlgorithm),
        })
    }

    /// Checks `token`'s signature and hands out its claims if it holds.
    pub fn validate(
        &self,
        token: &Untrusted<'_>,
    ) -> Result<Token<CustomClaims, HeaderExtensions>, ValidationError> {
        match self {
            Self::Es256(k) => Es256.validator(k.as_ref()).validate(token),
            Self::EdDsa(k) => Ed25519.validator(k.as_ref()).validate(token),
            Self::Rs256(k) => Rsa::rs256().validator(k.as_ref()).validate(token),
        }
    }
}
