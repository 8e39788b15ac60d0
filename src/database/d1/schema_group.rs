//! A schema group's tenant databases on D1, for Rust and JS workers alike ([`D1Group`]): a new
//! database brought to the group's version as it is provisioned, a database caught up on its
//! first request in an isolate, and the migration jobs that move the whole group
//! ([`crate::control::fanout`]), each child reached as requests reach it (its binding when the
//! Worker has one that reaches it, else the REST API), each dry run and migration one query (the
//! registry's version of the child, checked in the batch, spares the ledger read), its restore
//! point a time D1's time travel restores to. The worker's edges are the [`Bindings`] that open
//! a child's binding and the log; everything else goes through the API client and the registry.
//!
//! Jobs outlive a request: a driver stops at its limits and the next one resumes. Drive them
//! from a Cron Trigger: a minute apart at most, a scheduled invocation may run for 15 minutes of
//! wall time (a request's `waitUntil` only 30 seconds past its answer), its own subrequest
//! budget each time, and nothing to configure but the trigger. A Durable Object alarm would
//! start sooner after a submit, but needs a class and its migration in every deployment.

use super::{D1Backend, D1Options, D1Rest};
use crate::cloudflare::d1::RestoreTarget;
use crate::cloudflare::{ApiError, Client, DatabaseId, Runtime, Transport};
use crate::control::fanout::{drive, Driven, JobEdges, Limits};
use crate::control::jobs::{JobControl, JobRecord};
use crate::control::{Registry, TenantRecord};
use crate::database::{Backend, Created, Hooks};
use crate::lookup::{Location, TenantCache};
use crate::schema::job::{Answer, Job, Settings};
use crate::schema::{
    dry_run_from, lint, migrate_from, status, Drift, Lint, Migrations, SchemaGroup, SchemaVersion,
};
use crate::sql::{Row, SqlDatabase, SqlError, Statement};
use crate::{Error, TenantId, UnixTime};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The Worker's D1 bindings, as a job and a catch-up reach a tenant's database through them.
pub trait Bindings {
    /// A database reached through a binding.
    type Db: SqlDatabase;
    /// Binding `binding`, when this Worker has it and it reaches database `id`.
    fn bound(&self, binding: &str, id: &str) -> Option<Self::Db>;
}

/// A child's database: through its binding, or the REST API (one API call per query).
pub enum ChildDb<B, T, R> {
    /// Through the Worker's binding.
    Bound(B),
    /// Through the REST API.
    Rest(D1Rest<T, R>),
}

impl<B, T, R> ChildDb<B, T, R> {
    /// The API calls one query costs.
    fn calls(&self) -> u32 {
        u32::from(matches!(self, ChildDb::Rest(_)))
    }
}

impl<B: SqlDatabase, T: Transport, R: Runtime> SqlDatabase for ChildDb<B, T, R> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        match self {
            ChildDb::Bound(db) => db.batch(statements).await,
            ChildDb::Rest(db) => db.batch(statements).await,
        }
    }
}

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

/// A bound on the tenants [`CaughtUp`] remembers: past it, it starts over.
const MAX_REMEMBERED: usize = 10_000;

/// The tenants whose database an isolate has checked against the version it belongs at, with
/// that version and the one the database is at (a job that moves the group has it checked
/// again), and those being checked now, so that concurrent first requests check once. One per
/// isolate.
#[derive(Default)]
pub struct CaughtUp {
    done: RefCell<HashMap<TenantId, Checked>>,
    running: RefCell<std::collections::HashSet<TenantId>>,
}

/// A tenant's database checked: the version it was to reach, the one it is at, and when a
/// catch-up that failed may be tried again.
type Checked = (i64, i64, Option<UnixTime>);

/// How long a request waits for another's catch-up of the same tenant before it checks the
/// database itself (the other's request may have gone away), and how often it looks.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
const CATCH_UP_POLL: Duration = Duration::from_millis(10);
/// How long after a failed catch-up an isolate tries again.
const CATCH_UP_RETRY: Duration = Duration::from_secs(60);

/// A tenant marked as being caught up here, unmarked when dropped (the catch-up done, failed or
/// abandoned).
struct Running<'c> {
    caught_up: &'c CaughtUp,
    tenant: TenantId,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.caught_up.running.borrow_mut().remove(&self.tenant);
    }
}

