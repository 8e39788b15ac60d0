//! Test implementations of the I/O edges, over real SQLite.

use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use rusqlite::types::ValueRef;
use std::cell::RefCell;

/// An in-memory SQLite database behind the [`SqlDatabase`] edge, with D1's batch semantics.
pub struct SqliteDatabase(RefCell<rusqlite::Connection>);

impl SqliteDatabase {
    /// A fresh in-memory database.
    pub fn in_memory() -> Self {
        Self(RefCell::new(
            rusqlite::Connection::open_in_memory().unwrap(),
        ))
    }
}

impl SqlDatabase for SqliteDatabase {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let mut conn = self.0.borrow_mut();
        let err = d1_error;
        let tx = conn.transaction().map_err(err)?;
        let mut out = Vec::with_capacity(statements.len());
        for statement in &statements {
            let mut stmt = tx.prepare(&statement.sql).map_err(err)?;
            let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
            let params = rusqlite::params_from_iter(statement.params.iter().map(to_sqlite));
            let mut rows = stmt.query(params).map_err(err)?;
            let mut result = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let mut map = Row::new();
                for (i, name) in names.iter().enumerate() {
                    map.insert(name.clone(), to_json(row.get_ref(i).map_err(err)?));
                }
                result.push(map);
            }
            out.push(result);
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

/// A SQLite error as D1 words it: the message, then the primary result code's name.
fn d1_error(error: rusqlite::Error) -> SqlError {
    let code = match &error {
        rusqlite::Error::SqliteFailure(e, _) => match e.extended_code & 0xff {
            4 => "ABORT",
            5 => "BUSY",
            6 => "LOCKED",
            8 => "READONLY",
            10 => "IOERR",
            13 => "FULL",
            18 => "TOOBIG",
            19 => "CONSTRAINT",
            20 => "MISMATCH",
            21 => "MISUSE",
            23 => "AUTH",
            25 => "RANGE",
            _ => "ERROR",
        },
        _ => "ERROR",
    };
    SqlError(format!("{error}: SQLITE_{code}"))
}

fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Integer(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn to_json(value: ValueRef<'_>) -> serde_json::Value {
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
        ValueRef::Blob(b) => b.iter().map(|&x| serde_json::Value::from(x)).collect(),
    }
}
