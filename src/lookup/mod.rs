//! Stage 4, look up: is the tenant there to serve?
//!
//! With `resolve.lookUpTenants` on, the pipeline asks its edge about every tenant a request was
//! authorized for (the [`Io::LookUpTenant`](crate::pipeline::Io::LookUpTenant) request), except
//! the control-plane tenant, which always exists. The edge answers from the tenant registry,
//! through a per-isolate [`TenantCache`]; the answer decides between the handler, 404 and 503.

mod cache;

pub use cache::{CachePolicy, TenantCache};

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
