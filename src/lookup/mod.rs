//! Stage 4, look up: is the tenant there to serve?
//!
//! With `resolve.lookUpTenants` on, the pipeline asks its edge about every tenant a request was
//! authorized for (the [`Io::LookUpTenant`](crate::pipeline::Io::LookUpTenant) request), except
//! the control-plane tenant, which always exists. The edge answers from the tenant registry,
//! through a per-isolate [`TenantCache`]; the answer decides between the handler, 404 and 503.
//! The cache keeps a [`Lookup`]: the status, and for a ready tenant where its database is, so the
//! database factory opens it from the same answer without reading the registry row again.

mod cache;
#[cfg(test)]
mod tests;

pub use cache::{Answer, CachePolicy, TenantCache};

use serde::Deserialize;

/// What the registry says of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase", deny_unknown_fields)]
pub enum TenantStatus {
    /// Registered and ready: the request goes on.
    Ready,
    /// Not registered: 404 `tenant_not_found`.
    NotFound,
    /// Registered but not ready (being provisioned or deprovisioned, or failed): 503
    /// `tenant_unavailable`, to be tried again after `retry_after_secs`.
    #[serde(rename_all = "camelCase")]
    Unavailable {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
}

/// Where a ready tenant's database is, as the registry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The backend's id of the database (a D1 UUID).
    pub database_id: String,
    /// The Worker binding that reaches it, once one was made.
    pub binding: Option<String>,
    /// The Worker script holding that binding (one of several, with shards).
    pub script: Option<String>,
    /// The schema group it follows: its handle then refuses schema changes
    /// ([`schema::Lock`](crate::schema::Lock)).
    pub schema_group: Option<String>,
    /// The version the registry records for it.
    pub schema_version: i64,
    /// The version its schema group stands at (0 without one): a database behind it (restored
    /// from an older backup, or provisioned while a job moved the group) catches up on its first
    /// request in an isolate.
    pub group_version: i64,
    /// Whether its group's migration job holds its writes (its handle then refuses them too).
    pub schema_held: bool,
}

/// One registry answer about a tenant: what a request gets, and where its database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Served, unknown, or to be tried again later.
    pub status: TenantStatus,
    /// Set only for a ready tenant whose database id is recorded.
    pub location: Option<Location>,
}

impl Lookup {
    /// The answer for a tenant the registry does not hold.
    pub const NOT_FOUND: Self = Self {
        status: TenantStatus::NotFound,
        location: None,
    };
}
