//! Test implementations of the I/O edges, over real SQLite.

use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use rusqlite::types::ValueRef;
use std::cell::{Cell, RefCell};

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

impl SqliteDatabase {
    /// A copy of the database as it is now (a time-travel bookmark's state).
    pub fn snapshot(&self) -> rusqlite::Connection {
        let mut copy = rusqlite::Connection::open_in_memory().unwrap();
        rusqlite::backup::Backup::new(&self.0.borrow(), &mut copy)
            .unwrap()
            .run_to_completion(1000, std::time::Duration::ZERO, None)
            .unwrap();
        copy
    }

    /// Puts the database back in the state of `snapshot`.
    pub fn restore(&self, snapshot: &rusqlite::Connection) {
        let mut db = self.0.borrow_mut();
        rusqlite::backup::Backup::new(snapshot, &mut db)
            .unwrap()
            .run_to_completion(1000, std::time::Duration::ZERO, None)
            .unwrap();
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

/// A small deterministic generator (xorshift64*), so a seed replays a history exactly.
pub struct Rng(Cell<u64>);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(Cell::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1))
    }

    pub fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Runs a model test's histories: `EDGE_TENANCY_SEED` replays one, else `EDGE_TENANCY_HISTORIES`
/// (default 1,000) run from seed 0. A history answers its events, or why it broke (with its
/// seed and events). Each of `kinds` must show in some event once 100 or more histories ran, so
/// a change that makes the histories vacuous fails.
pub fn run_histories(history: impl Fn(u64) -> Result<Vec<String>, String>, kinds: &[&str]) {
    if let Some(seed) = std::env::var("EDGE_TENANCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        history(seed).unwrap_or_else(|broken| panic!("{broken}"));
        return;
    }
    let histories: u64 = std::env::var("EDGE_TENANCY_HISTORIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut seen = vec![0usize; kinds.len()];
    for seed in 0..histories {
        let events = history(seed).unwrap_or_else(|broken| panic!("{broken}"));
        for event in &events {
            for (kind, count) in kinds.iter().zip(seen.iter_mut()) {
                *count += usize::from(event.contains(kind));
            }
        }
    }
    let summary: Vec<String> = kinds
        .iter()
        .zip(&seen)
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    eprintln!("{histories} histories: {}", summary.join(", "));
    for (kind, count) in kinds.iter().zip(&seen) {
        assert!(histories < 100 || *count > 0, "no history saw {kind:?}");
    }
}
