//! The pipeline driven as its edges would drive it: stages in order, every I/O request through a
//! simulated edge with a fake clock, faults, and a property test that feeds it random, stale,
//! repeated and out-of-order replies.

use super::*;
use crate::authenticate::tests::{
    claims, public_jwks, sign, signature_holds, signers, with, AUD, HS256_SECRET, ISS, NOW,
};
use crate::authenticate::KeyRef;
use crate::lookup::TenantStatus;
use crate::resolve::{Host, RequestParts};
use crate::{Error, Fault, TenancyConfig, TenantId, UnixTime};
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key};
use pollster::block_on;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};

fn hs256(tenant: &str, scope: &str) -> String {
    let claims = with(claims(), json!({ "org_name": tenant, "scope": scope }));
    sign(&Hs256, &Hs256Key::new(HS256_SECRET), Some("hs256"), claims)
}

fn eddsa(claims: Value) -> String {
    sign(&Ed25519, &signers().eddsa, Some("ed"), claims)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A simulated edge: a JWKS document, custom domains, the registry, and a clock.
struct World<'p> {
    pipeline: &'p Pipeline,
    now: Cell<i64>,
    jwks: RefCell<Result<String, String>>,
    domains: Vec<(&'static str, &'static str)>,
    tenants: Vec<(&'static str, TenantStatus)>,
    /// The kinds of I/O performed, in order.
    performed: RefCell<Vec<&'static str>>,
    logged: RefCell<Vec<String>>,
}

impl<'p> World<'p> {
    fn new(pipeline: &'p Pipeline) -> Self {
        Self {
            pipeline,
            now: Cell::new(NOW),
            jwks: RefCell::new(Ok(json!({ "keys": public_jwks(signers()) }).to_string())),
            domains: vec![("shop.acme.com", "acme"), ("crm.beta.io", "beta")],
            tenants: vec![
                ("acme", TenantStatus::Ready),
                // Registered, so that only the signature check stands between a forged token
                // naming it and a pass.
                ("evil", TenantStatus::Ready),
                ("beta", TenantStatus::NotFound),
                (
                    "gamma",
                    TenantStatus::Unavailable {
                        retry_after_secs: 30,
                    },
                ),
            ],
            performed: RefCell::new(Vec::new()),
            logged: RefCell::new(Vec::new()),
        }
    }

    fn did(&self, kind: &'static str) {
        self.performed.borrow_mut().push(kind);
    }

    /// Runs a request to `host` with `token` through the pipeline.
    fn request(&self, host: &str, token: Option<&str>) -> Result<TenantContext, Error> {
        let mut headers = vec![("host", host.to_owned())];
        if let Some(token) = token {
            headers.push(("authorization", bearer(token)));
        }
        let parts = RequestParts::new(&format!("https://{host}/x"), headers);
        block_on(drive(self.pipeline, parts, self))
    }

    fn performed(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.performed.borrow_mut())
    }
}

impl Edges for World<'_> {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now.get())
    }

    async fn fetch_jwks(&self, _url: &str) -> Result<String, String> {
        self.did("fetchJwks");
        self.jwks.borrow().clone()
    }

    async fn check_signature(
        &self,
        check: &crate::authenticate::SignatureCheck,
    ) -> Result<bool, String> {
        self.did("checkSignature");
        let verifier = self.pipeline.verifier().ok_or("no verifier")?;
        let jwk = verifier.public_jwk(check.key).ok_or("the key is gone")?;
        Ok(signature_holds(&jwk, check))
    }

    async fn look_up_domain(&self, host: &Host) -> Result<Option<TenantId>, String> {
        self.did("lookUpDomain");
        if host.as_str() == "down.example" {
            return Err("the registry is down".into());
        }
        Ok(self
            .domains
            .iter()
            .find(|(h, _)| *h == host.as_str())
            .map(|(_, t)| t.parse().unwrap()))
    }

    async fn look_up_tenant(&self, tenant: &TenantId) -> Result<TenantStatus, String> {
        self.did("lookUpTenant");
        Ok(self
            .tenants
            .iter()
            .find(|(t, _)| *t == tenant.as_str())
            .map_or(TenantStatus::NotFound, |(_, s)| *s))
    }

    fn log(&self, message: &str) {
        self.logged.borrow_mut().push(message.to_owned());
    }
}

/// A pipeline with HMAC keys in memory: no I/O at all.
fn static_pipeline() -> Pipeline {
    TenancyConfig::pipeline_from_json(&format!(
        r#"{{ "resolve": {{ "strategies": [{{ "type": "subdomain", "baseDomains": ["example.com"] }},
                                          {{ "type": "jwtClaim" }}],
                           "controlPlaneTenant": "main" }},
             "authenticate": {{ "secrets": [{{ "secret": "{HS256_SECRET}", "alg": "HS256", "kid": "hs256" }}],
                               "issuer": "{ISS}", "audience": "{AUD}", "tenantClaim": "org_name" }},
             "access": {{ "publicPaths": ["/health"] }} }}"#
    ))
    .unwrap()
}

/// A pipeline that needs every kind of I/O: keys from a JWKS URL, signatures checked by the
/// edge, custom domains and tenants looked up.
fn io_pipeline() -> Pipeline {
    TenancyConfig::pipeline_from_json(&format!(
        r#"{{ "resolve": {{ "strategies": [{{ "type": "customDomain", "lookup": true }}, {{ "type": "jwtClaim" }}],
                           "controlPlaneTenant": "main", "lookUpTenants": true }},
             "authenticate": {{ "jwksUrl": "https://auth.example.com/jwks", "issuer": "{ISS}",
                               "audience": "{AUD}", "tenantClaim": "org_name" }} }}"#
    ))
    .unwrap()
    .with_caller_signatures()
}

fn outcome(result: Result<TenantContext, Error>) -> String {
    match result {
        Ok(ctx) => format!("{}@{:?} {:?}", ctx.tenant(), ctx.source(), ctx.access()),
        Err(e) => {
            let r = e.to_response();
            format!("{} {}", r.status, r.code)
        }
    }
}

