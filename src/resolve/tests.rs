//! Table-driven tests of every strategy, and hostile input against the whole resolver.

use super::*;
use crate::{Error, Principal, TenantId};

/// Resolves with no domain lookups: a question for the edge is a test failure.
fn resolve(
    r: &Resolver,
    parts: &RequestParts,
    principal: Option<&Principal>,
) -> Result<Resolved, Error> {
    match r.resolve(parts, principal, None)? {
        Resolution::Resolved(resolved) => Ok(resolved),
        Resolution::LookUpDomain(host) => panic!("asked about {host:?}"),
    }
}

fn resolver(json: &str) -> Resolver {
    Resolver::new(serde_json::from_str(json).unwrap()).unwrap()
}

fn full() -> Resolver {
    resolver(
        r#"{
        "strategies": [
            { "type": "subdomain", "baseDomains": ["example.com", "app.example.net"] },
            { "type": "customDomain", "domains": { "Shop.Acme.com": "acme" } },
            { "type": "header", "name": "X-Tenant-Id" },
            { "type": "pathPrefix" },
            { "type": "jwtClaim" }
        ],
        "controlPlaneTenant": "main"
    }"#,
    )
}

/// Outcome as a short string: `tenant@source path`, or the error code.
fn run(r: &Resolver, url: &str, headers: &[(&str, &str)], principal: Option<&Principal>) -> String {
    let parts = RequestParts::new(url, headers.iter().copied());
    match resolve(r, &parts, principal) {
        Ok(Resolved {
            tenant,
            source,
            path,
        }) => format!("{tenant}@{source:?} {path}"),
        Err(e) => e.to_response().code.to_owned(),
    }
}

fn host(h: &str) -> Vec<(&str, &str)> {
    vec![("host", h)]
}

#[test]
fn each_strategy_and_the_fallback() {
    let r = full();
    let token = Principal::for_test(Some("tok"), &[]);
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<&'a Principal>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "https://acme.example.com/x",
            host("acme.example.com"),
            None,
            "acme@Subdomain /x",
        ),
        (
            "https://ACME.example.com:8443/x",
            host("ACME.example.com:8443"),
            None,
            "acme@Subdomain /x",
        ),
        (
            "https://acme.example.com./x",
            host("acme.example.com."),
            None,
            "acme@Subdomain /x",
        ),
        (
            "https://beta.app.example.net/",
            host("beta.app.example.net"),
            None,
            "beta@Subdomain /",
        ),
        (
            "https://shop.acme.com/cart",
            host("shop.acme.com"),
            None,
            "acme@CustomDomain /cart",
        ),
        (
            "https://SHOP.acme.com./cart",
            host("SHOP.acme.com."),
            None,
            "acme@CustomDomain /cart",
        ),
        (
            "https://other.net/",
            vec![("host", "other.net"), ("x-tenant-id", "hdr")],
            None,
            "hdr@Header /",
        ),
        (
            "https://other.net/t/path/rest/of?q=1",
            host("other.net"),
            None,
            "path@PathPrefix /rest/of",
        ),
        (
            "https://other.net/t/path",
            host("other.net"),
            None,
            "path@PathPrefix /",
        ),
        (
            "https://other.net/t/path/",
            host("other.net"),
            None,
            "path@PathPrefix /",
        ),
        (
            "https://other.net/x",
            host("other.net"),
            Some(&token),
            "tok@JwtClaim /x",
        ),
        (
            "https://other.net/x",
            host("other.net"),
            None,
            "main@ControlPlane /x",
        ),
        (
            "https://example.com/x",
            host("example.com"),
            None,
            "main@ControlPlane /x",
        ),
        // Reserved labels and nested subdomains name no tenant here.
        (
            "https://www.example.com/",
            host("www.example.com"),
            None,
            "main@ControlPlane /",
        ),
        (
            "https://api.example.com/",
            host("api.example.com"),
            None,
            "main@ControlPlane /",
        ),
        (
            "https://eu.acme.example.com/",
            host("eu.acme.example.com"),
            None,
            "main@ControlPlane /",
        ),
        // Order: the subdomain wins over a header naming another tenant.
        (
            "https://acme.example.com/",
            vec![("host", "acme.example.com"), ("x-tenant-id", "beta")],
            None,
            "acme@Subdomain /",
        ),
        // No Host header: the URL's authority is used.
        (
            "https://acme.example.com/y",
            vec![],
            None,
            "acme@Subdomain /y",
        ),
    ];
    for (url, headers, principal, want) in cases {
        assert_eq!(run(&r, url, &headers, principal), want, "{url} {headers:?}");
    }
}

