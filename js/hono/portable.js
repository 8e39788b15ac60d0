// `edge-tenancy/hono` for every other runtime: both loaders first, as in ../portable.js.
import "../load/bytes.js";
import "../load/control-bytes.js";
export * from "../hono.js";