#[test]
fn stages_in_order() {
    let p = static_pipeline();
    let world = World::new(&p);
    let bad = format!("{}x", hs256("acme", ""));
    let cases = [
        (
            "acme.example.com",
            "/x",
            Some(hs256("acme", "")),
            "acme@Subdomain Member",
        ),
        (
            "acme.example.com",
            "/x",
            Some(hs256("beta", "")),
            "403 forbidden",
        ),
        (
            "acme.example.com",
            "/x",
            Some(hs256("main", "tenants:admin")),
            "acme@Subdomain Admin",
        ),
        (
            "acme.example.com",
            "/x",
            Some(hs256("main", "read")),
            "403 forbidden",
        ),
        ("acme.example.com", "/x", None, "401 unauthenticated"),
        (
            "acme.example.com",
            "/x",
            Some(bad.clone()),
            "401 unauthenticated",
        ),
        ("acme.example.com", "/health", None, "acme@Subdomain Public"),
        // A bad token is refused even on a public path.
        (
            "acme.example.com",
            "/health",
            Some(bad),
            "401 unauthenticated",
        ),
        // The token names the tenant when the host does not.
        (
            "other.net",
            "/x",
            Some(hs256("beta", "")),
            "beta@JwtClaim Member",
        ),
        ("other.net", "/health", None, "main@ControlPlane Public"),
        // Resolution errors come before access checks.
        (
            "Acme_.example.com",
            "/x",
            Some(hs256("acme", "")),
            "400 invalid_host",
        ),
        (
            "xn--a.example.com",
            "/x",
            Some(hs256("acme", "")),
            "400 invalid_tenant_id",
        ),
    ];
    for (host, path, token, want) in cases {
        let mut headers = vec![("host", host.to_owned())];
        if let Some(token) = &token {
            headers.push(("authorization", bearer(token)));
        }
        let parts = RequestParts::new(&format!("https://{host}{path}"), headers);
        let got = outcome(block_on(drive(&p, parts, &world)));
        assert_eq!(got, want, "{host}{path}");
    }
    assert!(world.performed().is_empty(), "keys in memory need no I/O");
    assert_eq!(p.headers_read(), ["authorization"]);
}

/// Public paths, for every way a tenant is found, through the whole pipeline: who may act for
/// the tenant keeps their access and principal; anyone else is anonymous (no principal) on a
/// public path and refused beside it; a token that does not verify is refused everywhere.
#[test]
fn public_paths_for_every_strategy() {
    let hs = |claims: Value| sign(&Hs256, &Hs256Key::new(HS256_SECRET), Some("hs256"), claims);
    let forged = {
        let real = hs256("acme", "read");
        let other = sign(
            &Hs256,
            &Hs256Key::new(b"another secret of at least 32 bytes!"),
            Some("hs256"),
            with(claims(), json!({ "org_name": "acme" })),
        );
        let (signing_input, _) = real.rsplit_once('.').unwrap();
        format!("{signing_input}.{}", other.rsplit_once('.').unwrap().1)
    };
    let tokens: [(&str, Option<String>); 10] = [
        ("none", None),
        ("own", Some(hs256("acme", "read"))),
        ("admin", Some(hs256("main", "tenants:admin"))),
        ("other tenant", Some(hs256("beta", "tenants:admin"))),
        ("main, not admin", Some(hs256("main", "read"))),
        (
            "unbound",
            Some(hs(with(claims(), json!({ "org_name": null })))),
        ),
        (
            "expired",
            Some(hs(with(claims(), json!({ "exp": NOW - 61 })))),
        ),
        (
            "not yet",
            Some(hs(with(claims(), json!({ "nbf": NOW + 61 })))),
        ),
        ("forged", Some(forged)),
        ("garbage", Some("not.a.token".to_owned())),
    ];
    // (strategy, host, the path's tenant head, a header): each request names tenant acme, the
    // jwtClaim one through the token only.
    type Naming<'a> = (&'a str, &'a str, &'a str, Option<(&'a str, &'a str)>);
    let strategies: [Naming; 6] = [
        (
            r#"{ "type": "subdomain", "baseDomains": ["example.com"] }"#,
            "acme.example.com",
            "",
            None,
        ),
        (
            r#"{ "type": "customDomain", "domains": { "shop.acme.test": "acme" } }"#,
            "shop.acme.test",
            "",
            None,
        ),
        (
            r#"{ "type": "header", "name": "x-tenant" }"#,
            "api.example.com",
            "",
            Some(("x-tenant", "acme")),
        ),
        (
            r#"{ "type": "pathPrefix", "prefix": "/t/" }"#,
            "api.example.com",
            "/t/acme",
            None,
        ),
        (r#"{ "type": "jwtClaim" }"#, "api.example.com", "", None),
        (
            r#"{ "type": "query", "name": "tenant" }"#,
            "api.example.com",
            "",
            None,
        ),
    ];
    let public = ["/health", "/health/", "/health/x", "/docs", "/docs/a"];
    let private = [
        "/x",
        "/healthz",
        "/HEALTH",
        "/%68ealth",
        "//health",
        "/health%2F..",
        "/doc",
    ];
    for (strategy, host, head, header) in strategies {
        let p = TenancyConfig::pipeline_from_json(&format!(
            r#"{{ "resolve": {{ "strategies": [{strategy}], "controlPlaneTenant": "main" }},
                 "authenticate": {{ "secrets": [{{ "secret": "{HS256_SECRET}", "alg": "HS256", "kid": "hs256" }}],
                                   "issuer": "{ISS}", "audience": "{AUD}", "tenantClaim": "org_name" }},
                 "access": {{ "publicPaths": ["/health", "/docs/"] }} }}"#
        ))
        .unwrap();
        let world = World::new(&p);
        let by_claim = strategy.contains("jwtClaim");
        for (who, token) in &tokens {
            for (paths, public) in [(&public[..], true), (&private[..], false)] {
                for path in paths {
                    let query = if strategy.contains("query") {
                        "?tenant=acme"
                    } else {
                        ""
                    };
                    let url = format!("https://{host}{head}{path}{query}");
                    let mut headers = vec![];
                    headers.extend(header.map(|(n, v)| (n, v.to_owned())));
                    if let Some(token) = token {
                        headers.push(("authorization", bearer(token)));
                    }
                    let got = block_on(drive(&p, RequestParts::new(&url, headers), &world));
                    let anonymous = |refused| match public {
                        true => Ok(("public", false)),
                        false => Err(refused),
                    };
                    // Under jwtClaim alone the token names the tenant: its own, or the control
                    // plane's when it names none; so does no token.
                    let named = if by_claim { "main" } else { "acme" };
                    let (tenant, want) = match (*who, by_claim) {
                        ("expired" | "not yet" | "forged" | "garbage", _) => {
                            ("acme", Err("401 unauthenticated"))
                        }
                        ("none", _) => (named, anonymous("401 unauthenticated")),
                        ("unbound", _) => (named, anonymous("403 forbidden")),
                        ("own", _) => ("acme", Ok(("member", true))),
                        ("admin", false) => ("acme", Ok(("admin", true))),
                        (_, false) => ("acme", anonymous("403 forbidden")),
                        ("other tenant", true) => ("beta", Ok(("member", true))),
                        (_, true) => ("main", Ok(("member", true))),
                    };
                    let got = got
                        .map(|ctx| {
                            assert_eq!(ctx.tenant().as_str(), tenant, "{who} {url}");
                            let access = serde_json::to_value(ctx.access()).unwrap();
                            (
                                access.as_str().unwrap().to_owned(),
                                ctx.principal().is_some(),
                            )
                        })
                        .map_err(|e| {
                            let r = e.to_response();
                            format!("{} {}", r.status, r.code)
                        });
                    let want = want
                        .map(|(access, principal)| (access.to_owned(), principal))
                        .map_err(str::to_owned);
                    assert_eq!(got, want, "{who} on {url}");
                }
            }
        }
    }
}

