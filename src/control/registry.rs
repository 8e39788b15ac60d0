//! The tenant registry: which tenants exist, where each one's database is, and how far its
//! provisioning got.
//!
//! It lives in the control-plane database (a D1 binding on Workers). Statements are built here as
//! values and run through the [`SqlDatabase`] edge, so the same code runs on D1 in workerd and on
//! SQLite in native tests. Its schema is versioned ([`super::migrations`]).
//!
//! The row is the lock for provisioning and deprovisioning: whoever holds its lease
//! (`lease_owner`, until `lease_until`) may change it, and a lease that has run out can be taken
//! over, so a crashed provisioner's tenant is finished by the next caller. Every takeover raises
//! the row's `generation`, and a [`Lease`] names both: every write under a lease is conditional
//! on both, so a holder that lost its lease (a step slower than the lease, a clock jump) can write
//! nothing after the takeover, however late its write arrives — the generation is the fencing
//! token. The same holds for [`Registry::lock`], a lease on a name other than a tenant's (a
//! Worker's binding list, changed by one writer at a time).

use super::migrations;
use crate::lookup::{Location, Lookup, TenantStatus};
use crate::schema::SchemaVersion;
use crate::sql::{Row, SqlDatabase, Statement, Value};
use crate::{Error, TenantId, UnixTime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a tenant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantState {
    /// Its database is being made; the row holds a lease.
    Provisioning,
    /// Its database is ready and requests are served.
    Ready,
    /// Its database is being backed up and removed.
    Deprovisioning,
    /// Provisioning failed (see `error`); provisioning again resumes it.
    Failed,
}

impl TenantState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Ready => "ready",
            Self::Deprovisioning => "deprovisioning",
            Self::Failed => "failed",
        }
    }
}

/// How long a request is told to wait for a tenant that is being provisioned or removed.
const RETRY_WHILE_BUSY: u32 = 5;
/// ... and for a tenant whose provisioning failed (an operator has to act).
const RETRY_WHEN_FAILED: u32 = 60;

/// A registered tenant, as the control plane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The tenant.
    pub id: TenantId,
    /// The database backend (`d1`), or `none` for a tenant registered without a database.
    pub backend: String,
    /// Where it is in its life.
    pub state: TenantState,
    /// Why provisioning or deprovisioning last failed: a short message, never a stack trace.
    pub error: Option<String>,
    /// The stable code of that failure (`hook_failed`, `upstream_unavailable`, …).
    pub error_code: Option<String>,
    /// The backend's id of its database (a D1 UUID).
    pub database_id: Option<String>,
    /// Its database's name (`tenant_acme`).
    pub database_name: Option<String>,
    /// The binding that reaches its database, once bound to a Worker.
    pub binding: Option<String>,
    /// The Worker script holding that binding.
    pub script: Option<String>,
    /// How many times its lease was taken: the fencing token of every write under a lease.
    pub generation: i64,
    /// The schema group its database follows (multi-database schema).
    pub schema_group: Option<String>,
    /// The schema version its database is at.
    pub schema_version: i64,
    /// Whether a migration job of its group holds its writes.
    pub schema_held: bool,
    /// Whether other tenants' queries may attach its database.
    pub attachable: bool,
    /// Where the backup taken before its removal is (an R2 key), once one was taken.
    pub backup: Option<String>,
    /// The backup its database was restored from (an R2 key), when it was made by a restore.
    pub restored_from: Option<String>,
    /// When it was registered, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When its row last changed, in milliseconds since the Unix epoch.
    pub updated_at: i64,
}

impl TenantRecord {
    /// What a request for this tenant gets: served when ready, else told when to come back.
    pub fn status(&self) -> TenantStatus {
        match self.state {
            TenantState::Ready => TenantStatus::Ready,
            TenantState::Failed => TenantStatus::Unavailable {
                retry_after_secs: RETRY_WHEN_FAILED,
            },
            TenantState::Provisioning | TenantState::Deprovisioning => TenantStatus::Unavailable {
                retry_after_secs: RETRY_WHILE_BUSY,
            },
        }
    }

    /// The status, and where the database is when the tenant is ready: what the request path
    /// keeps per isolate, so opening the database needs no second read of this row.
    pub fn lookup(&self) -> Lookup {
        let status = self.status();
        let location = match (status, &self.database_id) {
            (TenantStatus::Ready, Some(database_id)) => Some(Location {
                database_id: database_id.clone(),
                binding: self.binding.clone(),
                script: self.script.clone(),
                schema_group: self.schema_group.clone(),
                schema_version: self.schema_version,
                group_version: 0,
                schema_held: self.schema_held,
            }),
            _ => None,
        };
        Lookup { status, location }
    }
}

const COLUMNS: &str = "id, backend, state, error, error_code, database_id, database_name, \
    binding, script, generation, schema_group, schema_version, schema_held, attachable, backup, \
    restored_from, \
    created_at, updated_at, started_at, lease_until, database_gone";

/// A lease on a registry row: who holds it, and the generation it was taken at (the fencing
/// token). Made only by a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    owner: String,
    generation: i64,
}

