//! Stage 2, resolve: which tenant a request is for.
//!
//! A [`Resolver`] is built once from a [`ResolveConfig`] (checked then, so a bad setting fails at
//! start-up) and tries its strategies in order over a [`RequestParts`]: subdomain of a base
//! domain, custom domain (from configuration, or asked of the edge), header, path prefix, the
//! verified token's claim, query parameter. The first that names a tenant wins; with none, the
//! control-plane tenant if one is configured. It runs after authentication, since a tenant may
//! come from the token.
//! Hosts are parsed strictly ([`Host`]): dot boundaries, ports, trailing dots and case are
//! handled once, there.

mod config;
mod custom_domain;
mod host;
mod request;
mod resolver;

pub use config::{ResolveConfig, StrategyConfig};
pub use host::{Host, HostError, MAX_HOST_LEN};
pub use request::RequestParts;
pub(crate) use resolver::{LookedUp, Resolution};
pub use resolver::{Resolved, Resolver, Source};

#[cfg(test)]
mod tests;
