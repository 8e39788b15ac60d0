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
    /// ([`Error::SchemaMigrating`], with the wait); its schema changes are refused as ever.
    Migrating {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
    /// Reads only, for a caller who may change the schema: while the group migrates, its
    /// schema changes wait as its writes do ([`Error::SchemaMigrating`]).
    Held {
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
        let changes_schema = kinds.iter().any(|k| matches!(k, Kind::Schema(_)));
        let writes = kinds.contains(&Kind::Write);
        match self {
            Lock::Held { retry_after_secs } if changes_schema || writes => {
                Err(Error::SchemaMigrating { retry_after_secs })
            }
            Lock::Held { .. } => Ok(()),
            _ if changes_schema => Err(Error::Blocked),
            Lock::Migrating { retry_after_secs } if writes => {
                Err(Error::SchemaMigrating { retry_after_secs })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