#[test]
fn without_a_verifier_tokens_are_refused() {
    let p = TenancyConfig::pipeline_from_json(
        r#"{ "resolve": { "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"] }] },
             "access": { "publicPaths": ["/health"] } }"#,
    )
    .unwrap();
    let world = World::new(&p);
    assert_eq!(
        outcome(world.request("acme.example.com", Some(&hs256("acme", "")))),
        "401 unauthenticated"
    );
    let parts = RequestParts::new(
        "https://acme.example.com/health",
        [("host", "acme.example.com")],
    );
    assert_eq!(
        outcome(block_on(drive(&p, parts, &world))),
        "acme@Subdomain Public"
    );
}

#[test]
fn every_io_request_through_a_simulated_edge() {
    let p = io_pipeline();
    let world = World::new(&p);
    let token = eddsa(claims());
    assert_eq!(
        outcome(world.request("shop.acme.com", Some(&token))),
        "acme@CustomDomain Member"
    );
    assert_eq!(
        world.performed(),
        [
            "fetchJwks",
            "checkSignature",
            "lookUpDomain",
            "lookUpTenant"
        ]
    );
    // The token is remembered and the keys are fresh: only the lookups again.
    world.now.set(NOW + 10);
    assert_eq!(
        outcome(world.request("shop.acme.com", Some(&token))),
        "acme@CustomDomain Member"
    );
    assert_eq!(world.performed(), ["lookUpDomain", "lookUpTenant"]);

    // The registry's answers decide: unknown 404, not ready 503 with Retry-After.
    let beta = eddsa(with(claims(), json!({ "org_name": "beta" })));
    assert_eq!(
        outcome(world.request("crm.beta.io", Some(&beta))),
        "404 tenant_not_found"
    );
    let gamma = eddsa(with(claims(), json!({ "org_name": "gamma" })));
    let error = world.request("unmapped.io", Some(&gamma)).unwrap_err();
    assert_eq!(error.to_response().code, "tenant_unavailable");
    assert_eq!(error.to_response().retry_after, Some(30));
    // A failed lookup fails the request: 503, logged once.
    assert_eq!(
        outcome(world.request("down.example", Some(&token))),
        "503 lookup_unavailable"
    );
    assert_eq!(world.logged.borrow().len(), 1);
    // The control-plane tenant is never looked up.
    world.performed();
    let main = eddsa(with(claims(), json!({ "org_name": "main" })));
    assert_eq!(
        outcome(world.request("unmapped.io", Some(&main))),
        "main@JwtClaim Member"
    );
    assert_eq!(world.performed(), ["checkSignature", "lookUpDomain"]);
    // A host that names another tenant than the token: 403, before any tenant lookup.
    assert_eq!(
        outcome(world.request("crm.beta.io", Some(&token))),
        "403 forbidden"
    );
    assert_eq!(world.performed(), ["lookUpDomain"]);
}

/// Drives `run` by hand: its pending I/O request.
fn pending(step: Step) -> (Ticket, Io) {
    match step {
        Step::Io(ticket, io) => (ticket, io),
        other => panic!("not waiting for I/O: {other:?}"),
    }
}

fn at(secs: i64) -> UnixTime {
    UnixTime::from_secs(secs)
}

fn request_with(token: &str) -> RequestParts {
    RequestParts::new(
        "https://unmapped.io/x",
        [
            ("host", "unmapped.io".to_owned()),
            ("authorization", bearer(token)),
        ],
    )
}

