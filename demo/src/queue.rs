//! The provisioning queue, for control-plane administrators: tenants taken at once and
//! provisioned in the background within the Cloudflare API's budget (the Cron Trigger drains
//! it each minute; `edge_tenancy::control::queue`).
//!
//! - `POST /queue` with `{"ids": ["acme", …]}` (1 to 1,000): queues them, 202 with those queued
//!   now (a tenant the registry holds already is left as it is) and where the queue stands. Each
//!   is answered 503 `tenant_unavailable` until it is ready.
//! - `GET /queue`: its length, those waiting to be tried again, this isolate's API budget, and
//!   how long the queue takes at the budget's pace.
//! - `POST /queue/drain?secs=&tenants=`: drains it now, for at most that long (20 s, 25 at most)
//!   and that many tenants (40, 60 at most: each provisioning makes a dozen database calls and
//!   subrequests, within an invocation's 1,000).

use crate::admin::exact_body;
use edge_tenancy::control::queue::drain_limits;
use edge_tenancy::workers::{admin, AdminRequest, Reply, TenancyRouter};
use edge_tenancy::{Error, TenantId};
use serde::Deserialize;
use serde_json::json;
use worker::Request;

/// Adds the routes.
pub fn routes(router: TenancyRouter<'_>) -> TenancyRouter<'_> {
    router
        .get_async("/queue", admin(status))
        .post_async("/queue", admin(enqueue))
        .post_async("/queue/drain", admin(drain))
}

async fn status(admin: AdminRequest, _: Request) -> Result<Reply, Error> {
    Ok(Reply::json(&admin.factory(()).await?.queue_status().await?))
}

async fn enqueue(admin: AdminRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        ids: Vec<String>,
    }
    let expected = r#"expected {"ids": ["<tenant id>", …]}, 1 to 1,000 of them"#;
    let body: Body = exact_body(&mut req, expected).await?;
    if !(1..=1_000).contains(&body.ids.len()) {
        return Err(Error::InvalidBody(expected));
    }
    let ids = body
        .ids
        .iter()
        .map(|id| TenantId::parse(id))
        .collect::<Result<Vec<_>, _>>()?;
    let pipeline = admin.tenancy().pipeline(admin.env())?;
    if let Some(main) = pipeline.resolver().control_plane() {
        if ids.contains(main) {
            return Err(Error::InvalidBody(
                "the control-plane tenant has no tenant database",
            ));
        }
    }
    let factory = admin.factory(()).await?;
    let queued = factory.enqueue(&ids).await?;
    let status = factory.queue_status().await?;
    Ok(Reply::json(&json!({ "queued": queued, "queue": status })).with_status(202))
}

async fn drain(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let number = |key| super::tenants::query_number(&req, key);
    let (time, tenants) = drain_limits(number("secs")?, number("tenants")?);
    let factory = admin.factory(()).await?;
    let drained = factory.drain_queue(time, tenants).await?;
    let status = factory.queue_status().await?;
    Ok(Reply::json(&json!({ "drained": drained, "queue": status })))
}
