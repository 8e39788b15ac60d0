//! [`KeySet`]: the keys tokens are verified with, each tied to the one algorithm it allows.
//!
//! A token never chooses its algorithm: the header's `kid` picks a key, and the header's `alg`
//! must then be that key's algorithm. So `alg: none`, or an HS256 token signed with an RSA
//! public key as its secret, finds nothing to verify with.

use jwt_compact::alg::{Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Token, ValidationError};
use std::fmt;

use super::external::{CheckedElsewhere, SignatureCheck, Verdict};
#[cfg(feature = "rust-crypto")]
use super::rust_crypto::LocalKey;
use super::token::{HeaderExtensions, Untrusted};
use super::AuthError;

/// Custom claims, kept as JSON so any claim layout can be read.
pub(super) type CustomClaims = serde_json::Map<String, serde_json::Value>;

/// The smallest HMAC secret accepted: as long as the hash (RFC 7518 §3.2).
const MIN_HMAC_BYTES: [usize; 3] = [32, 48, 64];
/// The smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// A verifying key and its one algorithm.
enum Verifying {
    Hs256(Hs256Key),
    Hs384(Hs384Key),
    Hs512(Hs512Key),
    /// A public key: its algorithm (`ES256`, `EdDSA`, `RS256`), its JWK with the public members
    /// only (what a caller that checks signatures itself imports), and with `rust-crypto` the
    /// key jwt-compact checks with.
    Public {
        alg: &'static str,
        jwk: serde_json::Value,
        #[cfg(feature = "rust-crypto")]
        local: LocalKey,
    },
}

impl Verifying {
    /// The JWS `alg` this key allows.
    fn alg(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Hs384(_) => "HS384",
            Self::Hs512(_) => "HS512",
            Self::Public { alg, .. } => alg,
        }
    }
}

/// One key with its optional `kid`.
struct Key {
    kid: Option<String>,
    verifying: Verifying,
}

/// Who checks a public-key signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signatures<'a> {
    /// This crate, with jwt-compact's pure-Rust backends.
    InProcess,
    /// The caller, over `signing_input` (the token's text before its last `.`); with its
    /// verdict and the number of the key it checked with, when it has given one.
    Caller {
        signing_input: &'a str,
        verdict: Option<(usize, bool)>,
    },
}

/// The keys a [`super::Verifier`] accepts.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

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
        }
    }
}

