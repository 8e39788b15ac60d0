//! Keys from a JWKS URL, driven through the pipeline with a simulated edge: when they are
//! fetched, and what a failure does.

use super::*;
use crate::pipeline::{drive, Edges, Io, Pipeline, Reply, Step};
use crate::resolve::RequestParts;
use crate::{Error, TenancyConfig, UnixTime};
use pollster::block_on;
use std::cell::{Cell, RefCell};

/// Answers with whatever body it holds, counting calls.
struct FakeFetcher {
    body: RefCell<Result<String, String>>,
    calls: Cell<usize>,
}

/// The edge of one request: the fetcher, and the time it runs at.
struct Edge<'f> {
    fetcher: &'f FakeFetcher,
    now: i64,
}

impl Edges for Edge<'_> {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now)
    }

    async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        assert_eq!(url, JWKS_URL);
        self.fetcher.calls.set(self.fetcher.calls.get() + 1);
        self.fetcher.body.borrow().clone()
    }
}

fn jwks_of(keys: Vec<Value>) -> Result<String, String> {
    Ok(json!({ "keys": keys }).to_string())
}

const JWKS_URL: &str = "https://auth.example.com/.well-known/jwks.json";

/// A pipeline whose keys come from [`JWKS_URL`] only; the tenant comes from the token.
fn pipeline_with_url() -> Pipeline {
    TenancyConfig::pipeline_from_json(&format!(
        r#"{{ "resolve": {{ "strategies": [{{ "type": "jwtClaim" }}] }},
             "authenticate": {{ "jwksUrl": "{JWKS_URL}", "issuer": "{ISS}", "audience": "{AUD}",
                               "tenantClaim": "org_name" }} }}"#
    ))
    .unwrap()
}

/// `token` through the pipeline at `now`, its keys fetched by `fetcher`.
fn check(p: &Pipeline, fetcher: &FakeFetcher, token: &str, now: i64) -> Result<(), Error> {
    let request = RequestParts::new("https://x/", [("authorization", bearer(token))]);
    block_on(drive(p, request, &Edge { fetcher, now })).map(|_| ())
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
    let v = pipeline_with_url();
    let ed = sign(&Ed25519, &s.eddsa, Some("ed"), claims());
    let es = sign(&Es256, &s.es256, Some("es"), claims());

    assert!(check(&v, &fetcher, &ed, NOW).is_ok());
    assert!(check(&v, &fetcher, &ed, NOW + 1).is_ok());
    assert_eq!(fetcher.calls.get(), 1, "fetched on first use only");

    // `es` is not published yet, and the first fetch was under a minute ago: no refetch,
    // however many tokens with unknown kids arrive.
    let unknown = Error::Unauthenticated(AuthError::UnknownKey);
    assert_eq!(check(&v, &fetcher, &es, NOW + 2), Err(unknown.clone()));
    for i in 0..50 {
        let made_up = sign(&Es256, &s.es256, Some(&format!("kid-{i}")), claims());
        assert_eq!(check(&v, &fetcher, &made_up, NOW + 3), Err(unknown.clone()));
    }
    assert_eq!(
        fetcher.calls.get(),
        1,
        "a flood of unknown kids costs no fetch"
    );

    // The key is rotated in; once the minute is up, the unknown kid triggers one refetch.
    *fetcher.body.borrow_mut() = jwks_of(keys.clone());
    assert_eq!(check(&v, &fetcher, &es, NOW + 59), Err(unknown.clone()));
    assert!(check(&v, &fetcher, &es, NOW + 60).is_ok());
    assert_eq!(fetcher.calls.get(), 2);
    let made_up = sign(&Es256, &s.es256, Some("still-unknown"), claims());
    assert_eq!(check(&v, &fetcher, &made_up, NOW + 61), Err(unknown));
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
    let v = pipeline_with_url();
    let ed = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"exp": NOW + 7200})),
    );
    assert!(check(&v, &fetcher, &ed, NOW).is_ok());
    // `ed` is withdrawn; an hour on, the keys are refetched and the cached token is dropped too.
    *fetcher.body.borrow_mut() = jwks_of(vec![keys[0].clone()]);
    assert!(check(&v, &fetcher, &ed, NOW + 3599).is_ok());
    assert_eq!(
        check(&v, &fetcher, &ed, NOW + 3600),
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
        let v = pipeline_with_url();
        assert_eq!(
            check(&v, &fetcher, &ed, NOW),
            Err(Error::KeysUnavailable),
            "{broken:?}"
        );
        assert_eq!(Error::KeysUnavailable.to_response().status, 503);
    }
    let fetcher = FakeFetcher {
        body: RefCell::new(jwks_of(public_jwks(s))),
        calls: Cell::new(0),
    };
    let v = pipeline_with_url();
    assert!(check(&v, &fetcher, &ed, NOW).is_ok());
    *fetcher.body.borrow_mut() = Err("timeout".into());
    assert!(
        check(&v, &fetcher, &ed, NOW + 3600).is_ok(),
        "old keys kept"
    );
    assert_eq!(fetcher.calls.get(), 2);
}

