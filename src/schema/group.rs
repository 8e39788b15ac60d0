//! Schema groups: a name and the migrations every database in the group follows.

use super::ledger::{migrate_from, MigrateError};
use super::migration::{MigrationError, Migrations};
use crate::sql::SqlDatabase;
use crate::{Error, UnixTime};

/// A schema group: the migrations each of its tenant databases is brought to when it is
/// provisioned, and whose databases refuse schema changes of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaGroup {
    name: String,
    migrations: Migrations,
}

impl SchemaGroup {
    /// The group `name` (1 to 64 of `a-z`, `0-9`, `-`, `_`) with `migrations`.
    pub fn new(name: impl Into<String>, migrations: Migrations) -> Result<Self, MigrationError> {
        let name = name.into();
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(MigrationError::InvalidGroup(name));
        }
        Ok(Self { name, migrations })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its migrations.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// Brings `db` to the first `version` of this group's migrations (where the registry says
    /// a tenant is, which only a job moves past): what it lacks is applied, in one batch when it
    /// all goes, else one migration at a time, which names the one that failed. `believed` is
    /// where the caller thinks `db` stands (0 for a new database, the registry's version for a
    /// tenant): when right, one database call in all; when wrong, the refused batch, then the
    /// ledger read and what it lacks.
    pub async fn bring_up_to(
        &self,
        db: &impl SqlDatabase,
        believed: usize,
        version: usize,
        now: UnixTime,
    ) -> Result<SchemaVersion, Error> {
        let version = migrate_from(db, &self.migrations, believed, version, now)
            .await
            .map_err(|e| match e {
                MigrateError::Database(e) => Error::Storage(e),
                other => Error::Migration(format!("schema group {}: {other}", self.name)),
            })?;
        Ok(SchemaVersion {
            group: self.name.clone(),
            version: version as i64,
        })
    }
}

/// Where a database stands: its group and how many of the group's migrations it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The group.
    pub group: String,
    /// How many of its migrations, from the first, are applied.
    pub version: i64,
}
