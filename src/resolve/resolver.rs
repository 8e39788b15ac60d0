//! [`Resolver`]: runs the configured strategies over a request.

use super::config::{ResolveConfig, StrategyConfig, DEFAULT_RESERVED};
use super::custom_domain::{CustomDomains, DomainAnswer};
use super::{Host, RequestParts};
use crate::config::{quoted, ConfigError};
use crate::{Error, Principal, TenantId};

/// Where the tenant of a request was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A subdomain of a base domain.
    Subdomain,
    /// A custom domain.
    CustomDomain,
    /// A request header.
    Header,
    /// A path prefix.
    PathPrefix,
    /// The verified token's tenant claim.
    JwtClaim,
    /// A query parameter.
    Query,
    /// Nothing named a tenant: the configured control-plane tenant.
    ControlPlane,
}

impl Source {
    /// Whether the request itself named the tenant (as opposed to the token or the default).
    pub fn is_from_request(self) -> bool {
        !matches!(self, Self::JwtClaim | Self::ControlPlane)
    }
}

/// The tenant a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The tenant.
    pub tenant: TenantId,
    /// Which strategy found it.
    pub source: Source,
    /// The path to hand on: without the prefix for [`Source::PathPrefix`], else unchanged.
    pub path: String,
}

/// What resolution came to: the tenant, or a question for the edge first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The tenant is known.
    Resolved(Resolved),
    /// Which tenant owns this host? (A custom domain the configuration does not hold.)
    LookUpDomain(Host),
}

/// The edge's answer about a custom domain: the host asked about, and its tenant if it has one.
pub(crate) type LookedUp = (Host, Option<TenantId>);

/// A validated strategy.
#[derive(Debug, Clone)]
enum Strategy {
    Subdomain {
        /// Longest first, so `app.example.com` wins over `example.com`.
        bases: Vec<Host>,
        reserved: Vec<String>,
        nested: bool,
    },
    CustomDomain,
    Header(String),
    PathPrefix(String),
    JwtClaim,
    Query(String),
}

/// Resolves tenants with a checked [`ResolveConfig`].
#[derive(Debug, Clone)]
pub struct Resolver {
    strategies: Vec<Strategy>,
    control_plane: Option<TenantId>,
    trust_forwarded_host: bool,
    look_up_tenants: bool,
    domains: CustomDomains,
}

impl Resolver {
    /// Checks `config`: base domains and custom domains must be valid hosts, reserved labels and
    /// header names lower-case tokens, the path prefix `/…/`, the control-plane id a tenant id.
    pub fn new(config: ResolveConfig) -> Result<Self, ConfigError> {
        let mut domains = Vec::new();
        let mut lookup = false;
        let mut strategies = Vec::with_capacity(config.strategies.len());
        for strategy in config.strategies {
            strategies.push(match strategy {
                StrategyConfig::Subdomain {
                    base_domains,
                    reserved,
                    replace_reserved,
                    nested,
                } => {
                    if base_domains.is_empty() {
                        return Err(ConfigError("subdomain: baseDomains is empty".into()));
                    }
                    // Longest first, so `eu.example.com` is tried before `example.com`; placed
                    // one by one (equal lengths keep their order) rather than sorted, which
                    // would link a sort into the wasm for a handful of names.
                    let mut bases: Vec<Host> = Vec::with_capacity(base_domains.len());
                    for raw in base_domains {
                        let base = config_host(&raw, "subdomain: base domain")?;
                        let at = bases.partition_point(|b| b.as_str().len() >= base.as_str().len());
                        bases.insert(at, base);
                    }
                    let defaults = if replace_reserved {
                        &[][..]
                    } else {
                        &DEFAULT_RESERVED
                    };
                    let reserved = defaults
                        .iter()
                        .copied()
                        .chain(reserved.iter().map(String::as_str))
                        .map(str::to_ascii_lowercase)
                        .collect();
                    Strategy::Subdomain {
                        bases,
                        reserved,
                        nested,
                    }
                }
                StrategyConfig::CustomDomain {
                    domains: map,
                    lookup: looks_up,
                } => {
                    lookup |= looks_up;
                    for (host, tenant) in map {
                        let host = config_host(&host, "customDomain: host")?;
                        domains.push((host, config_tenant(&tenant, "customDomain")?));
                    }
                    Strategy::CustomDomain
                }
                StrategyConfig::Header { name } => Strategy::Header(config_token(&name, "header")?),
                StrategyConfig::PathPrefix { prefix } => {
                    let inner = prefix.strip_prefix('/').and_then(|p| p.strip_suffix('/'));
                    if !inner.is_some_and(|i| !i.is_empty() && !i.contains("//")) {
                        return Err(ConfigError(
                            "pathPrefix: the prefix starts and ends with '/', as in /t/".into(),
                        ));
                    }
                    Strategy::PathPrefix(prefix)
                }
                StrategyConfig::JwtClaim => Strategy::JwtClaim,
                StrategyConfig::Query { name } => Strategy::Query(config_token(&name, "query")?),
            });
        }
        let control_plane = config
            .control_plane_tenant
            .as_deref()
            .map(|t| config_tenant(t, "controlPlaneTenant"))
            .transpose()?;
        Ok(Self {
            strategies,
            control_plane,
            trust_forwarded_host: config.trust_forwarded_host,
            look_up_tenants: config.look_up_tenants,
            domains: CustomDomains::new(domains, lookup),
        })
    }

