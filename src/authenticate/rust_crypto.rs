//! Public-key signatures checked in this crate with jwt-compact's pure-Rust backends, one cargo
//! feature per algorithm (`eddsa`, `es256`, `rs256`; `rust-crypto`, on by default, is all three):
//! for native code and Rust workers. The npm package compiles none of them and has WebCrypto
//! check signatures instead (see [`super::external`]), which keeps several hundred kilobytes of
//! elliptic-curve and RSA code out of its wasm.

use super::key_error::KeyError;
use super::token::{CustomClaims, HeaderExtensions, Untrusted};
#[cfg(any(feature = "eddsa", feature = "es256", feature = "rs256"))]
use jwt_compact::AlgorithmExt;
use jwt_compact::{Token, ValidationError};

/// Whether public-key signatures are checked here rather than by the caller: with any backend
/// compiled in, or on workers-rs, which has no caller to ask (there a key whose backend is not
/// compiled in is refused, naming its feature).
pub(super) const IN_PROCESS: bool = cfg!(any(
    feature = "eddsa",
    feature = "es256",
    feature = "rs256",
    feature = "workers"
));

/// A public key jwt-compact verifies with.
pub(super) enum LocalKey {
    #[cfg(feature = "es256")]
    Es256(Box<<jwt_compact::alg::Es256 as jwt_compact::Algorithm>::VerifyingKey>),
    #[cfg(feature = "eddsa")]
    EdDsa(Box<<jwt_compact::alg::Ed25519 as jwt_compact::Algorithm>::VerifyingKey>),
    #[cfg(feature = "rs256")]
    Rs256(Box<jwt_compact::alg::RsaPublicKey>),
}

impl LocalKey {
    /// The key for `alg` from a JWK already checked for type, curve and size. Key material that
    /// is not a valid public key (a point off the curve) is refused, and so is an algorithm whose
    /// backend is not compiled in ([`KeyError::NotCompiled`]).
    pub fn new(
        alg: &'static str,
        jwk: &jwt_compact::jwk::JsonWebKey<'_>,
    ) -> Result<Self, KeyError> {
        let _ = jwk; // unread when no backend is compiled in
        match alg {
            #[cfg(feature = "rs256")]
            "RS256" => Ok(Self::Rs256(Box::new(
                jwt_compact::alg::RsaPublicKey::try_from(jwk).map_err(|_| KeyError::InvalidKey)?,
            ))),
            #[cfg(feature = "es256")]
            "ES256" => {
                let jwt_compact::jwk::JsonWebKey::EllipticCurve { x, y, .. } = jwk else {
                    return Err(KeyError::UnsupportedAlgorithm);
                };
                let sec1 = [&[4u8][..], x, y].concat();
                let key =
                    jwt_compact::alg::VerifyingKey::<jwt_compact::alg::Es256>::from_slice(&sec1)
                        .map_err(|_| KeyError::InvalidKey)?;
                Ok(Self::Es256(Box::new(key)))
            }
            #[cfg(feature = "eddsa")]
            "EdDSA" => Ok(Self::EdDsa(Box::new(
                <jwt_compact::alg::Ed25519 as jwt_compact::Algorithm>::VerifyingKey::try_from(jwk)
                    .map_err(|_| KeyError::InvalidKey)?,
            ))),
            _ => Err(not_compiled(alg)),
        }
    }

    /// Checks `token`'s signature and hands out its claims if it holds.
    pub fn validate(
        &self,
        token: &Untrusted<'_>,
    ) -> Result<Token<CustomClaims, HeaderExtensions>, ValidationError> {
        let _ = token; // unread when no backend is compiled in
        match *self {
            #[cfg(feature = "es256")]
            Self::Es256(ref k) => jwt_compact::alg::Es256
                .validator(k.as_ref())
                .validate(token),
            #[cfg(feature = "eddsa")]
            Self::EdDsa(ref k) => jwt_compact::alg::Ed25519
                .validator(k.as_ref())
                .validate(token),
            #[cfg(feature = "rs256")]
            Self::Rs256(ref k) => jwt_compact::alg::Rsa::rs256()
                .validator(k.as_ref())
                .validate(token),
        }
    }
}

/// Why a public key of `alg` has no backend here: the feature that has one.
fn not_compiled(alg: &'static str) -> KeyError {
    let feature = match alg {
        "RS256" => "rs256",
        "ES256" => "es256",
        "EdDSA" => "eddsa",
        _ => return KeyError::UnsupportedAlgorithm,
    };
    KeyError::NotCompiled { alg, feature }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_without_its_backend_names_the_feature() {
        for (alg, feature) in [("RS256", "rs256"), ("ES256", "es256"), ("EdDSA", "eddsa")] {
            let error = not_compiled(alg);
            assert_eq!(error, KeyError::NotCompiled { alg, feature });
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid key: {alg} keys need edge-tenancy's `{feature}` cargo feature, \
                     which is not enabled"
                )
            );
        }
        assert_eq!(not_compiled("PS256"), KeyError::UnsupportedAlgorithm);
    }
}
