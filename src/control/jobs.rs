//! Migration jobs in the registry: a row per job (its settings and phase, as JSON), a row per
//! child (its task), and the hold on a group's tenants. A job has one driver at a time: a lock
//! named after it, which every save is conditional on, so a driver that stalled past its lease
//! writes nothing once another took over.

use super::registry::Registry;
use crate::schema::job::{Job, Outcome, Task, TaskState};
use crate::sql::{Row, SqlDatabase, Statement, Value};
use crate::{Error, TenantId, UnixTime};
use std::time::Duration;

/// The lock a job's driver holds.
fn lock_name(id: i64) -> String {
    format!("schema-job:{id}")
}

/// What an administrator does to a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobControl {
    /// No step starts until it is resumed (a job that holds writes keeps holding them).
    Pause,
    /// Steps start again.
    Resume,
    /// Ends it: `cancelled` before it runs, rolled back once it has.
    Cancel,
}

/// A job as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Its id.
    pub id: i64,
    /// The job.
    pub job: Job,
    /// When it was submitted (milliseconds).
    pub created_at: i64,
    /// When it last changed (milliseconds).
    pub updated_at: i64,
}

/// A page of a job's children, by their place in the job: at most [`TaskPage::MAX`] from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPage {
    /// The first child's place.
    pub from: usize,
    /// How many.
    pub limit: usize,
}

impl TaskPage {
    /// The most children a page holds: a job over 100,000 tenants is read a page at a time.
    pub const MAX: usize = 1_000;

    /// The page a route's query asks for (`?tasks=1&from=&limit=`, `limit` 1,000 unless said):
    /// none without `tasks=1`; a `from` or `limit` that is not a whole number is refused.
    pub fn from_query(
        tasks: Option<&str>,
        from: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Option<Self>, Error> {
        if tasks != Some("1") {
            return Ok(None);
        }
        let number = |value: Option<&str>, default: usize| {
            value.map_or(Ok(default), |v| {
                v.parse::<usize>()
                    .map_err(|_| Error::InvalidBody("from and limit are whole numbers"))
            })
        };
        Ok(Some(Self {
            from: number(from, 0)?,
            limit: number(limit, Self::MAX)?,
        }))
    }
}

impl JobRecord {
    /// What an administrator reads at `now`: the job, its children by state, each failing one
    /// with its error, how far it is, how long it has run and (while it runs) about how long is
    /// left; with `tasks`, a page of its children in the job's order (`tasks`, and `tasks_next`,
    /// where the next page starts, or null).
    pub fn report(&self, now: UnixTime, tasks: Option<TaskPage>) -> serde_json::Value {
        let summary = self.job.summary();
        let elapsed = (self.updated_at.min(now.millis()) - self.created_at).max(0);
        let elapsed = if self.job.outcome().is_none() {
            (now.millis() - self.created_at).max(0)
        } else {
            elapsed
        };
        let estimate = (self.job.outcome().is_none() && summary.done > 0.0)
            .then(|| (elapsed as f64 * (1.0 - summary.done) / summary.done) as i64);
        let mut report = serde_json::json!({
            "id": self.id,
            "group": self.job.group,
            "version": self.job.version,
            "phase": self.job.phase,
            "outcome": self.job.outcome(),
            "paused": self.job.paused,
            "cancelled": self.job.cancelled,
            "settings": self.job.settings,
            "counts": summary.counts,
            "failing": summary.failing,
            "schema_error": summary.schema_error,
            "done": summary.done,
            "elapsed_ms": elapsed,
            "estimate_ms": estimate,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if let Some(TaskPage { from, limit }) = tasks {
            let limit = limit.clamp(1, TaskPage::MAX);
            let page: Vec<_> = self.job.tasks.iter().skip(from).take(limit).collect();
            let next = from.saturating_add(limit);
            report["tasks"] = serde_json::json!(page);
            report["tasks_next"] = serde_json::json!((next < self.job.tasks.len()).then_some(next));
        }
        report
    }
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Storage(crate::sql::SqlError(format!("bad schema job row: {what}")))
}

impl<D: SqlDatabase> Registry<D> {
    /// The version of `group` new tenants start at: the one its last committed job reached, or,
    /// for a group the registry has not seen (recorded now), the lowest its ready tenants are at,
    /// `first` when it has none.
    pub async fn group_version(&self, group: &str, first: i64) -> Result<i64, Error> {
        Ok(self.group(group, first).await?.0)
    }

    /// The same, and the id of the group's schema database once one was made: one query.
    pub async fn group(&self, group: &str, first: i64) -> Result<(i64, Option<String>), Error> {
        let insert = Statement::new(
            "INSERT OR IGNORE INTO edge_tenancy_schema_groups (name, version) VALUES (?1, \
             coalesce((SELECT min(schema_version) FROM edge_tenancy_tenants \
             WHERE schema_group = ?1 AND state = 'ready'), ?2))",
            vec![group.into(), Value::Integer(first)],
        );
        let select = Statement::new(
            "SELECT version, database_id FROM edge_tenancy_schema_groups WHERE name = ?",
            vec![group.into()],
        );
        let row = (self.db().batch(vec![insert, select]).await?)
            .pop()
            .and_then(|rows| rows.into_iter().next())
            .ok_or_else(|| bad("a group without a version"))?;
        let version = row.get("version").and_then(serde_json::Value::as_i64);
        let database = row
            .get("database_id")
            .and_then(|id| id.as_str().map(str::to_owned));
        Ok((
            version.ok_or_else(|| bad("a group without a version"))?,
            database,
        ))
    }

    /// The id of `group`'s schema database, once one was made.
    pub async fn group_database(&self, group: &str) -> Result<Option<String>, Error> {
        let select = Statement::new(
            "SELECT database_id FROM edge_tenancy_schema_groups WHERE name = ?",
            vec![group.into()],
        );
        Ok(self
            .rows(select)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.get("database_id")?.as_str().map(str::to_owned)))
    }

    /// Records `id` as `group`'s schema database (a group [`Registry::group_version`] has
    /// recorded), unless one is recorded already; answers the one recorded.
    pub async fn record_group_database(&self, group: &str, id: &str) -> Result<String, Error> {
        let record = Statement::new(
            "UPDATE edge_tenancy_schema_groups SET database_id = coalesce(database_id, ?2) \
             WHERE name = ?1",
            vec![group.into(), id.into()],
        );
        self.rows(record).await?;
        self.group_database(group)
            .await?
            .ok_or_else(|| bad("a schema database that was not recorded"))
    }

    /// The ready tenants of `group`, in id order.
    pub async fn group_tenants(&self, group: &str) -> Result<Vec<TenantId>, Error> {
        self.group_page(group, None, None).await
    }

    /// Up to `limit` (all, when none) of `group`'s ready tenants after `after`, in id order: a
    /// page read through the group's index, whatever the registry's size.
    pub async fn group_page(
        &self,
        group: &str,
        after: Option<&TenantId>,
        limit: Option<u32>,
    ) -> Result<Vec<TenantId>, Error> {
        let select = Statement::new(
            "SELECT id FROM edge_tenancy_tenants WHERE schema_group = ?1 AND state = 'ready' \
             AND id > ?2 ORDER BY id LIMIT ?3",
            vec![
                group.into(),
                after.map_or("", TenantId::as_str).into(),
                Value::Integer(limit.map_or(-1, i64::from)),
            ],
        );
        let rows = self.rows(select).await?;
        rows.iter()
            .map(|row| {
                row.get("id")
                    .and_then(|v| v.as_str())
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| bad("a tenant id"))
            })
            .collect()
    }