    /// The configured control-plane tenant.
    pub fn control_plane(&self) -> Option<&TenantId> {
        self.control_plane.as_ref()
    }

    /// The header names this resolver reads besides `Host`, so a JS caller can pass just those
    /// across to wasm. On Workers the request URL already carries the host (the runtime builds it
    /// from `Host`), so the edges hand over the URL and leave `Host` out.
    pub fn headers_read(&self) -> Vec<&str> {
        let mut names = vec![];
        if self.trust_forwarded_host {
            names.push("x-forwarded-host");
        }
        names.extend(self.strategies.iter().filter_map(|s| match s {
            Strategy::Header(name) => Some(name.as_str()),
            _ => None,
        }));
        names
    }

    /// Whether every resolved tenant but the control plane's is asked of the edge.
    pub fn looks_up_tenants(&self) -> bool {
        self.look_up_tenants
    }

    /// Whether custom domains outside the configured map are asked of the edge.
    pub fn looks_up_domains(&self) -> bool {
        self.domains.looks_up()
    }

    /// The prefixes of the path prefix strategies, in the order they are tried: the path can
    /// name the tenant only through them.
    pub fn path_prefixes(&self) -> Vec<String> {
        self.strategies
            .iter()
            .filter_map(|s| match s {
                Strategy::PathPrefix(prefix) => Some(prefix.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether the query string can change the answer (a query strategy is configured).
    pub fn reads_query(&self) -> bool {
        self.strategies
            .iter()
            .any(|s| matches!(s, Strategy::Query(_)))
    }

    /// The tenant of `request`: the first strategy that names one, else the control plane.
    /// A strategy that finds an invalid tenant id fails the request (400) rather than falling
    /// through, so a typo never lands on another tenant. `principal` is the verified caller, for
    /// [`Source::JwtClaim`]. A custom domain the configuration does not hold, with lookups on,
    /// is a question for the edge ([`Resolution::LookUpDomain`]); its answer comes back in
    /// `looked_up`, and counts only for the host it was asked about.
    pub(crate) fn resolve(
        &self,
        request: &RequestParts,
        principal: Option<&Principal>,
        looked_up: Option<&LookedUp>,
    ) -> Result<Resolution, Error> {
        let mut host = None;
        for strategy in &self.strategies {
            let path = request.path();
            let found = match strategy {
                Strategy::Subdomain {
                    bases,
                    reserved,
                    nested,
                } => {
                    let host = self.host(request, &mut host)?;
                    subdomain(host, bases, reserved, *nested)?
                }
                Strategy::CustomDomain => {
                    let host = self.host(request, &mut host)?;
                    match self.domains.tenant_for(host) {
                        DomainAnswer::Tenant(tenant) => Some(tenant),
                        DomainAnswer::NoTenant => None,
                        DomainAnswer::AskEdge => match looked_up {
                            Some((asked, answer)) if asked == host => answer.clone(),
                            _ => return Ok(Resolution::LookUpDomain(host.clone())),
                        },
                    }
                }
                Strategy::Header(name) => request.header(name)?.map(TenantId::parse).transpose()?,
                Strategy::PathPrefix(prefix) => {
                    if let Some((tenant, rest)) = path_prefix(path, prefix)? {
                        return Ok(Resolution::Resolved(Resolved {
                            tenant,
                            source: Source::PathPrefix,
                            path: rest,
                        }));
                    }
                    None
                }
                Strategy::JwtClaim => principal.and_then(|p| p.tenant().cloned()),
                Strategy::Query(name) => request
                    .query_param(name)?
                    .map(TenantId::parse)
                    .transpose()?,
            };
            if let Some(tenant) = found {
                let source = strategy.source();
                return Ok(Resolution::Resolved(Resolved {
                    tenant,
                    source,
                    path: path.to_owned(),
                }));
            }
        }
        let tenant = self.control_plane.clone().ok_or(Error::NoTenant)?;
        Ok(Resolution::Resolved(Resolved {
            tenant,
            source: Source::ControlPlane,
            path: request.path().to_owned(),
        }))
    }

    /// The request's host, parsed once and only when a strategy needs it.
    fn host<'h>(
        &self,
        request: &RequestParts,
        cache: &'h mut Option<Host>,
    ) -> Result<&'h Host, Error> {
        match cache {
            Some(host) => Ok(host),
            None => {
                let forwarded = match self.trust_forwarded_host {
                    true => request.header("x-forwarded-host")?,
                    false => None,
                };
                let raw = match (forwarded, request.header("host")?) {
                    (Some(f), _) => f,
                    (None, Some(h)) => h,
                    (None, None) => request.authority(),
                };
                Ok(cache.insert(Host::parse(raw).map_err(Error::InvalidHost)?))
            }
        }
    }
}

impl Strategy {
    fn source(&self) -> Source {
        match self {
            Self::Subdomain { .. } => Source::Subdomain,
            Self::CustomDomain => Source::CustomDomain,
            Self::Header(_) => Source::Header,
            Self::PathPrefix(_) => Source::PathPrefix,
            Self::JwtClaim => Source::JwtClaim,
            Self::Query(_) => Source::Query,
        }
    }
}

fn subdomain(
    host: &Host,
    bases: &[Host],
    reserved: &[String],
    nested: bool,
) -> Result<Option<TenantId>, Error> {
    let Some(prefix) = bases.iter().find_map(|base| host.subdomain_of(base)) else {
        return Ok(None);
    };
    let label = match prefix.rsplit_once('.') {
        Some(_) if !nested => return Ok(None),
        Some((_, label)) => label,
        None => prefix,
    };
    if reserved.iter().any(|r| r == label) {
        return Ok(None);
    }
    Ok(Some(TenantId::parse(label)?))
}

/// `/t/acme/x` under `/t/` is `acme` and `/x`; `/t/acme` is `acme` and `/`.
fn path_prefix(path: &str, prefix: &str) -> Result<Option<(TenantId, String)>, Error> {
    let Some(rest) = path.strip_prefix(prefix) else {
        return Ok(None);
    };
    let (segment, rest) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let rest = if rest.is_empty() { "/" } else { rest };
    Ok(Some((TenantId::parse(segment)?, rest.to_owned())))
}

fn config_host(raw: &str, what: &str) -> Result<Host, ConfigError> {
    Host::parse(raw).map_err(|e| ConfigError(format!("{what} {}: {e}", quoted(raw))))
}

fn config_tenant(raw: &str, what: &str) -> Result<TenantId, ConfigError> {
    TenantId::parse(raw).map_err(|e| ConfigError(format!("{what} {}: {e}", quoted(raw))))
}

/// A header or parameter name: an HTTP token, lower-cased.
fn config_token(raw: &str, what: &str) -> Result<String, ConfigError> {
    let ok = !raw.is_empty()
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ConfigError(format!(
            "{what}: {} is not a valid name",
            quoted(raw)
        )))
    }
}
