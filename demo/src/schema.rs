//! Migration jobs over the tenants' databases, for control-plane administrators:
//!
//! - `POST /schema/jobs` with `{"dry_run_only", "concurrency", "hold_secs", "canary": [ids],
//!   "canary_on_error", "on_error"}` (all optional): a job bringing every tenant of the `demo`
//!   schema group to `demo/migrations/` — dry runs, writes held, canaries first, then the rest,
//!   all or none (`on_error: "continue"` lets the rest go on past a failing tenant). 202 with
//!   the job; 409 `schema_job_active` while another is not over. The lint's warnings (drops,
//!   renames) come back with it; what D1 would refuse is 500 `migration_failed`, nothing submitted.
//! - `GET /schema/drift?after=&limit=`: a page of the group's tenants (50, at most 100), each
//!   with the version its ledger shows, the migrations it lacks and its drift, with hashes.
//! - `GET /schema/jobs/{id}` (`?tasks=1` for every tenant): its phase, counts by state, each
//!   failing tenant with its error, how far it is, elapsed and estimated time.
//! - `POST /schema/jobs/{id}/drive` (`?calls=&secs=`): drives it now, for at most that long; the
//!   Cron Trigger drives every job each minute anyway.
//! - `POST /schema/jobs/{id}/pause`, `/resume`, `/cancel`.

use edge_tenancy::control::jobs::JobControl;
use edge_tenancy::schema::job::{OnError, Settings, Stage};
use edge_tenancy::workers::{admin, AdminRequest, Reply, TenancyRouter};
use edge_tenancy::{Error, TenantId, UnixTime};
use serde::Deserialize;
use std::time::Duration;
use worker::Request;

/// Adds the routes.
pub fn routes(router: TenancyRouter<'_>) -> TenancyRouter<'_> {
    router
        .get_async("/schema/drift", admin(drift))
        .post_async("/schema/jobs", admin(submit))
        .get_async("/schema/jobs/:id", admin(get))
        .post_async("/schema/jobs/:id/:action", admin(act))
}

fn now() -> UnixTime {
    UnixTime::from_js_millis(worker::js_sys::Date::now())
}

fn job_id(admin: &AdminRequest) -> Result<i64, Error> {
    admin
        .param("id")
        .and_then(|id| id.parse().ok())
        .ok_or(Error::NotFound("no such schema job"))
}

async fn submit(admin: AdminRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Body {
        dry_run_only: Option<bool>,
        concurrency: Option<usize>,
        hold_secs: Option<u64>,
        #[serde(default)]
        canary: Vec<String>,
        canary_on_error: Option<OnError>,
        on_error: Option<OnError>,
    }
    let expected = r#"expected {"dry_run_only", "concurrency", "hold_secs", "canary": [ids], "canary_on_error", "on_error"}, each optional"#;
    let text = req.text().await.map_err(|_| Error::InvalidBody(expected))?;
    let body: Body = if text.trim().is_empty() {
        Body::default()
    } else {
        serde_json::from_str(&text).map_err(|_| Error::InvalidBody(expected))?
    };
    let canary = body
        .canary
        .iter()
        .map(|id| TenantId::parse(id))
        .collect::<Result<Vec<_>, _>>()?;
    let defaults = Settings::default();
    let concurrency = body.concurrency.unwrap_or(defaults.concurrency);
    if !(1..=50).contains(&concurrency) {
        return Err(Error::InvalidBody("concurrency is 1 to 50"));
    }
    let rest = Stage {
        size: None,
        on_error: body.on_error.unwrap_or(OnError::Fail),
    };
    let stages = if canary.is_empty() {
        vec![rest]
    } else {
        let canaries = Stage {
            size: Some(canary.len()),
            on_error: body.canary_on_error.unwrap_or(OnError::Fail),
        };
        vec![canaries, rest]
    };
    let settings = Settings {
        concurrency,
        hold_ms: body
            .hold_secs
            .map_or(defaults.hold_ms, |s| s.min(3_600) as i64 * 1_000),
        stages,
        dry_run_only: body.dry_run_only.unwrap_or(false),
        ..defaults
    };
    let factory = admin.factory(()).await?;
    let submitted = factory.submit_job(settings, &canary).await?;
    let mut report = submitted.job.report(now(), false);
    report["warnings"] = serde_json::json!(submitted.warnings);
    Ok(Reply::json(&report).with_status(202))
}

async fn drift(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let (after, limit) = super::tenants::page(&req, 50, 100)?;
    let factory = admin.factory(()).await?;
    let tenants = factory.drift(after.as_ref(), limit as usize).await?;
    let next = tenants
        .last()
        .filter(|_| tenants.len() == limit as usize)
        .and_then(|t| t["tenant"].as_str().map(str::to_owned));
    Ok(Reply::json(
        &serde_json::json!({ "tenants": tenants, "next": next }),
    ))
}

async fn get(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let tasks = req
        .url()
        .is_ok_and(|url| url.query_pairs().any(|(k, v)| k == "tasks" && v == "1"));
    let factory = admin.factory(()).await?;
    let record = factory.job(job_id(&admin)?).await?;
    Ok(Reply::json(&record.report(now(), tasks)))
}

async fn act(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let id = job_id(&admin)?;
    let factory = admin.factory(()).await?;
    let record = match admin.param("action").unwrap_or_default() {
        "drive" => {
            let url = req.url().map_err(|_| Error::InvalidBody("a bad URL"))?;
            let number = |key: &str, default: u64| {
                url.query_pairs()
                    .find(|(k, _)| k == key)
                    .map_or(Ok(default), |(_, v)| v.parse::<u64>())
                    .map_err(|_| Error::InvalidBody("calls and secs are numbers"))
            };
            let calls = number("calls", 400)?.clamp(1, 900) as usize;
            let secs = number("secs", 20)?.clamp(1, 25);
            factory
                .drive_job(id, calls, Duration::from_secs(secs))
                .await?
        }
        "pause" => factory.control_job(id, JobControl::Pause).await?,
        "resume" => factory.control_job(id, JobControl::Resume).await?,
        "cancel" => factory.control_job(id, JobControl::Cancel).await?,
        _ => {
            return Err(Error::NotFound(
                "no such action: drive, pause, resume or cancel",
            ))
        }
    };
    Ok(Reply::json(&record.report(now(), false)))
}
