//! The bearer token: out of an `Authorization` header (RFC 6750), under a size cap, into
//! jwt-compact's [`UntrustedToken`] — whose claims cannot be read until a key validates it.

use super::AuthError;
use jwt_compact::UntrustedToken;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The longest token accepted by default. Real access tokens are a few hundred bytes to a few
/// KiB; the cap is checked before any parsing, so a 1 MB header costs nothing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// `Bearer` and the one space after it, in any case.
const SCHEME: &str = "bearer ";

/// RFC 6750's b64token characters, by byte value: anything else (a space, a comma, a control
/// character) means the header holds no single token. A table, as every byte of every new token
/// is looked up.
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < table.len() {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=');
        byte += 1;
    }
    table
};

/// The token in `Bearer <token>` (scheme in any case, one space). Workers fold a repeated
/// `Authorization` header into `a, b`, which is not a token and so is refused here too.
pub fn bearer_token(authorization: &str, max_bytes: usize) -> Result<&str, AuthError> {
    let (scheme, token) = authorization
        .split_at_checked(SCHEME.len())
        .ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(AuthError::Malformed);
    }
    check_size(token, max_bytes)?;
    if token.is_empty() || !token.bytes().all(|b| TOKEN_CHARS[usize::from(b)]) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// Refuses a token over the cap, before anything else looks at it.
pub(super) fn check_size(token: &str, max_bytes: usize) -> Result<(), AuthError> {
    if token.len() > max_bytes {
        return Err(AuthError::TooLarge { max: max_bytes });
    }
    Ok(())
}

/// The header parameters jwt-compact leaves to us. Only `crit` matters: RFC 7515 §4.1.11 makes a
/// token that lists critical extensions invalid for a recipient that understands none of them.
/// Everything else (`jku`, `x5u`, an embedded `jwk`) is ignored: keys come from configuration,
/// never from the token.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct HeaderExtensions {
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Custom claims, kept as JSON so any claim layout can be read.
pub(super) type CustomClaims = serde_json::Map<String, serde_json::Value>;

/// A parsed but unverified token.
pub(super) type Untrusted<'a> = UntrustedToken<'a, HeaderExtensions>;

/// Parses a compact JWS: three base64url parts, a JSON header with `alg` and no `crit`. Any
/// failure is [`AuthError::Malformed`]; the parser's own error, which may quote the input, is
/// dropped.
pub(super) fn parse(token: &str) -> Result<Untrusted<'_>, AuthError> {
    let untrusted = Untrusted::try_from(token).map_err(|_| AuthError::Malformed)?;
    if untrusted.header().other_fields.crit.is_some() {
        return Err(AuthError::Malformed);
    }
    Ok(untrusted)
}

/// The length of the signature a token's last segment holds, found without decoding it: for a
/// signature the caller has already checked, only the segment's form matters here. Exactly the
/// segments jwt-compact's decoder (unpadded base64url) takes pass: the alphabet only, no padding,
/// no dangling character, no bits set past the last byte.
pub(super) fn signature_len(segment: &str) -> Result<usize, AuthError> {
    let sextet = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let mut last = 0;
    for &b in segment.as_bytes() {
        last = sextet(b).ok_or(AuthError::Malformed)?;
    }
    // A last group of 2 or 3 characters carries 1 or 2 bytes; its unused low bits are zero.
    let (tail_bytes, unused_bits) = match segment.len() % 4 {
        0 => (0, 0),
        2 => (1, 0b1111),
        3 => (2, 0b11),
        _ => return Err(AuthError::Malformed),
    };
    if last & unused_bits != 0 {
        return Err(AuthError::Malformed);
    }
    Ok(segment.len() / 4 * 3 + tail_bytes)
}

