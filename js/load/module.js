// workerd (wrangler, miniflare, @cloudflare/vite-plugin) hands a `.wasm` import over as a compiled
// WebAssembly.Module, which it must: Workers refuse to compile wasm from bytes at run time.
import wasmModule from "../dist/edge_tenancy_bg.wasm";
import { initSync } from "../dist/edge_tenancy.js";

initSync({ module: wasmModule });
