// Node and other bundlers: the wasm travels as base64 inside a JS module, so it needs no loader,
// plugin or file path, and is compiled here.
import base64 from "../dist/edge_tenancy_bg.base64.js";
import { initSync } from "../dist/edge_tenancy.js";
import { decode } from "./decode.js";

initSync({ module: decode(base64) });
