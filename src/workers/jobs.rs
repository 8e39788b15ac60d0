//! Migration jobs for Rust workers: the D1 factory submits, drives and controls a job over its
//! schema group's tenant databases ([`crate::control::fanout`]), each child reached as requests
//! reach it (its binding when this Worker has one that reaches it, else the REST API), each
//! dry run and migration one query (the registry's version of the child, checked in the batch,
//! spares the ledger read), its restore point a time D1's time travel restores to.
//!
//! Jobs outlive a request: a driver stops at its limits and the next one resumes. Drive them
//! from a Cron Trigger (`[triggers] crons = ["* * * * *"]` and [`D1Factory::drive_jobs`] in the
//! `scheduled` handler): a minute apart at most, a scheduled invocation may run for 15 minutes
//! of wall time (a request's `waitUntil` only 30 seconds past its answer), its own subrequest
//! budget each time, and nothing to configure but the trigger. A Durable Object alarm would
//! start sooner after a submit, but needs a class and its migration in every deployment.

use super::factory::now;
use super::tenant_db::TenantDb;
use super::D1Factory;
use crate::cloudflare::d1::RestoreTarget;
use crate::cloudflare::{ApiError, DatabaseId};
use crate::control::fanout::{drive, Driven, JobEdges, Limits};
use crate::control::jobs::{JobControl, JobRecord};
use crate::control::TenantRecord;
use crate::database::d1::D1Rest;
use crate::database::{Backend, Hooks};
use crate::schema::job::{Answer, Job, Settings};
use crate::schema::{
    dry_run_from, lint, migrate_from, status, Drift, Lint, Migrations, SchemaGroup,
};
use crate::{Error, TenantId};
use std::collections::HashMap;
use std::time::Duration;

/// A job submitted: its record, and the lint's warnings (drops, renames) to show.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The job as kept.
    pub job: JobRecord,
    /// What the lint warned of, each with where.
    pub warnings: Vec<String>,
}

fn lint_line(lint: &Lint) -> String {
    format!(
        "{}, statement {}: {}",
        lint.migration, lint.statement, lint.finding
    )
}