impl CaughtUp {
    /// What was found of `tenant` for `target` or past it, if anything (a failed catch-up, until
    /// it may be tried again).
    fn known(&self, tenant: &TenantId, target: i64, now: UnixTime) -> Option<i64> {
        let done = self.done.borrow();
        done.get(tenant)
            .filter(|(handled, _, retry)| *handled >= target && retry.is_none_or(|at| now < at))
            .map(|(_, version, _)| *version)
    }

    /// Marks `tenant` as being caught up, unless another request is at it.
    fn start(&self, tenant: &TenantId) -> Option<Running<'_>> {
        self.running
            .borrow_mut()
            .insert(tenant.clone())
            .then(|| Running {
                caught_up: self,
                tenant: tenant.clone(),
            })
    }

    fn finish(&self, tenant: &TenantId, target: i64, version: i64, retry: Option<UnixTime>) {
        let mut done = self.done.borrow_mut();
        if done.len() >= MAX_REMEMBERED {
            done.clear();
        }
        done.insert(tenant.clone(), (target, version, retry));
    }
}

/// A schema group's tenant databases on D1: the registry that lists them, the API client that
/// reaches them, and the Worker's edges.
pub struct D1Group<'a, S, T, R, B> {
    /// The group.
    pub group: &'a SchemaGroup,
    /// The tenant registry.
    pub registry: &'a Registry<S>,
    /// The API client (REST queries, time travel, the schema database's creation).
    pub client: &'a Rc<Client<T, R>>,
    /// The D1 backend's options (the schema database's name).
    pub options: &'a D1Options,
    /// The Worker's D1 bindings.
    pub bindings: &'a B,
    /// The isolate's tenant cache, cleared of the tenants a job driven here held or released.
    pub cache: &'a TenantCache,
    /// Where operators' messages go.
    pub log: &'a dyn Log,
}

/// Where operators' messages go: `console.log`, or `console.error` for trouble.
pub trait Log {
    /// Writes `message` at `level`.
    fn log(&self, level: Level, message: &str);
}

/// How much an operator's message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// What happened, as planned.
    Info,
    /// Trouble someone should look at.
    Error,
}

