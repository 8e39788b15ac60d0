// `edge-tenancy/d1` for workerd: the control plane's loader first, as in ../workerd.js.
import "../load/control-module.js";
export { createD1Factory } from "../factory.js";
