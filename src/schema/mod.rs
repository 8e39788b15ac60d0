//! Multi-database schema: one list of migrations for many tenant databases.
//!
//! Turso's multi-DB schemas, carried to every backend. The parts, none of which does I/O beyond
//! the [`SqlDatabase`](crate::sql::SqlDatabase) edge:
//!
//! - [`Migrations`]: named SQL migrations in order, from strings or from a wrangler
//!   `migrations/` folder (`0001_create_users.sql`), each hashed; one that opens or ends a
//!   transaction is refused, since each already runs in one.
//! - [`ledger`]: the `edge_tenancy_migrations` table in every migrated database, the
//!   [`Status`] of a database against the list (its version, what is pending, drift: a migration
//!   changed after it was applied is reported and never run again), [`migrate`] to apply what
//!   is pending (each migration with its ledger row in one transaction, so nothing is applied
//!   twice), and [`dry_run`] to run it all and roll it back; [`migrate_from`] and
//!   [`dry_run_from`] do each in one database call for a caller that knows where the database
//!   stands (the registry does), the guess checked inside the batch.
//! - [`SchemaGroup`]: a name and its migrations; a tenant provisioned into it is brought to
//!   them before it is ready, and the registry records its [`SchemaVersion`].
//! - [`lint()`]: what D1 would refuse partway through a fleet, and drops and renames, with the
//!   expand/contract advice, before any database is touched.
//! - [`Lock`]: what a tenant database handle lets through — for a tenant in a schema group no
//!   schema change ([`Error::Blocked`](crate::Error::Blocked), however the statement is
//!   written: comments, case, chained statements, `PRAGMA writable_schema`, writes to
//!   `sqlite_master`), and while its group migrates, no write either.
//! - [`statement`] and [`sql_text`]: how statements are told apart, as SQLite tokenizes them.

mod group;
pub mod job;
pub mod ledger;
pub mod lint;
mod lock;
mod migration;
pub mod sql_text;
pub mod statement;

pub use group::{SchemaGroup, SchemaVersion};
pub use ledger::{
    dry_run, dry_run_from, migrate, migrate_from, migrate_to, status, Drift, MigrateError, Status,
};
pub use lint::{lint, Finding, Lint};
pub use lock::{Lock, MIGRATING_RETRY_SECS};
pub use migration::{Migration, MigrationError, Migrations};
pub use statement::{classify, Kind, SchemaChange};

#[cfg(test)]
mod tests;
