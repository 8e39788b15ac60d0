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
/// holds proof that the request was authenticated and authorized for that tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantContext {
    tenant: TenantId,
    source: Source,
    path: String,
    principal: Option<Principal>,
    access: Access,
}

impl TenantContext {
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
            principal,
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

    /// The verified caller, if a token was sent.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// How the caller was let in.
    pub fn access(&self) -> Access {
        self.access
    }
}
