/work/main/target-base/wasm32-unknown-unknown/npm/deps/edge_tenancy_control_js.d: js/control/src/lib.rs js/control/src/control.rs js/control/src/edges.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/edge_tenancy_control_js.wasm: js/control/src/lib.rs js/control/src/control.rs js/control/src/edges.rs

js/control/src/lib.rs:
js/control/src/control.rs:
js/control/src/edges.rs:
