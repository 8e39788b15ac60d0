// setupMultiTenancy over createD1Factory with a schema group, as two deployments of one Worker
// would have it: `MIGRATIONS` says how many of the group's migrations this one has (a newer
// deployment adds one). Tenants' routes read and write notes, and try to change the schema.
import { Hono } from "hono";
import { createD1Factory, setupMultiTenancy } from "edge-tenancy/hono";

const SECRET = "hono-schema-secret-0123456789abcdef0123456789";

// A wrangler `migrations/` folder's files, in the order of their numbers.
const MIGRATIONS = {
  "0001_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
  "0002_done.sql": "ALTER TABLE notes ADD COLUMN done INTEGER NOT NULL DEFAULT 0;",
  "0003_unique.sql": "CREATE UNIQUE INDEX notes_body ON notes (body);",
};

let app;
let factory;
function setup(env) {
  const count = Number(env.MIGRATIONS);
  factory = createD1Factory({
    registry: env.CONTROL_PLANE,
    env,
    accountId: env.ACCOUNT_ID,
    apiToken: env.API_TOKEN,
    api: env.CLOUDFLARE_API,
    bindTo: "edge-tenancy-hono-schema-spec",
    schema: { group: "app", migrations: Object.fromEntries(Object.entries(MIGRATIONS).slice(0, count)) },
    createAdapters: (db) => ({ db }),
  });
  const tenancy = setupMultiTenancy({
    accessControl: { mainTenantId: "main" },
    databaseIsolation: { getAdapters: factory.getAdapters },
    resolve: { strategies: [{ type: "pathPrefix", prefix: "/t/" }] },
    authenticate: { secrets: [{ secret: SECRET, alg: "HS256" }], tenantClaim: "tenant" },
  });
  app = new Hono();
  app.route("/", tenancy.app);
  app.use("/t/*", tenancy.middleware);
  app.get("/t/:tenant/notes", async (c) => {
    const { results } = await c.env.data.db.prepare("SELECT * FROM notes ORDER BY id").all();
    return c.json({ notes: results, schema: c.var.schema });
  });
  app.post("/t/:tenant/notes", async (c) => {
    const { body } = await c.req.json();
    const row = await c.env.data.db.prepare("INSERT INTO notes (body) VALUES (?) RETURNING id").bind(body).first();
    return c.json(row, 201);
  });
  // What the route's SQL may not do on a schema group's database: change its schema, by any path.
  // `?via=var`: the request's own handle (c.var.database), unlocked for a token with `ddl`.
  app.post("/t/:tenant/ddl/:how", async (c) => {
    const db = c.req.query("via") === "var" ? c.var.database : c.env.data.db;
    const sql = await c.req.text();
    const how = c.req.param("how");
    if (how === "exec") await db.exec(sql);
    else if (how === "batch") await db.batch([db.prepare("SELECT 1"), db.prepare(sql)]);
    else if (how === "session") await db.withSession("first-primary").prepare(sql).run();
    else await db.prepare(sql).run();
    return c.json({ ran: sql });
  });
  // The factory's jobs, as a Cron Trigger's scheduled handler drives them.
  app.post("/cron", async (c) => c.json(await factory.jobs.driveAll({ calls: 200, secs: 20 })));
}

export default {
  fetch(request, env, ctx) {
    if (!app) setup(env);
    return app.fetch(request, env, ctx);
  },
};
