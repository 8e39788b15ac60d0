// Type tests, checked by `tsc --noEmit` in the test command: what must and must not compile.
import { createTenancy, EdgeTenancyError, isTenantId, parseTenantId, version, type TenantId } from "edge-tenancy";

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

void asString, v, unchecked, handle, route;
