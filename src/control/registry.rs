//! The tenant registry: which tenants exist, where each one's database is, and how far its
//! provisioning got.
//!
//! It lives in the control-plane database (a D1 binding on Workers). Statements are built here as
//! values and run through the [`SqlDatabase`] edge, so the same code runs on D1 in workerd and on
//! SQLite in native tests. Its schema is versioned ([`super::migrations`]).
//!
//! The row is the lock for provisioning and deprovisioning: whoever holds its lease
//! (`lease_owner`, until `lease_until`) may change it, every change is conditional on holding the
//! lease, and a lease that has run out can be taken over, so a crashed provisioner's tenant is
//! finished by the next caller.

use super::migrations;
use crate::lookup::{Location, Lookup, TenantStatus};
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
    /// Why provisioning or deprovisioning last failed.
    pub error: Option<String>,
    /// The backend's id of its database (a D1 UUID).
    pub database_id: Option<String>,
    /// Its database's name (`tenant_acme`).
    pub database_name: Option<String>,
    /// The binding that reaches its database, once bound to a Worker.
    pub binding: Option<String>,
    /// The Worker script holding that binding.
    pub script: Option<String>,
    /// How many times provisioning was started or taken over.
    pub generation: i64,
    /// The schema group its database follows (multi-database schema).
    pub schema_group: Option<String>,
    /// The schema version its database is at.
    pub schema_version: i64,
    /// Whether other tenants' queries may attach its database.
    pub attachable: bool,
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
            }),
            _ => None,
        };
        Lookup { status, location }
    }
}

const COLUMNS: &str = "id, backend, state, error, database_id, database_name, binding, script, \
    generation, schema_group, schema_version, attachable, created_at, updated_at";

/// A row of the registry together with its lease, for the provisioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// The record.
    pub record: TenantRecord,
    /// When provisioning first started, in milliseconds: a database made before then is not ours.
    pub started_at: Option<i64>,
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
}

