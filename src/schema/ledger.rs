//! The ledger every migrated database keeps (`edge_tenancy_migrations`: each applied migration's
//! name, hash and place), what it says about a database against a list of migrations, and the
//! three things done with it: read a database's status, apply what it lacks, and dry-run that.
//!
//! The ledger is the truth about a database, so nothing is applied twice: a migration's
//! statements and its ledger row go in one batch (one transaction), and the row's primary key
//! makes a second runner's batch fail whole, after which it reads the ledger again.

use super::migration::{Migration, Migrations};
use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use crate::UnixTime;
use std::fmt;

/// The ledger table. The named check is never broken by a real row; a dry run breaks it on
/// purpose as its last statement, so the database rolls the whole batch back and the error
/// that comes back names the check only when every migration before it ran.
const LEDGER: &str = "CREATE TABLE IF NOT EXISTS edge_tenancy_migrations (
    name TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    CONSTRAINT edge_tenancy_dry_run CHECK (name <> '')
) STRICT";

const READ: &str = "SELECT name, hash, version FROM edge_tenancy_migrations ORDER BY version, name";
const RECORD: &str =
    "INSERT INTO edge_tenancy_migrations (name, hash, version, applied_at) VALUES (?, ?, ?, ?)";
const DRY_RUN_SENTINEL: &str = "edge_tenancy_dry_run";

/// Fails unless the ledger holds exactly the `?1` migrations listed in `?2` (`[[name, hash],
/// …]`): a row with no `applied_at`, which no real row lacks, so the error names that column.
/// It lets a caller that knows where a database should stand (the registry does) send its batch
/// without reading the ledger first, the guess checked inside the batch's own transaction.
const GUARD: &str = "INSERT INTO edge_tenancy_migrations (name, hash, version, applied_at) \
    SELECT 'edge_tenancy_guard', '', 0, NULL \
    WHERE (SELECT count(*) FROM edge_tenancy_migrations) <> ?1 \
    OR (SELECT count(*) FROM edge_tenancy_migrations AS m, json_each(?2) AS j \
        WHERE m.name = json_extract(j.value, '$[0]') AND m.hash = json_extract(j.value, '$[1]')) <> ?1";
const GUARD_FAILED: &str = "edge_tenancy_migrations.applied_at";

/// A migration whose ledger row does not match the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Applied, but its SQL has changed since: never run again.
    Changed {
        /// The migration.
        name: String,
        /// The hash the ledger holds.
        applied: String,
        /// The hash of the SQL in the list.
        listed: String,
    },
    /// Applied here but not in the list (a newer deployment's, or a removed one).
    Unlisted {
        /// The migration.
        name: String,
    },
    /// In the list and not applied, but a migration after it is: it was added out of order.
    Skipped {
        /// The migration.
        name: String,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed { name, .. } => write!(f, "{name}: changed after it was applied"),
            Self::Unlisted { name } => write!(f, "{name}: applied but not in the migrations"),
            Self::Skipped { name } => write!(f, "{name}: not applied, but a later one is"),
        }
    }
}

/// A database's migrations against a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// How many migrations from the list's start are applied, as listed: the database's
    /// schema version.
    pub version: usize,
    /// The places in the list of the migrations not applied, in order.
    pub pending: Vec<usize>,
    /// Ledger rows that do not match the list.
    pub drift: Vec<Drift>,
}

impl Status {
    /// Reads `ledger` (name, hash) rows against `migrations`.
    pub fn of(migrations: &Migrations, ledger: &[(String, String)]) -> Self {
        let mut status = Self::default();
        let mut prefix = true;
        let mut last_applied = None;
        for (at, migration) in migrations.iter().enumerate() {
            match ledger.iter().find(|(name, _)| name == migration.name()) {
                Some((_, hash)) if hash == migration.hash() => last_applied = Some(at),
                Some((_, hash)) => status.drift.push(Drift::Changed {
                    name: migration.name().to_owned(),
                    applied: hash.clone(),
                    listed: migration.hash().to_owned(),
                }),
                None => {
                    prefix = false;
                    status.pending.push(at);
                    continue;
                }
            }
            if prefix {
                status.version = at + 1;
            }
        }
        for (name, _) in ledger {
            if !migrations.iter().any(|m| m.name() == name) {
                status.drift.push(Drift::Unlisted { name: name.clone() });
            }
        }
        let skipped = status
            .pending
            .iter()
            .filter(|&&at| last_applied.is_some_and(|last| at < last))
            .map(|&at| Drift::Skipped {
                name: migrations
                    .get(at)
                    .map(|m| m.name().to_owned())
                    .unwrap_or_default(),
            });
        status.drift.extend(skipped.collect::<Vec<_>>());
        status
    }
}

