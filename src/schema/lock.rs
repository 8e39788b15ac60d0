//! The lock a tenant database handle puts on what a request may run, by where the tenant's
//! schema stands: a child of a schema group takes its schema from the group's migrations only
//! (Turso's rule: DDL on a child is "Operation was blocked"), and while a migration job holds
//! it, its writes wait too, so that a job rolled back to its bookmark loses nothing.

use super::statement::{classify, Kind};
use crate::Error;

/// When a write held by a migrating schema group is told to come back (`Retry-After`): a job
/// holds writes for about a minute plus its run.
pub const MIGRATING_RETRY_SECS: u32 = 10;

/// What a handle lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lock {
    /// Anything: a tenant in no schema group, the job runner, or a caller whose token holds
    /// the `ddl` permission.
    #[default]
    Open,
    /// Reads and writes; no statement that changes, or may change, the schema
    /// ([`Error::Blocked`]).
    Schema,
    /// Reads only: the tenant's group is migrating and holds its writes
    /// ([`Error::SchemaMigrating`], with the wait).
    Migrating {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
}

impl Lock {
    /// Whether `sql` (every statement in it) may run. Decides closed: a statement not
    /// recognised as a read or a write is a schema change.
    pub fn check(self, sql: &str) -> Result<(), Error> {
        if self == Lock::Open {
            return Ok(());
        }
        let kinds = classify(sql);
        if kinds.iter().any(|k| matches!(k, Kind::Schema(_))) {
            return Err(Error::Blocked);
        }
        if let Lock::Migrating { retry_after_secs } = self {
            if kinds.contains(&Kind::Write) {
                return Err(Error::SchemaMigrating { retry_after_secs });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
