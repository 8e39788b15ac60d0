//! Verifier tests: RFC vectors, every algorithm, hostile tokens, and a property test.

use super::*;
use jwt_compact::alg::{
    Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa, RsaPrivateKey,
    SigningKey,
};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Claims, Header};
use serde_json::{json, Value};

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://auth.example.com/";
const AUD: &str = "api";
const HS256_SECRET: &str = "0123456789abcdef0123456789abcdef";
const HS384_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";
const HS512_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
// Test-only private keys, made with the npm `jose` package for these tests.
const RSA_PRIVATE_JWK: &str = include_str!("testdata/rsa-2048-private.jwk.json");
const ED25519_PRIVATE_JWK: &str = include_str!("testdata/ed25519-private.jwk.json");

struct Signers {
    es256: <Es256 as Algorithm>::SigningKey,
    eddsa: <Ed25519 as Algorithm>::SigningKey,
    rsa: RsaPrivateKey,
}

/// The test signing keys, parsed once (an RSA private key is slow to load in debug builds).
fn signers() -> &'static Signers {
    static SIGNERS: std::sync::OnceLock<Signers> = std::sync::OnceLock::new();
    SIGNERS.get_or_init(|| {
        let rsa: JsonWebKey<'_> = serde_json::from_str(RSA_PRIVATE_JWK).unwrap();
        let ed: JsonWebKey<'_> = serde_json::from_str(ED25519_PRIVATE_JWK).unwrap();
        Signers {
            es256: SigningKey::<Es256>::from_slice(&[7u8; 32]).unwrap(),
            eddsa: <Ed25519 as Algorithm>::SigningKey::try_from(&ed).unwrap(),
            rsa: RsaPrivateKey::try_from(&rsa).unwrap(),
        }
    })
}

/// The public JWKS of `signers()`, each key with a kid.
fn public_jwks(s: &Signers) -> Vec<Value> {
    let with_kid = |jwk: JsonWebKey<'_>, kid: &str| {
        let mut v = serde_json::to_value(jwk).unwrap();
        v["kid"] = kid.into();
        v
    };
    vec![
        with_kid(
            JsonWebKey::from(&SigningKey::<Es256>::to_verifying_key(&s.es256)),
            "es",
        ),
        with_kid(
            JsonWebKey::from(&SigningKey::<Ed25519>::to_verifying_key(&s.eddsa)),
            "ed",
        ),
        with_kid(JsonWebKey::from(&s.rsa.to_public_key()), "rs"),
    ]
}

fn verifier(s: &Signers) -> Verifier {
    let secret = |secret: &str, alg: &str, kid: &str| SecretConfig {
        secret: secret.into(),
        alg: alg.into(),
        kid: Some(kid.into()),
    };
    AuthConfig {
        keys: public_jwks(s),
        secrets: vec![
            secret(HS256_SECRET, "HS256", "hs256"),
            secret(HS384_SECRET, "HS384", "hs384"),
            secret(HS512_SECRET, "HS512", "hs512"),
        ],
        issuer: Some(ISS.into()),
        audience: Some(AUD.into()),
        tenant_claim: Some("org_name".into()),
        ..AuthConfig::default()
    }
    .build()
    .unwrap()
}

