//! The edge-tenancy demo worker: the control-plane registry of tenants over the `CONTROL_PLANE` D1
//! binding.
//!
//! Routes:
//! - `GET /health`: liveness and version.
//! - For control-plane administrators (a token for the control-plane tenant with the admin
//!   scope): the tenants and their databases (see [`tenants`]).
//! - `GET|POST /t/{tenant}/notes`: the tenant's own database, for its members.
//! - `GET /whoami` and `GET /t/{tenant}/whoami`: the tenant context of the request, through the
//!   pipeline configured by the `TENANCY_CONFIG` var (401/403/400, and 404 for a tenant that is
//!   not registered, as the pipeline decides).
//! - `/admin/...`: D1 databases and Worker bindings through the Cloudflare API (see [`admin`]),
//!   for control-plane administrators.

use edge_tenancy::control::Registry;
use edge_tenancy::lookup::{CachePolicy, TenantCache};
use edge_tenancy::pipeline::{Pipeline, TenantContext};
use edge_tenancy::workers::{error_response, resolve_request, WorkerEdges, D1};
use edge_tenancy::{Error, TenancyConfig, UnixTime};
use serde_json::{json, Value};
use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use worker::{event, Context, Date, Env, Request, Response, Result, Router};

mod admin;
mod tenants;

/// The pipeline, as TENANCY_CONFIG configures it.
type TenancyPipeline = Pipeline;

/// What a route hands back: a JSON value, or the library error that becomes the answer.
type Outcome = std::result::Result<Value, Error>;

thread_local! {
    // The registry's migrations are checked once per isolate rather than on every request.
    static SCHEMA_READY: Cell<bool> = const { Cell::new(false) };
    // Registry answers for the request path, per isolate.
    pub(crate) static TENANT_CACHE: Rc<TenantCache> = Rc::new(TenantCache::new(CachePolicy::default()));
    // The pipeline is built once per isolate from the TENANCY_CONFIG var.
    static PIPELINE: OnceCell<Rc<TenancyPipeline>> = const { OnceCell::new() };
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    tenants::routes(admin::routes(Router::new()))
        .get("/health", |_, _| {
            Response::from_json(&json!({ "status": "ok", "version": edge_tenancy::VERSION }))
        })
        .get_async(
            "/whoami",
            |req, ctx| async move { whoami(&req, &ctx.env).await },
        )
        .get_async("/t/:tenant/whoami", |req, ctx| async move {
            whoami(&req, &ctx.env).await
        })
        .run(req, env)
        .await
}

/// The pipeline, built on first use. A bad TENANCY_CONFIG is a deployment error: it fails loudly
/// (500, logged) rather than letting requests through.
fn pipeline(env: &Env) -> Result<Rc<TenancyPipeline>> {
    if let Some(pipeline) = PIPELINE.with(|p| p.get().cloned()) {
        return Ok(pipeline);
    }
    let raw = env.var("TENANCY_CONFIG")?.to_string();
    let pipeline = Rc::new(
        TenancyConfig::pipeline_from_json(&raw)
            .map_err(|e| worker::Error::RustError(format!("TENANCY_CONFIG: {e}")))?,
    );
    PIPELINE.with(|p| p.set(pipeline.clone()).ok());
    Ok(pipeline)
}

async fn whoami(req: &Request, env: &Env) -> Result<Response> {
    let edges = edges(env).await;
    match resolve_request(&*pipeline(env)?, req, &edges).await {
        Ok(context) => Response::from_json(&context),
        Err(error) => error_response(&error),
    }
}

/// The pipeline's edges: `fetch` for JWKS documents, the registry for tenant lookups.
pub(crate) async fn edges(env: &Env) -> WorkerEdges {
    let edges = WorkerEdges::default();
    match registry(env).await {
        Ok(registry) => edges.with_registry(registry, TENANT_CACHE.with(Rc::clone)),
        // Without the registry, a tenant lookup fails the request with a 503.
        Err(error) => {
            worker::console_error!("edge-tenancy: the registry is unavailable: {error}");
            edges
        }
    }
}

/// The request's context, if its caller administers every tenant.
pub(crate) async fn administrator(
    pipeline: &TenancyPipeline,
    req: &Request,
    env: &Env,
) -> std::result::Result<TenantContext, Error> {
    match resolve_request(pipeline, req, &edges(env).await).await {
        Ok(context) => {
            pipeline.require_administrator(&context)?;
            Ok(context)
        }
        // An administrator's token is bound to the control-plane tenant, which is never looked
        // up: a token for a tenant the registry lacks is simply not an administrator's.
        Err(Error::TenantNotFound | Error::TenantUnavailable { .. }) => {
            Err(Error::Forbidden("this needs a control-plane administrator"))
        }
        Err(error) => Err(error),
    }
}

/// The tenant registry on the CONTROL_PLANE binding, its schema brought up to date once per
/// isolate.
pub(crate) async fn registry(env: &Env) -> std::result::Result<Registry<D1>, Error> {
    let registry = Registry::new(D1::binding(env, "CONTROL_PLANE")?);
    if !SCHEMA_READY.get() {
        registry
            .migrate(UnixTime::from_millis(Date::now().as_millis() as i64))
            .await?;
        SCHEMA_READY.set(true);
    }
    Ok(registry)
}

/// A TENANCY_CONFIG that does not build: a deployment error, logged, never a pass.
pub(crate) fn config_error(error: worker::Error) -> Error {
    worker::console_error!("edge-tenancy: {error}");
    Error::NotConfigured("TENANCY_CONFIG is not a valid configuration")
}

/// An outcome as a response: the value as JSON with `status`, or the mapped error.
pub(crate) fn answer(outcome: Outcome, status: u16) -> Result<Response> {
    match outcome {
        Ok(value) => Ok(Response::from_json(&value)?.with_status(status)),
        Err(error) => {
            if let Error::Storage(cause) = &error {
                worker::console_error!("edge-tenancy storage error: {cause}");
            }
            error_response(&error)
        }
    }
}