impl<D: SqlDatabase> Registry<D> {
    /// A registry stored in `db`.
    pub fn new(db: D) -> Self {
        Self { db }
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

    /// What a request for `id` gets, and where its database is ([`TenantRecord::lookup`]); an
    /// unregistered tenant is [`Lookup::NOT_FOUND`], not an error. What a tenant cache loads.
    pub async fn lookup(&self, id: &TenantId) -> Result<Lookup, Error> {
        Ok(self
            .leased(id)
            .await?
            .map_or(Lookup::NOT_FOUND, |leased| leased.record.lookup()))
    }

    /// The record of `id` with its lease start, if it is registered.
    pub async fn leased(&self, id: &TenantId) -> Result<Option<Leased>, Error> {
        let select = Statement::new(
            format!("SELECT {COLUMNS}, started_at FROM edge_tenancy_tenants WHERE id = ?"),
            vec![id.as_str().into()],
        );
        self.one(select).await
    }

    /// Up to `limit` tenants (1 to 1,000) after `after`, in id order.
    pub async fn list(&self, after: Option<&TenantId>, limit: u32) -> Result<TenantPage, Error> {
        let limit = limit.clamp(1, 1000);
        let select = Statement::new(
            format!(
                "SELECT {COLUMNS}, started_at FROM edge_tenancy_tenants WHERE id > ? ORDER BY id LIMIT ?"
            ),
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

    /// Takes the lease to provision `id` for `owner` until `now + lease`, creating the row
    /// (state `provisioning`, backend `backend`, database `database_name`) if there is none. One
    /// statement, so of many concurrent callers exactly one gets it. `None`: someone else holds a
    /// live lease, or the tenant is ready or being removed.
    pub async fn claim_provisioning(
        &self,
        id: &TenantId,
        backend: &str,
        database_name: &str,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<Leased>, Error> {
        let until = (now + lease).millis();
        let claim = Statement::new(
            format!(
                "INSERT INTO edge_tenancy_tenants
                    (id, created_at, backend, state, database_name, generation, lease_owner,
                     lease_until, started_at, updated_at)
                 VALUES (?1, ?2, ?3, 'provisioning', ?4, 1, ?5, ?6, ?2, ?2)
                 ON CONFLICT (id) DO UPDATE SET
                    state = 'provisioning', lease_owner = ?5, lease_until = ?6,
                    generation = generation + 1, updated_at = ?2
                 WHERE state IN ('provisioning', 'failed')
                   AND (lease_until IS NULL OR lease_until <= ?2)
                 RETURNING {COLUMNS}, started_at"
            ),
            vec![
                id.as_str().into(),
                Value::Integer(now.millis()),
                backend.into(),
                database_name.into(),
                owner.into(),
                Value::Integer(until),
            ],
        );
        self.one(claim).await
    }

    /// Takes the lease to deprovision `id`: from `ready` or `failed`, or from `deprovisioning`
    /// whose lease ran out. `None`: not registered, or busy with a live lease.
    pub async fn claim_deprovisioning(
        &self,
        id: &TenantId,
        owner: &str,
        now: UnixTime,
        lease: Duration,
    ) -> Result<Option<Leased>, Error> {
        let claim = Statement::new(
            format!(
                "UPDATE edge_tenancy_tenants SET
                    state = 'deprovisioning', lease_owner = ?2, lease_until = ?3, updated_at = ?4
                 WHERE id = ?1
                   AND (state IN ('ready', 'failed')
                        OR (state IN ('deprovisioning', 'provisioning')
                            AND (lease_until IS NULL OR lease_until <= ?4)))
                 RETURNING {COLUMNS}, started_at"
            ),
            vec![
                id.as_str().into(),
                owner.into(),
                Value::Integer((now + lease).millis()),
                Value::Integer(now.millis()),
            ],
        );
        self.one(claim).await
    }

    /// Records, under `owner`'s lease, the database made for `id`.
    pub async fn record_database(
        &self,
        id: &TenantId,
        owner: &str,
        database_id: &str,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(id, owner, "database_id = ?", vec![database_id.into()], now)
            .await
    }

    /// Records, under `owner`'s lease, the Worker binding that reaches `id`'s database.
    pub async fn record_binding(
        &self,
        id: &TenantId,
        owner: &str,
        binding: Option<(&str, &str)>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let (name, script) = binding.map_or((Value::Null, Value::Null), |(name, script)| {
            (name.into(), script.into())
        });
        self.update_leased(
            id,
            owner,
            "binding = ?, script = ?",
            vec![name, script],
            now,
        )
        .await
    }

    /// Ends `owner`'s provisioning lease on `id` in `state` (`ready`, or `failed` with `error`).
    pub async fn finish(
        &self,
        id: &TenantId,
        owner: &str,
        state: TenantState,
        error: Option<&str>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let error = error.map_or(Value::Null, Value::from);
        self.update_leased(
            id,
            owner,
            "state = ?, error = ?, lease_owner = NULL, lease_until = NULL",
            vec![state.as_str().into(), error],
            now,
        )
        .await
    }

    /// Records, under `owner`'s lease, why deprovisioning `id` stopped; the lease is kept until
    /// it runs out, so a retry can take over.
    pub async fn record_error(
        &self,
        id: &TenantId,
        owner: &str,
        error: &str,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        self.update_leased(id, owner, "error = ?", vec![error.into()], now)
            .await
    }

    /// Deletes `id`'s row, under `owner`'s lease: the last step of deprovisioning.
    pub async fn remove(&self, id: &TenantId, owner: &str) -> Result<(), Error> {
        let delete = Statement::new(
            "DELETE FROM edge_tenancy_tenants WHERE id = ? AND lease_owner = ? RETURNING id",
            vec![id.as_str().into(), owner.into()],
        );
        match self.rows(delete).await?.len() {
            1 => Ok(()),
            _ => Err(Error::LeaseLost),
        }
    }

    async fn update_leased(
        &self,
        id: &TenantId,
        owner: &str,
        set: &str,
        mut values: Vec<Value>,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        values.extend([
            Value::Integer(now.millis()),
            id.as_str().into(),
            owner.into(),
        ]);
        let update = Statement::new(
            format!(
                "UPDATE edge_tenancy_tenants SET {set}, updated_at = ? WHERE id = ? AND lease_owner = ?
                 RETURNING {COLUMNS}, started_at"
            ),
            values,
        );
        Ok(self.one(update).await?.ok_or(Error::LeaseLost)?.record)
    }

    async fn rows(&self, statement: Statement) -> Result<Vec<Row>, Error> {
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

/// A row that does not decode means the table was changed under us: a storage fault, not a 4xx.
fn decode(mut row: Row) -> Result<Leased, Error> {
    let bad = |e: String| Error::Storage(crate::sql::SqlError(format!("bad registry row: {e}")));
    let started_at = row.remove("started_at").and_then(|v| v.as_i64());
    // SQLite has no booleans: 0 or 1.
    if let Some(flag) = row.get_mut("attachable") {
        *flag = serde_json::Value::Bool(flag.as_i64().unwrap_or(0) != 0);
    }
    let record =
        serde_json::from_value(serde_json::Value::Object(row)).map_err(|e| bad(e.to_string()))?;
    Ok(Leased { record, started_at })
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
    fn one_claim_wins_and_a_lapsed_lease_is_taken_over() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        let first =
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "a", at(1000), LEASE))
                .unwrap()
                .unwrap();
        assert_eq!(first.record.state, TenantState::Provisioning);
        assert_eq!(first.started_at, Some(1000));
        assert_eq!(first.record.generation, 1);
        // Held: another caller gets nothing, and cannot write under its own name.
        assert_eq!(
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "b", at(2000), LEASE))
                .unwrap(),
            None
        );
        assert_eq!(
            block_on(r.record_database(&acme, "b", "uuid", at(2000))),
            Err(Error::LeaseLost)
        );
        // Lapsed: taken over, the first start kept.
        let taken =
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "b", at(61_001), LEASE))
                .unwrap()
                .unwrap();
        assert_eq!((taken.started_at, taken.record.generation), (Some(1000), 2));
        assert_eq!(
            block_on(r.record_database(&acme, "a", "uuid", at(61_002))),
            Err(Error::LeaseLost),
            "the first owner lost its lease"
        );
        let ready = block_on(r.finish(&acme, "b", TenantState::Ready, None, at(61_003))).unwrap();
        assert_eq!(ready.state, TenantState::Ready);
        assert_eq!(ready.status(), TenantStatus::Ready);
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
            block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "c", at(70_000), LEASE))
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_ready_tenant_is_looked_up_with_where_its_database_is() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "a", at(0), LEASE)).unwrap();
        block_on(r.record_database(&acme, "a", "uuid-1", at(1))).unwrap();
        let bound =
            block_on(r.record_binding(&acme, "a", Some(("TENANT_ACME", "demo")), at(2))).unwrap();
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
        let ready = block_on(r.finish(&acme, "a", TenantState::Ready, None, at(3))).unwrap();
        assert_eq!(block_on(r.lookup(&acme)).unwrap(), ready.lookup());
        assert_eq!(block_on(r.lookup(&id("ghost"))).unwrap(), Lookup::NOT_FOUND);
        assert_eq!(
            ready.lookup(),
            Lookup {
                status: TenantStatus::Ready,
                location: Some(Location {
                    database_id: "uuid-1".into(),
                    binding: Some("TENANT_ACME".into()),
                }),
            }
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
            "o",
            at(9),
            LEASE
        ))
        .is_err());
    }

    #[test]
    fn deprovisioning_takes_a_ready_tenant_and_only_the_owner_removes_it() {
        let db = SqliteDatabase::in_memory();
        let r = registry(&db);
        let acme = id("acme");
        block_on(r.claim_provisioning(&acme, "d1", "tenant_acme", "a", at(0), LEASE)).unwrap();
        assert_eq!(
            block_on(r.claim_deprovisioning(&acme, "b", at(1), LEASE)).unwrap(),
            None,
            "not while its provisioning lease is live"
        );
        block_on(r.finish(&acme, "a", TenantState::Ready, None, at(2))).unwrap();
        let leased = block_on(r.claim_deprovisioning(&acme, "b", at(3), LEASE))
            .unwrap()
            .unwrap();
        assert_eq!(leased.record.state, TenantState::Deprovisioning);
        assert_eq!(block_on(r.remove(&acme, "a")), Err(Error::LeaseLost));
        block_on(r.remove(&acme, "b")).unwrap();
        assert_eq!(block_on(r.get(&acme)), Err(Error::TenantNotFound));
    }

    #[test]
    fn a_missing_table_is_a_storage_error() {
        let db = SqliteDatabase::in_memory();
        let err = block_on(Registry::new(&db).list(None, 10)).unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        assert_eq!(err.to_response().status, 503);
    }
}
