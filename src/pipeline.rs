//! The request pipeline: authenticate → resolve → authorize, in one call.
//!
//! [`Pipeline::run`] takes a request's parts and the time, and returns the [`TenantContext`] the
//! handler works with, or the [`Error`] that becomes the answer. It does no I/O of its own: token
//! checks go through [`TokenVerifier`] and custom-domain lookups through
//! [`CustomDomains`].

use crate::authenticate::{Verifier, DEFAULT_CACHE_TOKENS};
use crate::authorize::{Access, AccessRules};
use crate::resolve::{CustomDomains, RequestParts, Resolver, Source, StaticDomains};
use crate::{Error, Principal, TenantId};

/// Checks a bearer token and says who it names. Implemented by the jwt-compact
/// [`Verifier`]; a Workers build may check signatures with
/// WebCrypto instead.
#[allow(async_fn_in_trait)]
pub trait TokenVerifier {
    /// The principal of the `Authorization` header value `authorization`, checked at `now`
    /// (seconds since the Unix epoch).
    async fn verify_bearer(&self, authorization: &str, now: i64) -> Result<Principal, Error>;
}

/// What a handler learns about a request that passed the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantContext {
    /// The tenant the request is for.
    pub tenant: TenantId,
    /// Where the tenant was found.
    pub source: Source,
    /// The path to route on (without a tenant path prefix).
    pub path: String,
    /// The verified caller, if a token was sent.
    pub principal: Option<Principal>,
    /// How the caller was let in.
    pub access: Access,
}

/// Resolver, verifier and access rules together.
#[derive(Debug, Clone)]
pub struct Pipeline<V, D = StaticDomains> {
    resolver: Resolver<D>,
    verifier: Option<V>,
    rules: AccessRules,
}

impl<V: TokenVerifier, D: CustomDomains> Pipeline<V, D> {
    /// A pipeline. Without a verifier, every token is refused and only public paths pass.
    pub fn new(resolver: Resolver<D>, verifier: Option<V>, rules: AccessRules) -> Self {
        Self {
            resolver,
            verifier,
            rules,
        }
    }

    /// The same pipeline with its verifier changed by `change` (for example
    /// [`Verifier::with_caller_signatures`](crate::authenticate::Verifier::with_caller_signatures),
    /// or into a [`JwksVerifier`](crate::authenticate::JwksVerifier) that fetches its keys).
    pub fn map_verifier<W>(self, change: impl FnOnce(V) -> W) -> Pipeline<W, D> {
        Pipeline {
            resolver: self.resolver,
            verifier: self.verifier.map(change),
            rules: self.rules,
        }
    }

    /// The verifier, if tokens are accepted at all.
    pub fn verifier(&self) -> Option<&V> {
        self.verifier.as_ref()
    }

    /// Every header name the pipeline reads (lower case), so a JS caller can pass just those
    /// across to wasm: the resolver's, and `authorization` for the token.
    pub fn headers_read(&self) -> Vec<&str> {
        let mut names = self.resolver.headers_read();
        names.push("authorization");
        names
    }

    /// Passes only a context whose caller administers every tenant (see
    /// [`AccessRules::is_administrator`]): for control-plane routes such as provisioning.
    pub fn require_administrator(&self, context: &TenantContext) -> Result<(), Error> {
        match &context.principal {
            Some(principal) if self.rules.is_administrator(principal) => Ok(()),
            _ => Err(Error::Forbidden("this needs a control-plane administrator")),
        }
    }

    /// Runs the stages over `request` at `now` (seconds since the Unix epoch).
    ///
    /// A token that is sent is always checked, even on a public path: a bad token is an error,
    /// never silently dropped.
    pub async fn run(&self, request: &RequestParts, now: i64) -> Result<TenantContext, Error> {
        let principal = match (request.header("authorization")?, &self.verifier) {
            (None, _) => None,
            (Some(authorization), Some(verifier)) => {
                Some(verifier.verify_bearer(authorization, now).await?)
            }
            (Some(_), None) => {
                return Err(Error::Unauthenticated(
                    crate::authenticate::AuthError::UnknownKey,
                ));
            }
        };
        let resolved = self.resolver.resolve(request, principal.as_ref()).await?;
        let access = self
            .rules
            .check(request.path(), &resolved, principal.as_ref())?;
        Ok(TenantContext {
            tenant: resolved.tenant,
            source: resolved.source,
            path: resolved.path,
            principal,
            access,
        })
    }
}

