//! The bearer token in an `Authorization` header (RFC 6750).

use super::AuthError;

/// The longest token accepted by default. Real access tokens are a few hundred bytes to a few
/// KiB; the cap is checked before any parsing, so a 1 MB header costs nothing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The token in `Bearer <token>` (scheme in any case, one space). Workers fold a repeated
/// `Authorization` header into `a, b`, which is not a token and so is refused here too.
pub fn bearer_token(authorization: &str, max_bytes: usize) -> Result<&str, AuthError> {
    let (scheme, token) = authorization.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    if token.len() > max_bytes {
        return Err(AuthError::TooLarge { max: max_bytes });
    }
    let is_token_char = |b: u8| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b);
    if token.is_empty() || !token.bytes().all(is_token_char) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_exactly_one_bearer_token() {
        assert_eq!(bearer_token("Bearer abc.def.ghi", 100), Ok("abc.def.ghi"));
        assert_eq!(bearer_token("bearer abc", 100), Ok("abc"));
        assert_eq!(bearer_token("BEARER abc", 100), Ok("abc"));
        let refused = [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  abc",
            "Basic abc",
            "Bearerabc",
            "Bearer a b",
            "Bearer a.b.c, Bearer d.e.f",
            "Bearer a\0b",
            "Bearer ü",
            "Token abc",
        ];
        for header in refused {
            assert_eq!(
                bearer_token(header, 100),
                Err(AuthError::Malformed),
                "{header:?}"
            );
        }
        let huge = format!("Bearer {}", "a".repeat(101));
        assert_eq!(
            bearer_token(&huge, 100),
            Err(AuthError::TooLarge { max: 100 })
        );
    }
}
