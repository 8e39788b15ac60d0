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
//! - `GET /schema/jobs/{id}` (`?tasks=1&from=&limit=`: a page of its tenants, 1,000 at most):
//!   its phase, counts by state, each failing tenant with its error, how far it is, elapsed and
//!   estimated time.
//! - `POST /schema/jobs/{id}/drive` (`?calls=&secs=`): drives it now, for at most that long; the
//!   Cron Trigger drives every job each minute anyway.
//! - `POST /schema/jobs/{id}/pause`, `/resume`, `/cancel`.

use edge_tenancy::control::jobs::{JobControl, TaskPage};
use edge_tenancy::database::d1::schema_group::{drive_limits, job_request};
use edge_tenancy::workers::{admin, AdminRequest, Reply, TenancyRouter};
use edge_tenancy::{Error, UnixTime};
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
    let text = req
        .text()
        .await
        .map_err(|_| Error::InvalidBody("the body is not text"))?;
    let (settings, canary) = job_request(&text)?;
    let factory = admin.factory(()).await?;
    let submitted = factory.submit_job(settings, &canary).await?;
    let mut report = submitted.job.report(now(), None);
    report["warnings"] = serde_json::json!(submitted.warnings);
    Ok(Reply::json(&report).with_status(202))
}

async fn drift(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let (after, limit) = super::tenants::page(&req, 50, 100)?;
    let factory = admin.factory(()).await?;
    Ok(Reply::json(
        &factory.drift(after.as_ref(), limit as usize).await?,
    ))
}

async fn get(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let url = req.url().map_err(|_| Error::InvalidBody("a bad URL"))?;
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let (tasks, from, limit) = (query("tasks"), query("from"), query("limit"));
    let tasks = TaskPage::from_query(tasks.as_deref(), from.as_deref(), limit.as_deref())?;
    let factory = admin.factory(()).await?;
    let record = factory.job(job_id(&admin)?).await?;
    Ok(Reply::json(&record.report(now(), tasks)))
}

async fn act(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let id = job_id(&admin)?;
    let factory = admin.factory(()).await?;
    let record = match admin.param("action").unwrap_or_default() {
        "drive" => {
            let number = |key| super::tenants::query_number(&req, key);
            let (calls, time) = drive_limits(number("calls")?, number("secs")?);
            factory.drive_job(id, calls, time).await?
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
    Ok(Reply::json(&record.report(now(), None)))
}