/// How a caller may replay the pipeline's answers instead of running it again.
///
/// With custom domains from a static map and while its keys stay (installing keys from a JWKS
/// URL changes them: the caller then drops what it kept), the answer is a function
/// of the URL (without its query unless [`Reuse::reads_query`]), the headers named by
/// [`Pipeline::headers_read`], and the time. The time only counts through the token's `exp`:
/// a success at some time stays one until [`Pipeline::valid_until`]. The npm package keeps
/// such answers in JS, which spares a repeated request the crossing into wasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reuse {
    /// How many answers to keep: as many as the verifier keeps tokens (0: none).
    pub capacity: usize,
    /// Whether the query string is part of the inputs (a query strategy is configured).
    pub reads_query: bool,
}

impl Pipeline<Verifier, StaticDomains> {
    /// How this pipeline's answers may be replayed; a pipeline whose domains are looked up
    /// elsewhere has no such method, since its answers can change under it.
    pub fn reuse(&self) -> Reuse {
        Reuse {
            capacity: self
                .verifier
                .as_ref()
                .map_or(DEFAULT_CACHE_TOKENS, Verifier::cache_capacity),
            reads_query: self.resolver.reads_query(),
        }
    }

    /// The first time (seconds since the epoch) at which `context` no longer holds for the same
    /// request: when its token expires, leeway included. `None`: never.
    pub fn valid_until(&self, context: &TenantContext) -> Option<i64> {
        match (&context.principal, &self.verifier) {
            (Some(principal), Some(verifier)) => verifier.valid_until(principal),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authenticate::AuthError;
    use crate::authorize::AccessConfig;
    use pollster::block_on;

    /// Tokens are `tenant:scope` in these tests; `bad` fails like a bad signature.
    struct FakeVerifier;

    impl TokenVerifier for FakeVerifier {
        async fn verify_bearer(&self, authorization: &str, _now: i64) -> Result<Principal, Error> {
            let token = authorization
                .strip_prefix("Bearer ")
                .ok_or(Error::Unauthenticated(AuthError::Malformed))?;
            if token == "bad" {
                return Err(Error::Unauthenticated(AuthError::BadSignature));
            }
            let (tenant, scope) = token.split_once(':').unwrap_or((token, ""));
            Ok(Principal {
                tenant: Some(
                    tenant
                        .parse()
                        .map_err(|_| Error::Unauthenticated(AuthError::InvalidClaim("tenant")))?,
                ),
                scopes: vec![scope.to_owned()],
                ..Principal::default()
            })
        }
    }

    fn pipeline(verifier: Option<FakeVerifier>) -> Pipeline<FakeVerifier> {
        let resolver = Resolver::new(
            serde_json::from_str(
                r#"{ "strategies": [
                    { "type": "subdomain", "baseDomains": ["example.com"] },
                    { "type": "jwtClaim" }
                ], "controlPlaneTenant": "main" }"#,
            )
            .unwrap(),
        )
        .unwrap();
        let access = AccessConfig {
            public_paths: vec!["/health".into()],
            ..AccessConfig::default()
        };
        let rules = AccessRules::new(access, resolver.control_plane().cloned()).unwrap();
        Pipeline::new(resolver, verifier, rules)
    }