    /// Keeps a new job and its tasks; its id. [`Error::JobActive`] while another job of its
    /// group is not over.
    pub async fn submit_job(&self, job: &Job, now: UnixTime) -> Result<i64, Error> {
        let head = serde_json::to_string(job).map_err(bad)?;
        let tasks = serde_json::to_string(&job.tasks).map_err(bad)?;
        let insert = Statement::new(
            "INSERT INTO edge_tenancy_schema_jobs (schema_group, version, active, job, created_at, updated_at)
             VALUES (?1, ?2, 1, ?3, ?4, ?4)",
            vec![
                job.group.as_str().into(),
                Value::Integer(job.version),
                Value::Text(head),
                Value::Integer(now.millis()),
            ],
        );
        // The job's id is the group's active one: the unique index makes it one row.
        let tasks = Statement::new(
            "INSERT INTO edge_tenancy_schema_tasks (job_id, position, tenant, task)
             SELECT (SELECT id FROM edge_tenancy_schema_jobs WHERE schema_group = ?1 AND active = 1),
                    key, json_extract(value, '$.tenant'), value
             FROM json_each(?2)",
            vec![job.group.as_str().into(), Value::Text(tasks)],
        );
        let id = Statement::new(
            "SELECT id FROM edge_tenancy_schema_jobs WHERE schema_group = ? AND active = 1",
            vec![job.group.as_str().into()],
        );
        match self.db().batch(vec![insert, tasks, id]).await {
            Ok(mut results) => results
                .pop()
                .and_then(|rows| rows.into_iter().next())
                .and_then(|row| row.get("id").and_then(serde_json::Value::as_i64))
                .ok_or_else(|| bad("no id")),
            Err(e) if e.0.contains("UNIQUE constraint failed") => Err(Error::JobActive),
            Err(e) => Err(e.into()),
        }
    }

