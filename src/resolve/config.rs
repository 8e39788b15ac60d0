//! How a deployment resolves tenants: the strategies, in order, and what they need.
//!
//! This is the plain, serializable form (JS passes it as an object); [`super::Resolver::new`]
//! checks it once and turns it into the validated form, so a bad setting fails at start-up, not on
//! the first request that meets it.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Tenant resolution settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveConfig {
    /// Strategies tried in order; the first that names a tenant wins.
    pub strategies: Vec<StrategyConfig>,
    /// The tenant for requests that name none (the control plane), if any.
    #[serde(default)]
    pub control_plane_tenant: Option<String>,
    /// Take the host from `X-Forwarded-Host` when present. Only for workers behind a proxy that
    /// sets it: otherwise any client can claim any host.
    #[serde(default)]
    pub trust_forwarded_host: bool,
    /// Ask the edge whether each resolved tenant (but the control-plane one) is registered and
    /// ready: the pipeline's tenant lookup step.
    #[serde(default)]
    pub look_up_tenants: bool,
}

/// One way to find the tenant in a request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum StrategyConfig {
    /// `acme.example.com` under a base domain `example.com`.
    #[serde(rename_all = "camelCase")]
    Subdomain {
        /// Base domains; the longest that matches is used.
        base_domains: Vec<String>,
        /// Labels that are never tenants, on top of the defaults `www`, `api`, `app` and `admin`.
        #[serde(default)]
        reserved: Vec<String>,
        /// Take `reserved` as the whole list, without the defaults.
        #[serde(default)]
        replace_reserved: bool,
        /// Accept more than one label below the base, taking the one next to it
        /// (`eu.acme.example.com` is `acme`). Off: such hosts name no tenant.
        #[serde(default)]
        nested: bool,
    },
    /// A whole host mapped to a tenant (`shop.acme.com` → `acme`).
    #[serde(rename_all = "camelCase")]
    CustomDomain {
        /// Static host → tenant map.
        #[serde(default)]
        domains: BTreeMap<String, String>,
        /// Ask the edge about hosts the map does not hold (a registry, a KV namespace, a JS
        /// callback): the pipeline's domain lookup step.
        #[serde(default)]
        lookup: bool,
    },
    /// A request header (default `x-tenant-id`).
    Header {
        /// Header name.
        #[serde(default = "default_header")]
        name: String,
    },
    /// A path prefix: `/t/{tenant}/rest` (default prefix `/t/`); the rest of the path is handed on.
    PathPrefix {
        /// Prefix, starting and ending with `/`.
        #[serde(default = "default_prefix")]
        prefix: String,
    },
    /// The verified token's tenant claim.
    JwtClaim,
    /// A query parameter. Off unless listed, as links with tenants in them leak into logs.
    Query {
        /// Parameter name.
        name: String,
    },
}

/// Labels a subdomain strategy never takes for a tenant unless `replaceReserved` says otherwise:
/// the hosts a deployment commonly keeps for itself.
pub(super) const DEFAULT_RESERVED: [&str; 4] = ["www", "api", "app", "admin"];

fn default_header() -> String {
    "x-tenant-id".to_owned()
}

fn default_prefix() -> String {
    "/t/".to_owned()
}
