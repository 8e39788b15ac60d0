// (b) The same job by hand, the way @authhero/multi-tenancy's docs suggest ("Caching",
// "Connection Pooling"): jose's jwtVerify with a Map of verified tokens (bounded, oldest out, each
// kept until its exp), a Map of adapters per tenant (kept an hour), filled on a miss by one
// registry read (the control plane's D1 table) and the tenant's D1 binding. The checks are ours:
// a valid tenant id in the path prefix, a valid token (signature, issuer, expiry) whose tenant
// claim is that tenant (403 otherwise), and a registered, ready tenant (404 / 503 otherwise).
import { Hono } from "hono";
import { jwtVerify } from "jose";
import { noteRoute } from "./routes.js";

const TENANT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKENS = 256;
const ADAPTERS_TTL_MS = 60 * 60 * 1000;
const verified = new Map(); // token → payload
const adapters = new Map(); // tenant → { adapters, until }
let secret;

async function verify(token, env) {
  let payload = verified.get(token);
  if (payload !== undefined && payload.exp * 1000 <= Date.now()) {
    verified.delete(token);
    payload = undefined;
  }
  if (payload !== undefined) return payload;
  secret ??= new TextEncoder().encode(env.HS256_SECRET);
  ({ payload } = await jwtVerify(token, secret, { issuer: env.ISSUER, algorithms: ["HS256"] }));
  if (verified.size >= TOKENS) verified.delete(verified.keys().next().value);
  verified.set(token, payload);
  return payload;
}

async function getAdapters(tenant, env) {
  const kept = adapters.get(tenant);
  if (kept !== undefined && kept.until > Date.now()) return kept.adapters;
  const row = await env.CONTROL_PLANE.prepare("SELECT state, binding FROM edge_tenancy_tenants WHERE id = ?").bind(tenant).first();
  if (row === null) return { status: 404 };
  if (row.state !== "ready" || !env[row.binding]) return { status: 503 };
  const made = { db: env[row.binding] };
  adapters.set(tenant, { adapters: made, until: Date.now() + ADAPTERS_TTL_MS });
  return made;
}

const app = new Hono();
app.use("/t/:tenant/*", async (c, next) => {
  const tenant = c.req.param("tenant");
  if (!TENANT.test(tenant)) return c.json({ error: "invalid tenant id" }, 400);
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(c.req.header("authorization") ?? "");
  if (!match) return c.json({ error: "unauthenticated" }, 401);
  let payload;
  try {
    payload = await verify(match[1], c.env);
  } catch {
    return c.json({ error: "unauthenticated" }, 401);
  }
  if (payload.tenant !== tenant) return c.json({ error: "forbidden" }, 403);
  const data = await getAdapters(tenant, c.env);
  if (data.status === 404) return c.json({ error: "tenant not found" }, 404);
  if (data.status === 503) return c.json({ error: "tenant unavailable" }, 503);
  c.set("tenantId", tenant);
  c.set("user", payload.sub);
  c.set("data", data);
  await next();
});
app.get("/t/:tenant/items/:n", (c) => c.json({ tenant: c.var.tenantId, user: c.var.user, item: Number(c.req.param("n")) }));
app.get("/t/:tenant/notes/:id", noteRoute((c) => c.var.data.db));
export default app;