/// Keys kept by failed refreshes verify for `maxStaleSecs` past their due time, then nothing
/// does (503, the cached token included) until a fetch succeeds again.
#[test]
fn keys_kept_by_failed_refreshes_expire() {
    let s = signers();
    let ed = sign(
        &Ed25519,
        &s.eddsa,
        Some("ed"),
        with(claims(), json!({"exp": NOW + 90_000})),
    );
    let fetcher = FakeFetcher {
        body: RefCell::new(jwks_of(public_jwks(s))),
        calls: Cell::new(0),
    };
    let v = pipeline_with_url();
    assert!(check(&v, &fetcher, &ed, NOW).is_ok());
    *fetcher.body.borrow_mut() = Err("the identity provider is down".into());
    let lifetime = 3600 + DEFAULT_MAX_STALE_SECS;
    assert!(
        check(&v, &fetcher, &ed, NOW + 3600).is_ok(),
        "kept at first"
    );
    assert!(check(&v, &fetcher, &ed, NOW + lifetime - 1).is_ok());
    // Past it: the cached token does not pass either, on the request that tried to fetch and
    // on one within the minute that may not fetch.
    assert_eq!(
        check(&v, &fetcher, &ed, NOW + lifetime),
        Err(Error::KeysUnavailable)
    );
    let calls = fetcher.calls.get();
    assert_eq!(
        check(&v, &fetcher, &ed, NOW + lifetime + 1),
        Err(Error::KeysUnavailable)
    );
    assert_eq!(fetcher.calls.get(), calls, "no fetch within the minute");
    // The provider answers again: the same document makes the keys fresh.
    *fetcher.body.borrow_mut() = jwks_of(public_jwks(s));
    assert!(check(&v, &fetcher, &ed, NOW + lifetime + 60).is_ok());

    // maxStaleSecs 0: keys are used up to their max age only.
    let strict = TenancyConfig::pipeline_from_json(&format!(
        r#"{{ "resolve": {{ "strategies": [{{ "type": "jwtClaim" }}] }},
             "authenticate": {{ "jwksUrl": "{JWKS_URL}", "issuer": "{ISS}", "audience": "{AUD}",
                               "tenantClaim": "org_name",
                               "jwksRefresh": {{ "maxAgeSecs": 600, "minIntervalSecs": 60,
                                                 "maxStaleSecs": 0 }} }} }}"#
    ))
    .unwrap();
    assert!(check(&strict, &fetcher, &ed, NOW).is_ok());
    *fetcher.body.borrow_mut() = Err("down".into());
    assert!(check(&strict, &fetcher, &ed, NOW + 599).is_ok());
    assert_eq!(
        check(&strict, &fetcher, &ed, NOW + 600),
        Err(Error::KeysUnavailable)
    );
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
    for (max_age_secs, min_interval_secs, max_stale_secs) in
        [(60, 0, 0), (10, 60, 0), (60, 60, -1), (60, 60, 86_401)]
    {
        let policy = AuthConfig {
            jwks_refresh: Some(RefreshPolicy {
                max_age_secs,
                min_interval_secs,
                max_stale_secs,
            }),
            ..with_url("https://x/jwks")
        };
        assert!(
            policy.build().is_err(),
            "{max_age_secs} {min_interval_secs} {max_stale_secs}"
        );
    }
    assert!(AuthConfig::default().build().is_err(), "no keys at all");
}

