//! The request pipeline, as a state machine that does no I/O.
//!
//! A request goes through four stages, in this order:
//! 1. [authenticate](crate::authenticate): the bearer token, verified (keys from a JWKS URL are
//!    fetched by the edge; public-key signatures may be checked by the edge);
//! 2. [resolve](crate::resolve): the tenant, from the host, a header, the path, the token… (a
//!    custom domain may be looked up by the edge);
//! 3. [authorize](crate::authorize): may this caller act for this tenant;
//! 4. [look up](crate::lookup): is the tenant registered and ready (asked of the edge when
//!    `resolve.lookUpTenants` is on).
//!
//! In the manner of quinn-proto, the pipeline never performs I/O and never reads a clock.
//! [`Pipeline::start`] takes the request's parts and `now` and gives a [`Run`] and its first
//! [`Step`]: [`Step::Done`] with the [`TenantContext`], [`Step::Failed`] with the [`Error`], or
//! [`Step::Io`] with one I/O request ([`Io`]) for the caller to perform. The caller resumes the
//! run with the [`Reply`] ([`Pipeline::resume`]) until it is done. [`drive`] is that loop for
//! any async edge ([`Edges`]); the npm package drives the machine from JS.
//!
//! The machine fails closed: a reply to another request, of another kind, to a finished run, or
//! one I/O request past [`MAX_IO_PER_RUN`] is a 503 ([`Error::Fault`]), never a pass.

mod config;
mod context;
mod drive;
mod io;
mod reuse;
mod run;

#[cfg(test)]
mod tests;

pub use config::TenancyConfig;
pub use context::TenantContext;
pub use drive::{drive, Edges};
pub use io::{Io, Reply, Step, Ticket};
pub use reuse::{Reuse, MAX_REPLAY};
pub use run::{Run, MAX_IO_PER_RUN};

use crate::authenticate::Verifier;
use crate::authorize::AccessRules;
use crate::resolve::Resolver;
use crate::Error;

/// Resolver, verifier and access rules together: built once per isolate
/// ([`TenancyConfig::build`](crate::TenancyConfig::build)), shared by every request.
#[derive(Debug)]
pub struct Pipeline {
    resolver: Resolver,
    verifier: Option<Verifier>,
    rules: AccessRules,
}

impl Pipeline {
    /// A pipeline. Without a verifier, every token is refused and only public paths pass.
    pub fn new(resolver: Resolver, verifier: Option<Verifier>, rules: AccessRules) -> Self {
        Self {
            resolver,
            verifier,
            rules,
        }
    }

    /// The same pipeline with public-key signatures left to its edge
    /// ([`Io::CheckSignature`]), as the npm package does with WebCrypto.
    pub fn with_caller_signatures(self) -> Self {
        Self {
            verifier: self.verifier.map(Verifier::with_caller_signatures),
            ..self
        }
    }

    /// The resolver: which strategies and lookups are configured.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The verifier, if tokens are accepted at all.
    pub fn verifier(&self) -> Option<&Verifier> {
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
        match context.principal() {
            Some(principal) if self.rules.is_administrator(principal) => Ok(()),
            _ => Err(Error::Forbidden("this needs a control-plane administrator")),
        }
    }
}