impl std::error::Error for KeyError {}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an HMAC secret for `alg` (`HS256`, `HS384` or `HS512`). Secrets shorter than the
    /// hash are refused: they can be brute-forced from one token.
    pub fn add_secret(
        &mut self,
        secret: &[u8],
        alg: &str,
        kid: Option<String>,
    ) -> Result<(), KeyError> {
        let (verifying, min_bytes) = match alg {
            "HS256" => (Verifying::Hs256(Hs256Key::new(secret)), MIN_HMAC_BYTES[0]),
            "HS384" => (Verifying::Hs384(Hs384Key::new(secret)), MIN_HMAC_BYTES[1]),
            "HS512" => (Verifying::Hs512(Hs512Key::new(secret)), MIN_HMAC_BYTES[2]),
            _ => return Err(KeyError::UnsupportedAlgorithm),
        };
        if secret.len() < min_bytes {
            return Err(KeyError::WeakSecret { min_bytes });
        }
        self.push(kid, verifying)
    }

    /// Adds the public keys of a JWKS (`{"keys": [...]}`) or of a single JWK. Keys marked
    /// `"use": "enc"` are skipped; private keys are refused, so a secret never sits in config
    /// where a public key belongs.
    pub fn add_jwks(&mut self, json: &serde_json::Value) -> Result<(), KeyError> {
        match json.get("keys") {
            Some(serde_json::Value::Array(keys)) => keys.iter().try_for_each(|k| self.add_jwk(k)),
            Some(_) => Err(KeyError::NotAJwk),
            None => self.add_jwk(json),
        }
    }

    /// Adds one public JWK. Its algorithm is its `alg`, or the one its type implies
    /// (RSA → RS256, EC P-256 → ES256, OKP Ed25519 → EdDSA); an `oct` key needs an `alg`.
    pub fn add_jwk(&mut self, jwk: &serde_json::Value) -> Result<(), KeyError> {
        let field = |name: &str| jwk.get(name).and_then(|v| v.as_str());
        if field("use") == Some("enc") {
            return Ok(());
        }
        match field("kty") {
            Some("oct" | "RSA" | "EC" | "OKP") => {}
            Some(_) => return Err(KeyError::UnsupportedKeyType),
            None => return Err(KeyError::NotAJwk),
        }
        if jwk.get("d").is_some() {
            return Err(KeyError::PrivateKey);
        }
        let kid = field("kid").map(str::to_owned);
        let alg = field("alg");
        // The parser's error is dropped: it may quote the key.
        let parsed: JsonWebKey<'_> =
            serde_json::from_value(jwk.clone()).map_err(|_| KeyError::NotAJwk)?;
        let (alg, members): (&'static str, &[&str]) = match (&parsed, alg) {
            (JsonWebKey::Symmetric { secret }, Some(alg)) => {
                return self.add_secret(secret, alg, kid)
            }
            (JsonWebKey::Symmetric { .. }, None) => return Err(KeyError::MissingAlgorithm),
            (JsonWebKey::Rsa { modulus, .. }, None | Some("RS256")) => {
                let bits = modulus.iter().position(|&b| b != 0).map_or(0, |first| {
                    (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize
                });
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::WeakRsaKey);
                }
                ("RS256", &["kty", "n", "e"])
            }
            (JsonWebKey::EllipticCurve { curve, x, y, .. }, None | Some("ES256")) => {
                if curve != "P-256" {
                    return Err(KeyError::UnsupportedCurve);
                }
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::InvalidKey);
                }
                ("ES256", &["kty", "crv", "x", "y"])
            }
            (JsonWebKey::KeyPair { curve, x, .. }, None | Some("EdDSA")) => {
                if curve != "Ed25519" {
                    return Err(KeyError::UnsupportedCurve);
                }
                if x.len() != 32 {
                    return Err(KeyError::InvalidKey);
                }
                ("EdDSA", &["kty", "crv", "x"])
            }
            _ => return Err(KeyError::UnsupportedAlgorithm),
        };
        let public_jwk = members
            .iter()
            .map(|&m| (m.to_owned(), jwk.get(m).cloned().unwrap_or_default()))
            .collect();
        let verifying = Verifying::Public {
            alg,
            jwk: serde_json::Value::Object(public_jwk),
            #[cfg(feature = "rust-crypto")]
            local: LocalKey::new(alg, &parsed)?,
        };
        self.push(kid, verifying)
    }

    fn push(&mut self, kid: Option<String>, verifying: Verifying) -> Result<(), KeyError> {
        if kid.is_some() && self.keys.iter().any(|k| k.kid == kid) {
            return Err(KeyError::DuplicateKid);
        }
        self.keys.push(Key { kid, verifying });
        Ok(())
    }

    /// Key number `key`'s public JWK (`kty` and its public members), if it is a public key.
    pub fn public_jwk(&self, key: usize) -> Option<serde_json::Value> {
        match &self.keys.get(key)?.verifying {
            Verifying::Public { jwk, .. } => Some(jwk.clone()),
            _ => None,
        }
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token, with its number: by its `kid`, or the only key when it has none.
    fn select(&self, kid: Option<&str>) -> Result<(usize, &Key), AuthError> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .enumerate()
                .find(|(_, k)| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first().map(|k| (0, k)),
            None => None,
        }
        .ok_or(AuthError::UnknownKey)
    }

    /// Checks the token's algorithm and signature with the selected key. The claims come out
    /// only inside the validated [`Token`]: jwt-compact parses them before it checks the
    /// signature (so unparseable claims are [`AuthError::Malformed`], signed or not), but hands
    /// them out only when it passes.
    ///
    /// With [`Signatures::Caller`], a public-key signature is not checked here: without a verdict
    /// the answer is [`AuthError::SignatureCheckNeeded`]; with one, jwt-compact validates the
    /// token against that verdict (see [`super::external`]).
    pub(super) fn validate(
        &self,
        token: &Untrusted<'_>,
        signatures: Signatures<'_>,
    ) -> Result<Token<CustomClaims, HeaderExtensions>, AuthError> {
        let (index, key) = self.select(token.header().key_id.as_deref())?;
        let alg = key.verifying.alg();
        if token.algorithm() != alg {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let result = match (&key.verifying, signatures) {
            (Verifying::Hs256(k), _) => Hs256.validator(k).validate(token),
            (Verifying::Hs384(k), _) => Hs384.validator(k).validate(token),
            (Verifying::Hs512(k), _) => Hs512.validator(k).validate(token),
            #[cfg(feature = "rust-crypto")]
            (Verifying::Public { local, .. }, Signatures::InProcess) => local.validate(token),
            (Verifying::Public { .. }, signatures) => {
                // A signature of the wrong size is refused here, as jwt-compact's own backends do,
                // rather than handed to the caller.
                if alg != "RS256" && token.signature_bytes().len() != 64 {
                    return Err(AuthError::BadSignature);
                }
                // Without `rust-crypto` there is nothing to check with in process: the caller is
                // always asked.
                let (signing_input, verdict) = match signatures {
                    Signatures::Caller {
                        signing_input,
                        verdict,
                    } => (signing_input, verdict),
                    Signatures::InProcess => ("", None),
                };
                // A verdict reached with another key than this token's is no verdict.
                let Some((_, valid)) = verdict.filter(|&(checked_with, _)| checked_with == index)
                else {
                    return Err(AuthError::SignatureCheckNeeded(SignatureCheck {
                        key: index,
                        alg,
                    }));
                };
                let verdict = Verdict {
                    signing_input: signing_input.as_bytes().to_vec(),
                    signature: token.signature_bytes().to_vec(),
                    valid,
                };
                CheckedElsewhere(alg).validator(&verdict).validate(token)
            }
        };
        result.map_err(|e| match e {
            ValidationError::AlgorithmMismatch { .. } => AuthError::AlgorithmNotAllowed,
            ValidationError::MalformedClaims(_) => AuthError::Malformed,
            _ => AuthError::BadSignature,
        })
    }
}
