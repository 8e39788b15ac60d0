//! A D1 binding behind the [`SqlDatabase`] edge.
//!
//! See <https://developers.cloudflare.com/d1/worker-api/>.

use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env};

/// A D1 database, such as the control-plane binding.
pub struct D1(pub D1Database);

impl D1 {
    /// The D1 binding `name` from the worker's env. A missing binding is a storage error (503,
    /// with the cause logged), since to the caller the database simply cannot be reached.
    pub fn binding(env: &Env, name: &str) -> Result<Self, crate::Error> {
        env.d1(name)
            .map(Self)
            .map_err(|e| SqlError(format!("D1 binding {name}: {e}")).into())
    }
}

impl SqlDatabase for D1 {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let err = |e: worker::Error| SqlError(e.to_string());
        let prepared = statements
            .iter()
            .map(|s| {
                let params: Vec<JsValue> = s.params.iter().map(to_js).collect();
                self.0.prepare(s.sql.as_ref()).bind(&params)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        // D1's batch is one transaction: all statements apply or none.
        let results = self.0.batch(prepared).await.map_err(err)?;
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
