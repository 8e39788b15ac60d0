//! The registry's own schema, as numbered migrations applied once each, atomically.
//!
//! `edge_tenancy_schema` holds the versions applied. A migration's statements and the row that
//! records it go in one batch (one transaction), so a migration is applied whole or not at all;
//! two isolates that race to apply the same one cannot both succeed (the version is the primary
//! key), and the loser just finds it applied.

use crate::sql::{SqlDatabase, Statement, Value};
use crate::{Error, UnixTime};

/// The migrations, in order; a migration's version is its place in this list plus one. Never
/// edit one that has shipped: add another.
const MIGRATIONS: &[&[&str]] = &[
    // 1: the first registry, which knew only ids.
    &["CREATE TABLE IF NOT EXISTS edge_tenancy_tenants (
        id TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT"],
    // 2: tenants with their own databases: where the database is, the provisioning state and its
    // lease, the schema group and version, and whether others may attach it.
    &[
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN backend TEXT NOT NULL DEFAULT 'none'",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'
            CHECK (state IN ('provisioning', 'ready', 'deprovisioning', 'failed'))",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN error TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN database_id TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN database_name TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN binding TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN script TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN schema_group TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN attachable INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN lease_owner TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN lease_until INTEGER",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN started_at INTEGER",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0",
        "CREATE UNIQUE INDEX IF NOT EXISTS edge_tenancy_tenants_database_name
            ON edge_tenancy_tenants (database_name)",
    ],
    // 3: fencing and resumable removal. The registry's identity (random, made here once, so two
    // registries sharing an account never take each other's databases: it is part of every
    // database name); a failure's code beside its message; the backup taken before a removal
    // (NULL: not yet; '': none to keep) and whether the database is gone, so a retry neither
    // backs up a deleted database nor deletes twice; and leases on names other than tenants (a
    // Worker's binding list).
    &[
        "CREATE TABLE IF NOT EXISTS edge_tenancy_meta (
            key TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL
        ) STRICT",
        "INSERT OR IGNORE INTO edge_tenancy_meta (key, value)
            VALUES ('registry_id', lower(hex(randomblob(4))))",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN error_code TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN backup TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN database_gone INTEGER NOT NULL DEFAULT 0",
        "CREATE TABLE IF NOT EXISTS edge_tenancy_locks (
            name TEXT PRIMARY KEY NOT NULL,
            owner TEXT NOT NULL,
            until INTEGER NOT NULL
        ) STRICT",
    ],
    // 4: the backup a tenant's database was restored from: set when the row is made by a
    // restore, so that a resumed provisioning imports it too and a plain one never takes its
    // place.
    &["ALTER TABLE edge_tenancy_tenants ADD COLUMN restored_from TEXT"],
    // 5: multi-database schema. A tenant's hold (the id of the job holding its writes, 0 for
    // none), an index to find a group's tenants, each group's version (what new tenants start
    // at; a committed job moves it), the jobs (one active per group: the partial unique index;
    // the driver's lease is a lock named after the job) and a task row per child of a job.
    &[
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN schema_held INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS edge_tenancy_tenants_schema_group
            ON edge_tenancy_tenants (schema_group, id)",
        "CREATE TABLE IF NOT EXISTS edge_tenancy_schema_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            schema_group TEXT NOT NULL,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0,
            job TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT",
        "CREATE UNIQUE INDEX IF NOT EXISTS edge_tenancy_schema_jobs_active
            ON edge_tenancy_schema_jobs (schema_group) WHERE active = 1",
        "CREATE TABLE IF NOT EXISTS edge_tenancy_schema_groups (
            name TEXT PRIMARY KEY NOT NULL,
            version INTEGER NOT NULL
        ) STRICT",
        "CREATE TABLE IF NOT EXISTS edge_tenancy_schema_tasks (
            job_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            task TEXT NOT NULL,
            PRIMARY KEY (job_id, position)
        ) STRICT",
    ],
    // 6: each schema group's schema database (the parent holding the canonical schema), made
    // when its first job validates; and a tenant a committed job left behind on purpose (it
    // failed in a `continue` stage), which its requests must not bring to the group's version.
    &[
        "ALTER TABLE edge_tenancy_schema_groups ADD COLUMN database_id TEXT",
        "ALTER TABLE edge_tenancy_tenants ADD COLUMN schema_pinned INTEGER NOT NULL DEFAULT 0",
    ],
    // 7: the jobs not over, found without reading every job ever run (a scheduled driver asks
    // each minute).
    &["CREATE INDEX IF NOT EXISTS edge_tenancy_schema_jobs_live
        ON edge_tenancy_schema_jobs (id) WHERE active = 1"],
    // 8: the provisioning queue, oldest first, without reading the ready tenants.
    &["CREATE INDEX IF NOT EXISTS edge_tenancy_tenants_queue
        ON edge_tenancy_tenants (created_at, id) WHERE state IN ('provisioning', 'failed')"],
    // 9: the binding list a locked change last answered (a Worker's bindings), kept under the
    // lock's name, so the next change need not read it again.
    &["CREATE TABLE IF NOT EXISTS edge_tenancy_lists (
        name TEXT PRIMARY KEY NOT NULL,
        list TEXT NOT NULL,
        listed_at INTEGER NOT NULL
    ) STRICT"],
];

/// The version the code expects.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const VERSIONS: &str = "CREATE TABLE IF NOT EXISTS edge_tenancy_schema (
    version INTEGER PRIMARY KEY NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT";

/// Applies the migrations `db` lacks, each in one transaction; returns the version it is at.
pub async fn migrate(db: &impl SqlDatabase, now: UnixTime) -> Result<i64, Error> {
    loop {
        let applied = applied(db).await?;
        let Some(next) = MIGRATIONS.get(applied as usize) else {
            return Ok(applied);
        };
        let version = applied + 1;
        let mut batch: Vec<Statement> = next
            .iter()
            .map(|sql| Statement::new(*sql, vec![]))
            .collect();
        batch.push(Statement::new(
            "INSERT INTO edge_tenancy_schema (version, applied_at) VALUES (?, ?)",
            vec![Value::Integer(version), Value::Integer(now.millis())],
        ));
        if let Err(error) = db.batch(batch).await {
            // Another isolate may have applied it meanwhile: then the version moved on.
            if applied_now(db).await? <= applied {
                return Err(error.into());
            }
        }
    }
}

async fn applied(db: &impl SqlDatabase) -> Result<i64, Error> {
    db.batch(vec![Statement::new(VERSIONS, vec![])]).await?;
    applied_now(db).await
}

async fn applied_now(db: &impl SqlDatabase) -> Result<i64, Error> {
    let rows = db
        .batch(vec![Statement::new(
            "SELECT COALESCE(MAX(version), 0) AS version FROM edge_tenancy_schema",
            vec![],
        )])
        .await?;
    Ok(rows
        .first()
        .and_then(|rows| rows.first())
        .and_then(|row| row.get("version"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SqliteDatabase;
    use pollster::block_on;

    #[test]
    fn applied_once_each_and_a_first_registry_is_upgraded_in_place() {
        let db = SqliteDatabase::in_memory();
        // A registry from before the migrations, with a tenant in it.
        block_on(db.batch(vec![
            Statement::new(MIGRATIONS[0][0], vec![]),
            Statement::new(
                "INSERT INTO edge_tenancy_tenants (id, created_at) VALUES ('acme', 1)",
                vec![],
            ),
        ]))
        .unwrap();
        let now = UnixTime::from_millis(5);
        assert_eq!(block_on(migrate(&db, now)).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            block_on(migrate(&db, now)).unwrap(),
            SCHEMA_VERSION,
            "idempotent"
        );
        let rows = block_on(db.batch(vec![Statement::new(
            "SELECT id, state, backend FROM edge_tenancy_tenants",
            vec![],
        )]))
        .unwrap();
        assert_eq!(rows[0][0]["state"], "ready");
        assert_eq!(rows[0][0]["backend"], "none");
    }

    #[test]
    fn a_failing_migration_leaves_nothing_half_applied() {
        let db = SqliteDatabase::in_memory();
        // A column of migration 2 already exists: its batch fails and rolls back whole.
        block_on(db.batch(vec![
            Statement::new(MIGRATIONS[0][0], vec![]),
            Statement::new(
                "ALTER TABLE edge_tenancy_tenants ADD COLUMN binding TEXT",
                vec![],
            ),
        ]))
        .unwrap();
        block_on(migrate(&db, UnixTime::EPOCH)).unwrap_err();
        assert_eq!(block_on(applied_now(&db)).unwrap(), 1);
        let columns = block_on(db.batch(vec![Statement::new(
            "SELECT name FROM pragma_table_info('edge_tenancy_tenants')",
            vec![],
        )]))
        .unwrap();
        assert_eq!(
            columns[0].len(),
            3,
            "id, created_at and the stray column only"
        );
    }
}
