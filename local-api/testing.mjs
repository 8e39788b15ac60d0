// For specs: the local API as a Miniflare worker, and a client for its control endpoints.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CONFIG = readFileSync(join(HERE, "wrangler.toml"), "utf8");
const VARS = Object.fromEntries(
  [...CONFIG.matchAll(/^(LOCAL_[A-Z_]+) = "([^"]*)"$/gm)].map(([, name, value]) => [name, value]),
);

/** The local API as a real account has it: the repository's Workers only, others 404 10007. */
export const ON_A_REAL_ACCOUNT = { bindings: { ...VARS, LOCAL_SCRIPTS: "edge-tenancy-demo,edge-tenancy-example-hono-d1" } };

/** The local API's Miniflare worker options, as in local-api/wrangler.toml. */
export function localApiWorker(overrides = {}) {
  return {
    name: "edge-tenancy-local-api",
    modules: true,
    scriptPath: join(HERE, "src/index.js"),
    modulesRoot: HERE,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    compatibilityDate: CONFIG.match(/^compatibility_date = "(.+)"$/m)[1],
    durableObjects: {
      ACCOUNT: { className: "LocalAccount", useSQLite: true },
      DATABASE: { className: "LocalDatabase", useSQLite: true },
    },
    bindings: { ...VARS },
    ...overrides,
  };
}

/**
 * The worker behind local D1 bindings (local-api/src/d1-binding.js): add it to the Miniflare
 * `workers` beside {@link localApiWorker}, then bind a database with {@link localD1Binding}.
 */
export function localD1Worker() {
  return {
    // One module and no compatibility date of its own: a wrapped binding runs as part of the
    // worker that has the binding.
    name: "edge-tenancy-local-d1",
    modules: true,
    scriptPath: join(HERE, "src/d1-binding.js"),
    durableObjects: { DATABASE: { className: "LocalDatabase", scriptName: "edge-tenancy-local-api" } },
  };
}

/** A `wrappedBindings` entry that binds the local API's database `id` as D1 (what a deploy of the
 * Worker's recorded bindings would do). */
export function localD1Binding(id) {
  return { scriptName: "edge-tenancy-local-d1", bindings: { id } };
}

/** The control endpoints over `fetchLike(url, init)` (a Fetcher's fetch, or global fetch with a base). */
export function control(fetchLike) {
  const call = async (method, path, body) => {
    const res = await fetchLike(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const value = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(value)}`);
    return value;
  };
  return {
    faults: (rules) => call("POST", "/__local/faults", { rules }),
    clearFaults: () => call("DELETE", "/__local/faults"),
    limits: (limits) => call("POST", "/__local/limits", limits),
    calls: () => call("GET", "/__local/calls"),
    resetCalls: () => call("DELETE", "/__local/calls"),
    reset: () => call("POST", "/__local/reset"),
    seed: (prefix, count) => call("POST", "/__local/seed", { prefix, count }),
  };
}