    /// Job `id` with its tasks, or [`Error::NotFound`].
    pub async fn job(&self, id: i64) -> Result<JobRecord, Error> {
        let head = Statement::new(
            "SELECT id, job, paused, cancelled, created_at, updated_at FROM edge_tenancy_schema_jobs WHERE id = ?",
            vec![Value::Integer(id)],
        );
        let tasks = Statement::new(
            "SELECT task FROM edge_tenancy_schema_tasks WHERE job_id = ? ORDER BY position",
            vec![Value::Integer(id)],
        );
        let mut results = self.db().batch(vec![head, tasks]).await?;
        let tasks = results.pop().unwrap_or_default();
        let head = results
            .pop()
            .and_then(|rows| rows.into_iter().next())
            .ok_or(Error::NotFound("no such schema job"))?;
        let mut record = decode_head(&head)?;
        record.job.tasks = tasks
            .iter()
            .map(|row| {
                let text = row
                    .get("task")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| bad("task"))?;
                serde_json::from_str::<Task>(text).map_err(bad)
            })
            .collect::<Result<_, _>>()?;
        Ok(record)
    }

    /// Pauses, resumes or cancels job `id` while it is not over; the driver reads it at its
    /// next round. [`Error::NotFound`] for a job that is over or unknown.
    pub async fn control_job(
        &self,
        id: i64,
        control: JobControl,
        now: UnixTime,
    ) -> Result<(), Error> {
        let set = match control {
            JobControl::Pause => "paused = 1",
            JobControl::Resume => "paused = 0",
            JobControl::Cancel => "cancelled = 1, paused = 0",
        };
        let update = Statement::new(
            format!(
                "UPDATE edge_tenancy_schema_jobs SET {set}, updated_at = ?
                 WHERE id = ? AND active = 1 RETURNING id"
            ),
            vec![Value::Integer(now.millis()), Value::Integer(id)],
        );
        let rows = self.rows(update).await?;
        if rows.is_empty() {
            return Err(Error::NotFound("no such schema job running"));
        }
        Ok(())
    }

    /// Whether job `id` is paused and whether it is cancelled, as an administrator last set.
    pub async fn job_controls(&self, id: i64) -> Result<(bool, bool), Error> {
        let select = Statement::new(
            "SELECT paused, cancelled FROM edge_tenancy_schema_jobs WHERE id = ?",
            vec![Value::Integer(id)],
        );
        let row = self
            .db()
            .batch(vec![select])
            .await?
            .pop()
            .and_then(|rows| rows.into_iter().next())
            .ok_or(Error::NotFound("no such schema job"))?;
        let flag = |name: &str| row.get(name).and_then(serde_json::Value::as_i64) == Some(1);
        Ok((flag("paused"), flag("cancelled")))
    }

    /// The jobs not over, oldest first.
    pub async fn active_jobs(&self) -> Result<Vec<i64>, Error> {
        let select = Statement::new(
            "SELECT id FROM edge_tenancy_schema_jobs WHERE active = 1 ORDER BY id",
            vec![],
        );
        let rows = self.rows(select).await?;
        Ok(rows
            .iter()
            .filter_map(|row| row.get("id").and_then(serde_json::Value::as_i64))
            .collect())
    }

