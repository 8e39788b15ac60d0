//! The verified-token cache: hits still expire, forgeries never hit.

use super::*;

#[test]
fn cached_tokens_still_expire_and_forgeries_never_hit() {
    let s = signers();
    let v = verifier(s);
    let token = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
    assert!(v.verify_now(&token, NOW).is_ok());
    assert!(v.verify_now(&token, NOW + 1).is_ok(), "cached");
    assert_eq!(
        v.verify_now(&token, NOW + 300 + 60),
        Err(AuthError::Expired),
        "a cached token expires"
    );
    assert!(
        v.verify_now(&token, NOW).is_ok(),
        "verified afresh after eviction"
    );

    // A token that differs from a cached one in one byte of its signature is checked in full.
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    assert_eq!(v.verify_now(&forged, NOW), Err(AuthError::BadSignature));

    let future = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"nbf": NOW + 1000, "exp": NOW + 2000})),
    );
    assert_eq!(
        v.verify_now(&future, NOW + 1000),
        Ok(v.verify_now(&future, NOW + 1000).unwrap())
    );
    assert_eq!(
        v.verify_now(&future, NOW),
        Err(AuthError::NotYetValid),
        "a cached token is not valid early"
    );
}
