//! Public-key signatures left to the caller: the verifier asks, takes a verdict only for the key
//! (and key set generation) it asked about, and still validates through jwt-compact.

use super::*;
use crate::authenticate::{KeyRef, Progress, SignatureCheck, Verification};
use crate::{Error, UnixTime};

fn caller_verifier(s: &Signers) -> Verifier {
    verifier(s).with_caller_signatures()
}

/// `token` verified at `NOW` with the caller's `verdict`, if any.
fn attempt(
    v: &Verifier,
    token: &str,
    verdict: Option<(KeyRef, bool)>,
) -> Result<Verification, Error> {
    let progress = Progress {
        verdict,
        waited_for_keys: false,
    };
    v.verify(token, UnixTime::from_secs(NOW), progress)
}

/// The check `v` asks for before it accepts `token`.
fn asked(v: &Verifier, token: &str) -> SignatureCheck {
    match attempt(v, token, None) {
        Ok(Verification::CheckSignature(check)) => check,
        other => panic!("{other:?}"),
    }
}

/// The principal `v` gives `token` with a positive verdict for `key`.
fn verified_with(v: &Verifier, token: &str, key: KeyRef) -> Result<crate::Principal, Error> {
    match attempt(v, token, Some((key, true)))? {
        Verification::Verified(principal) => Ok(principal),
        other => panic!("{other:?}"),
    }
}

#[test]
fn public_key_tokens_wait_for_the_callers_verdict_and_hmac_ones_do_not() {
    let s = signers();
    let v = caller_verifier(s);
    for (alg, token) in every_algorithm(s, &claims()) {
        match attempt(&v, &token, None) {
            Ok(Verification::Verified(principal)) => {
                assert!(alg.starts_with("HS"), "{alg} was checked in process");
                assert_eq!(principal.subject(), Some("user-1"));
            }
            Ok(Verification::CheckSignature(check)) => {
                assert_eq!(check.alg, alg);
                let (input, _) = token.rsplit_once('.').unwrap();
                assert_eq!(check.signing_input, input);
                assert!(
                    signature_holds(&v.public_jwk(check.key).unwrap(), &check),
                    "{alg}: the caller's check passes"
                );
                let principal = verified_with(&v, &token, check.key).unwrap();
                assert_eq!(principal.subject(), Some("user-1"), "{alg}");
                // Verified once: the cache answers now, with no second question.
                assert_eq!(v.verify_now(&token, NOW + 1), Ok(principal));
            }
            other => panic!("{alg}: {other:?}"),
        }
    }
}

#[test]
fn a_verdict_counts_only_for_the_key_and_generation_asked_about() {
    let s = signers();
    let v = caller_verifier(s).with_cache(0);
    let token = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
    let ed = asked(&v, &token).key;
    let es = asked(&v, &sign(&Es256, &s.es256, Some("es"), claims())).key;
    assert_eq!(ed.generation, v.generation());

    // A verdict reached with another key than the one the token names is no verdict.
    assert!(matches!(
        attempt(&v, &token, Some((es, true))),
        Ok(Verification::CheckSignature(check)) if check.key == ed
    ));
    // Nor is one for the right place in another generation of the key set.
    let stale = KeyRef {
        generation: ed.generation.wrapping_add(1),
        ..ed
    };
    assert!(matches!(
        attempt(&v, &token, Some((stale, true))),
        Ok(Verification::CheckSignature(_))
    ));
    assert_eq!(v.public_jwk(stale), None, "a gone key has no JWK");

    assert!(verified_with(&v, &token, ed).is_ok());
    assert!(
        matches!(
            attempt(&v, &token, None),
            Ok(Verification::CheckSignature(_))
        ),
        "without the cache, every verification needs a fresh verdict"
    );
}

#[test]
fn a_negative_verdict_or_a_tampered_token_is_a_bad_signature() {
    let s = signers();
    let v = caller_verifier(s);
    let token = sign(&Es256, &s.es256, Some("es"), claims());
    let key = asked(&v, &token).key;
    assert_eq!(
        attempt(&v, &token, Some((key, false))),
        Err(Error::Unauthenticated(AuthError::BadSignature))
    );

    // The payload changed, the signature kept: the caller's honest check fails.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let (header, _) = head.split_once('.').unwrap();
    let forged_claims = b64(
        serde_json::to_string(&with(claims(), json!({"org_name": "evil"})))
            .unwrap()
            .as_bytes(),
    );
    let forged = format!("{header}.{forged_claims}.{sig}");
    let check = asked(&v, &forged);
    assert!(!signature_holds(&v.public_jwk(check.key).unwrap(), &check));
    assert_eq!(
        attempt(&v, &forged, Some((check.key, false))),
        Err(Error::Unauthenticated(AuthError::BadSignature))
    );

    // A signature of the wrong size for EdDSA or ES256 is refused without a question.
    for token in [
        sign(&Es256, &s.es256, Some("es"), claims()),
        sign(&Ed25519, &s.eddsa, Some("ed"), claims()),
    ] {
        let (head, sig) = token.rsplit_once('.').unwrap();
        let cut = format!("{head}.{}", &sig[..20]);
        assert_eq!(v.verify_now(&cut, NOW), Err(AuthError::BadSignature));
    }
}

#[test]
fn nothing_is_asked_for_a_token_that_fails_before_its_signature() {
    let s = signers();
    let v = caller_verifier(s);
    // alg swapped to HS256 under the EdDSA key's kid: refused without a question.
    let swapped = sign(&Hs256, &Hs256Key::new(HS256_SECRET), Some("ed"), claims());
    assert_eq!(
        v.verify_now(&swapped, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
    let unknown = sign(&Ed25519, &s.eddsa, Some("nope"), claims());
    assert_eq!(v.verify_now(&unknown, NOW), Err(AuthError::UnknownKey));
    // Claims are checked after the signature: an expired token is asked about, then refused.
    let expired = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"exp": NOW - 3600})),
    );
    let check = asked(&v, &expired);
    assert_eq!(
        verified_with(&v, &expired, check.key),
        Err(Error::Unauthenticated(AuthError::Expired))
    );
}

#[test]
fn public_jwks_carry_public_members_only() {
    let s = signers();
    let v = caller_verifier(s);
    let tokens = every_algorithm(s, &claims());
    for (alg, members) in [
        ("ES256", vec!["crv", "kty", "x", "y"]),
        ("EdDSA", vec!["crv", "kty", "x"]),
        ("RS256", vec!["e", "kty", "n"]),
    ] {
        let token = &tokens.iter().find(|(a, _)| *a == alg).unwrap().1;
        let jwk = v.public_jwk(asked(&v, token).key).unwrap();
        let mut keys: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, members, "{alg}");
    }
    // HMAC secrets have no public JWK to hand out.
    let generation = v.generation();
    let public = (0..10)
        .filter_map(|index| v.public_jwk(KeyRef { generation, index }))
        .count();
    assert_eq!(public, 3);
}
