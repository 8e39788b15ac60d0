//! The SQL edge: the little the library asks of a database.
//!
//! The core builds [`Statement`] values and reads rows; a [`SqlDatabase`] runs them. The workers
//! build implements it for D1 (see `workers::d1`); native tests implement it over real SQLite.

use std::borrow::Cow;

/// A row as the database returns it: column name to JSON value (what D1's `.all()` gives).
pub type Row = serde_json::Map<String, serde_json::Value>;

/// A value bound to a `?` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer. D1 takes numbers as JavaScript doubles, so values beyond ±2^53 lose
    /// precision there; the library only binds timestamps and counters.
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Integer(v)
    }
}

/// A JSON parameter as D1 binds it: null, a string, a number (an integer when it is one);
/// anything else is given back.
impl TryFrom<serde_json::Value> for Value {
    type Error = serde_json::Value;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        match value {
            serde_json::Value::Null => Ok(Self::Null),
            serde_json::Value::String(text) => Ok(Self::Text(text)),
            serde_json::Value::Number(n) => Ok(match n.as_i64() {
                Some(i) => Self::Integer(i),
                None => Self::Real(n.as_f64().unwrap_or(f64::NAN)),
            }),
            other => Err(other),
        }
    }
}

/// One SQL statement with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// SQL text with `?` placeholders.
    pub sql: Cow<'static, str>,
    /// Values for the placeholders, in order.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// A database failed to run a batch. The message is the database's own and may name tables or
/// columns, so it is logged, never sent to a client (see [`crate::Error::Storage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

impl std::error::Error for SqlError {}

impl SqlError {
    /// Whether the database refused the statement itself (its SQL, a constraint, a value it
    /// cannot bind) rather than failing to run it: the application's error, which no retry
    /// fixes. D1 ends such a message with SQLite's primary result code (`no such table: notes:
    /// SQLITE_ERROR`) or starts it with its own type errors. Busy, locked, I/O, full, read-only
    /// and anything not recognised count as the database being unavailable.
    pub fn is_statement_error(&self) -> bool {
        const STATEMENT_CODES: [&str; 8] = [
            "ERROR",
            "CONSTRAINT",
            "MISMATCH",
            "RANGE",
            "TOOBIG",
            "MISUSE",
            "AUTH",
            "ABORT",
        ];
        // D1's own refusals of a statement, which carry no SQLite code.
        const D1_REFUSALS: [&str; 5] = [
            "D1_TYPE_ERROR",
            "D1_COLUMN_NOTFOUND",
            "Wrong number of parameter bindings",
            "only the last statement can have parameters",
            "No SQL statements detected",
        ];
        let message = self.0.as_str();
        if D1_REFUSALS.iter().any(|kind| message.contains(kind)) {
            return true;
        }
        let Some(at) = message.rfind("SQLITE_") else {
            return false;
        };
        let code = &message[at + "SQLITE_".len()..];
        let code = code
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .next()
            .unwrap_or_default();
        // An extended code (`SQLITE_CONSTRAINT_UNIQUE`) counts as its primary one.
        let primary = code.split('_').next().unwrap_or_default();
        STATEMENT_CODES.contains(&primary)
    }
}

/// A database the library can run statements on.
///
/// One method, because D1's `batch` is the one primitive every backend offers with the same
/// meaning: the statements run in order in one transaction, all or none. The futures need not be
/// `Send`: on Workers everything runs on one thread.
#[allow(async_fn_in_trait)]
pub trait SqlDatabase {
    /// Runs `statements` atomically and returns each one's rows, in order.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError>;
}

impl<T: SqlDatabase> SqlDatabase for &T {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        (**self).batch(statements).await
    }
}

#[cfg(test)]
mod tests {
    use super::SqlError;

    #[test]
    fn the_applications_sql_errors_are_told_from_unavailability() {
        for message in [
            "no such table: notes: SQLITE_ERROR",
            "Error: D1_ERROR: near \"SELEC\": syntax error at offset 0: SQLITE_ERROR",
            "UNIQUE constraint failed: notes.id: SQLITE_CONSTRAINT",
            "D1_ERROR: UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT_PRIMARYKEY",
            "string or blob too big: SQLITE_TOOBIG",
            "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'",
            "D1_COLUMN_NOTFOUND: Column not found: x",
            "D1_ERROR: Wrong number of parameter bindings for SQL query.",
            "No SQL statements detected.",
            "D1_ERROR: When executing multiple SQL statements in a single call, only the last statement can have parameters.",
        ] {
            assert!(SqlError(message.into()).is_statement_error(), "{message}");
        }
        for message in [
            "D1_ERROR: Network connection lost.",
            "D1 DB is overloaded. Too many requests queued.",
            "database is locked: SQLITE_BUSY",
            "disk I/O error: SQLITE_IOERR",
            "D1_ERROR: Exceeded maximum DB size: SQLITE_FULL",
            "attempt to write a readonly database: SQLITE_READONLY",
            "internal error",
            "SQLITE_",
        ] {
            assert!(!SqlError(message.into()).is_statement_error(), "{message}");
        }
    }
}
