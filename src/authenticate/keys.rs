//! [`KeySet`]: the keys tokens are verified with, each tied to the one algorithm it allows.
//!
//! A token never chooses its algorithm: the header's `kid` picks a key, and the header's `alg`
//! must then be that key's algorithm. So `alg: none`, or an HS256 token signed with an RSA
//! public key as its secret, finds nothing to verify with.

use jwt_compact::alg::{Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Token, ValidationError};

use super::external::{CheckedElsewhere, Verdict};
use super::key_error::{KeyError, MIN_RSA_BITS};
use super::rust_crypto::{LocalKey, IN_PROCESS};
use super::token::{CustomClaims, HeaderExtensions, Untrusted};
use super::AuthError;

/// The smallest HMAC secret accepted: as long as the hash (RFC 7518 §3.2).
const MIN_HMAC_BYTES: [usize; 3] = [32, 48, 64];

/// A verifying key and its one algorithm.
enum Verifying {
    Hs256(Hs256Key),
    Hs384(Hs384Key),
    Hs512(Hs512Key),
    /// A public key: its algorithm (`ES256`, `EdDSA`, `RS256`), its JWK with the public members
    /// only (what a caller that checks signatures itself imports), and where signatures are
    /// checked in process ([`IN_PROCESS`]) the key jwt-compact checks with.
    Public {
        alg: &'static str,
        jwk: serde_json::Value,
        local: Option<LocalKey>,
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
    /// The caller, over `signing_input` (the token's text before its last `.`), of a signature
    /// `signature_len` bytes long; with its verdict and the place in this set of the key it
    /// checked with, when it has given one (the token may then have been parsed without its
    /// signature's bytes).
    Caller {
        signing_input: &'a str,
        signature_len: usize,
        verdict: Option<(usize, bool)>,
    },
}

/// A token that passed [`KeySet::validate`], or the check its signature still needs.
// Returned and matched at once, never stored: boxing the token would only add an allocation to
// every verification.
#[allow(clippy::large_enum_variant)]
pub(super) enum Validation {
    /// Signature and algorithm hold; the claims can be read.
    Valid(Token<CustomClaims, HeaderExtensions>),
    /// The caller must check the signature with the key at this place, for this algorithm.
    NeedsCheck { index: usize, alg: &'static str },
}

/// The keys and secrets from configuration, kept so that every key set fetched from a JWKS URL
/// can be joined to them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ConfiguredKeys {
    /// HMAC secrets: the secret, its algorithm and its `kid`.
    pub secrets: Vec<(String, String, Option<String>)>,
    /// Public JWKs.
    pub jwks: Vec<serde_json::Value>,
}

impl ConfiguredKeys {
    /// The configured keys, and those of a fetched JWKS `fetched`.
    pub fn key_set(&self, fetched: Option<&serde_json::Value>) -> Result<KeySet, KeyError> {
        let mut keys = KeySet::new();
        for (secret, alg, kid) in &self.secrets {
            keys.add_secret(secret.as_bytes(), alg, kid.clone())?;
        }
        for jwk in &self.jwks {
            keys.add_jwk(jwk)?;
        }
        if let Some(jwks) = fetched {
            keys.add_jwks(jwks)?;
        }
        Ok(keys)
    }
}

/// The keys a [`super::Verifier`] accepts.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

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
        // Inserted one by one: collecting into the map would link a sort into the wasm for this.
        let mut public_jwk = serde_json::Map::new();
        for &member in members {
            public_jwk.insert(
                member.to_owned(),
                jwk.get(member).cloned().unwrap_or_default(),
            );
        }
        let verifying = Verifying::Public {
            alg,
            jwk: serde_json::Value::Object(public_jwk),
            local: match IN_PROCESS {
                true => Some(LocalKey::new(alg, &parsed)?),
                false => None,
            },
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

    /// The public JWK (`kty` and its public members) of the key at place `key`, if it is a
    /// public key.
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
    /// the answer is [`Validation::NeedsCheck`]; with one, jwt-compact validates the token
    /// against that verdict (see [`super::external`]).
    pub(super) fn validate(
        &self,
        token: &Untrusted<'_>,
        signatures: Signatures<'_>,
    ) -> Result<Validation, AuthError> {
        let (index, key) = self.select(token.header().key_id.as_deref())?;
        let alg = key.verifying.alg();
        if token.algorithm() != alg {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let result = match (&key.verifying, signatures) {
            (Verifying::Hs256(k), _) => Hs256.validator(k).validate(token),
            (Verifying::Hs384(k), _) => Hs384.validator(k).validate(token),
            (Verifying::Hs512(k), _) => Hs512.validator(k).validate(token),
            (
                Verifying::Public {
                    local: Some(local), ..
                },
                Signatures::InProcess,
            ) => local.validate(token),
            (Verifying::Public { .. }, signatures) => {
                // Without a backend there is nothing to check with in process: the caller is
                // always asked.
                let (signing_input, signature_len, verdict) = match signatures {
                    Signatures::Caller {
                        signing_input,
                        signature_len,
                        verdict,
                    } => (signing_input, signature_len, verdict),
                    Signatures::InProcess => ("", token.signature_bytes().len(), None),
                };
                // A signature of the wrong size is refused here, as jwt-compact's own backends do,
                // rather than handed to the caller.
                if alg != "RS256" && signature_len != 64 {
                    return Err(AuthError::BadSignature);
                }
                // A verdict reached with another key than this token's is no verdict.
                let Some((_, valid)) = verdict.filter(|&(checked_with, _)| checked_with == index)
                else {
                    return Ok(Validation::NeedsCheck { index, alg });
                };
                let verdict = Verdict {
                    signing_input: signing_input.as_bytes().to_vec(),
                    signature: token.signature_bytes().to_vec(),
                    valid,
                };
                CheckedElsewhere(alg).validator(&verdict).validate(token)
            }
        };
        result.map(Validation::Valid).map_err(|e| match e {
            ValidationError::AlgorithmMismatch { .. } => AuthError::AlgorithmNotAllowed,
            ValidationError::MalformedClaims(_) => AuthError::Malformed,
            _ => AuthError::BadSignature,
        })
    }
}
