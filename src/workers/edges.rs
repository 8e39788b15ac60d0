//! The pipeline for a `worker::Request`: [`WorkerEdges`] performs its I/O with the runtime, and
//! `cached_lookup` is the one way a Rust worker asks the registry about a tenant.

use super::{request_parts, WorkerFetch, D1};
use crate::control::Registry;
use crate::lookup::{Lookup, TenantCache, TenantStatus};
use crate::pipeline::{drive, Edges, Pipeline, TenantContext};
use crate::{Error, TenantId, UnixTime};
use std::rc::Rc;
use worker::{Date, Request};

/// The pipeline's edges in a Rust worker: the runtime's clock, `fetch` for JWKS documents, and
/// the control-plane registry (a D1 binding) for tenant lookups, through a per-isolate
/// [`TenantCache`]. Custom-domain lookups and signature checks are not asked of it: signatures
/// are checked in process here.
pub struct WorkerEdges {
    fetch: WorkerFetch,
    registry: Option<(Registry<D1>, Rc<TenantCache>)>,
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

    /// The same edges answering tenant lookups (`resolve.lookUpTenants`) from `registry`, with
    /// answers kept in `cache` (one per isolate: a warm isolate reads no registry row).
    pub fn with_registry(self, registry: Registry<D1>, cache: Rc<TenantCache>) -> Self {
        Self {
            registry: Some((registry, cache)),
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
        let (registry, cache) = self
            .registry
            .as_ref()
            .ok_or("no tenant registry is bound")?;
        let lookup = cached_lookup(registry, cache, tenant, self.now()).await?;
        Ok(lookup.status)
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

/// What the registry says of `tenant` at `now`, through the isolate's `cache`: the pipeline's
/// lookup stage and the database factory share the answer, so a warm request reads no row.
pub(crate) async fn cached_lookup(
    registry: &Registry<D1>,
    cache: &TenantCache,
    tenant: &TenantId,
    now: UnixTime,
) -> Result<Lookup, String> {
    let load = async || registry.lookup(tenant).await.map_err(|e| e.to_string());
    // A request waiting for another's registry read checks back every millisecond.
    let pause = async || {
        worker::Delay::from(std::time::Duration::from_millis(1)).await;
        UnixTime::from_millis(Date::now().as_millis() as i64)
    };
    let answer = cache.get_or_load(tenant, now, load, pause).await?;
    Ok(answer.lookup)
}

/// [`cached_lookup`] for a route: a registry that cannot answer is logged and is
/// [`Error::LookupUnavailable`] (503), its cause never sent.
pub(crate) async fn route_lookup(
    registry: &Registry<D1>,
    cache: &TenantCache,
    tenant: &TenantId,
    now: UnixTime,
) -> Result<Lookup, Error> {
    cached_lookup(registry, cache, tenant, now)
        .await
        .map_err(|why| {
            worker::console_error!("edge-tenancy: looking up {tenant}: {why}");
            Error::LookupUnavailable
        })
}
