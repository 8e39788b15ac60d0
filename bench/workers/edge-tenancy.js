// edge-tenancy: subdomain + token claim resolution and JWT verification. CACHE_TOKENS is the
// token cache's size (0: every token is verified afresh, and nothing is replayed in JS).
import { Hono } from "hono";
import { createTenancy } from "edge-tenancy";

let tenancy;
const app = new Hono();
app.use("*", async (c, next) => {
  tenancy ??= createTenancy({
    resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }] },
    authenticate: {
      keys: JSON.parse(c.env.JWKS).keys,
      secrets: [{ secret: c.env.HS256_SECRET, alg: "HS256", kid: "hs" }],
      issuer: "bench",
      cacheTokens: Number(c.env.CACHE_TOKENS),
    },
  });
  const result = await tenancy.resolve(c.req.raw);
  if (!result.ok) return result.response;
  c.set("tenant", result.tenant);
  await next();
});
app.get("*", (c) => c.json({ tenant: c.get("tenant") }));
export default app;