#[test]
fn replies_that_do_not_fit_fail_closed() {
    let p = io_pipeline();
    let token = eddsa(claims());

    // Another ticket.
    let (mut run, step) = p.start(request_with(&token), at(NOW));
    let (ticket, _) = pending(step);
    let other = Ticket::from_number(ticket.get() + 1);
    let step = p.resume(&mut run, other, Reply::Jwks("{}".into()), at(NOW));
    assert_eq!(step, Step::Failed(Error::Fault(Fault::StaleReply)));
    assert_eq!(step_code(&step), "pipeline_fault");
    assert!(run.is_finished());
    assert_eq!(run.take_notes().len(), 1, "logged once");
    // And anything after is refused too, without another note.
    let step = p.resume(&mut run, ticket, Reply::Jwks("{}".into()), at(NOW));
    assert_eq!(step, Step::Failed(Error::Fault(Fault::Finished)));
    assert!(run.take_notes().is_empty());

    // Another kind of reply.
    let (mut run, step) = p.start(request_with(&token), at(NOW));
    let (ticket, io) = pending(step);
    assert_eq!(io.kind(), "fetchJwks");
    let step = p.resume(&mut run, ticket, Reply::Signature(true), at(NOW));
    assert_eq!(
        step,
        Step::Failed(Error::Fault(Fault::UnexpectedReply {
            expected: "jwks",
            got: "signature"
        }))
    );

    // The same reply twice: the second is stale.
    let world = World::new(&p);
    let (mut run, step) = p.start(request_with(&token), at(NOW));
    let (ticket, _) = pending(step);
    let jwks = world.jwks.borrow().clone().unwrap();
    let next = p.resume(&mut run, ticket, Reply::Jwks(jwks.clone()), at(NOW));
    let (check_ticket, io) = pending(next);
    assert_eq!(io.kind(), "checkSignature");
    let step = p.resume(&mut run, ticket, Reply::Jwks(jwks), at(NOW));
    assert_eq!(step, Step::Failed(Error::Fault(Fault::StaleReply)));
    assert_ne!(check_ticket, ticket);
}

fn step_code(step: &Step) -> &'static str {
    match step {
        Step::Failed(error) => error.to_response().code,
        _ => "",
    }
}

/// One request with a made-up `kid` makes the pipeline fetch the JWKS now, and `body` is what
/// it gets: how the tests rotate keys while another request is in flight.
fn rotate(p: &Pipeline, now: i64, body: &str) {
    let made_up = sign(&Ed25519, &signers().eddsa, Some("made-up"), claims());
    let (mut run, step) = p.start(request_with(&made_up), at(now));
    let (ticket, io) = pending(step);
    assert_eq!(io.kind(), "fetchJwks");
    let step = p.resume(&mut run, ticket, Reply::Jwks(body.into()), at(now));
    assert!(
        matches!(step, Step::Failed(Error::Unauthenticated(_))),
        "{step:?}"
    );
}

#[test]
fn a_key_rotation_during_a_signature_check_is_never_mistaken_for_the_new_keys() {
    let p = io_pipeline();
    let keys = public_jwks(signers());
    let all = json!({ "keys": keys }).to_string();
    let reordered =
        json!({ "keys": [keys[2].clone(), keys[1].clone(), keys[0].clone()] }).to_string();
    let without_ed = json!({ "keys": [keys[0].clone(), keys[2].clone()] }).to_string();
    let token = eddsa(claims());

    // The check was asked with the first key set; the keys are rotated before the verdict
    // comes. The verdict names a key that is gone: it is asked again, with the new key.
    let (mut run, step) = p.start(request_with(&token), at(NOW));
    let (ticket, _) = pending(step);
    let (ticket_check, io) = pending(p.resume(&mut run, ticket, Reply::Jwks(all.clone()), at(NOW)));
    let Io::CheckSignature(first) = io else {
        panic!("{io:?}")
    };
    rotate(&p, NOW + 61, &reordered);
    assert_eq!(p.verifier().unwrap().public_jwk(first.key), None);
    let step = p.resume(&mut run, ticket_check, Reply::Signature(true), at(NOW + 62));
    let (ticket_again, io) = pending(step);
    let Io::CheckSignature(again) = io else {
        panic!("{io:?}")
    };
    assert_ne!(again.key, first.key);
    assert_eq!(again.key.generation, first.key.generation + 1);
    let step = p.resume(&mut run, ticket_again, Reply::Signature(true), at(NOW + 62));
    let (ticket_domain, io) = pending(step);
    assert_eq!(io.kind(), "lookUpDomain");
    let step = p.resume(&mut run, ticket_domain, Reply::Domain(None), at(NOW + 62));
    let (ticket_tenant, _) = pending(step);
    assert!(matches!(
        p.resume(
            &mut run,
            ticket_tenant,
            Reply::Tenant(TenantStatus::Ready),
            at(NOW + 62)
        ),
        Step::Done(_)
    ));

    // Rotated out while its check was in flight: refused, whatever the verdict said.
    let fresh = eddsa(with(claims(), json!({ "sub": "user-2" })));
    let (mut run, step) = p.start(request_with(&fresh), at(NOW + 63));
    let (ticket, _) = pending(step);
    rotate(&p, NOW + 130, &without_ed);
    let step = p.resume(&mut run, ticket, Reply::Signature(true), at(NOW + 130));
    assert_eq!(
        step,
        Step::Failed(Error::Unauthenticated(
            crate::authenticate::AuthError::UnknownKey
        ))
    );
    // And the token verified before the rotation is not remembered past it.
    let (_, step) = p.start(request_with(&token), at(NOW + 131));
    assert_eq!(
        step,
        Step::Failed(Error::Unauthenticated(
            crate::authenticate::AuthError::UnknownKey
        ))
    );
}

#[test]
fn a_run_that_keeps_being_sent_back_stops_at_the_step_limit() {
    let p = io_pipeline();
    let keys = public_jwks(signers());
    let bodies = [
        json!({ "keys": keys }).to_string(),
        json!({ "keys": [keys[2].clone(), keys[1].clone(), keys[0].clone()] }).to_string(),
    ];
    let (mut run, step) = p.start(request_with(&eddsa(claims())), at(NOW));
    let (mut ticket, _) = pending(step);
    let mut step = p.resume(&mut run, ticket, Reply::Jwks(bodies[0].clone()), at(NOW));
    let mut now = NOW;
    let mut checks = 0;
    while let Step::Io(t, Io::CheckSignature(_)) = step {
        checks += 1;
        ticket = t;
        now += 61;
        rotate(&p, now, &bodies[checks % 2]);
        step = p.resume(&mut run, ticket, Reply::Signature(true), at(now));
    }
    assert_eq!(step, Step::Failed(Error::Fault(Fault::TooManySteps)));
    assert_eq!(checks, usize::from(MAX_IO_PER_RUN) - 1);
}

