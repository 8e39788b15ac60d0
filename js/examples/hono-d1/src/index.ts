// Hono + edge-tenancy + drizzle: one D1 database per tenant, made through the Cloudflare API,
// its adapters at c.env.data in every tenant route.
import { Hono } from "hono";
import { drizzle } from "drizzle-orm/d1";
import { eq } from "drizzle-orm";
import { env } from "cloudflare:workers";
import { createD1Factory, setupMultiTenancy, type MultiTenancyEnv } from "edge-tenancy/hono";
import { MIGRATION, notes } from "./schema";

type Bindings = { CONTROL_PLANE: D1Database; CLOUDFLARE_API?: Fetcher; CF_ACCOUNT_ID: string; CF_API_TOKEN: string; HS256_SECRET: string };
const bindings = env as unknown as Bindings;

const createAdapters = (db: D1Database) => ({ db: drizzle(db) });
type Adapters = ReturnType<typeof createAdapters>;

const factory = createD1Factory({
  registry: bindings.CONTROL_PLANE,
  env: bindings,
  accountId: bindings.CF_ACCOUNT_ID,
  apiToken: bindings.CF_API_TOKEN,
  api: bindings.CLOUDFLARE_API, // the local API under `wrangler dev`; unset when deployed
  databasePrefix: "tenant_",
  bindTo: "edge-tenancy-example-hono-d1",
  createAdapters,
  // A new tenant's schema, before it is ready.
  afterProvision: async ({ database }) => {
    await database.batch(MIGRATION.map((sql) => database.prepare(sql)));
  },
});

const multiTenancy = setupMultiTenancy({
  accessControl: { mainTenantId: "main" },
  databaseIsolation: {
    getAdapters: factory.getAdapters,
    onProvision: factory.provision,
    onDeprovision: factory.deprovision,
  },
  resolve: { strategies: [{ type: "pathPrefix", prefix: "/t/" }] },
  authenticate: {
    secrets: [{ secret: bindings.HS256_SECRET, alg: "HS256" }],
    tenantClaim: "tenant",
  },
  access: { publicPaths: ["/health"] },
});

const app = new Hono<MultiTenancyEnv<Adapters>>();

app.get("/health", (c) => c.json({ status: "ok" }));
// POST/GET /tenants, GET/DELETE /tenants/:id, for control-plane administrators.
app.route("/", multiTenancy.app);

app.use("/t/*", multiTenancy.middleware);

// No database work here: the adapters are made once per tenant database and kept.
app.get("/t/:tenant/whoami", (c) => c.json({ tenant: c.var.tenantId, user: c.var.principal?.subject ?? null }));

app.get("/t/:tenant/notes", async (c) => {
  const rows = await c.env.data.db.select().from(notes).where(eq(notes.author, c.var.principal?.subject ?? "")).all();
  return c.json({ tenant: c.var.tenantId, notes: rows });
});

app.post("/t/:tenant/notes", async (c) => {
  const body = await c.req.json<{ body?: unknown }>().catch(() => ({ body: undefined }));
  if (typeof body.body !== "string") return c.json({ error: { code: "invalid_body", message: 'expected {"body": "<text>"}' } }, 400);
  const [note] = await c.env.data.db.insert(notes).values({ author: c.var.principal?.subject ?? "", body: body.body }).returning();
  return c.json(note, 201);
});

app.get("/t/:tenant/notes/:id", async (c) => {
  const id = Number(c.req.param("id"));
  if (!Number.isSafeInteger(id)) return c.json({ error: { code: "invalid_body", message: "a note id is an integer" } }, 400);
  const note = await c.env.data.db.select().from(notes).where(eq(notes.id, id)).get();
  return note ? c.json(note) : c.json({ error: { code: "not_found", message: "no such note" } }, 404);
});

export default app;
