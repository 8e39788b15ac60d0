// The control plane's wasm for Node and other bundlers, as in bytes.js.
import base64 from "../dist/edge_tenancy_control_bg.base64.js";
import { initSync } from "../dist/edge_tenancy_control.js";
import { decode } from "./decode.js";

initSync({ module: decode(base64) });