/// Parses the token without its signature, which is not decoded: only its form and length are
/// checked ([`signature_len`]). For a token whose signature the caller has already checked.
/// Returns the token, with no signature bytes, and the length its signature has.
pub(super) fn parse_unsigned(token: &str) -> Result<(Untrusted<'_>, usize), AuthError> {
    let dot = token.rfind('.').ok_or(AuthError::Malformed)?;
    let len = signature_len(&token[dot + 1..])?;
    Ok((parse(&token[..=dot])?, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn takes_exactly_one_bearer_token() {
        let taken = [
            ("Bearer abc.def.ghi", "abc.def.ghi"),
            ("bearer abc", "abc"),
            ("BEARER abc", "abc"),
            ("bEaReR a-b_c.d~e+f/g==", "a-b_c.d~e+f/g=="),
        ];
        for (header, token) in taken {
            assert_eq!(bearer_token(header, 100), Ok(token), "{header:?}");
        }
        let refused = [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  abc",
            "Bearer\tabc",
            "Bearer abc ",
            " Bearer abc",
            "Basic abc",
            "Basic dXNlcjpwYXNz",
            "Bearerabc",
            "Bearer a b",
            "Bearer a.b.c, Bearer d.e.f",
            "Bearer a.b.c,Bearer d.e.f",
            "Bearer a\0b",
            "Bearer a\r\nX-Injected: 1",
            "Bearer ü",
            "Beareü abc",
            "Token abc",
            "DPoP abc",
        ];
        for header in refused {
            assert_eq!(
                bearer_token(header, 100),
                Err(AuthError::Malformed),
                "{header:?}"
            );
        }
        let at_cap = format!("Bearer {}", "a".repeat(100));
        assert_eq!(bearer_token(&at_cap, 100).map(str::len), Ok(100));
        for huge in [
            format!("Bearer {}", "a".repeat(101)),
            format!("Bearer {}", " ".repeat(1 << 20)),
        ] {
            assert_eq!(
                bearer_token(&huge, 100),
                Err(AuthError::TooLarge { max: 100 })
            );
        }
    }

    #[test]
    fn critical_extensions_are_refused_and_key_urls_ignored() {
        use jwt_compact::alg::{Hs256, Hs256Key};
        use jwt_compact::{AlgorithmExt, Claims, Header};
        use serde_json::{json, Map, Value};

        let key = Hs256Key::new([7u8; 32]);
        let sign = |extensions: Value| {
            let header = Header::new(extensions).with_key_id("k");
            Hs256
                .token(&header, &Claims::new(Map::new()), &key)
                .unwrap()
        };
        for extensions in [
            json!({"crit": ["b64"], "b64": false}),
            json!({"crit": []}),
            json!({"crit": "exp"}),
        ] {
            let token = sign(extensions.clone());
            assert!(
                matches!(parse(&token), Err(AuthError::Malformed)),
                "{extensions}"
            );
        }
        let token = sign(json!({"jku": "https://evil.example/jwks", "jwk": {"kty": "oct"}}));
        let untrusted = parse(&token).unwrap();
        assert_eq!(untrusted.algorithm(), "HS256");
        assert_eq!(untrusted.header().key_id.as_deref(), Some("k"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any header value: no panic, and a token comes back only as the exact suffix of a
        /// `Bearer ` header, within the cap.
        #[test]
        fn bearer_token_is_total(header in "(?i:bearer )?\\PC{0,120}", max in 0usize..150) {
            if let Ok(token) = bearer_token(&header, max) {
                prop_assert!(header[..7].eq_ignore_ascii_case("bearer "));
                prop_assert_eq!(&header[7..], token);
                prop_assert!(!token.is_empty() && token.len() <= max);
            }
        }

        /// A token parsed without its signature is refused exactly when the whole token is,
        /// and its signature's length is the decoded one.
        #[test]
        fn parse_unsigned_takes_what_parse_takes(
            segment in "[A-Za-z0-9_=+/-]{0,12}|\\PC{0,8}",
            padded in any::<bool>(),
        ) {
            // A real header and claims, so only the signature segment decides.
            let head = "eyJhbGciOiJFZERTQSJ9.e30";
            let segment = if padded { format!("{segment}=") } else { segment };
            let token = format!("{head}.{segment}");
            let whole = parse(&token).map(|t| t.signature_bytes().len());
            let unsigned = parse_unsigned(&token).map(|(t, len)| {
                assert!(t.signature_bytes().is_empty());
                len
            });
            prop_assert_eq!(whole.ok(), unsigned.ok(), "{:?}", token);
        }

        /// Any text parses or is refused without a panic.
        #[test]
        fn parse_is_total(token in "[A-Za-z0-9_=.-]{0,120}|\\PC{0,120}") {
            let _ = parse(&token);
            let _ = parse_unsigned(&token);
        }
    }
}
