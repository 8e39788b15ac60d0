//! The wasm-bindgen exports behind the npm package's database factories (`edge-tenancy/d1`,
//! `edge-tenancy/hono`): the crate's tenant registry and [`Provisioner`] run here, with the
//! runtime's I/O done by JS through the `ControlEdges` of the `edges` module.
//!
//! [`Provisioner`]: edge_tenancy::control::Provisioner

mod control;
mod edges;

pub use control::Control;

/// An error as the JSON of its response, which `js/errors.js` turns into an `EdgeTenancyError`.
fn error_json(error: &edge_tenancy::Error) -> String {
    serde_json::to_string(&error.to_response())
        .unwrap_or_else(|_| r#"{"status":500,"code":"internal","message":"internal error"}"#.into())
}

/// Whether `sql` may run on a handle locked as `lock` (`open`; `schema`: no schema change;
/// `migrating`: reads only, the group is migrating; `held`: the same for a caller who may change
/// the schema, whose schema changes wait too). Throws the error's JSON (403 `blocked`,
/// 503 `schema_migrating`); a lock it does not know refuses everything.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = checkSql)]
pub fn check_sql(sql: &str, lock: &str) -> Result<(), wasm_bindgen::JsValue> {
    use edge_tenancy::schema::{Lock, MIGRATING_RETRY_SECS};
    let lock = match lock {
        "open" => Ok(Lock::Open),
        "schema" => Ok(Lock::Schema),
        "migrating" => Ok(Lock::Migrating {
            retry_after_secs: MIGRATING_RETRY_SECS,
        }),
        "held" => Ok(Lock::Held {
            retry_after_secs: MIGRATING_RETRY_SECS,
        }),
        _ => Err(edge_tenancy::Error::NotConfigured("an unknown schema lock")),
    };
    lock.and_then(|lock| lock.check(sql))
        .map_err(|e| wasm_bindgen::JsValue::from_str(&error_json(&e)))
}
