// (c) edge-tenancy's Hono middleware (edge-tenancy/hono): path-prefix tenants, HS256 tokens whose
// tenant claim must match, every tenant found in the control-plane registry by the D1 factory
// (404 when unknown) and its database (its binding here; the REST API through the local
// Cloudflare API otherwise) as c.env.data.
import { Hono } from "hono";
import { setupMultiTenancy, createD1Factory } from "edge-tenancy/hono";
import { noteRoute } from "./routes.js";

let multiTenancy;
const setup = (env) => {
  const factory = createD1Factory({
    registry: env.CONTROL_PLANE,
    env,
    databasePrefix: "tenant_",
    accountId: env.LOCAL_ACCOUNT_ID,
    apiToken: env.LOCAL_API_TOKEN,
    api: env.CLOUDFLARE_API,
    createAdapters: (db) => ({ db }),
  });
  return setupMultiTenancy({
    accessControl: { mainTenantId: "main" },
    databaseIsolation: { getAdapters: factory.getAdapters, onProvision: factory.provision, onDeprovision: factory.deprovision },
    resolve: { strategies: [{ type: "pathPrefix" }] },
    authenticate: { secrets: [{ secret: env.HS256_SECRET, alg: "HS256" }], issuer: env.ISSUER },
  });
};

const app = new Hono();
app.use("/t/*", (c, next) => {
  multiTenancy ??= setup(c.env);
  return multiTenancy.middleware(c, next);
});
app.get("/t/:tenant/items/:n", (c) => c.json({ tenant: c.var.tenantId, user: c.var.principal.subject, item: Number(c.req.param("n")) }));
app.get("/t/:tenant/notes/:id", noteRoute((c) => c.env.data.db));
export default app;
