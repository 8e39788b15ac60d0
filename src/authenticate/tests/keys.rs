//! Key configuration: what a key set refuses, and key selection without a kid.

use super::*;

#[test]
fn bad_key_configuration_fails_at_creation() {
    use KeyError::*;
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    let s = signers();
    let rsa = public_jwks(s).swap_remove(2);
    let es = public_jwks(s).swap_remove(0);
    let short_secret = "c2hvcnQtc2VjcmV0LXZhbHVl"; // "short-secret-value"
    let mut rsa_1024 = rsa.clone();
    rsa_1024["n"] = b64(&[0xff; 128]).into();
    let mut rsa_2047 = rsa.clone();
    rsa_2047["n"] = b64(&[[0x7f].as_slice(), &[0xff; 255]].concat()).into();
    let mut es_off_curve = es.clone();
    es_off_curve["y"] = b64(&[1; 32]).into();
    let mut es_short = es.clone();
    es_short["x"] = b64(&[1; 31]).into();
    let refused = [
        (json!("not an object"), NotAJwk),
        (json!({}), NotAJwk),
        (json!({ "kty": 1 }), NotAJwk),
        (json!({ "kty": "XYZ" }), UnsupportedKeyType),
        (json!({ "kty": "oct" }), NotAJwk),
        (json!({ "kty": "oct", "k": "!!!", "alg": "HS256" }), NotAJwk),
        (json!({ "kty": "oct", "k": short_secret }), MissingAlgorithm),
        (
            json!({ "kty": "oct", "k": short_secret, "alg": "HS256" }),
            WeakSecret { min_bytes: 32 },
        ),
        (
            json!({ "kty": "oct", "k": b64(&[1; 32]), "alg": "RS256" }),
            UnsupportedAlgorithm,
        ),
        (
            json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" }),
            WeakRsaKey,
        ),
        (rsa_1024, WeakRsaKey),
        (rsa_2047, WeakRsaKey),
        (
            with(rsa.clone(), json!({"alg": "HS256"})),
            UnsupportedAlgorithm,
        ),
        (
            with(rsa.clone(), json!({"alg": "PS256"})),
            UnsupportedAlgorithm,
        ),
        (
            with(rsa.clone(), json!({"alg": "none"})),
            UnsupportedAlgorithm,
        ),
        (with(rsa.clone(), json!({"e": "AA"})), InvalidKey),
        (
            json!({ "kty": "EC", "crv": "P-384", "x": "AA", "y": "AA" }),
            UnsupportedCurve,
        ),
        (
            json!({ "kty": "EC", "crv": "secp256k1", "x": b64(&[1; 32]), "y": b64(&[1; 32]) }),
            UnsupportedCurve,
        ),
        (es_off_curve, InvalidKey),
        (es_short, InvalidKey),
        (
            with(es.clone(), json!({"alg": "ES384"})),
            UnsupportedAlgorithm,
        ),
        (
            json!({ "kty": "OKP", "crv": "X25519", "x": ED_X }),
            UnsupportedCurve,
        ),
        (
            json!({ "kty": "OKP", "crv": "Ed448", "x": ED_X }),
            UnsupportedCurve,
        ),
        (
            json!({ "kty": "OKP", "crv": "Ed25519", "x": "AAAA" }),
            InvalidKey,
        ),
        (
            json!({ "kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "HS256" }),
            UnsupportedAlgorithm,
        ),
        (
            serde_json::from_str(ED25519_PRIVATE_JWK).unwrap(),
            PrivateKey,
        ),
        (serde_json::from_str(RSA_PRIVATE_JWK).unwrap(), PrivateKey),
        (with(es.clone(), json!({"d": b64(&[7; 32])})), PrivateKey),
    ];
    for (jwk, want) in refused {
        let mut keys = KeySet::new();
        assert_eq!(keys.add_jwk(&jwk), Err(want), "{jwk}");
        assert!(keys.is_empty(), "{jwk}");
        // The message names the problem, never the key material.
        let message = want.to_string();
        for part in ["k", "n", "x", "y", "d"] {
            if let Some(material) = jwk.get(part).and_then(Value::as_str) {
                assert!(
                    material.len() < 4 || !message.contains(material),
                    "{message}"
                );
            }
        }
    }

    let mut keys = KeySet::new();
    let secrets = [
        (&b"short"[..], "HS256", WeakSecret { min_bytes: 32 }),
        (
            HS256_SECRET.as_bytes(),
            "HS384",
            WeakSecret { min_bytes: 48 },
        ),
        (
            HS384_SECRET.as_bytes(),
            "HS512",
            WeakSecret { min_bytes: 64 },
        ),
        (HS512_SECRET.as_bytes(), "none", UnsupportedAlgorithm),
        (HS512_SECRET.as_bytes(), "hs256", UnsupportedAlgorithm),
        (HS512_SECRET.as_bytes(), "RS256", UnsupportedAlgorithm),
    ];
    for (secret, alg, want) in secrets {
        assert_eq!(keys.add_secret(secret, alg, None), Err(want), "{alg}");
    }
    assert_eq!(
        keys.add_jwks(&json!({ "keys": { "kty": "oct" } })),
        Err(NotAJwk)
    );
    let enc = json!({ "kty": "OKP", "crv": "Ed25519", "use": "enc", "x": ED_X });
    keys.add_jwks(&json!({ "keys": [enc] })).unwrap();
    assert!(keys.is_empty(), "encryption keys are skipped");
    keys.add_secret(HS256_SECRET.as_bytes(), "HS256", Some("a".into()))
        .unwrap();
    assert_eq!(
        keys.add_secret(HS256_SECRET.as_bytes(), "HS256", Some("a".into())),
        Err(DuplicateKid)
    );
    assert_eq!(
        keys.add_jwk(&with(rsa.clone(), json!({"kid": "a"}))),
        Err(DuplicateKid)
    );
    assert!(AuthConfig::default().build().is_err(), "no keys");
    let config_error = AuthConfig {
        secrets: vec![SecretConfig {
            secret: "a-weak-secret".into(),
            alg: "HS256".into(),
            kid: None,
        }],
        ..AuthConfig::default()
    }
    .build()
    .err()
    .unwrap()
    .to_string();
    assert!(!config_error.contains("a-weak-secret"), "{config_error}");
}

/// With one key and no `kid`, the key is found without one; its algorithm still rules.
#[test]
fn a_single_key_needs_no_kid() {
    use AuthError::*;
    let s = signers();
    let rsa_public = public_jwks(s).swap_remove(2);
    let mut rsa_no_kid = rsa_public.clone();
    rsa_no_kid.as_object_mut().unwrap().remove("kid");
    let mut keys = KeySet::new();
    keys.add_jwk(&rsa_no_kid).unwrap();
    let v = Verifier::new(keys, ClaimRules::default(), DEFAULT_MAX_TOKEN_BYTES);
    let rs = |kid: Option<&str>| sign(&Rsa::rs256(), &s.rsa, kid, claims());
    let confused = |secret: &[u8]| sign(&Hs256, &Hs256Key::new(secret), None, claims());
    let modulus = base64_decode(rsa_public["n"].as_str().unwrap());
    let cases = [
        ("RS256, no kid", rs(None), Ok(())),
        (
            "RS256 with a kid the key lacks",
            rs(Some("rs")),
            Err(UnknownKey),
        ),
        (
            "HS256 keyed with the public JWK",
            confused(&serde_json::to_vec(&rsa_no_kid).unwrap()),
            Err(AlgorithmNotAllowed),
        ),
        (
            "HS256 keyed with the modulus",
            confused(&modulus),
            Err(AlgorithmNotAllowed),
        ),
        (
            "PS256 header on the RS256 key",
            sign(&Rsa::ps256(), &s.rsa, None, claims()),
            Err(AlgorithmNotAllowed),
        ),
        (
            "EdDSA on the RS256 key",
            sign(&Ed25519, &s.eddsa, None, claims()),
            Err(AlgorithmNotAllowed),
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(v.verify_now(&token, NOW).map(|_| ()), want, "{name}");
    }
}
