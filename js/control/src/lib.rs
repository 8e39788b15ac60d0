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