    fn run(p: &Pipeline<FakeVerifier>, host: &str, path: &str, token: Option<&str>) -> String {
        let mut headers = vec![("host", host.to_owned())];
        if let Some(token) = token {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        let parts = RequestParts::new(&format!("https://{host}{path}"), headers);
        match block_on(p.run(&parts, 0)) {
            Ok(ctx) => format!("{}@{:?} {:?}", ctx.tenant, ctx.source, ctx.access),
            Err(e) => {
                let r = e.to_response();
                format!("{} {}", r.status, r.code)
            }
        }
    }

    #[test]
    fn stages_in_order() {
        let p = pipeline(Some(FakeVerifier));
        let cases = [
            (
                "acme.example.com",
                "/x",
                Some("acme"),
                "acme@Subdomain Member",
            ),
            ("acme.example.com", "/x", Some("beta"), "403 forbidden"),
            (
                "acme.example.com",
                "/x",
                Some("main:tenants:admin"),
                "acme@Subdomain Admin",
            ),
            ("acme.example.com", "/x", Some("main:read"), "403 forbidden"),
            ("acme.example.com", "/x", None, "401 unauthenticated"),
            ("acme.example.com", "/x", Some("bad"), "401 unauthenticated"),
            ("acme.example.com", "/health", None, "acme@Subdomain Public"),
            // A bad token is refused even on a public path.
            (
                "acme.example.com",
                "/health",
                Some("bad"),
                "401 unauthenticated",
            ),
            // The token names the tenant when the host does not.
            ("other.net", "/x", Some("beta"), "beta@JwtClaim Member"),
            ("other.net", "/health", None, "main@ControlPlane Public"),
            // Resolution errors come before access checks.
            ("Acme_.example.com", "/x", Some("acme"), "400 invalid_host"),
            (
                "xn--a.example.com",
                "/x",
                Some("acme"),
                "400 invalid_tenant_id",
            ),
        ];
        for (host, path, token, want) in cases {
            assert_eq!(run(&p, host, path, token), want, "{host}{path} {token:?}");
        }
    }

    #[test]
    fn names_every_header_it_reads() {
        assert_eq!(pipeline(None).headers_read(), ["authorization"]);
    }

    #[test]
    fn without_a_verifier_tokens_are_refused() {
        let p = pipeline(None);
        assert_eq!(
            run(&p, "acme.example.com", "/x", Some("acme")),
            "401 unauthenticated"
        );
        assert_eq!(
            run(&p, "acme.example.com", "/health", None),
            "acme@Subdomain Public"
        );
    }

    /// A replayed answer is exactly the one the pipeline would give, at every second of its
    /// window and not one second past it.
    #[test]
    fn answers_hold_until_valid_until() {
        use jwt_compact::alg::{Hs256, Hs256Key};
        use jwt_compact::{AlgorithmExt, Claims, Header};

        let config: crate::TenancyConfig = serde_json::from_str(
            r#"{ "resolve": { "strategies": [{ "type": "subdomain", "baseDomains": ["example.com"] }] },
                 "authenticate": { "secrets": [{ "secret": "0123456789abcdef0123456789abcdef", "alg": "HS256" }],
                                   "leewaySecs": 30, "cacheTokens": 8 } }"#,
        )
        .unwrap();
        let p = config.build().unwrap();
        assert_eq!(
            p.reuse(),
            Reuse {
                capacity: 8,
                reads_query: false
            }
        );
        let exp = 1_800_000_000;
        // `exp` as a plain claim: serialized the same as jwt-compact's own.
        let claims = Claims::new(serde_json::json!({ "tenant": "acme", "exp": exp }));
        let key = Hs256Key::new(b"0123456789abcdef0123456789abcdef");
        let token = Hs256.token(&Header::empty(), &claims, &key).unwrap();
        let request = RequestParts::new(
            "https://acme.example.com/x",
            [("authorization", format!("Bearer {token}"))],
        );
        let first = pollster::block_on(p.run(&request, exp - 100)).unwrap();
        let until = p.valid_until(&first).unwrap();
        assert_eq!(until, exp + 30);
        for now in [exp - 100, exp, until - 1] {
            assert_eq!(
                pollster::block_on(p.run(&request, now)).as_ref(),
                Ok(&first)
            );
        }
        assert!(pollster::block_on(p.run(&request, until)).is_err());
    }
}
