// `edge-tenancy/d1` for every other runtime: the loader first, as in ../portable.js.
import "../load/control-bytes.js";
export { createD1Factory } from "../factory.js";
