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
