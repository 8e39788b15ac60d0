//! Asymmetric signatures checked by the caller rather than in this crate.
//!
//! In a Workers isolate, pure-Rust Ed25519, P-256 and RSA in wasm are several times slower than
//! the runtime's native WebCrypto. So a [`Verifier`](super::Verifier) can be told to leave those
//! checks to its caller: for a token signed by a public key, with no verdict yet, it answers
//! [`AuthError::SignatureCheckNeeded`] with a [`SignatureCheck`] saying which key and algorithm
//! to use. The caller checks the signature (`crypto.subtle.verify`) over the token's signing
//! input, and hands the verdict back with
//! [`Verifier::provide_verdict`](super::Verifier::provide_verdict).
//!
//! The claims still come out only through jwt-compact's validator: [`Verdict`] is the verifying
//! key of a small jwt-compact algorithm, [`CheckedElsewhere`], which accepts a signature only
//! when the verdict is positive and was given for exactly this token's signing input and
//! signature bytes.
//!
//! [`AuthError::SignatureCheckNeeded`]: super::AuthError::SignatureCheckNeeded

use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;

/// What the caller must check: the token's signature over its signing input (the text before
/// the last `.`), with key number `key` (see
/// [`Verifier::public_jwk`](super::Verifier::public_jwk)) and algorithm `alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key's number in the verifier's key set.
    pub key: usize,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: &'static str,
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