/// Why migrating a database stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrateError {
    /// The ledger does not match the list: nothing was applied.
    Drift(Vec<Drift>),
    /// The database refused a migration's SQL; the migrations before it stay applied, it and
    /// those after it are not.
    Failed {
        /// The migration, or for a dry run the first pending one.
        migration: String,
        /// The database's error (logged; may name tables).
        error: SqlError,
    },
    /// The database could not be read or written.
    Database(SqlError),
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Drift(drift) => {
                f.write_str("the database's ledger does not match the migrations: ")?;
                let list: Vec<String> = drift.iter().map(Drift::to_string).collect();
                f.write_str(&list.join("; "))
            }
            Self::Failed { migration, error } => write!(f, "migration {migration} failed: {error}"),
            Self::Database(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for MigrateError {}

/// `db`'s ledger rows, (name, hash), oldest first; none when it has no ledger yet.
pub async fn ledger(db: &impl SqlDatabase) -> Result<Vec<(String, String)>, SqlError> {
    let rows = match db.batch(vec![Statement::new(READ, vec![])]).await {
        Ok(mut results) => results.pop().unwrap_or_default(),
        Err(e) if e.0.contains("no such table: edge_tenancy_migrations") => Vec::new(),
        Err(e) => return Err(e),
    };
    rows.iter()
        .map(|row| Ok((text(row, "name")?, text(row, "hash")?)))
        .collect()
}

fn text(row: &Row, column: &str) -> Result<String, SqlError> {
    row.get(column)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| SqlError(format!("the ledger's {column} is not text")))
}

/// `db`'s status against `migrations`.
pub async fn status(db: &impl SqlDatabase, migrations: &Migrations) -> Result<Status, SqlError> {
    Ok(Status::of(migrations, &ledger(db).await?))
}

/// One migration's statements and its ledger row, to run as one batch.
fn batch_for(migration: &Migration, version: usize, now: UnixTime) -> Vec<Statement> {
    let mut batch = vec![Statement::new(LEDGER, vec![])];
    batch.extend(
        migration
            .statements()
            .iter()
            .map(|sql| Statement::new(sql.clone(), vec![])),
    );
    batch.push(Statement::new(
        RECORD,
        vec![
            migration.name().into(),
            migration.hash().into(),
            Value::Integer(version as i64),
            Value::Integer(now.millis()),
        ],
    ));
    batch
}

/// The ledger created if missing and checked to hold exactly the first `believed` migrations,
/// then the migrations from `believed` to `to` with their ledger rows: one transaction.
fn guarded_batch(
    migrations: &Migrations,
    believed: usize,
    to: usize,
    now: UnixTime,
) -> Vec<Statement> {
    let applied: Vec<[&str; 2]> = migrations
        .iter()
        .take(believed)
        .map(|m| [m.name(), m.hash()])
        .collect();
    let guard = Statement::new(
        GUARD,
        vec![
            Value::Integer(applied.len() as i64),
            Value::Text(serde_json::to_string(&applied).unwrap_or_default()),
        ],
    );
    let mut batch = vec![Statement::new(LEDGER, vec![]), guard];
    for at in believed..to.min(migrations.len()) {
        if let Some(migration) = migrations.get(at) {
            batch.extend(batch_for(migration, at + 1, now));
        }
    }
    batch
}

/// [`migrate_to`] for a database believed to hold the first `believed` migrations (the
/// registry's record of it; 0 for a new one): one database call when the belief holds, the
/// ledger checked inside the batch; when it does not, or the batch fails, [`migrate_to`]'s way
/// (the ledger read, then what it lacks).
pub async fn migrate_from(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    believed: usize,
    version: usize,
    now: UnixTime,
) -> Result<usize, MigrateError> {
    let version = version.min(migrations.len());
    if believed <= version
        && db
            .batch(guarded_batch(migrations, believed, version, now))
            .await
            .is_ok()
    {
        return Ok(version);
    }
    migrate_to(db, migrations, version, now).await
}

/// Applies the migrations `db` lacks, in order, each in one transaction with its ledger row;
/// returns the version `db` is at. Refuses to apply anything when the ledger has drifted. A
/// runner that loses a race for a migration (the other one's row came first) reads the ledger
/// again and goes on.
pub async fn migrate(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    now: UnixTime,
) -> Result<usize, MigrateError> {
    migrate_to(db, migrations, migrations.len(), now).await
}

