// The package's entry for Node and every other runtime or bundler; see workerd.js for the order.
import "./load/bytes.js";
export * from "./index.js";
