//! Hostile tokens: every way a token can be wrong gets its exact error, and none panics.

use super::*;

#[test]
fn hostile_tokens() {
    use AuthError::*;
    let s = signers();
    let v = verifier(s);
    let hs = |kid: Option<&str>, c: Value| sign(&Hs256, &Hs256Key::new(HS256_SECRET), kid, c);
    let es = |kid: Option<&str>, c: Value| sign(&Es256, &s.es256, kid, c);
    let good = es(Some("es"), claims());
    let parts: Vec<&str> = good.split('.').collect();
    let header = |h: Value| b64(h.to_string().as_bytes());
    let payload = b64(claims().to_string().as_bytes());
    // The classic confusion signs HS256 with the RSA public key's bytes (usually its PEM) as the
    // HMAC secret; which bytes does not matter here, since the key's algorithm is checked first.
    let rsa_public_key_bytes = serde_json::to_vec(&public_jwks(s)[2]).unwrap();

    let mut cases: Vec<(String, String, Result<(), AuthError>)> = vec![
        ("good".into(), good.clone(), Ok(())),
        (
            "alg none".into(),
            format!("{}.{payload}.", header(json!({"alg": "none", "kid": "es"}))),
            Err(AlgorithmNotAllowed),
        ),
        (
            "alg none no kid".into(),
            format!("{}.{payload}.", header(json!({"alg": "none"}))),
            Err(UnknownKey),
        ),
        (
            "alg None".into(),
            format!("{}.{payload}.", header(json!({"alg": "None", "kid": "es"}))),
            Err(AlgorithmNotAllowed),
        ),
        (
            "alg ES256 on the RSA key".into(),
            es(Some("rs"), claims()),
            Err(AlgorithmNotAllowed),
        ),
        (
            "alg HS256 on the ES256 key".into(),
            hs(Some("es"), claims()),
            Err(AlgorithmNotAllowed),
        ),
        (
            "HS256 signed with the RSA public key as secret".into(),
            sign(
                &Hs256,
                &Hs256Key::new(&rsa_public_key_bytes),
                Some("rs"),
                claims(),
            ),
            Err(AlgorithmNotAllowed),
        ),
        (
            "HS256 with the wrong secret".into(),
            sign(
                &Hs256,
                &Hs256Key::new(b"another secret of 32 bytes or more!"),
                Some("hs256"),
                claims(),
            ),
            Err(BadSignature),
        ),
        (
            "unknown kid".into(),
            es(Some("nope"), claims()),
            Err(UnknownKey),
        ),
        (
            "no kid, many keys".into(),
            es(None, claims()),
            Err(UnknownKey),
        ),
        (
            "kid of another key type".into(),
            es(Some("hs256"), claims()),
            Err(AlgorithmNotAllowed),
        ),
        (
            "expired".into(),
            es(Some("es"), with(claims(), json!({"exp": NOW - 61}))),
            Err(Expired),
        ),
        (
            "expired at leeway".into(),
            es(Some("es"), with(claims(), json!({"exp": NOW - 60}))),
            Err(Expired),
        ),
        (
            "inside leeway".into(),
            es(Some("es"), with(claims(), json!({"exp": NOW - 59}))),
            Ok(()),
        ),
        (
            "no exp".into(),
            es(Some("es"), with(claims(), json!({"exp": null}))),
            Err(MissingClaim("exp")),
        ),
        // jwt-compact parses `exp`, `nbf` and `iat` before it checks the signature, so a token
        // whose times do not parse is Malformed: not InvalidClaim, which would say it is signed.
        (
            "exp as string".into(),
            es(Some("es"), with(claims(), json!({"exp": "tomorrow"}))),
            Err(Malformed),
        ),
        (
            "exp huge".into(),
            es(Some("es"), with(claims(), json!({"exp": i64::MAX}))),
            Err(Malformed),
        ),
        (
            "nbf future".into(),
            es(Some("es"), with(claims(), json!({"nbf": NOW + 61}))),
            Err(NotYetValid),
        ),
        (
            "nbf inside leeway".into(),
            es(Some("es"), with(claims(), json!({"nbf": NOW + 60}))),
            Ok(()),
        ),
        (
            "wrong iss".into(),
            es(
                Some("es"),
                with(claims(), json!({"iss": "https://evil.example.com/"})),
            ),
            Err(WrongIssuer),
        ),
        (
            "iss prefix".into(),
            es(
                Some("es"),
                with(claims(), json!({"iss": "https://auth.example.com"})),
            ),
            Err(WrongIssuer),
        ),
        (
            "iss array".into(),
            es(Some("es"), with(claims(), json!({"iss": [ISS]}))),
            Err(InvalidClaim("iss")),
        ),
        (
            "iss number".into(),
            es(Some("es"), with(claims(), json!({"iss": 1}))),
            Err(InvalidClaim("iss")),
        ),
        (
            "iss differs in case".into(),
            es(
                Some("es"),
                with(claims(), json!({"iss": "https://AUTH.example.com/"})),
            ),
            Err(WrongIssuer),
        ),
        (
            "no iss".into(),
            es(Some("es"), with(claims(), json!({"iss": null}))),
            Err(MissingClaim("iss")),
        ),
        (
            "wrong aud".into(),
            es(Some("es"), with(claims(), json!({"aud": "other"}))),
            Err(WrongAudience),
        ),
        (
            "aud array with ours".into(),
            es(Some("es"), with(claims(), json!({"aud": ["other", AUD]}))),
            Ok(()),
        ),
        (
            "aud array without ours".into(),
            es(Some("es"), with(claims(), json!({"aud": ["other"]}))),
            Err(WrongAudience),
        ),
        (
            "aud array with a number".into(),
            es(Some("es"), with(claims(), json!({"aud": [AUD, 1]}))),
            Err(InvalidClaim("aud")),
        ),
        (
            "aud empty array".into(),
            es(Some("es"), with(claims(), json!({"aud": []}))),
            Err(WrongAudience),
        ),
        (
            "aud prefix".into(),
            es(Some("es"), with(claims(), json!({"aud": "api2"}))),
            Err(WrongAudience),
        ),
        (
            "aud number".into(),
            es(Some("es"), with(claims(), json!({"aud": 1}))),
            Err(InvalidClaim("aud")),
        ),
        (
            "no aud".into(),
            es(Some("es"), with(claims(), json!({"aud": null}))),
            Err(MissingClaim("aud")),
        ),
        (
            "tenant upper case".into(),
            es(Some("es"), with(claims(), json!({"org_name": "Acme"}))),
            Err(InvalidClaim("tenant")),
        ),
        (
            "tenant path".into(),
            es(Some("es"), with(claims(), json!({"org_name": "../x"}))),
            Err(InvalidClaim("tenant")),
        ),
        (
            "tenant number".into(),
            es(Some("es"), with(claims(), json!({"org_name": 7}))),
            Err(InvalidClaim("tenant")),
        ),
        (
            "tenant absent".into(),
            es(Some("es"), with(claims(), json!({"org_name": null}))),
            Ok(()),
        ),
        (
            "scope array".into(),
            es(Some("es"), with(claims(), json!({"scope": ["a"]}))),
            Err(InvalidClaim("scope")),
        ),
        (
            "permissions string".into(),
            es(Some("es"), with(claims(), json!({"permissions": "a"}))),
            Err(InvalidClaim("permissions")),
        ),
        (
            "permissions numbers".into(),
            es(Some("es"), with(claims(), json!({"permissions": [1]}))),
            Err(InvalidClaim("permissions")),
        ),
        (
            "attach object".into(),
            es(Some("es"), with(claims(), json!({"attach": {}}))),
            Err(InvalidClaim("attach")),
        ),
        (
            "sub number".into(),
            es(Some("es"), with(claims(), json!({"sub": 1}))),
            Err(InvalidClaim("sub")),
        ),
        (
            "truncated signature".into(),
            good[..good.len() - 4].to_owned(),
            Err(Malformed),
        ),
        (
            "signature cut to 60 bytes".into(),
            format!("{}.{}.{}", parts[0], parts[1], &parts[2][..80]),
            Err(BadSignature),
        ),
        (
            "truncated to two parts".into(),
            format!("{}.{}", parts[0], parts[1]),
            Err(Malformed),
        ),
        ("header only".into(), parts[0].to_owned(), Err(Malformed)),
        (
            "padded signature".into(),
            format!("{good}=="),
            Err(Malformed),
        ),
        (
            "padded header".into(),
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
            Err(Malformed),
        ),
        (
            // The last character of a 64-byte signature holds 2 bits of it and 4 zero bits;
            // setting one of those gives the same bytes, which the strict decoder refuses.
            "signature with non-zero trailing bits".into(),
            {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let (head, last) = good.split_at(good.len() - 1);
                let index = ALPHABET
                    .iter()
                    .position(|&c| c == last.as_bytes()[0])
                    .unwrap();
                format!("{head}{}", ALPHABET[index ^ 1] as char)
            },
            Err(Malformed),
        ),
        ("fourth part".into(), format!("{good}.AAAA"), Err(Malformed)),
        ("empty".into(), String::new(), Err(Malformed)),
        ("dots".into(), "..".into(), Err(Malformed)),
        (
            "header not JSON".into(),
            format!("{}.{}.{}", b64(b"{alg"), parts[1], parts[2]),
            Err(Malformed),
        ),
        (
            "header not base64".into(),
            format!("!!!.{}.{}", parts[1], parts[2]),
            Err(Malformed),
        ),
        (
            "payload swapped".into(),
            format!(
                "{}.{}.{}",
                parts[0],
                b64(with(claims(), json!({"org_name": "beta"}))
                    .to_string()
                    .as_bytes()),
                parts[2]
            ),
            Err(BadSignature),
        ),
        (
            "signature swapped".into(),
            format!("{}.{}.{}", parts[0], parts[1], b64(&[0u8; 64])),
            Err(BadSignature),
        ),
        (
            "signature empty".into(),
            format!("{}.{}.", parts[0], parts[1]),
            Err(BadSignature),
        ),
        (
            "non-UTF-8 header".into(),
            format!("{}.{}.{}", b64(&[0xff, 0xfe, b'{']), parts[1], parts[2]),
            Err(Malformed),
        ),
        (
            "non-UTF-8 payload".into(),
            format!("{}.{}.{}", parts[0], b64(&[0xc3, 0x28]), parts[2]),
            Err(Malformed),
        ),
        (
            "huge".into(),
            format!(
                "{}.{}.{}",
                parts[0],
                "A".repeat(DEFAULT_MAX_TOKEN_BYTES),
                parts[2]
            ),
            Err(TooLarge {
                max: DEFAULT_MAX_TOKEN_BYTES,
            }),
        ),
        (
            "crit header, unsigned".into(),
            format!(
                "{}.{payload}.{}",
                header(json!({"alg": "ES256", "kid": "es", "crit": ["exp"]})),
                parts[2]
            ),
            Err(Malformed),
        ),
        (
            "crit header, signed".into(),
            Es256
                .token(
                    &Header::new(json!({"crit": ["x-ext"], "x-ext": 1})).with_key_id("es"),
                    &Claims::new(claims().as_object().unwrap().clone()),
                    &s.es256,
                )
                .unwrap(),
            Err(Malformed),
        ),
        (
            "two tokens, as a folded header".into(),
            format!("{good}, {good}"),
            Err(Malformed),
        ),
        (
            "bearer prefix left on".into(),
            format!("Bearer {good}"),
            Err(Malformed),
        ),
        (
            "cty not JSON".into(),
            format!(
                "{}.{payload}.{}",
                header(json!({"alg": "ES256", "kid": "es", "cty": "xml"})),
                parts[2]
            ),
            Err(Malformed),
        ),
        (
            "claims an array".into(),
            format!("{}.{}.{}", parts[0], b64(b"[1]"), parts[2]),
            Err(Malformed),
        ),
        (
            "claims nested too deep".into(),
            format!(
                "{}.{}.{}",
                parts[0],
                b64(format!("{}{}", "[".repeat(2000), "]".repeat(2000)).as_bytes()),
                parts[2]
            ),
            Err(Malformed),
        ),
        (
            "kid not a string".into(),
            format!(
                "{}.{payload}.{}",
                header(json!({"alg": "ES256", "kid": 5})),
                parts[2]
            ),
            Err(Malformed),
        ),
        (
            "kid path traversal".into(),
            es(Some("../../etc/passwd"), claims()),
            Err(UnknownKey),
        ),
        ("kid empty".into(), es(Some(""), claims()), Err(UnknownKey)),
        (
            "kid NUL".into(),
            es(Some("es\0"), claims()),
            Err(UnknownKey),
        ),
    ];
    // Every algorithm expired; and every token relabelled with another key's kid, which (each
    // kid having its own algorithm) must never reach a signature check.
    for (alg, token) in every_algorithm(s, &with(claims(), json!({"exp": NOW - 3600}))) {
        cases.push((format!("{alg} expired"), token, Err(Expired)));
    }
    for (alg, token) in every_algorithm(s, &claims()) {
        let (h, rest) = token.split_once('.').unwrap();
        let decoded: Value = serde_json::from_slice(&base64_decode(h)).unwrap();
        for other in ["hs256", "hs384", "hs512", "es", "ed", "rs"] {
            if decoded["kid"] == other {
                continue;
            }
            let swapped = format!(
                "{}.{rest}",
                header(with(decoded.clone(), json!({"kid": other})))
            );
            cases.push((
                format!("{alg} relabelled as {other}"),
                swapped,
                Err(AlgorithmNotAllowed),
            ));
        }
    }
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for (name, token, want) in &cases {
        let got = v.verify_now(token, NOW).map(|_| ());
        assert_eq!(&got, want, "{name}");
        if let Err(e) = got {
            let message = e.to_string();
            assert!(
                !message.contains(&token[..token.len().min(12)]) || token.len() < 12,
                "{name}: {message}"
            );
        }
    }
}
