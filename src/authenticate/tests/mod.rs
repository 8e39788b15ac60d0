//! Verifier tests and their shared fixtures: keys, signers, claims and token helpers.

use super::*;
use jwt_compact::alg::{
    Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa, RsaPrivateKey,
    SigningKey,
};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Claims, Header};
use serde_json::{json, Value};

pub(crate) const NOW: i64 = 1_800_000_000;
pub(crate) const ISS: &str = "https://auth.example.com/";
pub(crate) const AUD: &str = "api";
pub(crate) const HS256_SECRET: &str = "0123456789abcdef0123456789abcdef";
const HS384_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";
const HS512_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
// Test-only private keys, made with the npm `jose` package for these tests.
const RSA_PRIVATE_JWK: &str = include_str!("../testdata/rsa-2048-private.jwk.json");
const ED25519_PRIVATE_JWK: &str = include_str!("../testdata/ed25519-private.jwk.json");

pub(crate) struct Signers {
    pub(crate) es256: <Es256 as Algorithm>::SigningKey,
    pub(crate) eddsa: <Ed25519 as Algorithm>::SigningKey,
    pub(crate) rsa: RsaPrivateKey,
}

/// The test signing keys, parsed once (an RSA private key is slow to load in debug builds).
pub(crate) fn signers() -> &'static Signers {
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
pub(crate) fn public_jwks(s: &Signers) -> Vec<Value> {
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

pub(crate) fn verifier(s: &Signers) -> Verifier {
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

pub(crate) fn claims() -> Value {
    json!({
        "sub": "user-1", "org_name": "acme", "iss": ISS, "aud": AUD, "exp": NOW + 300,
        "scope": "read write", "permissions": ["orders:read"], "attach": ["catalog"]
    })
}

pub(crate) fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

pub(crate) fn sign<A: Algorithm>(
    alg: &A,
    key: &A::SigningKey,
    kid: Option<&str>,
    claims: Value,
) -> String {
    let header = kid.map_or_else(Header::empty, |k| Header::empty().with_key_id(k));
    let Value::Object(map) = claims else {
        panic!("claims are an object")
    };
    alg.token(&header, &Claims::new(map), key).unwrap()
}

/// A token of every algorithm with the same claims.
pub(crate) fn every_algorithm(s: &Signers, claims: &Value) -> Vec<(&'static str, String)> {
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

pub(crate) fn b64(bytes: &[u8]) -> String {
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

pub(crate) fn base64_decode(s: &str) -> Vec<u8> {
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

/// What a caller that checks signatures does (WebCrypto in the npm package): `check.signature`
/// over `check.signing_input` with the public JWK the verifier hands out. Here jwt-compact's
/// own backends do it.
pub(crate) fn signature_holds(jwk: &Value, check: &crate::authenticate::SignatureCheck) -> bool {
    let jwk: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).unwrap();
    let signature = &check.signature;
    let input = check.signing_input.as_bytes();
    match check.alg {
        "EdDSA" => {
            let key = <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk).unwrap();
            let sig = <Ed25519 as Algorithm>::Signature::try_from_slice(signature);
            sig.is_ok_and(|sig| Ed25519.verify_signature(&sig, &key, input))
        }
        "ES256" => {
            let key = <Es256 as Algorithm>::VerifyingKey::try_from(&jwk).unwrap();
            let sig = <Es256 as Algorithm>::Signature::try_from_slice(signature);
            sig.is_ok_and(|sig| Es256.verify_signature(&sig, &key, input))
        }
        "RS256" => {
            let key = jwt_compact::alg::RsaPublicKey::try_from(&jwk).unwrap();
            let sig = <Rsa as Algorithm>::Signature::try_from_slice(signature);
            sig.is_ok_and(|sig| Rsa::rs256().verify_signature(&sig, &key, input))
        }
        other => panic!("asked to check {other}"),
    }
}

mod cache;
mod caller_signatures;
mod hostile;
mod jwks_url;
mod keys;
mod properties;
mod vectors;