impl Lease {
    /// The generation the lease was taken at.
    pub fn generation(&self) -> i64 {
        self.generation
    }
}

/// A row of the registry with what only the provisioner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// The record.
    pub record: TenantRecord,
    /// When provisioning first started, in milliseconds.
    pub started_at: Option<i64>,
    /// Until when the row's lease runs, in milliseconds, if one is held.
    pub lease_until: Option<i64>,
    /// Whether the backup before a removal was taken (or there was none to take).
    pub backed_up: bool,
    /// Whether its database is known to be deleted.
    pub database_gone: bool,
}

/// A page of tenants, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantPage {
    /// The tenants.
    pub tenants: Vec<TenantRecord>,
    /// The id to ask for the next page after, if there may be one.
    pub next: Option<TenantId>,
}

/// The tenant registry over a control-plane database.
pub struct Registry<D> {
    db: D,
    /// Its identity, once read: it never changes.
    identity: std::cell::RefCell<Option<String>>,
}

impl<D: SqlDatabase> Registry<D> {
    /// A registry stored in `db`.
    pub fn new(db: D) -> Self {
        Self {
            db,
            identity: Default::default(),
        }
    }

    /// The database the registry is kept in.
    pub(super) fn db(&self) -> &D {
        &self.db
    }

    /// Brings the registry's schema to the version this code expects (see
    /// [`migrations`]); cheap when it is there already.
    pub async fn migrate(&self, now: UnixTime) -> Result<(), Error> {
        migrations::migrate(&self.db, now).await.map(|_| ())
    }

    /// The record of `id`, or [`Error::TenantNotFound`].
    pub async fn get(&self, id: &TenantId) -> Result<TenantRecord, Error> {
        Ok(self.leased(id).await?.ok_or(Error::TenantNotFound)?.record)
    }

    /// What a request for `id` gets, and where its database is ([`TenantRecord::lookup`]), with
    /// the version its schema group stands at (none for a tenant a job left behind on purpose);
    /// an unregistered tenant is [`Lookup::NOT_FOUND`], not an error. What a tenant cache loads:
    /// one query.
    pub async fn lookup(&self, id: &TenantId) -> Result<Lookup, Error> {
        let select = Statement::new(
            format!(
                "SELECT {COLUMNS}, CASE WHEN schema_pinned = 0 THEN \
                 (SELECT version FROM edge_tenancy_schema_groups WHERE name = schema_group) \
                 END AS group_version FROM edge_tenancy_tenants WHERE id = ?"
            ),
            vec![id.as_str().into()],
        );
        let Some(mut row) = self.rows(select).await?.into_iter().next() else {
            return Ok(Lookup::NOT_FOUND);
        };
        let group_version = row.remove("group_version").and_then(|v| v.as_i64());
        let mut lookup = decode(row)?.record.lookup();
        if let Some(location) = &mut lookup.location {
            location.group_version = group_version.unwrap_or(0);
        }
        Ok(lookup)
    }

    /// Records that `id`'s database caught up with its group `group` at `version` on a
    /// request: only forward, only while no job holds it (a job records its own tenants).
    pub async fn record_caught_up(
        &self,
        id: &TenantId,
        group: &str,
        version: i64,
        now: UnixTime,
    ) -> Result<(), Error> {
        self.rows(Statement::new(
            "UPDATE edge_tenancy_tenants SET schema_version = ?1, updated_at = ?2 \
             WHERE id = ?3 AND schema_group = ?4 AND schema_version < ?1 AND schema_held = 0 \
             AND state = 'ready'",
            vec![
                Value::Integer(version),
                Value::Integer(now.millis()),
                id.as_str().into(),
                group.into(),
            ],
        ))
        .await
        .map(drop)
    }

    /// The record of `id` with its lease start, if it is registered.
    pub async fn leased(&self, id: &TenantId) -> Result<Option<Leased>, Error> {
        let select = Statement::new(
            format!("SELECT {COLUMNS} FROM edge_tenancy_tenants WHERE id = ?"),
            vec![id.as_str().into()],
        );
        self.one(select).await
    }