/// The pipeline alone does no I/O: it asks for the keys as a request, and takes them as a reply
/// to exactly that request.
#[test]
fn without_an_edge_the_pipeline_asks_for_its_keys() {
    let s = signers();
    let p = pipeline_with_url();
    let ed = bearer(&sign(&Ed25519, &s.eddsa, Some("ed"), claims()));
    let request = || RequestParts::new("https://x/", [("authorization", ed.as_str())]);
    let at = UnixTime::from_secs;
    let (mut run, step) = p.start(request(), at(NOW));
    let Step::Io(ticket, Io::FetchJwks(fetch)) = step else {
        panic!("{step:?}")
    };
    assert_eq!(fetch.url, JWKS_URL);
    // A second request meanwhile waits for the same fetch.
    let (mut other, step) = p.start(request(), at(NOW + 1));
    let Step::Io(other_ticket, Io::FetchJwks(same)) = step else {
        panic!("{step:?}")
    };
    assert_eq!(same.id, fetch.id);

    // The fetch fails: no keys, 503; nothing is fetched again within the minute.
    let step = p.resume(
        &mut run,
        ticket,
        Reply::Unavailable("down".into()),
        at(NOW + 2),
    );
    assert_eq!(step, Step::Failed(Error::KeysUnavailable));
    let step = p.resume(
        &mut other,
        other_ticket,
        Reply::Jwks("{}".into()),
        at(NOW + 2),
    );
    assert_eq!(
        step,
        Step::Failed(Error::KeysUnavailable),
        "the fetch was settled"
    );
    assert_eq!(
        p.start(request(), at(NOW + 30)).1,
        Step::Failed(Error::KeysUnavailable)
    );

    // Bad documents keep the keys as they were (none).
    for (minute, bad) in (1..).zip(["<html>", r#"{"keys": 1}"#, r#"{"keys": []}"#]) {
        let t = NOW + 61 * minute;
        let (mut run, step) = p.start(request(), at(t));
        let Step::Io(ticket, Io::FetchJwks(_)) = step else {
            panic!("{step:?}")
        };
        let step = p.resume(&mut run, ticket, Reply::Jwks(bad.into()), at(t));
        assert_eq!(step, Step::Failed(Error::KeysUnavailable), "{bad}");
        assert!(run.take_notes()[0].contains("kept as they were"), "{bad}");
    }
    let (mut run, step) = p.start(request(), at(NOW + 250));
    let Step::Io(ticket, Io::FetchJwks(_)) = step else {
        panic!("{step:?}")
    };
    let jwks = jwks_of(public_jwks(s)).unwrap();
    let step = p.resume(&mut run, ticket, Reply::Jwks(jwks), at(NOW + 250));
    assert!(matches!(step, Step::Done(_)), "{step:?}");
    // Just installed: an unknown kid does not ask again within the minute.
    let unknown = bearer(&sign(&Ed25519, &s.eddsa, Some("new"), claims()));
    let unknown_request = || RequestParts::new("https://x/", [("authorization", unknown.as_str())]);
    assert_eq!(
        p.start(unknown_request(), at(NOW + 251)).1,
        Step::Failed(Error::Unauthenticated(AuthError::UnknownKey))
    );
    assert!(matches!(
        p.start(unknown_request(), at(NOW + 311)).1,
        Step::Io(_, Io::FetchJwks(_))
    ));
}
