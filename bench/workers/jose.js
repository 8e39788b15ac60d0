// The same job in plain JS with jose (WebCrypto), written the way a careful JS developer would:
// subdomain with a dot boundary, bearer token, signature, issuer and expiry, and the token's
// tenant must match the host's. With CACHE_TOKENS > 0, verified payloads are kept in a Map
// (bounded, oldest out, each until its exp): the baseline edge-tenancy has to beat.
import { Hono } from "hono";
import { importJWK, jwtVerify } from "jose";

const TENANT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const verified = new Map(); // token → payload
let key;
const app = new Hono();
app.use("*", async (c, next) => {
  const host = new URL(c.req.url).hostname;
  const label = host.endsWith(".example.com") ? host.slice(0, -".example.com".length) : null;
  if (label === null || label.includes(".") || !TENANT.test(label)) return c.json({ error: "no tenant" }, 400);
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(c.req.header("authorization") ?? "");
  if (!match) return c.json({ error: "unauthenticated" }, 401);
  const token = match[1];
  let payload = verified.get(token);
  if (payload !== undefined && payload.exp * 1000 <= Date.now()) {
    verified.delete(token);
    payload = undefined;
  }
  if (payload === undefined) {
    key ??=
      c.env.ALG === "HS256"
        ? new TextEncoder().encode(c.env.HS256_SECRET)
        : await importJWK(JSON.parse(c.env.JWKS).keys.find((k) => k.alg === c.env.ALG), c.env.ALG);
    try {
      ({ payload } = await jwtVerify(token, key, { issuer: "bench", algorithms: [c.env.ALG] }));
    } catch {
      return c.json({ error: "unauthenticated" }, 401);
    }
    const capacity = Number(c.env.CACHE_TOKENS);
    if (capacity > 0) {
      if (verified.size >= capacity) verified.delete(verified.keys().next().value);
      verified.set(token, payload);
    }
  }
  if (payload.tenant !== label) return c.json({ error: "forbidden" }, 403);
  c.set("tenant", label);
  await next();
});
app.get("*", (c) => c.json({ tenant: c.get("tenant") }));
export default app;
