//! Stage 3, authorize: may this caller act for the resolved tenant?
//!
//! The rules, in order:
//! 1. A token bound to the resolved tenant may act for it ([`Access::Member`]).
//! 2. A token bound to the control-plane tenant that grants the admin scope may act for any
//!    tenant ([`Access::Admin`]): the control plane administers the others.
//! 3. On a public path anyone else is let in as anonymous ([`Access::Public`]): no token, or a
//!    verified token that may not act for this tenant (another tenant's, one bound to none). The
//!    context then holds no principal, so a handler asking "who is signed in?" never sees another
//!    tenant's user on this tenant's page. A page that is public stays public for a browser that
//!    happens to carry another tenant's token; refusing it would break public pages for every
//!    user of every other tenant, while dropping the caller gives away nothing.
//! 4. Otherwise a verified token is required (401 without one).
//! 5. Anything else is 403: a token for tenant A never reaches tenant B, and when the request and
//!    the token both name a tenant, they must agree.
//!
//! A token that is sent is always checked, on public paths too: an expired, forged or malformed
//! one is refused (401) before these rules run, as a caller who sends a credential wants it
//! checked and an attacker probing with forgeries learns nothing from a public path.

use crate::authenticate::AuthError;
use crate::config::{quoted, ConfigError};
use crate::resolve::Resolved;
use crate::{Error, Principal, TenantId};
use serde::{Deserialize, Serialize};

/// Access settings, in the plain serializable form.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessConfig {
    /// The scope that makes a control-plane token an administrator (default `tenants:admin`).
    #[serde(default = "default_admin_scope")]
    pub admin_scope: String,
    /// Paths that need no token: `/health` covers `/health` and `/health/…`, not `/healthz`.
    #[serde(default)]
    pub public_paths: Vec<String>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            admin_scope: default_admin_scope(),
            public_paths: Vec::new(),
        }
    }
}

fn default_admin_scope() -> String {
    "tenants:admin".to_owned()
}

/// How a caller was let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// An anonymous caller on a public path: no token, or one that may not act for the tenant
    /// (dropped). Such a context has no principal and opens no tenant database unless the
    /// factory is told the route serves anonymous callers.
    Public,
    /// The token is bound to the tenant.
    Member,
    /// A control-plane administrator acting for the tenant.
    Admin,
}

/// The checked access rules.
#[derive(Debug, Clone)]
pub struct AccessRules {
    admin_scope: String,
    public_paths: Vec<String>,
    control_plane: Option<TenantId>,
}

impl AccessRules {
    /// Checks `config`; `control_plane` is the resolver's control-plane tenant.
    pub fn new(config: AccessConfig, control_plane: Option<TenantId>) -> Result<Self, ConfigError> {
        if config.admin_scope.is_empty() || config.admin_scope.contains(char::is_whitespace) {
            return Err(ConfigError("adminScope must be one non-empty scope".into()));
        }
        for path in &config.public_paths {
            if !path.starts_with('/') {
                return Err(ConfigError(format!(
                    "publicPaths: {} does not start with '/'",
                    quoted(path)
                )));
            }
        }
        let public_paths = config
            .public_paths
            .into_iter()
            .map(|p| match p.trim_end_matches('/') {
                "" => "/".to_owned(),
                trimmed => trimmed.to_owned(),
            })
            .collect();
        Ok(Self {
            admin_scope: config.admin_scope,
            public_paths,
            control_plane,
        })
    }