/// [`migrate`], applying only the first `version` migrations of the list.
pub async fn migrate_to(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    version: usize,
    now: UnixTime,
) -> Result<usize, MigrateError> {
    // The ledger is read once; again only after a batch fails, to see whether another runner
    // applied that migration meanwhile (then the batch failed on the ledger row, or on the
    // migration's own SQL: the table it makes exists now).
    let mut pending = pending_to(db, migrations, version).await?;
    // What the database is at once nothing is pending: at least `version`.
    let reached = |status_version: usize| status_version.max(version.min(migrations.len()));
    let (mut at_least, mut pending) = (
        reached(pending.version),
        std::mem::take(&mut pending.pending),
    );
    // All that is pending in one transaction when it all goes: one call, not one each.
    if pending.len() > 1 {
        let batch = pending
            .iter()
            .filter_map(|&at| Some(batch_for(migrations.get(at)?, at + 1, now)))
            .flatten()
            .collect();
        if db.batch(batch).await.is_ok() {
            return Ok(at_least);
        }
    }
    while let Some(&at) = pending.first() {
        let Some(migration) = migrations.get(at) else {
            break;
        };
        match db.batch(batch_for(migration, at + 1, now)).await {
            Ok(_) => {
                pending.remove(0);
            }
            Err(error) => {
                let again = pending_to(db, migrations, version).await?;
                if !again.pending.contains(&at) {
                    at_least = reached(again.version);
                    pending = again.pending;
                    continue;
                }
                return Err(if error.is_statement_error() {
                    MigrateError::Failed {
                        migration: migration.name().to_owned(),
                        error,
                    }
                } else {
                    MigrateError::Database(error)
                });
            }
        }
    }
    Ok(at_least)
}

/// `db`'s status with only the first `version` migrations pending; drift refuses.
async fn pending_to(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    version: usize,
) -> Result<Status, MigrateError> {
    let mut status = status(db, migrations)
        .await
        .map_err(MigrateError::Database)?;
    if !status.drift.is_empty() {
        return Err(MigrateError::Drift(status.drift));
    }
    status.pending.retain(|&at| at < version);
    Ok(status)
}

/// [`dry_run`] for a database believed to hold the first `believed` migrations: one database call
/// when the belief holds (checked in the batch); when it does not, that refused batch and then
/// [`dry_run`]'s two.
pub async fn dry_run_from(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    believed: usize,
    now: UnixTime,
) -> Result<Status, MigrateError> {
    if believed > migrations.len() {
        return dry_run(db, migrations, now).await;
    }
    let mut batch = guarded_batch(migrations, believed, migrations.len(), now);
    batch.push(sentinel());
    let pending: Vec<usize> = (believed..migrations.len()).collect();
    let first = pending.first().and_then(|&at| migrations.get(at));
    match db.batch(batch).await {
        Err(error) if error.0.contains(DRY_RUN_SENTINEL) => Ok(Status {
            version: believed,
            pending,
            drift: Vec::new(),
        }),
        Err(error) if error.0.contains(GUARD_FAILED) => dry_run(db, migrations, now).await,
        Err(error) => Err(rolled_back(error, first)),
        Ok(_) => Err(not_rolled_back()),
    }
}

/// The last statement of a dry run: a ledger row that breaks the ledger's check.
fn sentinel() -> Statement {
    Statement::new(
        RECORD,
        vec!["".into(), "".into(), Value::Integer(0), Value::Integer(0)],
    )
}

/// A dry run's batch failed before its sentinel: on `first` pending migration's SQL, or in the
/// database.
fn rolled_back(error: SqlError, first: Option<&Migration>) -> MigrateError {
    match first {
        Some(first) if error.is_statement_error() => MigrateError::Failed {
            migration: first.name().to_owned(),
            error,
        },
        _ => MigrateError::Database(error),
    }
}

/// The sentinel cannot pass its check: a database that took it is not SQLite as known.
fn not_rolled_back() -> MigrateError {
    MigrateError::Database(SqlError("the dry run's rollback did not happen".into()))
}

/// Runs the migrations `db` lacks and rolls them back: one batch of all of them and their ledger
/// rows, ended by a row that breaks the ledger's check, so the database undoes the batch. Ok
/// when only that last row failed, that is when every migration ran; the database's own error
/// otherwise. Nothing is left changed either way.
pub async fn dry_run(
    db: &impl SqlDatabase,
    migrations: &Migrations,
    now: UnixTime,
) -> Result<Status, MigrateError> {
    let status = status(db, migrations)
        .await
        .map_err(MigrateError::Database)?;
    if !status.drift.is_empty() {
        return Err(MigrateError::Drift(status.drift));
    }
    let Some(first) = status.pending.first().and_then(|&at| migrations.get(at)) else {
        return Ok(status);
    };
    let mut batch = Vec::new();
    for &at in &status.pending {
        if let Some(migration) = migrations.get(at) {
            batch.extend(batch_for(migration, at + 1, now));
        }
    }
    batch.push(sentinel());
    match db.batch(batch).await {
        Err(error) if error.0.contains(DRY_RUN_SENTINEL) => Ok(status),
        Err(error) => Err(rolled_back(error, Some(first))),
        Ok(_) => Err(not_rolled_back()),
    }
}
