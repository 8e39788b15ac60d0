//! Asymmetric signatures checked by the caller rather than in this crate.
//!
//! In a Workers isolate, pure-Rust Ed25519, P-256 and RSA in wasm are several times slower than
//! the runtime's native WebCrypto. So a [`Verifier`](super::Verifier) can be told to leave those
//! checks to its caller: for a token signed by a public key, with no verdict yet, it answers
//! a [`SignatureCheck`] saying which key and algorithm to use (the pipeline's
//! [`Io::CheckSignature`](crate::pipeline::Io::CheckSignature) request). The caller checks the
//! signature (`crypto.subtle.verify`) over the token's signing input, and resumes the pipeline
//! with its verdict.
//!
//! The claims still come out only through jwt-compact's validator: [`Verdict`] is the verifying
//! key of a small jwt-compact algorithm, [`CheckedElsewhere`], which accepts a signature only
//! when the verdict is positive and was given for exactly this token's signing input and
//! signature bytes.
//!
//! A key is named by a [`KeyRef`]: its key set's generation and its place in that set. Keys from
//! a JWKS URL are replaced on refresh, and a verdict reached with a key of another generation
//! names a key that is gone, so it is discarded and the check asked again.

use jwt_compact::{Algorithm, AlgorithmSignature};
use serde::Serialize;
use std::borrow::Cow;

/// One key of one key set: the set's generation (a new one for every set of keys installed
/// from a JWKS URL) and the key's place in it. A key of an older generation is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct KeyRef {
    /// The key set's generation.
    pub generation: u32,
    /// The key's place in that set.
    pub index: usize,
}

/// What the caller must check: `signature` over `signing_input` (the token's text before its
/// last `.`), with key `key` (its JWK from
/// [`Verifier::public_jwk`](super::Verifier::public_jwk)) and algorithm `alg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key to check with.
    pub key: KeyRef,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: &'static str,
    /// The bytes that were signed.
    pub signing_input: String,
    /// The signature, decoded.
    pub signature: Vec<u8>,
}

/// The caller's verdict, bound to the bytes it was reached on.
pub(super) struct Verdict {
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
    pub valid: bool,
}

/// A jwt-compact algorithm named like the real one (`EdDSA`, …) whose check is a [`Verdict`].
pub(super) struct CheckedElsewhere(pub &'static str);

/// A signature's bytes as the token carries them.
pub(super) struct RawSignature(Vec<u8>);

impl AlgorithmSignature for RawSignature {
    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(Self(slice.to_vec()))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

/// Nothing: this algorithm only verifies.
pub(super) enum NoSigningKey {}

impl Algorithm for CheckedElsewhere {
    type SigningKey = NoSigningKey;
    type VerifyingKey = Verdict;
    type Signature = RawSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }

    fn sign(&self, key: &NoSigningKey, _: &[u8]) -> RawSignature {
        match *key {}
    }

    fn verify_signature(
        &self,
        signature: &RawSignature,
        verdict: &Verdict,
        message: &[u8],
    ) -> bool {
        verdict.valid && verdict.signing_input == message && verdict.signature == signature.0
    }
}
