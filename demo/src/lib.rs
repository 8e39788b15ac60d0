//! The edge-tenancy demo worker: tenants, their own databases and the control plane, every route
//! behind the pipeline through `edge_tenancy::workers::handler`.
//!
//! Routes:
//! - `GET /health`: liveness and version.
//! - `GET /whoami` and `GET /t/{tenant}/whoami`: the tenant context of the request, through the
//!   pipeline configured by the `TENANCY_CONFIG` var (401/403/400, and 404 for a tenant that is
//!   not registered, as the pipeline decides). No database work.
//! - The tenant's own database, for its members (the `tenants` module):
//!   `GET|POST /t/{tenant}/notes`, `GET /t/{tenant}/notes/{id}` (one indexed SELECT),
//!   `POST /t/{tenant}/values`, `POST /t/{tenant}/query` (a statement of the caller's own; schema
//!   changes are refused, since the schema comes from the `demo/migrations/` schema group).
//! - For control-plane administrators (a token for the control-plane tenant with the admin
//!   scope): the tenants and their databases (the `tenants` module), migration jobs over their
//!   databases (`/schema/jobs`, the `schema` module, also driven by the Cron Trigger), the
//!   provisioning queue (`/queue`, the `queue` module, drained by the Cron Trigger too), and
//!   `/admin/...`: D1 databases and Worker bindings through the Cloudflare API (the `admin`
//!   module).

use edge_tenancy::workers::{tenant, Reply, Tenancy, TenancyRouter, TenantRequest};
use edge_tenancy::Error;
use serde_json::json;
use std::rc::Rc;
use std::time::Duration;
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

mod admin;
mod queue;
mod schema;
mod tenants;

thread_local! {
    // The pipeline, the tenant cache and the API client, once per isolate.
    static TENANCY: Rc<Tenancy> = Rc::new(Tenancy::default().with_schema(tenants::schema()));
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let router = TenancyRouter::with_data(TENANCY.with(Rc::clone))
        .get("/health", |_, _| {
            Response::from_json(&json!({ "status": "ok", "version": edge_tenancy::VERSION }))
        })
        .get_async("/whoami", tenant(whoami))
        .get_async("/t/:tenant/whoami", tenant(whoami));
    queue::routes(schema::routes(admin::routes(tenants::routes(router))))
        .run(req, env)
        .await
}

/// The Cron Trigger: drains the provisioning queue (40 tenants at most, about 480 of the
/// invocation's 1,000 D1 queries and subrequests, 20 s), then drives every migration job not
/// over with what is left (400), well under a minute so the next trigger finds the job free.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let tenancy = TENANCY.with(Rc::clone);
    let factory = match tenancy.factory(&env, ()).await {
        Ok(factory) => factory,
        Err(error) => return worker::console_error!("edge-tenancy: the scheduled run: {error}"),
    };
    if let Err(error) = factory.drain_queue(Duration::from_secs(20), 40).await {
        worker::console_error!("edge-tenancy: draining the provisioning queue: {error}");
    }
    if let Err(error) = factory.drive_jobs(400, Duration::from_secs(25)).await {
        worker::console_error!("edge-tenancy: driving schema jobs: {error}");
    }
}

/// The request's tenant context, as the pipeline made it.
async fn whoami(tenant: TenantRequest, _: Request) -> std::result::Result<Reply, Error> {
    Ok(Reply::json(tenant.context()))
}
