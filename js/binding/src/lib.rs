//! The wasm-bindgen exports behind the `edge-tenancy` npm package.
//!
//! One crossing per call, strings in and strings out: that is the cheapest shape across the wasm
//! boundary (see the project's performance notes). Errors cross as the JSON of
//! [`edge_tenancy::ErrorResponse`], which `js/index.js` turns into an `EdgeTenancyError`.

use edge_tenancy::{Error, TenantId};
use wasm_bindgen::prelude::*;

/// The library's version.
#[wasm_bindgen]
pub fn version() -> String {
    edge_tenancy::VERSION.to_owned()
}

/// Returns `input` when it is a valid tenant id; throws the error JSON otherwise.
#[wasm_bindgen(js_name = parseTenantId)]
pub fn parse_tenant_id(input: &str) -> Result<String, String> {
    TenantId::parse(input)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| error_json(&Error::from(e)))
}

fn error_json(error: &Error) -> String {
    serde_json::to_string(&error.to_response()).expect("an error response serializes")
}