#[test]
fn answers_may_be_replayed_until_exp_and_the_keys_fall_due_never_unbounded() {
    let p = static_pipeline();
    let reuse = p.reuse().unwrap();
    assert!(!reuse.reads_query && reuse.capacity == 256 && reuse.max_bytes > 0);
    let world = World::new(&p);
    let exp = NOW + 100;
    let token = sign(
        &Hs256,
        &Hs256Key::new(HS256_SECRET),
        Some("hs256"),
        with(claims(), json!({ "exp": exp })),
    );
    let context = world.request("acme.example.com", Some(&token)).unwrap();
    let until = p.replay_until(&context, at(NOW)).unwrap();
    assert_eq!(until, at(exp + 60), "exp plus the leeway");
    // The window is exact: the same request passes at every second before it, not at it.
    for now in [NOW, exp, until.secs() - 1] {
        world.now.set(now);
        assert_eq!(
            world.request("acme.example.com", Some(&token)).as_ref(),
            Ok(&context)
        );
    }
    world.now.set(until.secs());
    assert!(world.request("acme.example.com", Some(&token)).is_err());
    // A far exp is capped: answers are checked again at least every MAX_REPLAY.
    let far = sign(
        &Hs256,
        &Hs256Key::new(HS256_SECRET),
        Some("hs256"),
        with(claims(), json!({ "exp": NOW + 86_400 })),
    );
    world.now.set(NOW);
    let context = world.request("acme.example.com", Some(&far)).unwrap();
    assert_eq!(
        p.replay_until(&context, at(NOW)),
        Some(at(NOW) + MAX_REPLAY)
    );
    // Tokenless answers are not replayed, and pipelines with lookups replay nothing.
    let parts = RequestParts::new(
        "https://acme.example.com/health",
        [("host", "acme.example.com")],
    );
    let public = block_on(drive(&p, parts, &world)).unwrap();
    assert_eq!(p.replay_until(&public, at(NOW)), None);
    assert_eq!(io_pipeline().reuse(), None);
}

#[test]
fn keys_from_a_url_bound_replays_by_their_due_time() {
    let p = io_pipeline();
    let world = World::new(&p);
    let token = eddsa(with(claims(), json!({ "exp": NOW + 86_400 })));
    let context = world.request("shop.acme.com", Some(&token)).unwrap();
    assert_eq!(
        p.verifier()
            .unwrap()
            .valid_until(context.principal().unwrap()),
        Some(at(NOW + 3600)),
        "the keys fall due in an hour, before the token expires"
    );
}

/// The key `p` asks to check an EdDSA token with, once its first run has fetched the keys.
fn eddsa_key(p: &Pipeline) -> KeyRef {
    let world = World::new(p);
    let (mut run, step) = p.start(request_with(&eddsa(claims())), at(NOW));
    let (ticket, _) = pending(step);
    let jwks = world.jwks.borrow().clone().unwrap();
    let (_, io) = pending(p.resume(&mut run, ticket, Reply::Jwks(jwks), at(NOW)));
    let Io::CheckSignature(check) = io else {
        panic!("{io:?}")
    };
    check.key
}

#[test]
fn a_verdict_given_up_front_stands_only_for_the_key_the_token_needs() {
    let p = io_pipeline();
    let key = eddsa_key(&p);
    let user = |n: u32| eddsa(with(claims(), json!({ "sub": format!("user-{n}") })));

    // The key the token needs, and it holds: no check is asked, the run goes on to resolve.
    let (_, step) = p.start_with_verdict(request_with(&user(1)), at(NOW), key, true);
    assert_eq!(pending(step).1.kind(), "lookUpDomain");
    // That key, and it does not hold: refused at once.
    let (_, step) = p.start_with_verdict(request_with(&user(2)), at(NOW), key, false);
    assert_eq!(
        step,
        Step::Failed(Error::Unauthenticated(
            crate::authenticate::AuthError::BadSignature
        ))
    );
    // Another place in the set, or the same place in another set: no verdict; the check is
    // asked for the key the token needs, and nothing was remembered on the way.
    let elsewhere = [
        KeyRef {
            index: key.index + 1,
            ..key
        },
        KeyRef {
            generation: key.generation + 1,
            ..key
        },
    ];
    for wrong in elsewhere {
        let (_, step) = p.start_with_verdict(request_with(&user(3)), at(NOW), wrong, true);
        let (_, io) = pending(step);
        let Io::CheckSignature(asked) = io else {
            panic!("{io:?}")
        };
        assert_eq!(asked.key, key);
    }
}