#[test]
fn nested_subdomains_and_custom_reserved_names_when_configured() {
    let r = resolver(
        r#"{ "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"], "nested": true, "reserved": ["Status"] }] }"#,
    );
    assert_eq!(
        run(&r, "https://eu.acme.example.com/", &[], None),
        "acme@Subdomain /"
    );
    // `reserved` adds to the defaults: www stays reserved.
    for label in ["status", "www", "api", "app", "admin"] {
        let url = format!("https://{label}.example.com/");
        assert_eq!(run(&r, &url, &[], None), "no_tenant", "{label}");
    }
}

#[test]
fn replace_reserved_drops_the_default_labels() {
    let r = resolver(
        r#"{ "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"], "reserved": ["status"], "replaceReserved": true }] }"#,
    );
    assert_eq!(
        run(&r, "https://www.example.com/", &[], None),
        "www@Subdomain /"
    );
    assert_eq!(
        run(&r, "https://status.example.com/", &[], None),
        "no_tenant"
    );
    let none = resolver(
        r#"{ "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"], "replaceReserved": true }] }"#,
    );
    assert_eq!(
        run(&none, "https://admin.example.com/", &[], None),
        "admin@Subdomain /"
    );
}

#[test]
fn query_parameter_only_when_enabled() {
    let off = full();
    assert_eq!(
        run(
            &off,
            "https://other.net/?tenant=q",
            &host("other.net"),
            None
        ),
        "main@ControlPlane /"
    );
    let on = resolver(r#"{ "strategies": [{ "type": "query", "name": "tenant" }] }"#);
    assert_eq!(
        run(&on, "https://other.net/?a=1&tenant=q", &[], None),
        "q@Query /"
    );
    assert_eq!(
        run(&on, "https://other.net/?tenant=q&tenant=r", &[], None),
        "invalid_header"
    );
    assert_eq!(
        run(&on, "https://other.net/?tenant=%61", &[], None),
        "invalid_tenant_id"
    );
    assert_eq!(run(&on, "https://other.net/", &[], None), "no_tenant");
}

#[test]
fn forwarded_host_only_when_trusted() {
    let json = |trust: bool| {
        format!(
            r#"{{ "strategies": [{{ "type": "subdomain", "baseDomains": ["example.com"] }}], "trustForwardedHost": {trust} }}"#
        )
    };
    let headers = [
        ("host", "acme.example.com"),
        ("x-forwarded-host", "evil.example.com"),
    ];
    assert_eq!(
        run(
            &resolver(&json(false)),
            "https://acme.example.com/",
            &headers,
            None
        ),
        "acme@Subdomain /"
    );
    assert_eq!(
        run(
            &resolver(&json(true)),
            "https://acme.example.com/",
            &headers,
            None
        ),
        "evil@Subdomain /"
    );
    let listed = [
        ("host", "acme.example.com"),
        ("x-forwarded-host", "a.example.com, b.example.com"),
    ];
    assert_eq!(
        run(&resolver(&json(true)), "https://x/", &listed, None),
        "invalid_host"
    );
    assert!(resolver(&json(true))
        .headers_read()
        .contains(&"x-forwarded-host"));
    assert!(!resolver(&json(false))
        .headers_read()
        .contains(&"x-forwarded-host"));
}

#[test]
fn bad_configuration_fails_at_creation() {
    let bad = [
        r#"{ "strategies": [{ "type": "subdomain", "baseDomains": [] }] }"#,
        r#"{ "strategies": [{ "type": "subdomain", "baseDomains": ["exa mple.com"] }] }"#,
        r#"{ "strategies": [{ "type": "customDomain", "domains": { "shop.acme.com": "Acme" } }] }"#,
        r#"{ "strategies": [{ "type": "header", "name": "x tenant" }] }"#,
        r#"{ "strategies": [{ "type": "header", "name": "" }] }"#,
        r#"{ "strategies": [{ "type": "pathPrefix", "prefix": "t/" }] }"#,
        r#"{ "strategies": [{ "type": "pathPrefix", "prefix": "/" }] }"#,
        r#"{ "strategies": [{ "type": "pathPrefix", "prefix": "/t" }] }"#,
        r#"{ "strategies": [], "controlPlaneTenant": "-main" }"#,
    ];
    for json in bad {
        assert!(
            Resolver::new(serde_json::from_str(json).unwrap()).is_err(),
            "{json}"
        );
    }
    let unknown = [
        r#"{ "strategies": [{ "type": "cookie" }] }"#,
        r#"{ "strategies": [], "trustForwardedHosts": true }"#,
    ];
    for json in unknown {
        assert!(
            serde_json::from_str::<ResolveConfig>(json).is_err(),
            "{json}"
        );
    }
}

/// Hostile requests against the full resolver: each must give exactly the expected answer.
#[test]
fn hostile_requests() {
    let r = full();
    let long_host = format!("{}.example.com", vec!["a".repeat(63); 4].join("."));
    let long_label = format!("{}.example.com", "a".repeat(64));
    let three_hundred = "a".repeat(300);
    let nul = "acme\0.example.com";
    type Case<'a> = (String, Vec<(&'a str, String)>, &'a str);
    let mut cases: Vec<Case> = vec![
        // Dot boundary: no suffix matching without a dot.
        (
            "https://x/".into(),
            vec![("host", "evilexample.com".into())],
            "main@ControlPlane /",
        ),
        (
            "https://x/".into(),
            vec![("host", "example.com.evil.com".into())],
            "main@ControlPlane /",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com.evil.com".into())],
            "main@ControlPlane /",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.notexample.com".into())],
            "main@ControlPlane /",
        ),
        // Labels that are not tenant ids fail rather than fall through.
        (
            "https://x/".into(),
            vec![("host", "xn--acme.example.com".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "xn--bcher-kva.example.com".into())],
            "invalid_tenant_id",
        ),
        // Hosts that are not hosts.
        (
            "https://x/".into(),
            vec![("host", "".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", ".".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "..example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme..example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", ".example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", nul.into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme%2eexample.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com%00".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "bücher.example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "аcme.example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com\u{3002}".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", long_host)],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", long_label)],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", three_hundred)],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com:99999".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com:".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com:-1".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com:80:80".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "user@acme.example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com/evil".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com\\evil".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com evil".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "acme.example.com, beta.example.com".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "[::1".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "[zz::1]".into())],
            "invalid_host",
        ),
        (
            "https://x/".into(),
            vec![("host", "::1".into())],
            "invalid_host",
        ),
        // IP literals name no tenant.
        (
            "https://x/".into(),
            vec![("host", "127.0.0.1:8787".into())],
            "main@ControlPlane /",
        ),
        (
            "https://x/".into(),
            vec![("host", "[::1]:8787".into())],
            "main@ControlPlane /",
        ),
        (
            "https://x/".into(),
            vec![("host", "[::ffff:127.0.0.1]".into())],
            "main@ControlPlane /",
        ),
        // Duplicate headers.
        (
            "https://x/".into(),
            vec![
                ("host", "acme.example.com".into()),
                ("Host", "beta.example.com".into()),
            ],
            "invalid_header",
        ),
        (
            "https://x/".into(),
            vec![
                ("host", "o.net".into()),
                ("x-tenant-id", "a".into()),
                ("X-Tenant-Id", "b".into()),
            ],
            "invalid_header",
        ),
        // Header values that are not tenant ids.
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", "Acme".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![
                ("host", "o.net".into()),
                ("x-tenant-id", "acme, beta".into()),
            ],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", "".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", " acme".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", "../acme".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", "a\0b".into())],
            "invalid_tenant_id",
        ),
        (
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", "a".repeat(64))],
            "invalid_tenant_id",
        ),
        // Paths.
        (
            "https://o.net/t/../admin".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t/%2e%2e/admin".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t/%61cme/x".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t//x".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t/".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t/ACME".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t/acme%00/x".into(),
            vec![("host", "o.net".into())],
            "invalid_tenant_id",
        ),
        (
            "https://o.net/t".into(),
            vec![("host", "o.net".into())],
            "main@ControlPlane /t",
        ),
        (
            "https://o.net/tt/acme".into(),
            vec![("host", "o.net".into())],
            "main@ControlPlane /tt/acme",
        ),
        (
            "https://o.net//t/acme".into(),
            vec![("host", "o.net".into())],
            "main@ControlPlane //t/acme",
        ),
    ];
    // Every ASCII byte that is not allowed in a host, in the tenant label.
    for byte in (0u8..128)
        .filter(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.' || *b == b':'))
    {
        let h = format!("ac{}me.example.com", byte as char);
        cases.push(("https://x/".into(), vec![("host", h)], "invalid_host"));
    }
    // Every ASCII byte that is not allowed in a tenant id, in the header.
    for byte in (0u8..128).filter(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'))
    {
        let v = format!("ac{}me", byte as char);
        cases.push((
            "https://x/".into(),
            vec![("host", "o.net".into()), ("x-tenant-id", v)],
            "invalid_tenant_id",
        ));
    }
    assert!(cases.len() >= 200, "{} cases", cases.len());
    for (url, headers, want) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(run(&r, url, &headers, None), *want, "{url} {headers:?}");
    }
}