fn claims() -> Value {
    json!({
        "sub": "user-1", "org_name": "acme", "iss": ISS, "aud": AUD, "exp": NOW + 300,
        "scope": "read write", "permissions": ["orders:read"], "attach": ["catalog"]
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn sign<A: Algorithm>(alg: &A, key: &A::SigningKey, kid: Option<&str>, claims: Value) -> String {
    let header = kid.map_or_else(Header::empty, |k| Header::empty().with_key_id(k));
    let Value::Object(map) = claims else {
        panic!("claims are an object")
    };
    alg.token(&header, &Claims::new(map), key).unwrap()
}

/// A token of every algorithm with the same claims.
fn every_algorithm(s: &Signers, claims: &Value) -> Vec<(&'static str, String)> {
    vec![
        (
            "HS256",
            sign(
                &Hs256,
                &Hs256Key::new(HS256_SECRET),
                Some("hs256"),
                claims.clone(),
            ),
        ),
        (
            "HS384",
            sign(
                &Hs384,
                &Hs384Key::new(HS384_SECRET),
                Some("hs384"),
                claims.clone(),
            ),
        ),
        (
            "HS512",
            sign(
                &Hs512,
                &Hs512Key::new(HS512_SECRET),
                Some("hs512"),
                claims.clone(),
            ),
        ),
        ("ES256", sign(&Es256, &s.es256, Some("es"), claims.clone())),
        (
            "EdDSA",
            sign(&Ed25519, &s.eddsa, Some("ed"), claims.clone()),
        ),
        (
            "RS256",
            sign(&Rsa::rs256(), &s.rsa, Some("rs"), claims.clone()),
        ),
    ]
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn rfc7515_a1_hs256() {
    let mut keys = KeySet::new();
    keys.add_jwk(&json!({
        "kty": "oct", "alg": "HS256",
        "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    }))
    .unwrap();
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let rules = ClaimRules {
        issuer: Some("joe".into()),
        ..ClaimRules::default()
    };
    let v = Verifier::new(keys, rules, DEFAULT_MAX_TOKEN_BYTES);
    let principal = v.verify(token, 1_300_819_300).unwrap();
    assert_eq!(principal.expires_at, Some(1_300_819_380));
    assert_eq!(v.verify(token, 1_300_819_380 + 60), Err(AuthError::Expired));
}

#[test]
fn rfc8037_a4_ed25519() {
    let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
    let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    // The RFC's payload is the text "Example of Ed25519 signing", not JSON claims, and
    // jwt-compact parses claims before it checks signatures; so the signature is checked here
    // directly with the backend the verifier uses, and the verifier must refuse the token.
    let parsed: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).unwrap();
    let key = <Ed25519 as Algorithm>::VerifyingKey::try_from(&parsed).unwrap();
    let check = |token: &str| {
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let signature =
            <Ed25519 as Algorithm>::Signature::try_from_slice(&base64_decode(signature)).unwrap();
        Ed25519.verify_signature(&signature, &key, signed.as_bytes())
    };
    assert!(check(token));
    assert!(!check(&token.replacen(".hgyY0il", ".hgyY0iM", 1)));
    assert!(!check(&token.replacen(
        "RXhhbXBsZSBvZiBF",
        "RXhhbXBsZSBvZiBG",
        1
    )));

    let mut keys = KeySet::new();
    keys.add_jwk(&jwk).unwrap();
    let v = Verifier::new(keys, ClaimRules::default(), DEFAULT_MAX_TOKEN_BYTES);
    assert_eq!(v.verify(token, NOW), Err(AuthError::Malformed));
}

#[test]
fn every_algorithm_verifies_and_maps_claims() {
    let s = signers();
    let v = verifier(s);
    for (alg, token) in every_algorithm(s, &claims()) {
        let principal = v
            .verify(&token, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(principal.subject.as_deref(), Some("user-1"), "{alg}");
        assert_eq!(
            principal.tenant.as_ref().map(|t| t.as_str()),
            Some("acme"),
            "{alg}"
        );
        assert_eq!(principal.scopes, ["read", "write", "orders:read"], "{alg}");
        assert_eq!(principal.attach, ["catalog"], "{alg}");
        assert_eq!(principal.expires_at, Some(NOW + 300), "{alg}");
    }
}

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
        let got = v.verify(token, NOW).map(|_| ());
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

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        _ => 63,
    };
    let bits: Vec<u8> = s.bytes().map(value).collect();
    bits.chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &v)| n | (v as u32) << (18 - 6 * i));
            (0..c.len() - 1).map(move |i| (n >> (16 - 8 * i)) as u8)
        })
        .collect()
}

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
        assert_eq!(v.verify(&token, NOW).map(|_| ()), want, "{name}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Runs `f` with one verifier per test thread, so cases do not rebuild the key set.
    fn with_verifier<R>(f: impl FnOnce(&Verifier) -> R) -> R {
        thread_local! {
            static VERIFIER: Verifier = verifier(signers());
        }
        VERIFIER.with(f)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary text never verifies and never panics.
        #[test]
        fn arbitrary_text_is_refused(token in "\\PC{0,200}") {
            prop_assert!(with_verifier(|v| v.verify(&token, NOW)).is_err());
        }

        /// Arbitrary base64url parts in JWS shape never verify and never panic.
        #[test]
        fn arbitrary_parts_are_refused(h in proptest::collection::vec(any::<u8>(), 0..64),
                                       p in proptest::collection::vec(any::<u8>(), 0..64),
                                       sig in proptest::collection::vec(any::<u8>(), 0..80)) {
            let token = format!("{}.{}.{}", b64(&h), b64(&p), b64(&sig));
            prop_assert!(with_verifier(|v| v.verify(&token, NOW)).is_err());
        }

        /// A real token with one byte changed anywhere never verifies.
        #[test]
        fn any_changed_byte_is_refused(index in any::<prop::sample::Index>(),
                                       replacement in "[A-Za-z0-9_.=-]") {
            let token = sign(&Ed25519, &signers().eddsa, Some("ed"), claims());
            let at = index.index(token.len());
            prop_assume!(token[at..=at] != replacement);
            let changed = format!("{}{replacement}{}", &token[..at], &token[at + 1..]);
            prop_assert!(with_verifier(|v| v.verify(&changed, NOW)).is_err(), "{}", at);
        }

        /// Arbitrary `Authorization` values through the pipeline's entry point never panic and
        /// never authenticate.
        #[test]
        fn arbitrary_headers_are_refused(header in "(?i:bearer )?[A-Za-z0-9_.=, -]{0,200}|\\PC{0,200}") {
            use crate::pipeline::TokenVerifier;
            let outcome = with_verifier(|v| pollster::block_on(v.verify_bearer(&header, NOW)));
            prop_assert!(matches!(outcome, Err(crate::Error::Unauthenticated(_))));
        }
    }
}

#[test]
fn cached_tokens_still_expire_and_forgeries_never_hit() {
    let s = signers();
    let v = verifier(s);
    let token = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
    assert!(v.verify(&token, NOW).is_ok());
    assert!(v.verify(&token, NOW + 1).is_ok(), "cached");
    assert_eq!(
        v.verify(&token, NOW + 300 + 60),
        Err(AuthError::Expired),
        "a cached token expires"
    );
    assert!(
        v.verify(&token, NOW).is_ok(),
        "verified afresh after eviction"
    );

    // A token that differs from a cached one in one byte of its signature is checked in full.
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    assert_eq!(v.verify(&forged, NOW), Err(AuthError::BadSignature));

    let future = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"nbf": NOW + 1000, "exp": NOW + 2000})),
    );
    assert_eq!(
        v.verify(&future, NOW + 1000),
        Ok(v.verify(&future, NOW + 1000).unwrap())
    );
    assert_eq!(
        v.verify(&future, NOW),
        Err(AuthError::NotYetValid),
        "a cached token is not valid early"
    );
}

