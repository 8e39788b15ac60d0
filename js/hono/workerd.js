// `edge-tenancy/hono` for workerd: both loaders first (the pipeline's and the control plane's),
// as in ../workerd.js.
import "../load/module.js";
import "../load/control-module.js";
export * from "../hono.js";
