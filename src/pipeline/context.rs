//! [`TenantContext`]: what a handler learns about a request that passed the pipeline.

use crate::authorize::Access;
use crate::resolve::Source;
use crate::{Principal, TenantId};
use serde::Serialize;

/// A request that passed every stage: its tenant, how it was found, the verified caller and how
/// the caller was let in.
///
/// Only the pipeline makes one (its fields are private and its constructor is the crate's), so a
/// later stage that takes a `&TenantContext` — a database factory opening the tenant's database —
/// holds proof that the request passed the pipeline for that tenant: its principal, when it has
/// one, may act for the tenant (a member or a control-plane administrator). An anonymous caller
/// on a public path ([`Access::Public`]) has none; a factory refuses to open the tenant's
/// database for such a context unless it is told the route serves anonymous callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantContext {
    tenant: TenantId,
    source: Source,
    path: String,
    principal: Option<Principal>,
    access: Access,
}

impl TenantContext {
    /// The context of a request let in with `access`. An anonymous caller's token (another
    /// tenant's, say, on a public path) is dropped here, so no context carries a principal that
    /// may not act for its tenant.
    pub(crate) fn new(
        tenant: TenantId,
        source: Source,
        path: String,
        principal: Option<Principal>,
        access: Access,
    ) -> Self {
        Self {
            tenant,
            source,
            path,
            principal: principal.filter(|_| access != Access::Public),
            access,
        }
    }

    /// The tenant the request is for.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Where the tenant was found.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The path to route on (without a tenant path prefix).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The verified caller, a member of the tenant or a control-plane administrator; `None` for
    /// an anonymous caller on a public path (no token, or a token that may not act for this
    /// tenant).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// How the caller was let in.
    pub fn access(&self) -> Access {
        self.access
    }
}