mod jwks_url {
    use super::*;
    use crate::pipeline::TokenVerifier;
    use crate::Error;
    use pollster::block_on;
    use std::cell::{Cell, RefCell};

    /// Answers with whatever body it holds, counting calls.
    struct FakeFetcher {
        body: RefCell<Result<String, String>>,
        calls: Cell<usize>,
    }

    impl FetchJwks for &FakeFetcher {
        async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
            assert_eq!(url, "https://auth.example.com/.well-known/jwks.json");
            self.calls.set(self.calls.get() + 1);
            self.body.borrow().clone()
        }
    }

    fn jwks_of(keys: Vec<Value>) -> Result<String, String> {
        Ok(json!({ "keys": keys }).to_string())
    }

    fn setup(fetcher: &FakeFetcher) -> JwksVerifier<&FakeFetcher> {
        let config = AuthConfig {
            issuer: Some(ISS.into()),
            audience: Some(AUD.into()),
            tenant_claim: Some("org_name".into()),
            ..AuthConfig::default()
        };
        JwksVerifier::new(
            "https://auth.example.com/.well-known/jwks.json",
            config,
            RefreshPolicy::default(),
            fetcher,
        )
        .unwrap()
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn fetches_once_then_on_unknown_kid_at_most_once_a_minute() {
        let s = signers();
        let keys = public_jwks(s);
        let fetcher = FakeFetcher {
            body: RefCell::new(jwks_of(vec![keys[1].clone()])),
            calls: Cell::new(0),
        };
        let v = setup(&fetcher);
        let ed = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
        let es = sign(&Es256, &s.es256, Some("es"), claims());

        assert!(block_on(v.verify_bearer(&bearer(&ed), NOW)).is_ok());
        assert!(block_on(v.verify_bearer(&bearer(&ed), NOW + 1)).is_ok());
        assert_eq!(fetcher.calls.get(), 1, "fetched on first use only");

        // `es` is not published yet, and the first fetch was under a minute ago: no refetch,
        // however many tokens with unknown kids arrive.
        let unknown = Error::Unauthenticated(AuthError::UnknownKey);
        assert_eq!(
            block_on(v.verify_bearer(&bearer(&es), NOW + 2)),
            Err(unknown.clone())
        );
        for i in 0..50 {
            let made_up = sign(&Es256, &s.es256, Some(&format!("kid-{i}")), claims());
            assert_eq!(
                block_on(v.verify_bearer(&bearer(&made_up), NOW + 3)),
                Err(unknown.clone())
            );
        }
        assert_eq!(
            fetcher.calls.get(),
            1,
            "a flood of unknown kids costs no fetch"
        );

        // The key is rotated in; once the minute is up, the unknown kid triggers one refetch.
        *fetcher.body.borrow_mut() = jwks_of(keys.clone());
        assert_eq!(
            block_on(v.verify_bearer(&bearer(&es), NOW + 59)),
            Err(unknown.clone())
        );
        assert!(block_on(v.verify_bearer(&bearer(&es), NOW + 60)).is_ok());
        assert_eq!(fetcher.calls.get(), 2);
        let made_up = sign(&Es256, &s.es256, Some("still-unknown"), claims());
        assert_eq!(
            block_on(v.verify_bearer(&bearer(&made_up), NOW + 61)),
            Err(unknown)
        );
        assert_eq!(fetcher.calls.get(), 2);
    }

    #[test]
    fn stale_keys_are_refreshed_and_rotated_out_keys_stop_working() {
        let s = signers();
        let keys = public_jwks(s);
        let fetcher = FakeFetcher {
            body: RefCell::new(jwks_of(keys.clone())),
            calls: Cell::new(0),
        };
        let v = setup(&fetcher);
        let ed = sign(
            &Ed25519,
            &s.eddsa,
            Some("ed"),
            with(claims(), json!({"exp": NOW + 7200})),
        );
        assert!(block_on(v.verify_bearer(&bearer(&ed), NOW)).is_ok());
        // `ed` is withdrawn; an hour on, the keys are refetched and the cached token is dropped too.
        *fetcher.body.borrow_mut() = jwks_of(vec![keys[0].clone()]);
        assert!(block_on(v.verify_bearer(&bearer(&ed), NOW + 3599)).is_ok());
        assert_eq!(
            block_on(v.verify_bearer(&bearer(&ed), NOW + 3600)),
            Err(Error::Unauthenticated(AuthError::UnknownKey))
        );
        assert_eq!(fetcher.calls.get(), 2);
    }

    #[test]
    fn fetch_failures_keep_old_keys_or_answer_503() {
        let s = signers();
        let ed = sign(
            &Ed25519,
            &s.eddsa,
            Some("ed"),
            with(claims(), json!({"exp": NOW + 7200})),
        );
        for broken in [
            Err("connection refused".to_owned()),
            Ok("<html>".to_owned()),
            Ok(r#"{"keys": 1}"#.to_owned()),
            jwks_of(vec![]),
        ] {
            let fetcher = FakeFetcher {
                body: RefCell::new(broken.clone()),
                calls: Cell::new(0),
            };
            let v = setup(&fetcher);
            assert_eq!(
                block_on(v.verify_bearer(&bearer(&ed), NOW)),
                Err(Error::KeysUnavailable),
                "{broken:?}"
            );
            assert_eq!(Error::KeysUnavailable.to_response().status, 503);
        }
        let fetcher = FakeFetcher {
            body: RefCell::new(jwks_of(public_jwks(s))),
            calls: Cell::new(0),
        };
        let v = setup(&fetcher);
        assert!(block_on(v.verify_bearer(&bearer(&ed), NOW)).is_ok());
        *fetcher.body.borrow_mut() = Err("timeout".into());
        assert!(
            block_on(v.verify_bearer(&bearer(&ed), NOW + 3600)).is_ok(),
            "old keys kept"
        );
        assert_eq!(fetcher.calls.get(), 2);
    }

    #[test]
    fn bad_settings_fail_at_creation() {
        let fetcher = FakeFetcher {
            body: RefCell::new(Ok(String::new())),
            calls: Cell::new(0),
        };
        let bad_leeway = AuthConfig {
            leeway_secs: Some(-1),
            ..AuthConfig::default()
        };
        assert!(JwksVerifier::new(
            "https://x/jwks",
            bad_leeway,
            RefreshPolicy::default(),
            &fetcher
        )
        .is_err());
        assert!(JwksVerifier::new(
            "file:///etc/jwks",
            AuthConfig::default(),
            RefreshPolicy::default(),
            &fetcher
        )
        .is_err());
        assert_eq!(fetcher.calls.get(), 0);
    }
}