#[test]
fn a_verdict_given_up_front_does_not_loosen_the_token_format() {
    // With a verdict the signature segment is not decoded, only checked for form and length:
    // every malformed or mis-sized one is refused just as the whole token's parse refuses it.
    let p = io_pipeline();
    let key = eddsa_key(&p);
    let token = eddsa(with(claims(), json!({ "sub": "user-9" })));
    let (head, signature) = token.rsplit_once('.').unwrap();
    // 86 characters: the last carries 2 bits and 4 unused ones, so it is A, Q, g or w; the
    // character after it sets an unused bit.
    let last = signature.as_bytes()[signature.len() - 1];
    let flipped = char::from(last + 1);
    let mangled = [
        format!("{head}.{signature}=="),
        format!("{head}.+{}", &signature[1..]),
        format!("{head}.{}{flipped}", &signature[..signature.len() - 1]),
        format!("{head}.{signature}A"),
        format!("{head}.{signature}AAAA"),
        format!("{head}.{}", &signature[..signature.len() - 3]),
        format!("{head}."),
        format!("{head}.{signature}.{signature}"),
    ];
    for token in mangled {
        let (_, whole) = p.start(request_with(&token), at(NOW));
        let (_, with_verdict) = p.start_with_verdict(request_with(&token), at(NOW), key, true);
        assert!(matches!(whole, Step::Failed(_)), "{token}: {whole:?}");
        assert_eq!(with_verdict, whole, "{token}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// One reply a hostile or broken edge might send.
    #[derive(Debug, Clone)]
    enum Move {
        Honest,
        StaleTicket,
        Unavailable,
        Verdict(bool),
        Jwks(u8),
        Domain(Option<u8>),
        Tenant(u8),
        Later(u8),
    }

    fn moves() -> impl Strategy<Value = Vec<Move>> {
        let one = prop_oneof![
            3 => Just(Move::Honest),
            1 => Just(Move::StaleTicket),
            1 => Just(Move::Unavailable),
            2 => any::<bool>().prop_map(Move::Verdict),
            1 => (0u8..3).prop_map(Move::Jwks),
            1 => proptest::option::of(0u8..4).prop_map(Move::Domain),
            1 => (0u8..3).prop_map(Move::Tenant),
            1 => (0u8..200).prop_map(Move::Later),
        ];
        proptest::collection::vec(one, 0..14)
    }

    const TENANTS: [&str; 4] = ["acme", "beta", "main", "evil"];

    fn jwks(which: u8) -> String {
        let keys = public_jwks(signers());
        match which {
            0 => json!({ "keys": keys }).to_string(),
            1 => json!({ "keys": [keys[0].clone(), keys[2].clone()] }).to_string(),
            _ => "<html>".to_owned(),
        }
    }

    fn status(which: u8) -> TenantStatus {
        match which {
            0 => TenantStatus::Ready,
            1 => TenantStatus::NotFound,
            _ => TenantStatus::Unavailable {
                retry_after_secs: 1,
            },
        }
    }

    /// What one run came to, and what the edge said on the way.
    struct Trace {
        step: Step,
        lied_valid: bool,
        said_ready: bool,
    }

    /// The Ed25519 key, second in the key set the World serves (and in `jwks(0)`), installed as
    /// generation 1 by a run's first fetch.
    const ED25519: KeyRef = KeyRef {
        generation: 1,
        index: 1,
    };

    /// A verdict the edge gives with the request, before it is asked: often for the key the
    /// token needs, else for any place of the first key set fetched (generation 1) or of the
    /// empty one before it (0).
    fn upfront() -> impl Strategy<Value = Option<(KeyRef, bool)>> {
        prop_oneof![
            1 => Just(None),
            2 => any::<bool>().prop_map(|valid| Some((ED25519, valid))),
            1 => ((0u32..2), (0usize..3), any::<bool>())
                .prop_map(|(generation, index, valid)| Some((KeyRef { generation, index }, valid))),
        ]
    }

    /// Drives one request with `token` through `p`, with the verdict `upfront` if any, replying
    /// as `moves` say (then honestly).
    fn play(p: &Pipeline, token: &str, upfront: Option<(KeyRef, bool)>, moves: &[Move]) -> Trace {
        let world = World::new(p);
        let mut now = NOW;
        let (mut run, mut step) = match upfront {
            Some((key, valid)) => p.start_with_verdict(request_with(token), at(now), key, valid),
            None => p.start(request_with(token), at(now)),
        };
        let mut moves = moves.iter();
        let mut lied_valid = upfront == Some((ED25519, true));
        let mut said_ready = false;
        for _ in 0..32 {
            let Step::Io(ticket, io) = &step else { break };
            let (ticket, io) = (*ticket, io.clone());
            let mut ticket_sent = ticket;
            let reply = match moves.next().unwrap_or(&Move::Honest) {
                Move::Honest => honest(&world, &io),
                Move::StaleTicket => {
                    ticket_sent = Ticket::from_number(ticket.get().wrapping_add(1));
                    honest(&world, &io)
                }
                Move::Unavailable => Reply::Unavailable("down".into()),
                Move::Verdict(valid) => Reply::Signature(*valid),
                Move::Jwks(which) => Reply::Jwks(jwks(*which)),
                Move::Domain(which) => {
                    Reply::Domain(which.map(|i| TENANTS[usize::from(i)].parse().unwrap()))
                }
                Move::Tenant(which) => Reply::Tenant(status(*which)),
                Move::Later(secs) => {
                    now += i64::from(*secs);
                    honest(&world, &io)
                }
            };
            let fits = ticket_sent == ticket;
            if fits && matches!(io, Io::CheckSignature(_)) && reply == Reply::Signature(true) {
                lied_valid = true;
            }
            if fits && matches!(io, Io::LookUpTenant(_)) {
                said_ready = reply == Reply::Tenant(TenantStatus::Ready);
            }
            step = p.resume(&mut run, ticket_sent, reply, at(now));
        }
        Trace {
            step,
            lied_valid,
            said_ready,
        }
    }

    fn honest(world: &World<'_>, io: &Io) -> Reply {
        let reply = match io {
            Io::FetchJwks(fetch) => block_on(world.fetch_jwks(&fetch.url)).map(Reply::Jwks),
            Io::CheckSignature(check) => {
                block_on(world.check_signature(check)).map(Reply::Signature)
            }
            Io::LookUpDomain(host) => block_on(world.look_up_domain(host)).map(Reply::Domain),
            Io::LookUpTenant(tenant) => block_on(world.look_up_tenant(tenant)).map(Reply::Tenant),
        };
        reply.unwrap_or_else(Reply::Unavailable)
    }

    /// The token of `acme` with its claims changed to `evil`, its signature kept.
    fn forged() -> String {
        let genuine = eddsa(claims());
        let (head, signature) = genuine.rsplit_once('.').unwrap();
        let (header, _) = head.split_once('.').unwrap();
        let claims = with(claims(), json!({ "org_name": "evil" }));
        let payload = crate::authenticate::tests::b64(claims.to_string().as_bytes());
        format!("{header}.{payload}.{signature}")
    }

    /// The checks every `Done` must pass: a principal from the token, the tenant the token may
    /// use, and a registry that said ready.
    fn check_done(trace: &Trace, token_tenant: &str) -> Result<(), TestCaseError> {
        if let Step::Done(context) = &trace.step {
            let principal = context.principal();
            prop_assert!(principal.is_some(), "a token was sent: {context:?}");
            let bound = principal.and_then(|p| p.tenant()).map(TenantId::as_str);
            prop_assert_eq!(bound, Some(token_tenant));
            prop_assert_eq!(context.tenant().as_str(), token_tenant);
            prop_assert!(
                trace.said_ready,
                "the registry was not asked or said otherwise"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// The edge checks signatures: a genuine token passes only with its tenant; a forged
        /// one only if the edge itself said its signature holds.
        #[test]
        fn caller_signatures_never_pass_unchecked(
            moves in moves(), upfront in upfront(), forge in any::<bool>()
        ) {
            let p = io_pipeline();
            let (token, tenant) = if forge { (forged(), "evil") } else { (eddsa(claims()), "acme") };
            let trace = play(&p, &token, upfront, &moves);
            check_done(&trace, tenant)?;
            if forge && matches!(trace.step, Step::Done(_)) {
                prop_assert!(trace.lied_valid, "a forged token passed with no verdict for it");
            }
        }

        /// Signatures checked in process: whatever the edge replies, a forged token never passes.
        #[test]
        fn in_process_signatures_never_pass_a_forgery(moves in moves(), upfront in upfront()) {
            let p = TenancyConfig::pipeline_from_json(&format!(
                r#"{{ "resolve": {{ "strategies": [{{ "type": "customDomain", "lookup": true }}, {{ "type": "jwtClaim" }}],
                                   "controlPlaneTenant": "main", "lookUpTenants": true }},
                     "authenticate": {{ "jwksUrl": "https://auth.example.com/jwks", "issuer": "{ISS}",
                                       "audience": "{AUD}", "tenantClaim": "org_name" }} }}"#
            )).unwrap();
            let trace = play(&p, &forged(), upfront, &moves);
            prop_assert!(!matches!(trace.step, Step::Done(_)), "{:?}", trace.step);
            let trace = play(&p, &eddsa(claims()), upfront, &moves);
            check_done(&trace, "acme")?;
        }
    }
}