impl<H: Hooks> D1Factory<'_, H> {
    fn group(&self) -> Result<&SchemaGroup, Error> {
        self.schema.as_deref().ok_or(Error::NotConfigured(
            "no schema group is configured (Tenancy::with_schema)",
        ))
    }

    /// Submits a job bringing every ready tenant of the schema group to its migrations, the
    /// tenants in `first` first (a canary stage), as `settings` say. Its migrations are linted
    /// first: what D1 would refuse is [`Error::Migration`] and nothing is submitted; drops and
    /// renames come back as warnings.
    pub async fn submit_job(
        &self,
        settings: Settings,
        first: &[TenantId],
    ) -> Result<Submitted, Error> {
        let group = self.group()?;
        let findings = lint(group.migrations());
        if let Some(error) = findings.iter().find(|l| l.finding.is_error()) {
            return Err(Error::Migration(lint_line(error)));
        }
        let mut tenants = self.registry.group_tenants(group.name()).await?;
        if first.iter().any(|t| !tenants.contains(t)) {
            return Err(Error::InvalidBody(
                "every canary tenant is a ready tenant of the schema group",
            ));
        }
        // The canaries in the order given, then the rest in id order.
        tenants.sort_by_key(|t| first.iter().position(|f| f == t).unwrap_or(usize::MAX));
        let version = group.migrations().len() as i64;
        let job = Job::new(group.name(), version, tenants, settings);
        let id = self.registry.submit_job(&job, now()).await?;
        Ok(Submitted {
            job: self.registry.job(id).await?,
            warnings: findings.iter().map(lint_line).collect(),
        })
    }

    /// Job `id` as it stands.
    pub async fn job(&self, id: i64) -> Result<JobRecord, Error> {
        self.registry.job(id).await
    }

    /// Pauses, resumes or cancels job `id`.
    pub async fn control_job(&self, id: i64, control: JobControl) -> Result<JobRecord, Error> {
        self.registry.control_job(id, control, now()).await?;
        self.registry.job(id).await
    }

    /// Drives job `id` for at most `calls` database calls and subrequests (a step is one, a
    /// round of steps four more: [`crate::control::fanout::ROUND_CALLS`]) and `time`; answers
    /// where it stands. An invocation may make 1,000 of each (50 on the Free plan): leave room
    /// for the rest of the request, and for the schema database's steps, which cost a few.
    pub async fn drive_job(
        &self,
        id: i64,
        calls: usize,
        time: Duration,
    ) -> Result<JobRecord, Error> {
        Ok(self.drive_one(id, calls, time).await?.record)
    }

    async fn drive_one(&self, id: i64, calls: usize, time: Duration) -> Result<Driven, Error> {
        self.group()?;
        // The rows of the tenants that may still get a step, read once (one query per 500): a
        // step then costs its one database call and no registry read.
        let job = self.registry.job(id).await?.job;
        let live: Vec<TenantId> = job
            .tasks
            .iter()
            .filter(|t| job.outcome().is_none() && t.state.may_step())
            .map(|t| t.tenant.clone())
            .collect();
        let read = 1 + live.len().div_ceil(500);
        let version = usize::try_from(job.version).unwrap_or(0);
        let migrations = self.group()?.migrations().up_to(version);
        let run = Run {
            factory: self,
            records: (self.registry.records(&live).await?)
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            lacking: migrations.len() < version,
            migrations,
        };
        let limits = Limits {
            calls: calls.saturating_sub(read),
            until: now() + time,
            lease: time + Duration::from_secs(60),
        };
        let owner = format!(
            "{:016x}",
            (worker::js_sys::Math::random() * 2f64.powi(53)) as u64
        );
        let runtime = &super::cloudflare::WorkerRuntime;
        let mut driven = drive(&self.registry, &run, runtime, id, &owner, limits).await?;
        // This isolate sees the hold (or its end) at once; others once their answers expire.
        for task in &driven.record.job.tasks {
            self.cache.invalidate(&task.tenant);
        }
        driven.calls += read;
        Ok(driven)
    }

    /// Drives every job not over, oldest first, within `calls` and `time` in all: what a
    /// scheduled handler calls.
    pub async fn drive_jobs(&self, calls: usize, time: Duration) -> Result<Vec<JobRecord>, Error> {
        let until = now() + time;
        let mut left = calls.saturating_sub(1);
        let mut driven = Vec::new();
        for id in self.registry.active_jobs().await? {
            let time = until.since(now());
            if time.is_zero() || left == 0 {
                break;
            }
            let run = self.drive_one(id, left, time).await?;
            left = left.saturating_sub(run.calls);
            driven.push(run.record);
        }
        Ok(driven)
    }

    /// Where each of up to `limit` tenants of the schema group after `after` (in id order)
    /// stands against the group's migrations, read from its database's ledger: its version, the
    /// migrations it lacks, and its drift (a migration changed after it was applied, one it has
    /// that the list lacks, one skipped), with the hashes. A database that cannot be read is
    /// reported with the error. Reads every database: one query each on the REST path.
    pub async fn drift(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, Error> {
        let group = self.group()?;
        let tenants = self.registry.group_tenants(group.name()).await?;
        let page: Vec<TenantId> = tenants
            .into_iter()
            .filter(|t| after.is_none_or(|after| t > after))
            .take(limit.clamp(1, 100))
            .collect();
        let mut report = Vec::new();
        for record in self.registry.records(&page).await? {
            let tenant = &record.id;
            let status = match self.child(&record) {
                Ok(child) => status(&child.db, group.migrations())
                    .await
                    .map_err(Error::from),
                Err(e) => Err(e),
            };
            let registry = record.schema_version;
            report.push(match status {
                Ok(status) => {
                    let name = |at: &usize| group.migrations().get(*at).map(|m| m.name());
                    serde_json::json!({
                        "tenant": tenant,
                        "registry_version": registry,
                        "version": status.version,
                        "pending": status.pending.iter().filter_map(name).collect::<Vec<_>>(),
                        "drift": status.drift.iter().map(drift_json).collect::<Vec<_>>(),
                    })
                }
                Err(error) => serde_json::json!({
                    "tenant": tenant,
                    "registry_version": registry,
                    "error": error.to_response().message,
                }),
            });
        }
        Ok(report)
    }

    /// The database of the tenant `record` holds, for a job: its binding when it reaches it,
    /// else the REST API, with no lock (the job is what changes its schema).
    fn child(&self, record: &TenantRecord) -> Result<Child, Error> {
        let id = record
            .database_id
            .clone()
            .ok_or(Error::NotConfigured("the tenant has no database"))?;
        let database = DatabaseId::parse(&id)
            .map_err(|_| Error::NotConfigured("the tenant's database id is not a D1 id"))?;
        let bound = record
            .binding
            .as_deref()
            .and_then(|binding| self.env.d1(binding).ok())
            .filter(|db| self.reaches(db, &id));
        let db = match bound {
            Some(db) => TenantDb::binding(db, None)?,
            None => TenantDb::rest(D1Rest::new(self.client.clone(), &id)?),
        };
        Ok(Child {
            db,
            database,
            version: record.schema_version,
        })
    }
}

