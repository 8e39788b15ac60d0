// Type tests, checked by `tsc --noEmit` in the test command: what must and must not compile.
import { createTenancy, EdgeTenancyError, isTenantId, parseTenantId, version, type Jwk, type TenancyVariables, type TenantContext, type TenantId } from "edge-tenancy";
import { Hono } from "hono";
import type { JWK } from "jose";

const id: TenantId = parseTenantId("acme");
const asString: string = id;
const v: string = version;

// @ts-expect-error a plain string is not a TenantId until it is parsed
const unchecked: TenantId = "acme";

const input: unknown = "beta";
if (isTenantId(input)) {
  const narrowed: TenantId = input;
  void narrowed;
}

function handle(e: unknown): Response | undefined {
  if (e instanceof EdgeTenancyError) {
    const status: number = e.status;
    const code: string = e.code;
    void status, code;
    return e.toResponse();
  }
  return undefined;
}

// @ts-expect-error parseTenantId takes a string
parseTenantId(42);

const tenancy = createTenancy({
  resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }], controlPlaneTenant: "main" },
  authenticate: { secrets: [{ secret: "s".repeat(32), alg: "HS256" }], issuer: "https://issuer/" },
  access: { publicPaths: ["/health"] },
});

async function route(request: Request): Promise<Response> {
  const result = await tenancy.resolve(request);
  if (!result.ok) return result.response;
  // Narrowed by `ok`: the context's fields are typed.
  const tenant: TenantId = result.tenant;
  const access: "public" | "member" | "admin" = result.access;
  const attach: readonly string[] = result.principal?.attach ?? [];
  // @ts-expect-error the context is frozen: a repeated request may get the same object
  result.principal?.scopes.push("admin");
  return new Response(JSON.stringify({ tenant, access, attach }));
}

// @ts-expect-error an unknown strategy type is refused
createTenancy({ resolve: { strategies: [{ type: "cookie" }] } });
// @ts-expect-error HS algorithms only for secrets
createTenancy({ resolve: { strategies: [] }, authenticate: { secrets: [{ secret: "x", alg: "RS256" }] } });

// Lookups and a clock: the options the pipeline's I/O goes through.
const withLookups = createTenancy(
  {
    resolve: { strategies: [{ type: "customDomain", lookup: true }], lookUpTenants: true },
    authenticate: { jwksUrl: "https://auth.example.com/jwks" },
  },
  {
    clock: () => 1_800_000_000_000,
    lookUpDomain: async (host: string) => (host === "shop.acme.com" ? "acme" : null),
    lookUpTenant: (tenant: TenantId) => (tenant === "acme" ? { state: "ready" } : { state: "unavailable", retryAfterSecs: 5 }),
  },
);
// @ts-expect-error a tenant status names its state
createTenancy({ resolve: { strategies: [] } }, { lookUpTenant: () => ({ state: "gone" }) });
// @ts-expect-error options are the pipeline's I/O, not settings
createTenancy({ resolve: { strategies: [] } }, { issuer: "x" });
function retry(e: EdgeTenancyError): number | null {
  return e.retryAfter;
}


// Keys as jose's exportJWK and WebCrypto's exportKey("jwk") give them, and as written by hand.
declare const fromJose: JWK;
declare const fromWebCrypto: JsonWebKey;
const written: Jwk = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "k1" };
createTenancy({ resolve: { strategies: [{ type: "jwtClaim" }] }, authenticate: { keys: [fromJose, fromWebCrypto, written] } });
// @ts-expect-error kty is a string
const wrongKty: Jwk = { kty: 1 };

// The reserved labels add to the defaults unless replaced.
createTenancy({ resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"], reserved: ["docs"], replaceReserved: true }] } });

// A Hono app typed with the variables the middleware sets.
const app = new Hono<{ Variables: TenancyVariables }>();
app.use("/api/*", async (c, next) => {
  const result = await tenancy.resolve(c.req.raw);
  if (!result.ok) return result.response;
  c.set("tenancy", result);
  // @ts-expect-error only a tenant context goes there
  c.set("tenancy", { ok: false });
  await next();
});
app.get("/api/me", (c) => {
  const context: TenantContext = c.get("tenancy");
  const tenant: TenantId = context.tenant;
  return c.json({ tenant, access: context.access, scopes: context.principal?.scopes ?? [] });
});


void asString, v, unchecked, handle, route, withLookups, retry, wrongKty;