    /// Takes (or extends) the lease on driving job `id` for `owner`: `false` while another
    /// driver holds a live one.
    pub async fn claim_job(
        &self,
        id: i64,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<bool, Error> {
        self.lock(&lock_name(id), owner, now, lease).await
    }

    /// Gives up the lease on driving job `id`.
    pub async fn release_job(&self, id: i64, owner: &str) -> Result<(), Error> {
        self.unlock(&lock_name(id), owner).await
    }

    /// Keeps `job` (its phase, flags and the tasks at `changed`), if `owner` still holds its
    /// lease; [`Error::LeaseLost`] if not, and nothing is written.
    pub async fn save_job(
        &self,
        id: i64,
        job: &Job,
        changed: &[usize],
        owner: &str,
        now: UnixTime,
    ) -> Result<(), Error> {
        let leased = "EXISTS (SELECT 1 FROM edge_tenancy_locks WHERE name = ?1 AND owner = ?2 AND until > ?3)";
        let fence = |mut values: Vec<Value>| {
            let mut all = vec![
                Value::Text(lock_name(id)),
                owner.into(),
                Value::Integer(now.millis()),
            ];
            all.append(&mut values);
            all
        };
        let mut batch = vec![Statement::new(
            format!(
                "UPDATE edge_tenancy_schema_jobs SET job = ?4, active = ?5, updated_at = ?3
                 WHERE id = ?6 AND {leased} RETURNING id"
            ),
            fence(vec![
                Value::Text(serde_json::to_string(job).map_err(bad)?),
                Value::Integer(i64::from(job.outcome().is_none())),
                Value::Integer(id),
            ]),
        )];
        for &at in changed {
            let Some(task) = job.tasks.get(at) else {
                continue;
            };
            batch.push(Statement::new(
                format!(
                    "UPDATE edge_tenancy_schema_tasks SET task = ?4
                     WHERE job_id = ?5 AND position = ?6 AND {leased}"
                ),
                fence(vec![
                    Value::Text(serde_json::to_string(task).map_err(bad)?),
                    Value::Integer(id),
                    Value::Integer(at as i64),
                ]),
            ));
        }
        let results = self.db().batch(batch).await?;
        if results.first().is_none_or(Vec::is_empty) {
            return Err(Error::LeaseLost);
        }
        Ok(())
    }

    /// Holds the writes of `group`'s tenants for job `id` (their lookups say so once their
    /// cached answers expire).
    pub async fn hold_group(&self, group: &str, id: i64, now: UnixTime) -> Result<(), Error> {
        let hold = Statement::new(
            "UPDATE edge_tenancy_tenants SET schema_held = ?, updated_at = ? WHERE schema_group = ?",
            vec![Value::Integer(id), Value::Integer(now.millis()), group.into()],
        );
        self.db().batch(vec![hold]).await?;
        Ok(())
    }

    /// Ends job `id`'s hold on its group and, when it committed, records its version for the
    /// tenants it migrated (or found there) and pins those a `continue` stage restored where they
    /// are, so that no request brings them to the group's version outside a job; one transaction.
    pub async fn finish_group(
        &self,
        id: i64,
        job: &Job,
        outcome: Outcome,
        now: UnixTime,
    ) -> Result<(), Error> {
        let group = job.group.as_str();
        let ids = |keep: &dyn Fn(&Task) -> bool| {
            let ids: Vec<&str> = job
                .tasks
                .iter()
                .filter(|t| keep(t))
                .map(|t| t.tenant.as_str())
                .collect();
            serde_json::to_string(&ids).map_err(bad)
        };
        let mut batch = Vec::new();
        if outcome == Outcome::Committed {
            batch.push(Statement::new(
                "INSERT INTO edge_tenancy_schema_groups (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = max(version, ?2)",
                vec![group.into(), Value::Integer(job.version)],
            ));
            let migrated = ids(&|t| matches!(t.state, TaskState::Migrated | TaskState::Skipped))?;
            batch.push(Statement::new(
                "UPDATE edge_tenancy_tenants SET schema_version = ?, schema_pinned = 0,
                 updated_at = ? WHERE schema_group = ? AND id IN (SELECT value FROM json_each(?))",
                vec![
                    Value::Integer(job.version),
                    Value::Integer(now.millis()),
                    group.into(),
                    Value::Text(migrated),
                ],
            ));
            batch.push(Statement::new(
                "UPDATE edge_tenancy_tenants SET schema_pinned = 1, updated_at = ?
                 WHERE schema_group = ? AND id IN (SELECT value FROM json_each(?))",
                vec![
                    Value::Integer(now.millis()),
                    group.into(),
                    Value::Text(ids(&|t| t.failed_here)?),
                ],
            ));
        }
        batch.push(Statement::new(
            "UPDATE edge_tenancy_tenants SET schema_held = 0, updated_at = ?
             WHERE schema_group = ? AND schema_held = ?",
            vec![
                Value::Integer(now.millis()),
                group.into(),
                Value::Integer(id),
            ],
        ));
        self.db().batch(batch).await?;
        Ok(())
    }
}

fn decode_head(row: &Row) -> Result<JobRecord, Error> {
    let int = |name: &str| {
        row.get(name)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| bad(name))
    };
    let text = row
        .get("job")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("job"))?;
    let mut job: Job = serde_json::from_str(text).map_err(bad)?;
    job.paused = int("paused")? != 0;
    job.cancelled = int("cancelled")? != 0;
    Ok(JobRecord {
        id: int("id")?,
        job,
        created_at: int("created_at")?,
        updated_at: int("updated_at")?,
    })
}
