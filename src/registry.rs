//! The control-plane registry: which tenants exist.
//!
//! It lives in the control-plane database (a D1 binding on Workers). Statements are built here as
//! values and run through the [`SqlDatabase`] edge, so the same code runs on D1 in workerd and on
//! SQLite in native tests.

use crate::sql::{Row, SqlDatabase, Statement, Value};
use crate::{Error, TenantId, UnixTime};
use serde::{Deserialize, Serialize};

/// The registry's table. Created by [`Registry::create_schema`]; `IF NOT EXISTS` makes it safe to
/// run on every cold start.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS edge_tenancy_tenants (
    id TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
) STRICT";

const COLUMNS: &str = "id, created_at";

/// A registered tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The tenant.
    pub id: TenantId,
    /// When it was registered, in milliseconds since the Unix epoch.
    pub created_at: i64,
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

    /// Creates the registry's table if it does not exist yet.
    pub async fn create_schema(&self) -> Result<(), Error> {
        self.db.batch(vec![Statement::new(SCHEMA, vec![])]).await?;
        Ok(())
    }

    /// Registers `id` at `now`. A tenant that is already registered is [`Error::TenantExists`]:
    /// the insert and the check are one statement, so two concurrent calls cannot both succeed.
    pub async fn register(&self, id: &TenantId, now: UnixTime) -> Result<TenantRecord, Error> {
        let insert = Statement::new(
            format!(
                "INSERT INTO edge_tenancy_tenants (id, created_at) VALUES (?, ?) \
                 ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
            ),
            vec![id.as_str().into(), Value::Integer(now.millis())],
        );
        self.one(insert).await?.ok_or(Error::TenantExists)
    }

    /// The record of `id`, or [`Error::TenantNotFound`].
    pub async fn get(&self, id: &TenantId) -> Result<TenantRecord, Error> {
        let select = Statement::new(
            format!("SELECT {COLUMNS} FROM edge_tenancy_tenants WHERE id = ?"),
            vec![id.as_str().into()],
        );
        self.one(select).await?.ok_or(Error::TenantNotFound)
    }

    /// Every registered tenant, ordered by id.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, Error> {
        let select = Statement::new(
            format!("SELECT {COLUMNS} FROM edge_tenancy_tenants ORDER BY id"),
            vec![],
        );
        let rows = self.rows(select).await?;
        rows.into_iter().map(decode).collect()
    }

    async fn rows(&self, statement: Statement) -> Result<Vec<Row>, Error> {
        let mut results = self.db.batch(vec![statement]).await?;
        Ok(results.pop().unwrap_or_default())
    }

    async fn one(&self, statement: Statement) -> Result<Option<TenantRecord>, Error> {
        self.rows(statement)
            .await?
            .into_iter()
            .next()
            .map(decode)
            .transpose()
    }
}

/// A row that does not decode means the table was changed under us: a storage fault, not a 4xx.
fn decode(row: Row) -> Result<TenantRecord, Error> {
    serde_json::from_value(serde_json::Value::Object(row))
        .map_err(|e| Error::Storage(crate::sql::SqlError(format!("bad registry row: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SqliteDatabase;
    use pollster::block_on;

    fn id(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    #[test]
    fn register_get_list_on_real_sqlite() {
        let db = SqliteDatabase::in_memory();
        let registry = Registry::new(&db);
        block_on(registry.create_schema()).unwrap();
        block_on(registry.create_schema()).unwrap();

        let acme =
            block_on(registry.register(&id("acme"), UnixTime::from_millis(1_700_000_000_000)))
                .unwrap();
        assert_eq!(
            acme,
            TenantRecord {
                id: id("acme"),
                created_at: 1_700_000_000_000
            }
        );
        block_on(registry.register(&id("beta"), UnixTime::from_millis(5))).unwrap();

        assert_eq!(block_on(registry.get(&id("acme"))).unwrap(), acme);
        assert_eq!(
            block_on(registry.get(&id("gamma"))),
            Err(Error::TenantNotFound)
        );
        let ids: Vec<_> = block_on(registry.list())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [id("acme"), id("beta")]);
    }

    #[test]
    fn registering_twice_is_a_conflict_and_keeps_the_first_record() {
        let db = SqliteDatabase::in_memory();
        let registry = Registry::new(&db);
        block_on(registry.create_schema()).unwrap();
        block_on(registry.register(&id("acme"), UnixTime::from_millis(1))).unwrap();
        assert_eq!(
            block_on(registry.register(&id("acme"), UnixTime::from_millis(2))),
            Err(Error::TenantExists)
        );
        assert_eq!(block_on(registry.get(&id("acme"))).unwrap().created_at, 1);
    }

    #[test]
    fn a_missing_table_is_a_storage_error() {
        let db = SqliteDatabase::in_memory();
        let err = block_on(Registry::new(&db).list()).unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        assert_eq!(err.to_response().status, 503);
    }
}
