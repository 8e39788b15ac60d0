//! Keys from a JWKS URL: when it is fetched, and what a failure does.

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
        assert_eq!(url, JWKS_URL);
        self.calls.set(self.calls.get() + 1);
        self.body.borrow().clone()
    }
}

fn jwks_of(keys: Vec<Value>) -> Result<String, String> {
    Ok(json!({ "keys": keys }).to_string())
}

const JWKS_URL: &str = "https://auth.example.com/.well-known/jwks.json";

/// A verifier whose keys come from [`JWKS_URL`] only.
fn verifier_with_url() -> Verifier {
    AuthConfig {
        jwks_url: Some(JWKS_URL.into()),
        issuer: Some(ISS.into()),
        audience: Some(AUD.into()),
        tenant_claim: Some("org_name".into()),
        ..AuthConfig::default()
    }
    .build()
    .unwrap()
}

fn setup(fetcher: &FakeFetcher) -> JwksVerifier<&FakeFetcher> {
    JwksVerifier::new(verifier_with_url(), fetcher)
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
    let with_url = |url: &str| AuthConfig {
        jwks_url: Some(url.into()),
        ..AuthConfig::default()
    };
    let bad_leeway = AuthConfig {
        leeway_secs: Some(-1),
        ..with_url("https://x/jwks")
    };
    assert!(bad_leeway.build().is_err());
    assert!(with_url("file:///etc/jwks").build().is_err());
    assert!(
        with_url("https://x/jwks").build().is_ok(),
        "the URL brings the keys"
    );
    for (max_age_secs, min_interval_secs) in [(60, 0), (10, 60)] {
        let policy = AuthConfig {
            jwks_refresh: Some(RefreshPolicy {
                max_age_secs,
                min_interval_secs,
            }),
            ..with_url("https://x/jwks")
        };
        assert!(
            policy.build().is_err(),
            "{max_age_secs} {min_interval_secs}"
        );
    }
    assert!(AuthConfig::default().build().is_err(), "no keys at all");
}

/// The verifier alone does no I/O: it says when keys are due, and takes them when given.
#[test]
fn without_an_edge_the_verifier_asks_for_its_keys() {
    let s = signers();
    let v = verifier_with_url();
    assert_eq!(v.jwks_url(), Some(JWKS_URL));
    let ed = bearer(&sign(&Ed25519, &s.eddsa, Some("ed"), claims()));
    assert_eq!(block_on(v.verify_bearer(&ed, NOW)), Err(Error::FetchKeys));
    assert_eq!(Error::FetchKeys.to_response().status, 503, "fails closed");

    // A failed fetch: asked again only a minute later; meanwhile 503.
    assert!(v.install_jwks(None, NOW).is_err());
    assert_eq!(
        block_on(v.verify_bearer(&ed, NOW)),
        Err(Error::KeysUnavailable)
    );
    assert_eq!(
        block_on(v.verify_bearer(&ed, NOW + 60)),
        Err(Error::FetchKeys)
    );
    for bad in ["<html>", r#"{"keys": 1}"#, r#"{"keys": []}"#] {
        assert!(v.install_jwks(Some(bad), NOW + 60).is_err(), "{bad}");
    }
    let jwks = jwks_of(public_jwks(s)).unwrap();
    v.install_jwks(Some(&jwks), NOW + 120).unwrap();
    assert!(block_on(v.verify_bearer(&ed, NOW + 120)).is_ok());
    // Just installed: even an unknown kid does not ask again within the second.
    let unknown = bearer(&sign(&Ed25519, &s.eddsa, Some("new"), claims()));
    assert_eq!(
        block_on(v.verify_bearer(&unknown, NOW + 120)),
        Err(Error::Unauthenticated(AuthError::UnknownKey))
    );
    assert_eq!(
        block_on(v.verify_bearer(&unknown, NOW + 180)),
        Err(Error::FetchKeys)
    );
}