impl<H: Hooks> D1Factory<'_, H> {
    /// The group's schema database (over REST: no Worker binds it), and the group's version,
    /// where it should stand (a validation brings it there). Made the first time: found by its
    /// name or created, then recorded; a crash between the two finds it by name the next time.
    async fn parent(&self) -> Result<(TenantDb, usize), Error> {
        let group = self.group()?;
        let latest = group.migrations().len() as i64;
        let version = self.registry.group_version(group.name(), latest).await?;
        let version = usize::try_from(version).unwrap_or(0);
        if let Some(id) = self.registry.group_database(group.name()).await? {
            return Ok((
                TenantDb::rest(D1Rest::new(self.client.clone(), &id)?),
                version,
            ));
        }
        let backend = self.backend()?;
        let identity = self.registry.identity().await?;
        let name = backend.schema_database_name(group.name(), &identity)?;
        let made = match backend.find(&name).await? {
            Some(made) => made,
            None => backend.create(&name).await?,
        };
        let id = self
            .registry
            .record_group_database(group.name(), &made.id)
            .await?;
        Ok((
            TenantDb::rest(D1Rest::new(self.client.clone(), &id)?),
            version,
        ))
    }
}

/// A job's tenant database: the handle, its D1 id (for time travel) and the version the
/// registry records for it.
struct Child {
    db: TenantDb,
    database: DatabaseId,
    version: i64,
}

fn drift_json(drift: &Drift) -> serde_json::Value {
    match drift {
        Drift::Changed {
            name,
            applied,
            listed,
        } => {
            serde_json::json!({ "migration": name, "kind": "changed", "applied_hash": applied, "listed_hash": listed })
        }
        Drift::Unlisted { name } => serde_json::json!({ "migration": name, "kind": "unlisted" }),
        Drift::Skipped { name } => serde_json::json!({ "migration": name, "kind": "skipped" }),
    }
}

/// An error reaching a child as a step's answer: the API's or the database's trouble may pass,
/// and a spent request budget only asks for a wait; a setting that is wrong will not pass.
fn unreachable(error: Error) -> Answer {
    match error {
        Error::NotConfigured(why) => Answer::Failed {
            passing: false,
            message: why.into(),
        },
        Error::Upstream(ApiError::RateLimited { retry_after }) => Answer::Throttled {
            retry_after_ms: retry_after.unwrap_or(1) as i64 * 1_000,
        },
        Error::Upstream(ApiError::BudgetExhausted { retry_after_ms }) => Answer::Throttled {
            retry_after_ms: retry_after_ms as i64,
        },
        error => Answer::Failed {
            passing: error.to_response().status >= 500,
            message: error.to_string(),
        },
    }
}

impl<H: Hooks> D1Factory<'_, H> {
    /// Performs a step that makes `calls` API calls, or answers how long to wait when the
    /// budget has no room for them: a job waits for the budget instead of failing on it. A step
    /// that failed for a passing reason while the budget is spent counts as throttled too (the
    /// REST path's query errors come as the database's words).
    async fn within_budget(
        &self,
        calls: u32,
        step: impl std::future::Future<Output = Answer>,
    ) -> Answer {
        let wait = self.client.room_for(calls);
        if !wait.is_zero() {
            return Answer::Throttled {
                retry_after_ms: wait.as_millis() as i64,
            };
        }
        match step.await {
            Answer::Failed { passing: true, .. } if !self.client.room_for(1).is_zero() => {
                Answer::Throttled {
                    retry_after_ms: self.client.room_for(1).as_millis() as i64,
                }
            }
            answer => answer,
        }
    }
}

/// One driver's run of a job: the factory, and the registry rows of the job's tenants that may
/// still get a step, read once when the run began.
struct Run<'f, 'e, H> {
    factory: &'f D1Factory<'e, H>,
    records: HashMap<TenantId, TenantRecord>,
    /// The job's migrations: the group's, up to the job's version (a deployment since may
    /// have added more, which no dry run has seen).
    migrations: Migrations,
    /// Whether this deployment lacks some of them (an older one, during a rollout): its steps
    /// wait for a newer one.
    lacking: bool,
}

