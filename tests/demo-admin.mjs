// For the specs that drive the Rust Cloudflare API client: the demo worker (whose /admin routes
// call the client) bound to the local API, and control-plane administrator tokens for it.
import { join, dirname } from "node:path";
import { readFileSync } from "node:fs";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE } from "./helpers.mjs";

const TENANCY_CONFIG = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/TENANCY_CONFIG = '''([\s\S]*?)'''/)[1];
const SECRET = new TextEncoder().encode(JSON.parse(TENANCY_CONFIG).authenticate.secrets[0].secret);
const DEMO = join(ROOT, "demo/build/index.js");

/** A token the demo accepts, with these claims. */
export const sign = (claims) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("edge-tenancy-demo").setExpirationTime("10m").sign(SECRET);

/** A control-plane administrator's token: what every /admin route needs. */
export const adminToken = () => sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });

/** The demo's Miniflare worker options, its CLOUDFLARE_API service bound to the local API worker. */
export function demoWorker(clientOptions = {}, extraBindings = {}) {
  return {
    name: "edge-tenancy-demo",
    modules: true,
    scriptPath: DEMO,
    modulesRoot: dirname(DEMO),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: { CONTROL_PLANE: "control-plane" },
    bindings: { TENANCY_CONFIG, CLOUDFLARE_API_CLIENT: JSON.stringify(clientOptions), ...extraBindings },
    serviceBindings: { CLOUDFLARE_API: "edge-tenancy-local-api" },
  };
}
