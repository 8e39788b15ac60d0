// The control plane's wasm on workerd, as in module.js.
import wasmModule from "../dist/edge_tenancy_control_bg.wasm";
import { initSync } from "../dist/edge_tenancy_control.js";

initSync({ module: wasmModule });
