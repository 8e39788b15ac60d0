// A user's Hono worker, written against the packed edge-tenancy as the package README shows it.
import { Hono } from "hono";
import { createTenancy, EdgeTenancyError, version, type Tenancy, type TenancyVariables } from "edge-tenancy";
import type { JWK } from "jose";

export type Bindings = {
  BASE_DOMAIN: string;
  /** A JWKS document, as an identity provider publishes it. */
  JWKS: string;
  TOKEN_SECRET: string;
};

let tenancy: Tenancy | undefined;
function tenancyFor(env: Bindings): Tenancy {
  const keys: JWK[] = JSON.parse(env.JWKS).keys;
  tenancy ??= createTenancy({
    resolve: {
      strategies: [{ type: "subdomain", baseDomains: [env.BASE_DOMAIN], reserved: ["docs"] }, { type: "jwtClaim" }],
    },
    authenticate: {
      keys,
      secrets: [{ secret: env.TOKEN_SECRET, alg: "HS256", kid: "hs" }],
      issuer: "https://issuer.example/",
    },
    access: { publicPaths: ["/health"] },
  });
  return tenancy;
}

const app = new Hono<{ Bindings: Bindings; Variables: TenancyVariables }>();

app.get("/health", (c) => c.json({ status: "ok", version }));

app.use("/api/*", async (c, next) => {
  const result = await tenancyFor(c.env).resolve(c.req.raw);
  if (!result.ok) return result.response;
  c.set("tenancy", result);
  await next();
});

app.get("/api/whoami", (c) => {
  const { tenant, source, access, principal } = c.get("tenancy");
  return c.json({ tenant, source, access, scopes: principal?.scopes ?? [] });
});

app.onError((error, c) => {
  if (error instanceof EdgeTenancyError) return error.toResponse();
  return c.json({ error: { code: "internal", message: String(error) } }, 500);
});

export default app;