    /// Whether `path` (the path a request is routed on) needs no token: it is one of the public
    /// paths, continues one with `/`, or `/` is public.
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|p| {
            p == "/"
                || path == p
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Whether `principal` administers every tenant: bound to the control-plane tenant and holding
    /// the admin scope.
    pub fn is_administrator(&self, principal: &Principal) -> bool {
        principal.tenant().is_some()
            && principal.tenant() == self.control_plane.as_ref()
            && principal.has_scope(&self.admin_scope)
    }

    /// Whether `principal` may act for `resolved.tenant` on the path it is routed on
    /// (`resolved.path`: the request's path, without the tenant head under a path prefix, so
    /// `/health` is public as `/t/acme/health` too): how, or why not. With [`Access::Public`]
    /// the caller is anonymous, whatever `principal` is: the context made from it must not hold
    /// the principal ([`TenantContext`](crate::pipeline::TenantContext) drops it).
    pub fn check(
        &self,
        resolved: &Resolved,
        principal: Option<&Principal>,
    ) -> Result<Access, Error> {
        let refused = match principal {
            None => Error::Unauthenticated(AuthError::Missing),
            Some(principal) => match principal.tenant() {
                Some(bound) if *bound == resolved.tenant => return Ok(Access::Member),
                Some(_) if self.is_administrator(principal) => return Ok(Access::Admin),
                Some(_) => Error::Forbidden("the token is not valid for this tenant"),
                None => Error::Forbidden("the token is bound to no tenant"),
            },
        };
        if self.is_public(&resolved.path) {
            Ok(Access::Public)
        } else {
            Err(refused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Source;

    fn id(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn rules() -> AccessRules {
        let config = AccessConfig {
            public_paths: vec!["/health".into(), "/docs/".into()],
            ..AccessConfig::default()
        };
        AccessRules::new(config, Some(id("main"))).unwrap()
    }

    fn principal(tenant: Option<&str>, scopes: &[&str]) -> Principal {
        Principal::for_test(tenant, scopes)
    }

    fn resolved(tenant: &str, source: Source) -> Resolved {
        on("/x", tenant, source)
    }

    fn on(path: &str, tenant: &str, source: Source) -> Resolved {
        Resolved {
            tenant: id(tenant),
            source,
            path: path.into(),
        }
    }

    #[test]
    fn the_rules_in_a_table() {
        let admin = principal(Some("main"), &["read", "tenants:admin"]);
        let main_user = principal(Some("main"), &["read"]);
        let acme = principal(Some("acme"), &["tenants:admin"]);
        let unbound = principal(None, &["tenants:admin"]);
        let r = rules();
        type Case<'a> = (
            &'a str,
            Resolved,
            Option<&'a Principal>,
            Result<Access, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "/x",
                resolved("acme", Source::Subdomain),
                Some(&acme),
                Ok(Access::Member),
            ),
            (
                "/x",
                resolved("acme", Source::JwtClaim),
                Some(&acme),
                Ok(Access::Member),
            ),
            (
                "/x",
                resolved("beta", Source::Subdomain),
                Some(&acme),
                Err("forbidden"),
            ),
            (
                "/x",
                resolved("main", Source::ControlPlane),
                Some(&acme),
                Err("forbidden"),
            ),
            (
                "/x",
                resolved("acme", Source::Header),
                Some(&admin),
                Ok(Access::Admin),
            ),
            (
                "/x",
                resolved("main", Source::ControlPlane),
                Some(&admin),
                Ok(Access::Member),
            ),
            (
                "/x",
                resolved("main", Source::ControlPlane),
                Some(&main_user),
                Ok(Access::Member),
            ),
            (
                "/x",
                resolved("acme", Source::Header),
                Some(&main_user),
                Err("forbidden"),
            ),
            (
                "/x",
                resolved("acme", Source::Header),
                Some(&unbound),
                Err("forbidden"),
            ),
            (
                "/x",
                resolved("acme", Source::Header),
                None,
                Err("unauthenticated"),
            ),
            (
                "/health",
                resolved("acme", Source::Header),
                None,
                Ok(Access::Public),
            ),
            (
                "/health/deep",
                resolved("acme", Source::Header),
                None,
                Ok(Access::Public),
            ),
            (
                "/healthz",
                resolved("acme", Source::Header),
                None,
                Err("unauthenticated"),
            ),
            (
                "/docs",
                resolved("acme", Source::Header),
                None,
                Ok(Access::Public),
            ),
            (
                "/docs/a",
                resolved("acme", Source::Header),
                None,
                Ok(Access::Public),
            ),
            (
                "/doc",
                resolved("acme", Source::Header),
                None,
                Err("unauthenticated"),
            ),
        ];
        for (path, resolved, principal, want) in cases {
            let resolved = Resolved {
                path: path.to_owned(),
                ..resolved
            };
            let got = r
                .check(&resolved, principal)
                .map_err(|e| e.to_response().code);
            assert_eq!(got, want, "{path} {resolved:?} {principal:?}");
        }
    }

    /// Every caller on a public path and beside it, for every way the tenant can be found: who
    /// may act for the tenant keeps their access; anyone else is anonymous on the public path
    /// and refused beside it.
    #[test]
    fn public_paths_in_a_table() {
        let admin = principal(Some("main"), &["tenants:admin"]);
        let main_user = principal(Some("main"), &["read"]);
        let own = principal(Some("acme"), &["read"]);
        let other = principal(Some("beta"), &["tenants:admin"]);
        let unbound = principal(None, &["tenants:admin"]);
        let r = rules();
        // Who calls, and what they get on a public path and beside it.
        type Cell<'a> = (
            &'a str,
            Option<&'a Principal>,
            Result<Access, &'a str>,
            Result<Access, &'a str>,
        );
        let callers: [Cell; 6] = [
            ("none", None, Ok(Access::Public), Err("unauthenticated")),
            ("own", Some(&own), Ok(Access::Member), Ok(Access::Member)),
            ("admin", Some(&admin), Ok(Access::Admin), Ok(Access::Admin)),
            (
                "other tenant",
                Some(&other),
                Ok(Access::Public),
                Err("forbidden"),
            ),
            (
                "main, not admin",
                Some(&main_user),
                Ok(Access::Public),
                Err("forbidden"),
            ),
            (
                "unbound",
                Some(&unbound),
                Ok(Access::Public),
                Err("forbidden"),
            ),
        ];
        let sources = [
            Source::Subdomain,
            Source::CustomDomain,
            Source::Header,
            Source::PathPrefix,
            Source::JwtClaim,
            Source::Query,
            Source::ControlPlane,
        ];
        // Public: the listed paths and what continues them with "/". Not public: whatever only
        // looks like them (case, a percent-encoded letter, a doubled slash, a longer segment).
        let public = ["/health", "/health/", "/health/x/y", "/docs", "/docs/a"];
        let private = [
            "/healthz",
            "/HEALTH",
            "/%68ealth",
            "//health",
            "/health%2F..%2Fadmin",
            "/doc",
            "/docsx",
            "/",
            "",
        ];
        for source in sources {
            for (who, caller, on_public, elsewhere) in &callers {
                for (paths, want) in [(&public[..], on_public), (&private[..], elsewhere)] {
                    for path in paths {
                        let got = r
                            .check(&on(path, "acme", source), *caller)
                            .map_err(|e| e.to_response().code);
                        assert_eq!(got, *want, "{who} on {path:?} ({source:?})");
                    }
                }
            }
        }
    }

    #[test]
    fn admins_need_a_control_plane() {
        let r = AccessRules::new(AccessConfig::default(), None).unwrap();
        let admin = principal(Some("main"), &["tenants:admin"]);
        let got = r.check(&resolved("acme", Source::Header), Some(&admin));
        assert!(matches!(got, Err(Error::Forbidden(_))));
    }

    #[test]
    fn bad_configuration_fails_at_creation() {
        for config in [
            AccessConfig {
                admin_scope: "".into(),
                ..AccessConfig::default()
            },
            AccessConfig {
                admin_scope: "a b".into(),
                ..AccessConfig::default()
            },
            AccessConfig {
                public_paths: vec!["health".into()],
                ..AccessConfig::default()
            },
        ] {
            assert!(AccessRules::new(config, None).is_err());
        }
    }
}