    /// The records of those of `ids` the registry holds, in id order: one query per 500 ids.
    pub async fn records(&self, ids: &[TenantId]) -> Result<Vec<TenantRecord>, Error> {
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let ids: Vec<&str> = chunk.iter().map(TenantId::as_str).collect();
            let select = Statement::new(
                format!(
                    "SELECT {COLUMNS} FROM edge_tenancy_tenants \
                     WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
                ),
                vec![Value::Text(serde_json::to_string(&ids).unwrap_or_default())],
            );
            for row in self.rows(select).await? {
                records.push(decode(row)?.record);
            }
        }
        Ok(records)
    }

    /// Up to `limit` tenants (1 to 1,000) after `after`, in id order.
    pub async fn list(&self, after: Option<&TenantId>, limit: u32) -> Result<TenantPage, Error> {
        let limit = limit.clamp(1, 1000);
        let select = Statement::new(
            format!("SELECT {COLUMNS} FROM edge_tenancy_tenants WHERE id > ? ORDER BY id LIMIT ?"),
            vec![
                after.map_or("", TenantId::as_str).into(),
                Value::Integer(i64::from(limit)),
            ],
        );
        let tenants: Vec<TenantRecord> = self
            .rows(select)
            .await?
            .into_iter()
            .map(|row| decode(row).map(|leased| leased.record))
            .collect::<Result<_, _>>()?;
        let next = (tenants.len() == limit as usize)
            .then(|| tenants.last().map(|t| t.id.clone()))
            .flatten();
        Ok(TenantPage { tenants, next })
    }

    /// The registry's identity: a random id made when its schema was first set up, different
    /// for every registry (staging, production), and part of the name of every database it
    /// makes.
    pub async fn identity(&self) -> Result<String, Error> {
        if let Some(known) = self.identity.borrow().clone() {
            return Ok(known);
        }
        let select = Statement::new(
            "SELECT value FROM edge_tenancy_meta WHERE key = 'registry_id'",
            vec![],
        );
        let rows = self.rows(select).await?;
        let identity = rows
            .first()
            .and_then(|row| row.get("value"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Storage(crate::sql::SqlError(
                    "the registry has no identity: is its schema migrated?".into(),
                ))
            })?;
        *self.identity.borrow_mut() = Some(identity.clone());
        Ok(identity)
    }

    /// Takes the lease to provision `id` for `owner` until `now + lease`, creating the row
    /// (state `provisioning`, backend `backend`, database `database_name`, to be filled from the
    /// backup `restored_from` if given) if there is none. One statement, so of many concurrent
    /// callers exactly one gets it. `None`: someone else holds a live lease, the tenant is ready
    /// or being removed, or a restore was asked of a row that is not being restored from that
    /// same backup.
    #[allow(clippy::too_many_arguments)] // each is a column of the new row
    pub async fn claim_provisioning(
        &self,
        id: &TenantId,
        backend: &str,
        database_name: &str,
        restored_from: Option<&str>,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<(Leased, Lease)>, Error> {
        let until = (now + lease).millis();
        let claim = Statement::new(
            format!(
                "INSERT INTO edge_tenancy_tenants
                    (id, created_at, backend, state, database_name, restored_from, generation,
                     lease_owner, lease_until, started_at, updated_at)
                 VALUES (?1, ?2, ?3, 'provisioning', ?4, ?7, 1, ?5, ?6, ?2, ?2)
                 ON CONFLICT (id) DO UPDATE SET
                    state = 'provisioning', lease_owner = ?5, lease_until = ?6,
                    generation = generation + 1, updated_at = ?2
                 WHERE state IN ('provisioning', 'failed')
                   AND (lease_until IS NULL OR lease_until <= ?2)
                   AND (?7 IS NULL OR restored_from IS ?7)
                 RETURNING {COLUMNS}"
            ),
            vec![
                id.as_str().into(),
                Value::Integer(now.millis()),
                backend.into(),
                database_name.into(),
                owner.into(),
                Value::Integer(until),
                restored_from.map_or(Value::Null, Into::into),
            ],
        );
        Ok(self
            .one(claim)
            .await?
            .map(|row| Self::leased_by(row, owner)))
    }

    /// Takes the lease to deprovision `id`: from `ready` or `failed`, or from `deprovisioning` or
    /// `provisioning`, whose lease ran out or was released (a ready tenant holds one while it
    /// moves). `None`: not registered, or busy with a live lease.
    pub async fn claim_deprovisioning(
        &self,
        id: &TenantId,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<(Leased, Lease)>, Error> {
        self.claim_free(id, "state = 'deprovisioning', ", "true", owner, now, lease)
            .await
    }

    /// Takes the lease on ready tenant `id` to change where it is bound: it stays `ready`, and
    /// is served meanwhile. `None`: not registered, not ready, or busy with a live lease.
    pub async fn claim_ready(
        &self,
        id: &TenantId,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<(Leased, Lease)>, Error> {
        self.claim_free(id, "", "state = 'ready'", owner, now, lease)
            .await
    }

    /// Takes the lease on `id`, a row whose lease ran out or was given up and for which `only`
    /// holds, making the assignments `set` too (each followed by `, `); a new generation, the
    /// fencing token. One statement, so of many concurrent callers at most one gets it.
    async fn claim_free(
        &self,
        id: &TenantId,
        set: &str,
        only: &str,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<(Leased, Lease)>, Error> {
        let claim = Statement::new(
            format!(
                "UPDATE edge_tenancy_tenants SET
                    {set}lease_owner = ?2, lease_until = ?3, updated_at = ?4,
                    generation = generation + 1
                 WHERE id = ?1 AND ({only}) AND (lease_until IS NULL OR lease_until <= ?4)
                 RETURNING {COLUMNS}"
            ),
            vec![
                id.as_str().into(),
                owner.into(),
                Value::Integer((now + lease).millis()),
                Value::Integer(now.millis()),
            ],
        );
        Ok(self
            .one(claim)
            .await?
            .map(|row| Self::leased_by(row, owner)))
    }

    /// Makes a row for `id`, which the registry does not hold, to remove a database called
    /// `database_name` under its lease: `deprovisioning`, with no backup to take. `None`: the
    /// tenant is registered (meanwhile).
    pub async fn claim_tombstone(
        &self,
        id: &TenantId,
        backend: &str,
        database_name: &str,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<(Leased, Lease)>, Error> {
        let claim = Statement::new(
            format!(
                "INSERT INTO edge_tenancy_tenants
                    (id, created_at, backend, state, database_name, generation, lease_owner,
                     lease_until, started_at, updated_at, backup)
                 VALUES (?1, ?2, ?3, 'deprovisioning', ?4, 1, ?5, ?6, ?2, ?2, '')
                 ON CONFLICT DO NOTHING
                 RETURNING {COLUMNS}"
            ),
            vec![
                id.as_str().into(),
                Value::Integer(now.millis()),
                backend.into(),
                database_name.into(),
                owner.into(),
                Value::Integer((now + lease).millis()),
            ],
        );
        Ok(self
            .one(claim)
            .await?
            .map(|row| Self::leased_by(row, owner)))
    }

    fn leased_by(leased: Leased, owner: &str) -> (Leased, Lease) {
        let lease = Lease {
            owner: owner.to_owned(),
            generation: leased.record.generation,
        };
        (leased, lease)
    }

    /// Extends `lease` on `id` to `until`, or [`Error::LeaseLost`] if it was taken over.
    pub async fn renew(&self, id: &TenantId, lease: &Lease, until: UnixTime) -> Result<(), Error> {
        let renew = Statement::new(
            "UPDATE edge_tenancy_tenants SET lease_until = ?
             WHERE id = ? AND lease_owner = ? AND generation = ? RETURNING id",
            vec![
                Value::Integer(until.millis()),
                id.as_str().into(),
                lease.owner.as_str().into(),
                Value::Integer(lease.generation),
            ],
        );
        self.changed_one(renew).await
    }

    /// Records, under `lease`, the database made for `id`.
    pub async fn record_database(
        &self,
        id: &TenantId,
        lease: &Lease,
        database_id: &str,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(id, lease, "database_id = ?", vec![database_id.into()], now)
            .await
    }

    /// Records, under `lease`, the Worker binding that reaches `id`'s database (`None`: none).
    pub async fn record_binding(
        &self,
        id: &TenantId,
        lease: &Lease,
        binding: Option<(&str, &str)>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let (name, script) = binding.map_or((Value::Null, Value::Null), |(name, script)| {
            (name.into(), script.into())
        });
        self.update_leased(
            id,
            lease,
            "binding = ?, script = ?",
            vec![name, script],
            now,
        )
        .await
    }

    /// Records, under `lease`, the schema group `id`'s database follows and the version it is at.
    pub async fn record_schema(
        &self,
        id: &TenantId,
        lease: &Lease,
        schema: &SchemaVersion,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(
            id,
            lease,
            "schema_group = ?, schema_version = ?",
            vec![schema.group.as_str().into(), Value::Integer(schema.version)],
            now,
        )
        .await
    }

    /// Records, under `lease`, the backup taken before `id`'s removal (`None`: there was none to
    /// take), so a retry does not take it again.
    pub async fn record_backup(
        &self,
        id: &TenantId,
        lease: &Lease,
        key: Option<&str>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(id, lease, "backup = ?", vec![key.unwrap_or("").into()], now)
            .await
    }

    /// Records, under `lease`, that `id`'s database is deleted: a retry then only removes the
    /// row.
    pub async fn record_gone(
        &self,
        id: &TenantId,
        lease: &Lease,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(id, lease, "database_gone = 1", vec![], now)
            .await
    }

    /// Ends `lease` on `id` in `state` (`ready`, or `failed` with `error`).
    pub async fn finish(
        &self,
        id: &TenantId,
        lease: &Lease,
        state: TenantState,
        error: Option<&Error>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let (code, message) = failure(error);
        self.update_leased(
            id,
            lease,
            "state = ?, error = ?, error_code = ?, lease_owner = NULL, lease_until = NULL",
            vec![state.as_str().into(), message, code],
            now,
        )
        .await
    }

    /// Records, under `lease`, why deprovisioning `id` stopped, and gives the lease up so that
    /// a retry resumes at once; the row stays `deprovisioning`.
    pub async fn release(
        &self,
        id: &TenantId,
        lease: &Lease,
        error: &Error,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let (code, message) = failure(Some(error));
        self.update_leased(
            id,
            lease,
            "error = ?, error_code = ?, lease_owner = NULL, lease_until = NULL",
            vec![message, code],
            now,
        )
        .await
    }

    /// Gives `lease` on `id` up and changes nothing else: a ready tenant's move that did not
    /// happen.
    pub async fn let_go(&self, id: &TenantId, lease: &Lease, now: UnixTime) -> Result<(), Error> {
        self.update_leased(
            id,
            lease,
            "lease_owner = NULL, lease_until = NULL",
            vec![],
            now,
        )
        .await
        .map(|_| ())
    }

    /// Marks ready tenant `id` failed with `error`, when nobody holds its lease: the user's own
    /// provisioning step after the factory's (the JS anchor's `onProvision`) failed, so it is
    /// not served as if it had its schema. Provisioning again resumes it. [`Error::TenantBusy`]
    /// if it is not ready or busy.
    pub async fn fail_ready(
        &self,
        id: &TenantId,
        error: &Error,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let (code, message) = failure(Some(error));
        let fail = Statement::new(
            format!(
                "UPDATE edge_tenancy_tenants SET state = 'failed', error = ?1, error_code = ?2,
                    updated_at = ?3
                 WHERE id = ?4 AND state = 'ready' AND (lease_until IS NULL OR lease_until <= ?3)
                 RETURNING {COLUMNS}"
            ),
            vec![
                message,
                code,
                Value::Integer(now.millis()),
                id.as_str().into(),
            ],
        );
        Ok(self
            .one(fail)
            .await?
            .ok_or(Error::TenantBusy {
                retry_after_secs: RETRY_WHILE_BUSY,
            })?
            .record)
    }

    /// Deletes `id`'s row, under `lease`: the last step of deprovisioning.
    pub async fn remove(&self, id: &TenantId, lease: &Lease) -> Result<(), Error> {
        let delete = Statement::new(
            "DELETE FROM edge_tenancy_tenants WHERE id = ? AND lease_owner = ? AND generation = ?
             RETURNING id",
            vec![
                id.as_str().into(),
                lease.owner.as_str().into(),
                Value::Integer(lease.generation),
            ],
        );
        self.changed_one(delete).await
    }

    /// Takes (or extends) the lease on `name` for `owner` until `now + lease`: `true` when it is
    /// `owner`'s, `false` while another holds a live one. For what only one writer may change at
    /// a time, such as a Worker's binding list.
    pub async fn lock(
        &self,
        name: &str,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<bool, Error> {
        let lock = Statement::new(
            "INSERT INTO edge_tenancy_locks (name, owner, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET owner = ?2, until = ?3
             WHERE owner = ?2 OR until <= ?4
             RETURNING owner",
            vec![
                name.into(),
                owner.into(),
                Value::Integer((now + lease).millis()),
                Value::Integer(now.millis()),
            ],
        );
        Ok(self.rows(lock).await?.len() == 1)
    }

    /// Gives up `owner`'s lease on `name`, if it still holds it.
    pub async fn unlock(&self, name: &str, owner: &str) -> Result<(), Error> {
        let unlock = Statement::new(
            "DELETE FROM edge_tenancy_locks WHERE name = ? AND owner = ?",
            vec![name.into(), owner.into()],
        );
        self.rows(unlock).await.map(|_| ())
    }

    /// Takes the list kept under lock `name` ([`Registry::keep_list`]), with when it was read,
    /// if `owner` holds the lock: it is kept no more until the holder keeps one again.
    pub async fn take_list(
        &self,
        name: &str,
        owner: &str,
    ) -> Result<Option<(String, UnixTime)>, Error> {
        let take = Statement::new(
            format!("DELETE FROM edge_tenancy_lists WHERE name = ?1 AND {HOLDS_LOCK} RETURNING list, listed_at"),
            vec![name.into(), owner.into()],
        );
        let rows = self.rows(take).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let list = row.get("list").and_then(|l| l.as_str());
        let at = row.get("listed_at").and_then(|t| t.as_i64());
        Ok(list
            .zip(at)
            .map(|(list, at)| (list.to_owned(), UnixTime::from_millis(at))))
    }

    /// Keeps `list` under lock `name`, as read at `at`, if `owner` holds the lock: only its
    /// holder knows the list as it stands.
    pub async fn keep_list(
        &self,
        name: &str,
        owner: &str,
        list: &str,
        at: UnixTime,
    ) -> Result<(), Error> {
        let keep = Statement::new(
            format!(
                "INSERT INTO edge_tenancy_lists (name, list, listed_at) SELECT ?1, ?3, ?4 \
                 WHERE {HOLDS_LOCK} ON CONFLICT (name) DO UPDATE SET list = ?3, listed_at = ?4"
            ),
            vec![
                name.into(),
                owner.into(),
                list.into(),
                Value::Integer(at.millis()),
            ],
        );
        self.rows(keep).await.map(|_| ())
    }

    async fn update_leased(
        &self,
        id: &TenantId,
        lease: &Lease,
        set: &str,
        mut values: Vec<Value>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        values.extend([
            Value::Integer(now.millis()),
            id.as_str().into(),
            lease.owner.as_str().into(),
            Value::Integer(lease.generation),
        ]);
        let update = Statement::new(
            format!(
                "UPDATE edge_tenancy_tenants SET {set}, updated_at = ?
                 WHERE id = ? AND lease_owner = ? AND generation = ?
                 RETURNING {COLUMNS}"
            ),
            values,
        );
        Ok(self.one(update).await?.ok_or(Error::LeaseLost)?.record)
    }

    /// Runs `statement`, conditional on a lease and returning the row it changed:
    /// [`Error::LeaseLost`] when it changed none.
    async fn changed_one(&self, statement: Statement) -> Result<(), Error> {
        match self.rows(statement).await?.len() {
            1 => Ok(()),
            _ => Err(Error::LeaseLost),
        }
    }

    pub(super) async fn rows(&self, statement: Statement) -> Result<Vec<Row>, Error> {
        let mut results = self.db.batch(vec![statement]).await?;
        Ok(results.pop().unwrap_or_default())
    }

    async fn one(&self, statement: Statement) -> Result<Option<Leased>, Error> {
        self.rows(statement)
            .await?
            .into_iter()
            .next()
            .map(decode)
            .transpose()
    }
}

/// Whether `?2` holds the lock named `?1`.
const HOLDS_LOCK: &str = "EXISTS (SELECT 1 FROM edge_tenancy_locks WHERE name = ?1 AND owner = ?2)";

/// The longest failure message a registry row keeps: a sentence, never a stack trace.
const MAX_ERROR_CHARS: usize = 200;

/// A failure as the registry keeps it: its stable code and a short message (the detail of a
/// hook's failure goes to the log only).
fn failure(error: Option<&Error>) -> (Value, Value) {
    let Some(error) = error else {
        return (Value::Null, Value::Null);
    };
    let response = error.to_response();
    let message: String = match error {
        // The hook's own words, cut at the first line and the length limit.
        Error::HookFailed(detail) | Error::Migration(detail) => {
            detail.lines().next().unwrap_or_default().to_owned()
        }
        _ => response.message,
    };
    let message: String = message.chars().take(MAX_ERROR_CHARS).collect();
    (response.code.into(), Value::Text(message))
}

/// A row that does not decode means the table was changed under us: a storage fault, not a 4xx.
fn decode(mut row: Row) -> Result<Leased, Error> {
    let bad = |e: String| Error::Storage(crate::sql::SqlError(format!("bad registry row: {e}")));
    let started_at = row.remove("started_at").and_then(|v| v.as_i64());
    let lease_until = row.remove("lease_until").and_then(|v| v.as_i64());
    let database_gone = row.remove("database_gone").and_then(|v| v.as_i64()) == Some(1);
    // SQLite has no booleans: 0 or 1 (`schema_held`: the holding job's id, or 0).
    for column in ["attachable", "schema_held"] {
        if let Some(flag) = row.get_mut(column) {
            *flag = serde_json::Value::Bool(flag.as_i64().unwrap_or(0) != 0);
        }
    }
    // NULL: no backup yet; '': none was taken (no backup hook, or it kept nothing).
    let backed_up = row.get("backup").is_some_and(|b| !b.is_null());
    if row.get("backup").and_then(|b| b.as_str()) == Some("") {
        row.insert("backup".into(), serde_json::Value::Null);
    }
    let record =
        serde_json::from_value(serde_json::Value::Object(row)).map_err(|e| bad(e.to_string()))?;
    Ok(Leased {
        record,
        started_at,
        lease_until,
        backed_up,
        database_gone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SqliteDatabase;
    use pollster::block_on;

    fn id(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn at(ms: i64) -> UnixTime {
        UnixTime::from_millis(ms)
    }

    const LEASE: Duration = Duration::from_secs(60);

    fn registry(db: &SqliteDatabase) -> Registry<&SqliteDatabase> {
        let registry = Registry::new(db);
        block_on(registry.migrate(at(0))).unwrap();
        registry
    }

    #[test]
    fn one_claim_wins_and_a_lapsed_lease_is_taken_over_with_a_new_generation() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let (first, a) =
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", None, "a", at(1000), LEASE))
                .unwrap()
                .unwrap();
        assert_eq!(first.record.state, TenantState::Provisioning);
        assert_eq!(first.started_at, Some(1000));
        assert_eq!(a.generation(), 1);
        // Held: another caller gets nothing.
        assert_eq!(
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", None, "b", at(2000), LEASE))
                .unwrap(),
            None
        );
        // Renewed, then lapsed: taken over at generation 2, the first start kept.
        block_on(r.renew(&acme, &a, at(30_000))).unwrap();
        assert_eq!(
            block_on(r.claim_provisioning(
                &acme,
                "d1",
                "tenant_acme",
                None,
                "b",
                at(29_999),
                LEASE
            ))
            .unwrap(),
            None,
            "the renewal holds"
        );
        let (taken, b) = block_on(r.claim_provisioning(
            &acme,
            "d1",
            "tenant_acme",
            None,
            "b",
            at(30_000),
            LEASE,
        ))
        .unwrap()
        .unwrap();
        assert_eq!((taken.started_at, b.generation()), (Some(1000), 2));
        // Every late write of the first holder is refused: its generation is gone.
        for late in [
            block_on(r.record_database(&acme, &a, "uuid", at(30_001))).map(|_| ()),
            block_on(r.record_binding(&acme, &a, Some(("B", "s")), at(30_001))).map(|_| ()),
            block_on(r.record_backup(&acme, &a, None, at(30_001))).map(|_| ()),
            block_on(r.record_gone(&acme, &a, at(30_001))).map(|_| ()),
            block_on(r.finish(&acme, &a, TenantState::Ready, None, at(30_001))).map(|_| ()),
            block_on(r.renew(&acme, &a, at(90_000))),
            block_on(r.remove(&acme, &a)),
        ] {
            assert_eq!(late, Err(Error::LeaseLost));
        }
        let ready = block_on(r.finish(&acme, &b, TenantState::Ready, None, at(30_003))).unwrap();
        assert_eq!(ready.state, TenantState::Ready);
        assert_eq!(
            ready.lookup(),
            Lookup {
                status: TenantStatus::Ready,
                location: None
            },
            "no database recorded, no location"
        );
        // Ready: nothing to claim.
        assert_eq!(
            block_on(r.claim_provisioning(
                &acme,
                "d1",
                "tenant_acme",
                None,
                "c",
                at(70_000),
                LEASE
            ))
            .unwrap(),
            None
        );
    }

    /// `tenant` claimed for provisioning at 0 and its database `uuid-1` recorded at 1: the
    /// lease.
    fn with_database<D: SqlDatabase>(r: &Registry<D>, tenant: &TenantId) -> Lease {
        let name = format!("tenant_{tenant}");
        let (_, lease) =
            block_on(r.claim_provisioning(tenant, "d1", &name, None, "a", at(0), LEASE))
                .unwrap()
                .unwrap();
        block_on(r.record_database(tenant, &lease, "uuid-1", at(1))).unwrap();
        lease
    }

    #[test]
    fn a_ready_tenant_is_looked_up_with_where_its_database_is() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let a = with_database(&r, &acme);
        let bound =
            block_on(r.record_binding(&acme, &a, Some(("TENANT_ACME", "demo")), at(2))).unwrap();
        // Not ready yet: where the database is stays unsaid.
        assert_eq!(
            bound.lookup(),
            Lookup {
                status: TenantStatus::Unavailable {
                    retry_after_secs: RETRY_WHILE_BUSY
                },
                location: None
            }
        );
        let ready = block_on(r.finish(&acme, &a, TenantState::Ready, None, at(3))).unwrap();
        assert_eq!(block_on(r.lookup(&acme)).unwrap(), ready.lookup());
        assert_eq!(block_on(r.lookup(&id("ghost"))).unwrap(), Lookup::NOT_FOUND);
        assert_eq!(
            ready.lookup(),
            Lookup {
                status: TenantStatus::Ready,
                location: Some(Location {
                    database_id: "uuid-1".into(),
                    binding: Some("TENANT_ACME".into()),
                    script: Some("demo".into()),
                    schema_group: None,
                    schema_version: 0,
                    group_version: 0,
                    schema_held: false,
                }),
            }
        );
    }

    #[test]
    fn a_tenant_behind_its_group_is_looked_up_with_the_groups_version_and_recorded_forward_only() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let a = with_database(&r, &acme);
        let schema = SchemaVersion {
            group: "app".into(),
            version: 1,
        };
        block_on(r.record_schema(&acme, &a, &schema, at(2))).unwrap();
        block_on(r.finish(&acme, &a, TenantState::Ready, None, at(3))).unwrap();
        let location = |r: &Registry<_>| block_on(r.lookup(&acme)).unwrap().location.unwrap();
        assert_eq!(
            location(&r).group_version,
            0,
            "a group the registry has not seen"
        );
        // Seen first now: at its tenants' lowest version, not the code's latest.
        assert_eq!(block_on(r.group_version("app", 3)).unwrap(), 1);
        block_on(db.batch(vec![Statement::new(
            "UPDATE edge_tenancy_schema_groups SET version = 3",
            vec![],
        )]))
        .unwrap();
        let found = location(&r);
        assert_eq!((found.schema_version, found.group_version), (1, 3));

        block_on(r.record_caught_up(&acme, "app", 3, at(4))).unwrap();
        block_on(r.record_caught_up(&acme, "app", 2, at(5))).unwrap();
        block_on(r.record_caught_up(&acme, "other", 9, at(6))).unwrap();
        assert_eq!(
            location(&r).schema_version,
            3,
            "forward only, in its own group"
        );
        block_on(r.hold_group("app", 7, at(7))).unwrap();
        block_on(r.record_caught_up(&acme, "app", 4, at(8))).unwrap();
        assert_eq!(
            location(&r).schema_version,
            3,
            "a job holding it records it itself"
        );
    }

    #[test]
    fn pages_in_id_order_and_database_names_are_unique() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        for (n, name) in ["delta", "alpha", "charlie", "bravo"].iter().enumerate() {
            let claimed = block_on(r.claim_provisioning(
                &id(name),
                "d1",
                &format!("tenant_{name}"),
                None,
                "o",
                at(n as i64),
                LEASE,
            ));
            assert!(claimed.unwrap().is_some());
        }
        let first = block_on(r.list(None, 3)).unwrap();
        let ids: Vec<_> = first.tenants.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["alpha", "bravo", "charlie"]);
        let rest = block_on(r.list(first.next.as_ref(), 3)).unwrap();
        assert_eq!(rest.tenants.len(), 1);
        assert_eq!(rest.next, None);
        // Two tenants can never record the same database name.
        assert!(block_on(r.claim_provisioning(
            &id("echo"),
            "d1",
            "tenant_alpha",
            None,
            "o",
            at(9),
            LEASE
        ))
        .is_err());
    }

    #[test]
    fn deprovisioning_takes_a_ready_tenant_and_only_the_holder_removes_it() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let (_, a) =
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", None, "a", at(0), LEASE))
                .unwrap()
                .unwrap();
        assert_eq!(
            block_on(r.claim_deprovisioning(&acme, "b", at(1), LEASE)).unwrap(),
            None,
            "not while its provisioning lease is live"
        );
        block_on(r.finish(&acme, &a, TenantState::Ready, None, at(2))).unwrap();
        let (leased, b) = block_on(r.claim_deprovisioning(&acme, "b", at(3), LEASE))
            .unwrap()
            .unwrap();
        assert_eq!(leased.record.state, TenantState::Deprovisioning);
        assert_eq!(b.generation(), 2, "every claim is a new generation");
        assert_eq!(block_on(r.remove(&acme, &a)), Err(Error::LeaseLost));
        // A failure gives the lease up, with a code and a short message: a retry claims at once.
        let hook = Error::HookFailed("backup failed: disk full\n    at stack frame 1".into());
        let released = block_on(r.release(&acme, &b, &hook, at(4))).unwrap();
        assert_eq!(released.error.as_deref(), Some("backup failed: disk full"));
        assert_eq!(released.error_code.as_deref(), Some("hook_failed"));
        let (_, c) = block_on(r.claim_deprovisioning(&acme, "c", at(5), LEASE))
            .unwrap()
            .unwrap();
        block_on(r.remove(&acme, &c)).unwrap();
        assert_eq!(block_on(r.get(&acme)), Err(Error::TenantNotFound));
    }

    #[test]
    fn a_ready_tenant_is_failed_only_when_nobody_holds_it() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let hook = Error::HookFailed("migration 7 failed\n  at frame".into());
        assert_eq!(
            block_on(r.fail_ready(&acme, &hook, at(0))).map(|_| ()),
            Err(Error::TenantBusy {
                retry_after_secs: RETRY_WHILE_BUSY
            }),
            "not registered"
        );
        let (_, a) =
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", None, "a", at(0), LEASE))
                .unwrap()
                .unwrap();
        assert!(
            block_on(r.fail_ready(&acme, &hook, at(1))).is_err(),
            "being provisioned"
        );
        block_on(r.finish(&acme, &a, TenantState::Ready, None, at(2))).unwrap();
        let failed = block_on(r.fail_ready(&acme, &hook, at(3))).unwrap();
        assert_eq!(failed.state, TenantState::Failed);
        assert_eq!(failed.error.as_deref(), Some("migration 7 failed"));
        assert_eq!(failed.error_code.as_deref(), Some("hook_failed"));
        // Provisioning again resumes it.
        assert!(block_on(r.claim_provisioning(
            &acme,
            "d1",
            "tenant_acme",
            None,
            "b",
            at(4),
            LEASE
        ))
        .unwrap()
        .is_some());
    }

    #[test]
    fn a_lock_has_one_holder_until_it_lapses_or_is_given_up() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        assert!(block_on(r.lock("bindings:w", "a", at(0), LEASE)).unwrap());
        assert!(
            block_on(r.lock("bindings:w", "a", at(1), LEASE)).unwrap(),
            "renewed"
        );
        assert!(!block_on(r.lock("bindings:w", "b", at(2), LEASE)).unwrap());
        assert!(block_on(r.lock("bindings:other", "b", at(2), LEASE)).unwrap());
        assert!(
            block_on(r.lock("bindings:w", "b", at(60_001), LEASE)).unwrap(),
            "lapsed"
        );
        assert!(!block_on(r.lock("bindings:w", "a", at(60_002), LEASE)).unwrap());
        block_on(r.unlock("bindings:w", "a")).unwrap();
        assert!(
            !block_on(r.lock("bindings:w", "c", at(60_003), LEASE)).unwrap(),
            "not a's"
        );
        block_on(r.unlock("bindings:w", "b")).unwrap();
        assert!(block_on(r.lock("bindings:w", "c", at(60_004), LEASE)).unwrap());
    }

    #[test]
    fn each_registry_has_its_own_identity() {
        let (one, two) = (SqliteDatabase::in_memory(), SqliteDatabase::in_memory());
        let a = block_on(registry(&one).identity()).unwrap();
        let b = block_on(registry(&two).identity()).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        block_on(registry(&one).migrate(at(9))).unwrap();
        assert_eq!(block_on(registry(&one).identity()).unwrap(), a, "kept");
    }

    #[test]
    fn a_missing_table_is_a_storage_error() {
        let db = SqliteDatabase::in_memory();
        let err = block_on(Registry::new(&db).list(None, 10)).unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        assert_eq!(err.to_response().status, 503);
    }
}