/// Replaying an answer under [`Reuse`]'s rules — the same authority and headers read (the path's
/// tenant head or the query too when they are read), with the new request's path in the context
/// — gives exactly what the pipeline gives for the new request, public paths included.
mod replay {
    use super::*;
    use crate::authorize::Access;
    use crate::resolve::Source;
    use proptest::prelude::*;

    const HOSTS: [&str; 4] = [
        "acme.example.com",
        "beta.example.com",
        "example.com",
        "www.example.com",
    ];
    const PATHS: [&str; 20] = [
        "",
        "/",
        "/x",
        "/x/y",
        "/health",
        "/health/",
        "/health/z",
        "/healthz",
        "/docs",
        "/docs/a",
        "/t/acme/x",
        "/t/beta",
        "/t/",
        "/t/ACME",
        "/t/acme",
        "/t/acme/y/z",
        "/t/beta/x",
        "/t/beta/",
        "/t/acme/health",
        "/t/beta/docs/a",
    ];
    const QUERIES: [Option<&str>; 4] = [None, Some(""), Some("a=1"), Some("tenant=beta")];

    /// Subdomain, then the token; the path is not an input.
    fn by_host() -> Pipeline {
        pipeline(
            r#"[{ "type": "subdomain", "baseDomains": ["example.com"] }, { "type": "jwtClaim" }]"#,
        )
    }

