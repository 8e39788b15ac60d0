//! Public-key signatures left to the caller: the verifier asks, takes the verdict only for the
//! token it was given for, and still validates through jwt-compact.

use super::*;
use crate::authenticate::SignatureCheck;

fn caller_verifier(s: &Signers) -> Verifier {
    verifier(s).with_caller_signatures()
}

/// The check `v` asks for before it accepts `token`.
fn asked(v: &Verifier, token: &str) -> SignatureCheck {
    match v.verify(token, NOW) {
        Err(AuthError::SignatureCheckNeeded(check)) => check,
        other => panic!("{other:?}"),
    }
}

/// What a caller does: check the signature over the signing input with the key the verifier
/// names. Here the "caller" is jwt-compact's own backend, fed the public JWK the verifier hands
/// out (as WebCrypto would import it).
fn caller_verdict(v: &Verifier, check: SignatureCheck, token: &str) -> bool {
    let jwk: JsonWebKey<'_> =
        serde_json::from_value(v.public_jwk(check.key).unwrap().clone()).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = base64_decode(signature);
    let input = input.as_bytes();
    match check.alg {
        "EdDSA" => {
            let key = <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk).unwrap();
            let sig = <Ed25519 as Algorithm>::Signature::try_from_slice(&signature);
            sig.is_ok_and(|sig| Ed25519.verify_signature(&sig, &key, input))
        }
        "ES256" => {
            let key = <Es256 as Algorithm>::VerifyingKey::try_from(&jwk).unwrap();
            let sig = <Es256 as Algorithm>::Signature::try_from_slice(&signature);
            sig.is_ok_and(|sig| Es256.verify_signature(&sig, &key, input))
        }
        "RS256" => {
            let key = jwt_compact::alg::RsaPublicKey::try_from(&jwk).unwrap();
            let sig = <Rsa as Algorithm>::Signature::try_from_slice(&signature);
            sig.is_ok_and(|sig| Rsa::rs256().verify_signature(&sig, &key, input))
        }
        other => panic!("asked to check {other}"),
    }
}

#[test]
fn public_key_tokens_wait_for_the_callers_verdict_and_hmac_ones_do_not() {
    let s = signers();
    let v = caller_verifier(s);
    for (alg, token) in every_algorithm(s, &claims()) {
        match v.verify(&token, NOW) {
            Ok(principal) => {
                assert!(alg.starts_with("HS"), "{alg} was checked in process");
                assert_eq!(principal.subject.as_deref(), Some("user-1"));
            }
            Err(AuthError::SignatureCheckNeeded(check)) => {
                assert_eq!(check.alg, alg);
                assert!(
                    caller_verdict(&v, check, &token),
                    "{alg}: the caller's check passes"
                );
                v.provide_verdict(&token, check.key, true);
                let principal = v.verify(&token, NOW).unwrap();
                assert_eq!(principal.subject.as_deref(), Some("user-1"), "{alg}");
                // Verified once: the cache answers now, with no second question.
                assert_eq!(v.verify(&token, NOW + 1), Ok(principal));
            }
            Err(other) => panic!("{alg}: {other:?}"),
        }
    }
}

#[test]
fn a_verdict_counts_only_for_its_own_token_and_only_once() {
    let s = signers();
    let v = caller_verifier(s).with_cache(0);
    let token = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
    let other = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"sub": "user-2"})),
    );

    let ed = asked(&v, &token).key;
    let es = asked(&v, &sign(&Es256, &s.es256, Some("es"), claims())).key;

    // A verdict for another token is no verdict.
    v.provide_verdict(&other, ed, true);
    assert!(matches!(
        v.verify(&token, NOW),
        Err(AuthError::SignatureCheckNeeded(_))
    ));
    // It was used up by that attempt, too.
    assert!(matches!(
        v.verify(&other, NOW),
        Err(AuthError::SignatureCheckNeeded(_))
    ));

    // Nor is one reached with another key than the one the token names.
    v.provide_verdict(&token, es, true);
    assert_eq!(asked(&v, &token).key, ed);

    v.provide_verdict(&token, ed, true);
    assert!(v.verify(&token, NOW).is_ok());
    assert!(
        matches!(
            v.verify(&token, NOW),
            Err(AuthError::SignatureCheckNeeded(_))
        ),
        "without the cache, every verification needs a fresh verdict"
    );
}

#[test]
fn a_negative_verdict_or_a_tampered_token_is_a_bad_signature() {
    let s = signers();
    let v = caller_verifier(s);
    let token = sign(&Es256, &s.es256, Some("es"), claims());
    v.provide_verdict(&token, asked(&v, &token).key, false);
    assert_eq!(v.verify(&token, NOW), Err(AuthError::BadSignature));

    // The payload changed, the signature kept: the caller's honest check fails.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let (header, _) = head.split_once('.').unwrap();
    let forged_claims = b64(
        serde_json::to_string(&with(claims(), json!({"org_name": "evil"})))
            .unwrap()
            .as_bytes(),
    );
    let forged = format!("{header}.{forged_claims}.{sig}");
    let Err(AuthError::SignatureCheckNeeded(check)) = v.verify(&forged, NOW) else {
        panic!("asks for a check")
    };
    assert!(!caller_verdict(&v, check, &forged));
    v.provide_verdict(&forged, check.key, false);
    assert_eq!(v.verify(&forged, NOW), Err(AuthError::BadSignature));

    // A signature of the wrong size for EdDSA or ES256 is refused without a question.
    for token in [
        sign(&Es256, &s.es256, Some("es"), claims()),
        sign(&Ed25519, &s.eddsa, Some("ed"), claims()),
    ] {
        let (head, sig) = token.rsplit_once('.').unwrap();
        let cut = format!("{head}.{}", &sig[..20]);
        assert_eq!(v.verify(&cut, NOW), Err(AuthError::BadSignature));
    }
}

#[test]
fn nothing_is_asked_for_a_token_that_fails_before_its_signature() {
    let s = signers();
    let v = caller_verifier(s);
    // alg swapped to HS256 under the EdDSA key's kid: refused without a question.
    let swapped = sign(&Hs256, &Hs256Key::new(HS256_SECRET), Some("ed"), claims());
    assert_eq!(v.verify(&swapped, NOW), Err(AuthError::AlgorithmNotAllowed));
    let unknown = sign(&Ed25519, &s.eddsa, Some("nope"), claims());
    assert_eq!(v.verify(&unknown, NOW), Err(AuthError::UnknownKey));
    // Claims are checked after the signature: an expired token is asked about, then refused.
    let expired = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"exp": NOW - 3600})),
    );
    let check = asked(&v, &expired);
    v.provide_verdict(&expired, check.key, true);
    assert_eq!(v.verify(&expired, NOW), Err(AuthError::Expired));
}

#[test]
fn public_jwks_carry_public_members_only() {
    let s = signers();
    let v = caller_verifier(s);
    let check = |token: &str| asked(&v, token);
    let tokens = every_algorithm(s, &claims());
    for (alg, members) in [
        ("ES256", vec!["crv", "kty", "x", "y"]),
        ("EdDSA", vec!["crv", "kty", "x"]),
        ("RS256", vec!["e", "kty", "n"]),
    ] {
        let token = &tokens.iter().find(|(a, _)| *a == alg).unwrap().1;
        let jwk = v.public_jwk(check(token).key).unwrap();
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
    assert!((0..10).filter_map(|k| v.public_jwk(k)).count() == 3);
}
