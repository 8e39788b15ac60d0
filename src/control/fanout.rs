//! Driving a migration job ([`crate::schema::job`]) over a schema group's tenant databases:
//! the job's steps performed on the tenants' databases through [`JobEdges`] and on the registry
//! (the hold, the finish), the job kept in the registry before each step is performed and after
//! each answer, under the driver's lease. A driver works until its limits (calls, time), so a
//! job longer than one invocation is driven by several, one after another; any driver resumes
//! where the last one stopped.

use super::jobs::JobRecord;
use super::registry::Registry;
use crate::cloudflare::Runtime;
use crate::schema::job::{Answer, Outcome, Step};
use crate::sql::SqlDatabase;
use crate::{Error, TenantId, UnixTime};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// What a driver asks of the backend for one tenant's database.
#[allow(async_fn_in_trait)]
pub trait JobEdges {
    /// Dry-runs the job's migrations on the group's schema database (the parent holding the
    /// canonical schema at the group's version), made first if the group has none yet.
    async fn validate(&self) -> Answer;
    /// Migrates the group's schema database to the job's migrations: the job commits. Its
    /// failure holds nothing up (the parent has no tenant's data, and the next job's
    /// validation brings it up to the group's version first); the edge reports it.
    async fn commit(&self) -> Answer;
    /// Dry-runs the job's migrations on `tenant`'s database ([`crate::schema::dry_run_from`]).
    async fn dry_run(&self, tenant: &TenantId) -> Answer;
    /// Takes a restore point of `tenant`'s database's current state: a bookmark, or anything
    /// else [`JobEdges::restore`] reads back (D1's edge takes the time, which costs no call).
    async fn bookmark(&self, tenant: &TenantId) -> Answer;
    /// Applies the job's migrations to `tenant`'s database ([`crate::schema::migrate_from`]).
    async fn migrate(&self, tenant: &TenantId) -> Answer;
    /// Restores `tenant`'s database to the restore point `bookmark`.
    async fn restore(&self, tenant: &TenantId, bookmark: &str) -> Answer;
}

/// How much one driver does before it stops.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Database calls and subrequests made at most: each step is one (its database's query,
    /// or its API call), each round of steps [`ROUND_CALLS`] more on the registry. A Worker
    /// invocation may make 1,000 D1 queries and 1,000 subrequests (50 each on the Free plan).
    pub calls: usize,
    /// The time it stops at.
    pub until: UnixTime,
    /// Its lease: longer than any one round of steps.
    pub lease: Duration,
}

/// The registry calls a round of steps makes besides its steps: the lease renewed, the
/// administrator's controls read, and the job kept before and after the steps.
pub const ROUND_CALLS: usize = 4;

/// A driver's run: where the job stands, and the calls it made (within its limit).
#[derive(Debug, Clone)]
pub struct Driven {
    /// The job as the driver left it.
    pub record: JobRecord,
    /// The database calls and subrequests of its rounds.
    pub calls: usize,
}

/// Drives job `id` within `limits` and answers where it stands. A job another driver holds is
/// answered as it is.
pub async fn drive<D: SqlDatabase, E: JobEdges, R: Runtime>(
    registry: &Registry<D>,
    edges: &E,
    runtime: &R,
    id: i64,
    owner: &str,
    limits: Limits,
) -> Result<Driven, Error> {
    if !registry
        .claim_job(id, owner, runtime.now(), limits.lease)
        .await?
    {
        let record = registry.job(id).await?;
        return Ok(Driven { record, calls: 2 });
    }
    let mut calls = 2;
    let outcome = async {
        let mut record = registry.job(id).await?;
        // A round is started only with room for all it may make.
        let room = |calls: usize, job: &crate::schema::job::Job| {
            calls + ROUND_CALLS + job.settings.concurrency <= limits.calls
        };
        while record.job.outcome().is_none() && room(calls, &record.job) {
            let now = runtime.now();
            if now >= limits.until || !registry.claim_job(id, owner, now, limits.lease).await? {
                break;
            }
            let (paused, cancelled) = registry.job_controls(id).await?;
            record.job.paused = paused;
            if cancelled && !record.job.cancelled {
                record.job.cancel(now.millis());
            }
            calls += 2;
            let before = record.job.clone();
            let steps = record.job.start(now.millis());
            if steps.is_empty() {
                // Waiting for a time (the hold, a step elsewhere timing out): sleep if it comes
                // before the limit; a paused job, or one past it, is left to the next driver.
                match record.job.wake_at() {
                    Some(wake) if !record.job.paused && wake < limits.until.millis() => {
                        let wait = (wake - now.millis()).max(1) as u64;
                        runtime.sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    _ => break,
                }
            }
            save(registry, id, &before, &record.job, owner, now).await?;
            let answers = join_all(
                steps
                    .iter()
                    .map(|step| perform(registry, edges, &record, step, now)),
            )
            .await;
            let before = record.job.clone();
            let now = runtime.now();
            for (step, answer) in steps.iter().zip(answers) {
                record.job.record(step, answer, now.millis());
            }
            save(registry, id, &before, &record.job, owner, now).await?;
            calls += ROUND_CALLS - 2 + steps.len();
        }
        Ok::<_, Error>(record)
    }
    .await;
    // Given up even after a failure: the next driver need not wait for the lease to pass.
    let released = registry.release_job(id, owner).await;
    let record = outcome?;
    released?;
    Ok(Driven {
        record,
        calls: calls + 1,
    })
}

/// Keeps the job and the tasks that changed since `before`.
async fn save<D: SqlDatabase>(
    registry: &Registry<D>,
    id: i64,
    before: &crate::schema::job::Job,
    job: &crate::schema::job::Job,
    owner: &str,
    now: UnixTime,
) -> Result<(), Error> {
    let changed: Vec<usize> = (0..job.tasks.len())
        .filter(|&at| before.tasks.get(at) != job.tasks.get(at))
        .collect();
    registry.save_job(id, job, &changed, owner, now).await
}

async fn perform<D: SqlDatabase, E: JobEdges>(
    registry: &Registry<D>,
    edges: &E,
    record: &JobRecord,
    step: &Step,
    now: UnixTime,
) -> Answer {
    let job = &record.job;
    let registry_answer = |done: Result<(), Error>| match done {
        Ok(()) => Answer::Done,
        Err(e) => Answer::Failed {
            passing: true,
            message: e.to_string(),
        },
    };
    match step {
        Step::Validate(_) => edges.validate().await,
        Step::DryRun(tenant, _) => edges.dry_run(tenant).await,
        Step::Bookmark(tenant, _) => edges.bookmark(tenant).await,
        Step::Migrate(tenant, _) => edges.migrate(tenant).await,
        Step::Restore(tenant, _, bookmark) => edges.restore(tenant, bookmark).await,
        Step::Hold(_) => registry_answer(registry.hold_group(&job.group, record.id, now).await),
        Step::Finish(outcome, _) => {
            // The parent first, its answer aside: a parent that cannot be migrated must not keep
            // the group's writes held (a finish performed again migrates it again: the ledger
            // applies nothing twice).
            if *outcome == Outcome::Committed {
                edges.commit().await;
            }
            let done = registry.finish_group(record.id, job, *outcome, now).await;
            registry_answer(done)
        }
    }
}

/// Runs `futures` at once; their outputs in order.
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (future, out) in pending.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *out = Some(value),
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
