//! The pipeline for a `worker::Request`: [`WorkerEdges`] performs its I/O with the runtime.

use super::{request_parts, WorkerFetch, D1};
use crate::lookup::TenantStatus;
use crate::pipeline::{drive, Edges, Pipeline, TenantContext};
use crate::registry::Registry;
use crate::{Error, TenantId, UnixTime};
use worker::{Date, Request};

/// The pipeline's edges in a Rust worker: the runtime's clock, `fetch` for JWKS documents, and
/// the control-plane registry (a D1 binding) for tenant lookups. Custom-domain lookups and
/// signature checks are not asked of it: signatures are checked in process here.
pub struct WorkerEdges {
    fetch: WorkerFetch,
    registry: Option<Registry<D1>>,
}

impl Default for WorkerEdges {
    fn default() -> Self {
        Self::new(WorkerFetch::default())
    }
}

impl WorkerEdges {
    /// Edges that fetch JWKS documents with `fetch` and look up no tenants.
    pub fn new(fetch: WorkerFetch) -> Self {
        Self {
            fetch,
            registry: None,
        }
    }

    /// The same edges answering tenant lookups (`resolve.lookUpTenants`) from `registry`.
    pub fn with_registry(self, registry: Registry<D1>) -> Self {
        Self {
            registry: Some(registry),
            ..self
        }
    }
}

impl Edges for WorkerEdges {
    fn now(&self) -> UnixTime {
        UnixTime::from_millis(Date::now().as_millis() as i64)
    }

    async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        self.fetch.fetch_jwks(url).await
    }

    async fn look_up_tenant(&self, tenant: &TenantId) -> Result<TenantStatus, String> {
        let registry = self
            .registry
            .as_ref()
            .ok_or("no tenant registry is bound")?;
        match registry.get(tenant).await {
            Ok(_) => Ok(TenantStatus::Ready),
            Err(Error::TenantNotFound) => Ok(TenantStatus::NotFound),
            Err(error) => Err(error.to_string()),
        }
    }

    fn log(&self, message: &str) {
        worker::console_error!("{message}");
    }
}

/// Runs `pipeline` over `request` with `edges`: the tenant context, or the error to answer with
/// ([`super::error_response`]).
pub async fn resolve_request(
    pipeline: &Pipeline,
    request: &Request,
    edges: &WorkerEdges,
) -> Result<TenantContext, Error> {
    drive(pipeline, request_parts(request), edges).await
}
