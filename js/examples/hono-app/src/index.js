// A JS worker that uses edge-tenancy by its package name, bundled by wrangler.
import { Hono } from "hono";
import { createTenancy, EdgeTenancyError, parseTenantId, version } from "edge-tenancy";

const app = new Hono();

// Built on the first request, from env: keys and domains are deployment settings.
let tenancy;
function tenancyFor(env) {
  tenancy ??= createTenancy({
    resolve: {
      strategies: [
        { type: "subdomain", baseDomains: [env.BASE_DOMAIN] },
        { type: "header" },
        { type: "pathPrefix", prefix: "/api/t/" },
        { type: "jwtClaim" },
      ],
      controlPlaneTenant: "main",
    },
    authenticate: {
      keys: JSON.parse(env.JWKS ?? '{"keys":[]}').keys,
      // Keys from the identity provider's JWKS URL, when one is set, join those above.
      jwksUrl: env.JWKS_URL,
      jwksRefresh: env.JWKS_REFRESH && JSON.parse(env.JWKS_REFRESH),
      secrets: [{ secret: env.HS256_SECRET, alg: "HS256", kid: "hs" }],
      issuer: env.ISSUER,
      audience: env.AUDIENCE,
      tenantClaim: "org_name",
    },
    access: { publicPaths: ["/health"] },
  });
  return tenancy;
}

app.get("/health", (c) => c.json({ status: "ok", version }));

app.get("/tenants/:tenant", (c) => c.json({ tenant: parseTenantId(c.req.param("tenant")) }));

// The tenancy middleware: one call into wasm (plus a WebCrypto check the first time a public-key
// token is seen), then the context is the handler's.
app.use("/api/*", async (c, next) => {
  const result = await tenancyFor(c.env).resolve(c.req.raw);
  if (!result.ok) return result.response;
  c.set("tenancy", result);
  await next();
});

app.get("/api/*", (c) => c.json(c.get("tenancy")));

app.onError((err, c) => {
  if (err instanceof EdgeTenancyError) return err.toResponse();
  console.error(err);
  return c.json({ error: { code: "internal", message: "internal error" } }, 500);
});

export default app;
