//! [`KeyError`]: why a configured key cannot be used.

use std::fmt;

/// The smallest RSA modulus accepted (RFC 7518 §3.3).
pub(super) const MIN_RSA_BITS: usize = 2048;

/// A key that cannot be used, found at configuration time (never per request). No variant
/// carries key material, so the message is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a JWK (a required member missing or of the wrong type, bad base64url), or a JWKS
    /// whose `keys` is not an array.
    NotAJwk,
    /// A `kty` other than `oct`, `RSA`, `EC` and `OKP`.
    UnsupportedKeyType,
    /// An EC curve other than P-256, or an OKP curve other than Ed25519.
    UnsupportedCurve,
    /// An algorithm the key cannot have: not HS256/384/512 for a secret, or not the one its
    /// type implies (RS256, ES256, EdDSA) for a public key.
    UnsupportedAlgorithm,
    /// An `oct` JWK without `alg`: a secret's algorithm is never guessed.
    MissingAlgorithm,
    /// The JWK carries private key material (`d`); configure the public key only.
    PrivateKey,
    /// An HMAC secret shorter than the hash, which could be brute-forced from one token.
    WeakSecret {
        /// The fewest bytes the algorithm takes.
        min_bytes: usize,
    },
    /// An RSA modulus shorter than 2048 bits.
    WeakRsaKey,
    /// Key material that is not a valid public key (say, a point off the curve).
    InvalidKey,
    /// Two keys share a `kid`, so a token could not say which one it means.
    DuplicateKid,
    /// A public key whose algorithm's backend is not compiled in: the cargo feature it needs.
    NotCompiled {
        /// The key's algorithm.
        alg: &'static str,
        /// edge-tenancy's cargo feature that checks it.
        feature: &'static str,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid key: ")?;
        match self {
            Self::NotAJwk => f.write_str("not a JWK or JWKS"),
            Self::UnsupportedKeyType => f.write_str("kty is oct, RSA, EC or OKP"),
            Self::UnsupportedCurve => f.write_str("EC keys must be P-256 and OKP keys Ed25519"),
            Self::UnsupportedAlgorithm => f.write_str(
                "alg is HS256, HS384 or HS512 for a secret, RS256 for RSA, ES256 for EC, EdDSA for OKP",
            ),
            Self::MissingAlgorithm => f.write_str("an oct key needs an alg"),
            Self::PrivateKey => {
                f.write_str("a private key was given; configure the public key only")
            }
            Self::WeakSecret { min_bytes } => {
                write!(f, "the secret needs at least {min_bytes} bytes")
            }
            Self::WeakRsaKey => write!(f, "RSA keys need at least {MIN_RSA_BITS} bits"),
            Self::InvalidKey => f.write_str("the key material is not a valid public key"),
            Self::DuplicateKid => f.write_str("two keys share a kid"),
            Self::NotCompiled { alg, feature } => write!(
                f,
                "{alg} keys need edge-tenancy's `{feature}` cargo feature, which is not enabled"
            ),
        }
    }
}

impl std::error::Error for KeyError {}
