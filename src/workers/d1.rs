//! A D1 binding behind the [`SqlDatabase`] edge.
//!
//! See <https://developers.cloudflare.com/d1/worker-api/>.

use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use std::cell::Cell;
use std::rc::Rc;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env};

/// A D1 database, such as the control-plane binding, counting the batches sent to it.
pub struct D1 {
    database: D1Database,
    batches: Rc<Cell<u64>>,
}

impl D1 {
    /// `database`, its batches counted from zero.
    pub fn new(database: D1Database) -> Self {
        Self {
            database,
            batches: Rc::default(),
        }
    }

    /// The D1 binding `name` from the worker's env. A missing binding is a storage error (503,
    /// with the cause logged), since to the caller the database simply cannot be reached.
    pub fn binding(env: &Env, name: &str) -> Result<Self, crate::Error> {
        env.d1(name)
            .map(Self::new)
            .map_err(|e| SqlError(format!("D1 binding {name}: {e}")).into())
    }

    /// The same database, its batches added to `batches` (shared across requests, it counts
    /// what an isolate sends: how a test sees that a warm request sends nothing).
    pub fn counted(self, batches: Rc<Cell<u64>>) -> Self {
        Self { batches, ..self }
    }
}

impl SqlDatabase for D1 {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let err = |e: worker::Error| SqlError(e.to_string());
        self.batches.set(self.batches.get() + 1);
        let prepared = statements
            .iter()
            .map(|s| {
                let params: Vec<JsValue> = s.params.iter().map(to_js).collect();
                self.database.prepare(s.sql.as_ref()).bind(&params)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        // D1's batch is one transaction: all statements apply or none.
        let results = self.database.batch(prepared).await.map_err(err)?;
        results
            .iter()
            .map(|r| match r.error() {
                Some(message) => Err(SqlError(message)),
                None => r.results::<Row>().map_err(err),
            })
            .collect()
    }
}

pub(super) fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        // D1 refuses BigInt parameters and numbers travel as doubles, exact up to 2^53; a larger
        // integer goes as its decimal text, which `CAST(? AS INTEGER)` stores exactly (as a
        // double it could never be).
        Value::Integer(i) if i.unsigned_abs() > 1 << 53 => JsValue::from_str(&i.to_string()),
        Value::Integer(i) => JsValue::from_f64(*i as f64),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
    }
}
