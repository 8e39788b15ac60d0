// The package's entry for workerd and other `worker` runtimes. The loader comes first: modules
// run in import order, and index.js calls into wasm as it runs. Both files are listed in
// package.json's `sideEffects`, or bundlers would skip the loader.
import "./load/module.js";
export * from "./index.js";