impl<S: SqlDatabase, T: Transport, R: Runtime, B: Bindings> D1Group<'_, S, T, R, B> {
    fn now(&self) -> UnixTime {
        self.client.runtime().now()
    }

    /// How many migrations this deployment has.
    fn latest(&self) -> i64 {
        self.group.migrations().len() as i64
    }

    /// The database of the tenant `record` holds, with no lock ([`D1Group::database`]).
    pub fn child(&self, record: &TenantRecord) -> Result<ChildDb<B::Db, T, R>, Error> {
        let id = record
            .database_id
            .as_deref()
            .ok_or(Error::NotConfigured("the tenant has no database"))?;
        self.database(id, record.binding.as_deref())
    }

    /// Database `id`: through `binding` when the Worker has it and it reaches the database,
    /// else the REST API.
    pub fn database(&self, id: &str, binding: Option<&str>) -> Result<ChildDb<B::Db, T, R>, Error> {
        Ok(
            match binding.and_then(|binding| self.bindings.bound(binding, id)) {
                Some(db) => ChildDb::Bound(db),
                None => ChildDb::Rest(D1Rest::new(self.client.clone(), id)?),
            },
        )
    }

    /// Brings the new database `record` holds to the group's version, not the code's: a deploy
    /// that adds a migration changes no tenant, new ones included, until a job moves the whole
    /// group. Through the REST API: a binding made a moment ago reaches a Worker only after its
    /// next deploy. A new database is empty (a restored one may not be: the guess is checked).
    pub async fn provisioned(&self, record: &TenantRecord) -> Result<SchemaVersion, Error> {
        let id = record
            .database_id
            .as_deref()
            .ok_or_else(|| Error::Migration("the tenant has no database yet".into()))?;
        let db = D1Rest::new(self.client.clone(), id)?;
        let version = self
            .registry
            .group_version(self.group.name(), self.latest());
        let version = usize::try_from(version.await?).unwrap_or(0);
        let now = self.now();
        self.group.bring_up_to(&db, 0, version, now).await
    }

    /// Brings `tenant`'s database to where `location` says it belongs, the greater of the
    /// version the registry records for it and its group's (as far as this deployment's
    /// migrations go), before its first request in this isolate is served: a tenant restored
    /// from an older backup, or provisioned while a job moved its group, catches up here, and
    /// the registry records it. Only a job moves a group, so a deploy with a new migration
    /// changes no database by itself. One ledger read per isolate and target (and one batch when
    /// behind), single-flight: a request that finds another catching the tenant up waits for it
    /// (2 s at most, then checks for itself; the ledger keeps anything from applying twice). A
    /// database whose ledger has drifted, or whose catch-up failed, is served as it is, the
    /// reason logged (a failed catch-up is tried again a minute later). Answers the version the
    /// database is at.
    pub async fn catch_up(
        &self,
        tenant: &TenantId,
        db: &impl SqlDatabase,
        location: &Location,
        caught_up: &CaughtUp,
    ) -> Result<i64, Error> {
        let target = location
            .schema_version
            .max(location.group_version)
            .min(self.latest());
        let mut waited = Duration::ZERO;
        let _running = loop {
            if let Some(version) = caught_up.known(tenant, target, self.now()) {
                return Ok(version);
            }
            match caught_up.start(tenant) {
                Some(running) => break Some(running),
                None if waited >= CATCH_UP_WAIT => break None,
                None => {
                    self.client.runtime().sleep(CATCH_UP_POLL).await;
                    waited += CATCH_UP_POLL;
                }
            }
        };
        let status = status(db, self.group.migrations()).await?;
        let mut version = status.version as i64;
        let mut retry = None;
        let name = self.group.name();
        if !status.drift.is_empty() {
            let drift: Vec<String> = status.drift.iter().map(ToString::to_string).collect();
            self.log.log(
                Level::Error,
                &format!(
                "edge-tenancy: tenant {tenant}'s database has drifted from schema group {name}: {}",
                drift.join("; ")
            ),
            );
        } else if version < target {
            let to = usize::try_from(target).unwrap_or(0);
            match self
                .group
                .bring_up_to(db, status.version, to, self.now())
                .await
            {
                Ok(reached) => {
                    version = reached.version;
                    self.log.log(Level::Info, &format!(
                        "edge-tenancy: tenant {tenant}'s database caught up with schema group {name} (version {version})"
                    ));
                }
                Err(error) => {
                    // Tried again a while later: the cause may pass (the API's 429, say).
                    retry = Some(self.now() + CATCH_UP_RETRY);
                    self.log.log(Level::Error, &format!(
                        "edge-tenancy: tenant {tenant}'s database did not catch up with schema group {name}: {error}"
                    ));
                }
            }
        }
        if version > location.schema_version {
            let now = self.now();
            let recorded = self.registry.record_caught_up(tenant, name, version, now);
            if let Err(error) = recorded.await {
                self.log.log(
                    Level::Error,
                    &format!("edge-tenancy: recording tenant {tenant}'s version: {error}"),
                );
            }
        }
        caught_up.finish(tenant, target, version, retry);
        Ok(version)
    }

    /// Submits a job bringing every ready tenant of the group to its migrations, the tenants in
    /// `first` first (a canary stage), as `settings` say. Its migrations are linted first: what
    /// D1 would refuse is [`Error::Migration`] and nothing is submitted; drops and renames come
    /// back as warnings.
    pub async fn submit_job(
        &self,
        settings: Settings,
        first: &[TenantId],
    ) -> Result<Submitted, Error> {
        let findings = lint(self.group.migrations());
        if let Some(error) = findings.iter().find(|l| l.finding.is_error()) {
            return Err(Error::Migration(lint_line(error)));
        }
        let mut tenants = self.registry.group_tenants(self.group.name()).await?;
        if first.iter().any(|t| !tenants.contains(t)) {
            return Err(Error::InvalidBody(
                "every canary tenant is a ready tenant of the schema group",
            ));
        }
        // The canaries in the order given, then the rest in id order.
        tenants.sort_by_key(|t| first.iter().position(|f| f == t).unwrap_or(usize::MAX));
        let mut warnings: Vec<String> = findings.iter().map(lint_line).collect();
        let safe = Settings::default().hold_ms;
        if settings.hold_ms < safe && !settings.dry_run_only {
            warnings.push(format!(
                "hold_secs {} is shorter than the {} s the guarantee needs (the tenant cache's 60 s, the restore point's second, and a request's own time): a write from an isolate that has not seen the hold may land after a restore point and be lost to a rollback",
                settings.hold_ms / 1_000,
                safe / 1_000
            ));
        }
        let job = Job::new(self.group.name(), self.latest(), tenants, settings);
        let id = self.registry.submit_job(&job, self.now()).await?;
        Ok(Submitted {
            job: self.registry.job(id).await?,
            warnings,
        })
    }

    /// Job `id` as it stands.
    pub async fn job(&self, id: i64) -> Result<JobRecord, Error> {
        self.registry.job(id).await
    }

    /// Pauses, resumes or cancels job `id`.
    pub async fn control_job(&self, id: i64, control: JobControl) -> Result<JobRecord, Error> {
        self.registry.control_job(id, control, self.now()).await?;
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
        // The rows of the tenants that may still get a step, read once (one query per 500): a
        // step then costs its one database call and no registry read.
        let job = self.registry.job(id).await?.job;
        let live: Vec<TenantId> = match job.outcome() {
            Some(_) => Vec::new(),
            None => job
                .tasks
                .iter()
                .filter(|t| t.state.may_step())
                .map(|t| t.tenant.clone())
                .collect(),
        };
        let read = 1 + live.len().div_ceil(500);
        let version = usize::try_from(job.version).unwrap_or(0);
        let migrations = self.group.migrations().up_to(version);
        let run = Run {
            group: self,
            records: (self.registry.records(&live).await?)
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            lacking: migrations.len() < version,
            migrations,
        };
        let limits = Limits {
            calls: calls.saturating_sub(read),
            until: self.now() + time,
            lease: time + Duration::from_secs(60),
        };
        let runtime = self.client.runtime();
        let owner = format!("{:016x}", (runtime.random() * 2f64.powi(53)) as u64);
        let mut driven = drive(self.registry, &run, runtime, id, &owner, limits).await?;
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
        let until = self.now() + time;
        let mut left = calls.saturating_sub(1);
        let mut driven = Vec::new();
        for id in self.registry.active_jobs().await? {
            let time = until.since(self.now());
            if time.is_zero() || left == 0 {
                break;
            }
            let run = self.drive_one(id, left, time).await?;
            left = left.saturating_sub(run.calls);
            driven.push(run.record);
        }
        Ok(driven)
    }

    /// Where each of up to `limit` tenants of the group after `after` (in id order) stands
    /// against the group's migrations, read from its database's ledger: its version, the
    /// migrations it lacks, and its drift (a migration changed after it was applied, one it has
    /// that the list lacks, one skipped), with the hashes. A database that cannot be read is
    /// reported with the error. Reads every database: one query each on the REST path.
    /// Answers `{"tenants": [...], "next": the last tenant when the page is full, else null}`.
    pub async fn drift(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<serde_json::Value, Error> {
        let limit = limit.clamp(1, 100);
        let migrations = self.group.migrations();
        let page = (self.registry)
            .group_page(self.group.name(), after, Some(limit as u32))
            .await?;
        let next = (page.len() == limit)
            .then(|| page.last().cloned())
            .flatten();
        let mut report = Vec::new();
        for record in self.registry.records(&page).await? {
            let status = match self.child(&record) {
                Ok(db) => status(&db, migrations).await.map_err(Error::from),
                Err(e) => Err(e),
            };
            let (tenant, registry) = (&record.id, record.schema_version);
            report.push(match status {
                Ok(status) => {
                    let name = |at: &usize| migrations.get(*at).map(|m| m.name());
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
        Ok(serde_json::json!({ "tenants": report, "next": next }))
    }

    /// The group's schema database (over REST: no Worker binds it), and the group's version,
    /// where it should stand (a validation brings it there). Made the first time: found by its
    /// name or created, then recorded; a crash between the two finds it by name the next time.
    async fn parent(&self) -> Result<(D1Rest<T, R>, usize), Error> {
        let name = self.group.name();
        let (version, database) = self.registry.group(name, self.latest()).await?;
        let version = usize::try_from(version).unwrap_or(0);
        if let Some(id) = database {
            return Ok((D1Rest::new(self.client.clone(), &id)?, version));
        }
        let backend = D1Backend::new(self.client, self.options.clone())
            .map_err(|_| Error::NotConfigured("the D1 factory's options are invalid"))?;
        let identity = self.registry.identity().await?;
        let database = backend.schema_database_name(name, &identity)?;
        let made = match backend.find(&database).await? {
            Some(made) => made,
            None => match backend.create(&database).await? {
                Created::Made(made) => made,
                // Made meanwhile by another isolate: the name is this group's.
                Created::NameTaken => backend
                    .find(&database)
                    .await?
                    .ok_or(Error::ForeignDatabase)?,
            },
        };
        let id = self.registry.record_group_database(name, &made.id).await?;
        Ok((D1Rest::new(self.client.clone(), &id)?, version))
    }

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

/// The same, with the user's hooks: a new database is brought to the group's version before
/// `after_provision` runs, and the version is recorded with the tenant.
pub struct Migrating<'a, H, G> {
    /// The user's hooks.
    pub hooks: &'a H,
    /// The group, if the factory has one.
    pub group: Option<G>,
}

impl<H: Hooks, S: SqlDatabase, T: Transport, R: Runtime, B: Bindings> Hooks
    for Migrating<'_, H, D1Group<'_, S, T, R, B>>
{
    async fn migrate(&self, record: &TenantRecord) -> Result<Option<SchemaVersion>, Error> {
        match &self.group {
            Some(group) => group.provisioned(record).await.map(Some),
            None => self.hooks.migrate(record).await,
        }
    }

    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        self.hooks.after_provision(record).await
    }

    async fn before_deprovision(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        self.hooks.before_deprovision(record).await
    }

    async fn restore(&self, record: &TenantRecord, backup: &str) -> Result<(), String> {
        self.hooks.restore(record, backup).await
    }
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

/// One driver's run of a job: the group, and the registry rows of the job's tenants that may
/// still get a step, read once when the run began.
struct Run<'g, 'a, S, T, R, B> {
    group: &'g D1Group<'a, S, T, R, B>,
    records: HashMap<TenantId, TenantRecord>,
    /// The job's migrations: the group's, up to the job's version (a deployment since may
    /// have added more, which no dry run has seen).
    migrations: Migrations,
    /// Whether this deployment lacks some of them (an older one, during a rollout): its steps
    /// wait for a newer one.
    lacking: bool,
}

impl<S: SqlDatabase, T: Transport, R: Runtime, B: Bindings> Run<'_, '_, S, T, R, B> {
    /// `tenant`'s registry row, as read when the run began (the registry's, for a tenant the
    /// run did not expect).
    async fn record(&self, tenant: &TenantId) -> Result<TenantRecord, Error> {
        match self.records.get(tenant) {
            Some(record) => Ok(record.clone()),
            None => self.group.registry.get(tenant).await,
        }
    }

    /// `migrations` dry-run (`apply` false) or applied on `db`, believed to stand at
    /// `believed`: one query, an API call when it costs `calls`, within the budget.
    async fn step(
        &self,
        db: &impl SqlDatabase,
        calls: u32,
        migrations: &Migrations,
        believed: usize,
        apply: bool,
    ) -> Answer {
        if self.lacking {
            return Answer::Throttled {
                retry_after_ms: LACKING_WAIT_MS,
            };
        }
        let now = self.group.now();
        let step = async {
            let done = if apply {
                let migrated = migrate_from(db, migrations, believed, migrations.len(), now);
                migrated.await.map(|_| Answer::Done)
            } else {
                let status = dry_run_from(db, migrations, believed, now).await;
                status.map(|status| Answer::DryRun {
                    at_version: status.pending.is_empty(),
                })
            };
            done.unwrap_or_else(|e| Answer::failed(&e))
        };
        self.group.within_budget(calls, step).await
    }

    /// A step on `tenant`'s database, sent for the version the registry records for it (and
    /// checked in the batch).
    async fn child_step(&self, tenant: &TenantId, apply: bool) -> Answer {
        let record = match self.record(tenant).await {
            Ok(record) => record,
            Err(e) => return unreachable(e),
        };
        match self.group.child(&record) {
            Ok(db) => {
                let believed = usize::try_from(record.schema_version).unwrap_or(0);
                let calls = db.calls();
                self.step(&db, calls, &self.migrations, believed, apply)
                    .await
            }
            Err(e) => unreachable(e),
        }
    }

    /// A step on the group's schema database (one API call).
    async fn parent_step(&self, migrations: Option<&Migrations>, apply: bool) -> Answer {
        match self.group.parent().await {
            Ok((db, version)) => {
                let current = self.group.group.migrations().up_to(version);
                let migrations = migrations.unwrap_or(&current);
                self.step(&db, 1, migrations, version, apply).await
            }
            Err(e) => unreachable(e),
        }
    }
}

impl<S: SqlDatabase, T: Transport, R: Runtime, B: Bindings> JobEdges for Run<'_, '_, S, T, R, B> {
    /// Brings the group's schema database to the group's version first (a commit that failed
    /// left it behind), then dry-runs the job's migrations there.
    async fn validate(&self) -> Answer {
        match self.parent_step(None, true).await {
            Answer::Done => self.parent_step(Some(&self.migrations), false).await,
            other => other,
        }
    }

    async fn commit(&self) -> Answer {
        let answer = self.parent_step(Some(&self.migrations), true).await;
        if let Answer::Failed { message, .. } = &answer {
            self.group.log.log(Level::Error, &format!(
                "edge-tenancy: the schema group's schema database was not migrated (the next job brings it up): {message}"
            ));
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
        let at = self.group.now().millis() - RESTORE_POINT_MARGIN_MS;
        match chrono::DateTime::from_timestamp_millis(at) {
            Some(at) => Answer::Bookmark(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => Answer::Failed {
                passing: false,
                message: "the clock is out of range".into(),
            },
        }
    }

    async fn restore(&self, tenant: &TenantId, bookmark: &str) -> Answer {
        let database = match self.record(tenant).await.and_then(|r| {
            let id = r
                .database_id
                .ok_or(Error::NotConfigured("the tenant has no database"))?;
            DatabaseId::parse(&id)
                .map_err(|_| Error::NotConfigured("the tenant's database id is not a D1 id"))
        }) {
            Ok(database) => database,
            Err(e) => return unreachable(e),
        };
        // A restore point this code took is a time; one an older deployment took, a bookmark.
        let target = match chrono::DateTime::parse_from_rfc3339(bookmark) {
            Ok(_) => RestoreTarget::Timestamp(bookmark),
            Err(_) => RestoreTarget::Bookmark(bookmark),
        };
        let client = self.group.client;
        self.group
            .within_budget(1, async {
                match client.restore(&database, target).await {
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

/// A job submission's body, as `POST /schema/jobs` takes it on every route that offers it:
/// `{"dry_run_only", "concurrency", "hold_secs", "canary": [ids], "canary_on_error",
/// "on_error"}`, each optional (an empty body is the defaults). Answers the settings and the
/// canary tenants, in order.
pub fn job_request(body: &str) -> Result<(Settings, Vec<TenantId>), Error> {
    use crate::schema::job::{OnError, Stage};
    #[derive(serde::Deserialize, Default)]
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
    let body: Body = if body.trim().is_empty() {
        Body::default()
    } else {
        serde_json::from_str(body).map_err(|_| Error::InvalidBody(expected))?
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
    Ok((settings, canary))
}

/// A drive's limits as a route takes them (`?calls=&secs=`): at most 900 calls (default 400)
/// and 25 seconds (default 20), within an invocation's 1,000 subrequests and a request's time.
pub fn drive_limits(calls: Option<u64>, secs: Option<u64>) -> (usize, Duration) {
    let calls = calls.unwrap_or(400).clamp(1, 900) as usize;
    (calls, Duration::from_secs(secs.unwrap_or(20).clamp(1, 25)))
}

#[cfg(test)]
mod tests;
