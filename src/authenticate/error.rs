//! Why a request is not authenticated. Every variant is a 401; none carries the token or a key.

use std::fmt;

/// Why a bearer token was refused. Maps to 401 with a `WWW-Authenticate: Bearer` challenge in
/// [`crate::Error::to_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No token where one is required.
    Missing,
    /// The `Authorization` header is not `Bearer <token>`, or the token is not a compact JWS
    /// (three base64url parts with a JSON header and claims).
    Malformed,
    /// The token is longer than the configured cap.
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The header's `alg` is not one the selected key allows (including `none`).
    AlgorithmNotAllowed,
    /// No configured key matches the header's `kid` (or, without a `kid`, no key fits).
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past, beyond the leeway.
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    NotYetValid,
    /// A claim the configuration requires (such as `exp`) is absent.
    MissingClaim(&'static str),
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not include the configured audience.
    WrongAudience,
    /// A claim has the wrong type, or the tenant claim is not a valid tenant id.
    InvalidClaim(&'static str),
}

impl AuthError {
    /// The RFC 6750 `error` attribute of the challenge: none when no token was sent.
    pub fn challenge_error(&self) -> Option<&'static str> {
        match self {
            Self::Missing => None,
            _ => Some("invalid_token"),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("a bearer token is required"),
            Self::Malformed => f.write_str("the bearer token is malformed"),
            Self::TooLarge { max } => write!(f, "the bearer token is longer than {max} bytes"),
            Self::AlgorithmNotAllowed => f.write_str("the token's algorithm is not allowed"),
            Self::UnknownKey => f.write_str("the token was signed with an unknown key"),
            Self::BadSignature => f.write_str("the token's signature is invalid"),
            Self::Expired => f.write_str("the token has expired"),
            Self::NotYetValid => f.write_str("the token is not valid yet"),
            Self::MissingClaim(claim) => write!(f, "the token lacks the {claim} claim"),
            Self::WrongIssuer => f.write_str("the token's issuer is not accepted"),
            Self::WrongAudience => f.write_str("the token is not meant for this audience"),
            Self::InvalidClaim(claim) => write!(f, "the token's {claim} claim is invalid"),
        }
    }
}

impl std::error::Error for AuthError {}