#[test]
fn without_a_control_plane_an_unnamed_tenant_is_400() {
    let r = resolver(r#"{ "strategies": [{ "type": "header" }] }"#);
    assert_eq!(run(&r, "https://x/", &[], None), "no_tenant");
    assert!(matches!(
        resolve(&r, &RequestParts::new("https://x/", [("host", "x")]), None),
        Err(Error::NoTenant)
    ));
}

#[test]
fn custom_domains_outside_the_map_are_asked_of_the_edge() {
    let r = resolver(
        r#"{ "strategies": [{ "type": "customDomain", "domains": { "shop.acme.com": "acme" }, "lookup": true },
                            { "type": "header" }] }"#,
    );
    let parts = RequestParts::new("https://crm.beta.io/", [("host", "CRM.beta.io:443")]);
    let host = match r.resolve(&parts, None, None) {
        Ok(Resolution::LookUpDomain(host)) => host,
        other => panic!("{other:?}"),
    };
    assert_eq!(host.as_str(), "crm.beta.io");
    let beta: TenantId = "beta".parse().unwrap();
    let answered = (host.clone(), Some(beta.clone()));
    match r.resolve(&parts, None, Some(&answered)) {
        Ok(Resolution::Resolved(resolved)) => assert_eq!(resolved.tenant, beta),
        other => panic!("{other:?}"),
    }
    // No tenant for the host: the next strategy decides.
    let with_header = RequestParts::new(
        "https://crm.beta.io/",
        [("host", "crm.beta.io"), ("x-tenant-id", "gamma")],
    );
    match r.resolve(&with_header, None, Some(&(host, None))) {
        Ok(Resolution::Resolved(resolved)) => assert_eq!(resolved.tenant.as_str(), "gamma"),
        other => panic!("{other:?}"),
    }
    // An answer about another host answers nothing: the question is asked again.
    let other = (Host::parse("other.io").unwrap(), Some(beta));
    assert!(matches!(
        r.resolve(&parts, None, Some(&other)),
        Ok(Resolution::LookUpDomain(_))
    ));
    // Hosts in the map are never asked about.
    let mapped = RequestParts::new("https://shop.acme.com/", [("host", "shop.acme.com")]);
    assert!(matches!(
        r.resolve(&mapped, None, None),
        Ok(Resolution::Resolved(_))
    ));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any string: the host parser never panics, and what it accepts is normalized and
        /// re-parses to itself.
        #[test]
        fn host_parser_total_and_idempotent(input in "\\PC{0,300}|[a-zA-Z0-9.:\\[\\]-]{0,80}") {
            if let Ok(host) = Host::parse(&input) {
                let again = Host::parse(host.as_str()).unwrap();
                prop_assert_eq!(again.as_str(), host.as_str());
                prop_assert!(host.as_str().len() <= MAX_HOST_LEN + 2);
                prop_assert!(!host.as_str().bytes().any(|b| b.is_ascii_uppercase()));
            }
        }

        /// A resolved subdomain tenant is always a label of the host directly below a base domain.
        #[test]
        fn subdomain_tenant_is_a_label_below_the_base(input in "[a-zA-Z0-9.-]{0,40}(\\.example\\.com)?\\.?(:[0-9]{1,5})?") {
            let r = resolver(r#"{ "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"] }] }"#);
            let parts = RequestParts::new("https://x/", [("host", input.as_str())]);
            if let Ok(resolved) = resolve(&r, &parts, None) {
                let host = Host::parse(&input).unwrap();
                prop_assert_eq!(host.as_str(), format!("{}.example.com", resolved.tenant));
            }
        }

        /// Any path: the path-prefix strategy never panics, and a tenant it finds is the segment.
        #[test]
        fn path_prefix_total(path in "/\\PC{0,100}") {
            let r = resolver(r#"{ "strategies": [{ "type": "pathPrefix" }] }"#);
            let parts = RequestParts::new(&format!("https://x{path}"), [("host", "x")]);
            if let Ok(resolved) = resolve(&r, &parts, None) {
                let prefix = format!("/t/{}", resolved.tenant);
                prop_assert!(path.starts_with(&prefix));
            }
        }
    }
}

#[test]
fn the_longest_base_domain_is_tried_first_whatever_the_order_given() {
    for bases in [
        r#"["example.com", "eu.example.com"]"#,
        r#"["eu.example.com", "example.com"]"#,
    ] {
        let r = resolver(&format!(
            r#"{{ "strategies": [{{ "type": "subdomain", "baseDomains": {bases} }}] }}"#
        ));
        let on = |h: &str| run(&r, &format!("https://{h}/x"), &host(h), None);
        assert_eq!(on("acme.eu.example.com"), "acme@Subdomain /x", "{bases}");
        assert_eq!(on("acme.example.com"), "acme@Subdomain /x", "{bases}");
    }
}
