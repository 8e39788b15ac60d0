// The ESM face of edge-tenancy: loads the wasm once per isolate and turns errors thrown from Rust
// into EdgeTenancyError. Behaviour lives in Rust (js/binding); this file only adapts.
import wasmModule from "./dist/edge_tenancy_bg.wasm";
import * as wasm from "./dist/edge_tenancy.js";

// Workers hand a `.wasm` import over as a compiled WebAssembly.Module, so instantiation is sync.
wasm.initSync({ module: wasmModule });

export class EdgeTenancyError extends Error {
  constructor({ status, code, message, www_authenticate }) {
    super(message);
    this.name = "EdgeTenancyError";
    this.status = status;
    this.code = code;
    this.wwwAuthenticate = www_authenticate ?? null;
  }

  toResponse() {
    const headers = { "content-type": "application/json" };
    if (this.wwwAuthenticate) headers["www-authenticate"] = this.wwwAuthenticate;
    return new Response(JSON.stringify({ error: { code: this.code, message: this.message } }), {
      status: this.status,
      headers,
    });
  }
}

// Rust reports errors by throwing the JSON of an ErrorResponse; anything else is a real fault.
function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (thrown) {
    if (typeof thrown === "string") throw new EdgeTenancyError(JSON.parse(thrown));
    throw thrown;
  }
}

export const version = wasm.version();

export function parseTenantId(value) {
  if (typeof value !== "string") {
    throw new EdgeTenancyError({ status: 400, code: "invalid_tenant_id", message: "a tenant id is a string" });
  }
  return call(wasm.parseTenantId, value);
}

export function isTenantId(value) {
  try {
    parseTenantId(value);
    return true;
  } catch (e) {
    if (e instanceof EdgeTenancyError) return false;
    throw e;
  }
}

export function createTenancy(config) {
  const tenancy = new wasm.Tenancy(config);
  const names = tenancy.headerNames().split("\n");
  return {
    resolve(request) {
      let headers = "";
      for (const name of names) {
        const value = request.headers.get(name);
        if (value !== null) headers += `${name}\n${value}\n`;
      }
      const outcome = JSON.parse(tenancy.resolve(request.url, headers, Date.now() / 1000));
      if (outcome.error) {
        const error = new EdgeTenancyError(outcome.error);
        return { ok: false, error, response: error.toResponse() };
      }
      return { ok: true, ...outcome };
    },
  };
}