    /// Path prefix, header, query, then the token: the path and the query are inputs.
    fn by_request() -> Pipeline {
        pipeline(
            r#"[{ "type": "pathPrefix", "prefix": "/t/" }, { "type": "header" },
                { "type": "query", "name": "tenant" }, { "type": "jwtClaim" }]"#,
        )
    }

    fn pipeline(strategies: &str) -> Pipeline {
        TenancyConfig::pipeline_from_json(&format!(
            r#"{{ "resolve": {{ "strategies": {strategies}, "controlPlaneTenant": "main" }},
                 "authenticate": {{ "secrets": [{{ "secret": "{HS256_SECRET}", "alg": "HS256", "kid": "hs256" }}],
                                   "issuer": "{ISS}", "audience": "{AUD}", "tenantClaim": "org_name" }},
                 "access": {{ "publicPaths": ["/health", "/docs/"] }} }}"#
        ))
        .unwrap()
    }

    /// One request from its choices: host, path, query, fragment, token, tenant header and a
    /// header no strategy reads.
    #[derive(Debug, Clone)]
    struct Choice {
        host: usize,
        path: usize,
        query: usize,
        fragment: bool,
        token: usize,
        tenant_header: Option<usize>,
        other_header: Option<u8>,
    }

    fn choice() -> impl Strategy<Value = Choice> {
        (
            0..HOSTS.len(),
            0..PATHS.len(),
            0..QUERIES.len(),
            any::<bool>(),
            0usize..6,
            proptest::option::of(0usize..2),
            proptest::option::of(any::<u8>()),
        )
            .prop_map(
                |(host, path, query, fragment, token, tenant_header, other_header)| Choice {
                    host,
                    path,
                    query,
                    fragment,
                    token,
                    tenant_header,
                    other_header,
                },
            )
    }

    fn parts(c: &Choice) -> RequestParts {
        // Members, an administrator, and callers who may act for no tenant of these hosts: a
        // control-plane user without the admin scope, another tenant's, one bound to none.
        let tokens = [
            hs256("acme", "read"),
            hs256("beta", "read"),
            hs256("main", "tenants:admin"),
            hs256("main", "read"),
            hs256("gamma", "read"),
            sign(
                &Hs256,
                &Hs256Key::new(HS256_SECRET),
                Some("hs256"),
                with(claims(), json!({ "org_name": null })),
            ),
        ];
        let mut url = format!("https://{}{}", HOSTS[c.host], PATHS[c.path]);
        if let Some(query) = QUERIES[c.query] {
            url += &format!("?{query}");
        }
        if c.fragment {
            url += "#/health";
        }
        let mut headers = vec![("authorization", bearer(&tokens[c.token]))];
        if let Some(t) = c.tenant_header {
            headers.push(("x-tenant-id", ["acme", "beta"][t].to_owned()));
        }
        if let Some(v) = c.other_header {
            headers.push(("x-other", v.to_string()));
        }
        RequestParts::new(&url, headers)
    }

    /// What a caller keys a kept answer by, read off the rules [`Reuse`] states.
    fn key(p: &Pipeline, reuse: &Reuse, request: &RequestParts) -> String {
        let mut key = format!("{}\n", request.authority());
        key += head(reuse, request.path());
        key += "\n";
        if reuse.reads_query {
            key += &format!("{:?}", request.query());
        }
        for name in p.headers_read() {
            key += &format!("\n{:?}", request.header(name).unwrap());
        }
        key
    }

    /// The path's tenant head as [`Reuse`] defines it: up to the end of the segment after the
    /// first prefix the path starts with.
    fn head<'p>(reuse: &Reuse, path: &'p str) -> &'p str {
        let Some(prefix) = reuse
            .path_prefixes
            .iter()
            .find(|p| path.starts_with(p.as_str()))
        else {
            return "";
        };
        let end = path[prefix.len()..]
            .find('/')
            .map_or(path.len(), |i| prefix.len() + i);
        &path[..end]
    }

    /// `first`, as a caller replays it for a request to `path`.
    fn replayed(reuse: &Reuse, first: &TenantContext, path: &str) -> TenantContext {
        let path = match first.source() {
            Source::PathPrefix => match &path[head(reuse, path).len()..] {
                "" => "/",
                rest => rest,
            },
            _ => path,
        };
        TenantContext::new(
            first.tenant().clone(),
            first.source(),
            path.to_owned(),
            first.principal().cloned(),
            first.access(),
        )
    }

    fn answer(p: &Pipeline, request: RequestParts) -> Result<TenantContext, Error> {
        match p.start(request, at(NOW)).1 {
            Step::Done(context) => Ok(context),
            Step::Failed(error) => Err(error),
            Step::Io(..) => panic!("a pipeline without lookups or URL keys asked for I/O"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn a_replayed_answer_is_the_pipelines(
            first in choice(),
            other in choice(),
            keep in any::<[bool; 7]>(),
            which in any::<bool>(),
        ) {
            // The second request takes some of its choices from the first, so that many pairs
            // share a key.
            let second = Choice {
                host: if keep[0] { first.host } else { other.host },
                path: if keep[1] { first.path } else { other.path },
                query: if keep[2] { first.query } else { other.query },
                fragment: if keep[3] { first.fragment } else { other.fragment },
                token: if keep[4] { first.token } else { other.token },
                tenant_header: if keep[5] { first.tenant_header } else { other.tenant_header },
                other_header: if keep[6] { first.other_header } else { other.other_header },
            };
            let p = if which { by_host() } else { by_request() };
            let reuse = p.reuse().unwrap();
            let (a, b) = (parts(&first), parts(&second));
            if key(&p, &reuse, &a) != key(&p, &reuse, &b) {
                return Ok(());
            }
            let Ok(kept) = answer(&p, a) else { return Ok(()) };
            // Only an anonymous caller's answer is not kept, and it holds no principal.
            if p.replay_until(&kept, at(NOW)).is_none() {
                prop_assert!(kept.principal().is_none());
                prop_assert_eq!(kept.access(), Access::Public);
                return Ok(());
            }
            let path = b.path().to_owned();
            prop_assert_eq!(answer(&p, b), Ok(replayed(&reuse, &kept, &path)));
        }
    }

    /// The rules above are not vacuous: requests that differ only in what is not an input share
    /// a key (the path's publicness among them), and a change of host or token does not.
    #[test]
    fn the_inputs_are_the_ones_stated() {
        let p = by_host();
        let reuse = p.reuse().unwrap();
        assert!(reuse.path_prefixes.is_empty() && !reuse.reads_query);
        let base = Choice {
            host: 0,
            path: 2,
            query: 0,
            fragment: false,
            token: 0,
            tenant_header: None,
            other_header: None,
        };
        let same = [
            Choice {
                path: 3,
                ..base.clone()
            },
            Choice {
                path: 7,
                ..base.clone()
            },
            Choice {
                query: 3,
                fragment: true,
                ..base.clone()
            },
            Choice {
                tenant_header: Some(1),
                other_header: Some(1),
                ..base.clone()
            },
        ];
        for other in same {
            assert_eq!(
                key(&p, &reuse, &parts(&base)),
                key(&p, &reuse, &parts(&other)),
                "{other:?}"
            );
        }
        assert_eq!(
            key(&p, &reuse, &parts(&base)),
            key(
                &p,
                &reuse,
                &parts(&Choice {
                    path: 4,
                    ..base.clone()
                })
            ),
            "a public path"
        );
        for other in [
            Choice {
                host: 1,
                ..base.clone()
            },
            Choice {
                token: 1,
                ..base.clone()
            },
        ] {
            assert_ne!(
                key(&p, &reuse, &parts(&base)),
                key(&p, &reuse, &parts(&other)),
                "{other:?}"
            );
        }
        let p = by_request();
        let reuse = p.reuse().unwrap();
        assert_eq!(reuse.path_prefixes, ["/t/"]);
        assert!(reuse.reads_query);
        // Under a path prefix, the path counts only up to its tenant segment.
        let at = |path| Choice {
            path,
            ..base.clone()
        };
        let index = |p: &str| PATHS.iter().position(|q| *q == p).unwrap();
        let key_of = |path: &str| key(&p, &reuse, &parts(&at(index(path))));
        assert_eq!(key_of("/t/acme/x"), key_of("/t/acme/y/z"));
        assert_eq!(key_of("/t/acme/x"), key_of("/t/acme"));
        assert_ne!(key_of("/t/acme/x"), key_of("/t/beta/x"));
        assert_eq!(key_of("/x"), key_of("/x/y"));
    }
}