impl<H: Hooks> Run<'_, '_, H> {
    /// `tenant`'s database, from the row read when the run began (the registry's, for a tenant
    /// the run did not expect).
    async fn child(&self, tenant: &TenantId) -> Result<Child, Error> {
        match self.records.get(tenant) {
            Some(record) => self.factory.child(record),
            None => self
                .factory
                .child(&self.factory.registry.get(tenant).await?),
        }
    }

    /// `migrations` dry-run (`apply` false) or applied on `db`, believed to stand at
    /// `believed`: one query, an API call on the REST path, within the budget.
    async fn step(
        &self,
        db: &TenantDb,
        migrations: &Migrations,
        believed: usize,
        apply: bool,
    ) -> Answer {
        if self.lacking {
            return Answer::Throttled {
                retry_after_ms: LACKING_WAIT_MS,
            };
        }
        let calls = u32::from(db.path() != "binding");
        let step = async {
            let done = if apply {
                let to = migrations.len();
                let migrated = migrate_from(db, migrations, believed, to, now()).await;
                migrated.map(|_| Answer::Done)
            } else {
                let status = dry_run_from(db, migrations, believed, now()).await;
                status.map(|status| Answer::DryRun {
                    at_version: status.pending.is_empty(),
                })
            };
            done.unwrap_or_else(|e| Answer::failed(&e))
        };
        self.factory.within_budget(calls, step).await
    }

    /// A step on `tenant`'s database.
    async fn child_step(&self, tenant: &TenantId, apply: bool) -> Answer {
        match self.child(tenant).await {
            // The registry's version for it: what the batch is sent for, checked in it.
            Ok(child) => {
                let believed = usize::try_from(child.version).unwrap_or(0);
                self.step(&child.db, &self.migrations, believed, apply)
                    .await
            }
            Err(e) => unreachable(e),
        }
    }
}

impl<H: Hooks> JobEdges for Run<'_, '_, H> {
    /// Brings the group's schema database to the group's version first (a commit that failed
    /// left it behind), then dry-runs the job's migrations there.
    async fn validate(&self) -> Answer {
        let (group, (db, version)) = match (self.factory.group(), self.factory.parent().await) {
            (Ok(group), Ok(parent)) => (group, parent),
            (Err(e), _) | (_, Err(e)) => return unreachable(e),
        };
        let current = group.migrations().up_to(version);
        match self.step(&db, &current, version, true).await {
            Answer::Done => self.step(&db, &self.migrations, version, false).await,
            other => other,
        }
    }

    async fn commit(&self) -> Answer {
        let answer = match self.factory.parent().await {
            Ok((db, version)) => self.step(&db, &self.migrations, version, true).await,
            Err(e) => unreachable(e),
        };
        if let Answer::Failed { message, .. } = &answer {
            worker::console_error!(
                "edge-tenancy: the schema group's schema database was not migrated (the next job brings it up): {message}"
            );
        }
        answer
    }

    async fn dry_run(&self, tenant: &TenantId) -> Answer {
        self.child_step(tenant, false).await
    }

    async fn migrate(&self, tenant: &TenantId) -> Answer {
        self.child_step(tenant, true).await
    }

    /// The time a moment before now, when writes are already held (the job has waited
    /// `hold_ms` since the hold began): D1 restores to a time as to a bookmark, so taking one
    /// costs no API call. The moment's margin covers clocks apart by up to a second.
    async fn bookmark(&self, _tenant: &TenantId) -> Answer {
        let at = now().millis() - RESTORE_POINT_MARGIN_MS;
        match chrono::DateTime::from_timestamp_millis(at) {
            Some(at) => Answer::Bookmark(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => Answer::Failed {
                passing: false,
                message: "the clock is out of range".into(),
            },
        }
    }

    async fn restore(&self, tenant: &TenantId, bookmark: &str) -> Answer {
        let child = match self.child(tenant).await {
            Ok(child) => child,
            Err(e) => return unreachable(e),
        };
        // A restore point this code took is a time; one an older deployment took, a bookmark.
        let target = match chrono::DateTime::parse_from_rfc3339(bookmark) {
            Ok(_) => RestoreTarget::Timestamp(bookmark),
            Err(_) => RestoreTarget::Bookmark(bookmark),
        };
        self.factory
            .within_budget(1, async {
                match self.factory.client.restore(&child.database, target).await {
                    Ok(_) => Answer::Done,
                    Err(e) => unreachable(Error::Upstream(e)),
                }
            })
            .await
    }
}

/// How long before a child's bookmark step its restore point is.
const RESTORE_POINT_MARGIN_MS: i64 = 1_000;

/// How long a deployment that lacks some of a job's migrations waits before its next try.
const LACKING_WAIT_MS: i64 = 60_000;
