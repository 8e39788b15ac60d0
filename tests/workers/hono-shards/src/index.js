// setupMultiTenancy over createD1Factory binding tenants' databases to the shards SHARDS names
// (a JSON list of scripts, MAX_BINDINGS each). The same code runs as the front Worker (with a
// SHARD_<SCRIPT> service binding to each shard, and the control-plane routes) and as each shard;
// every answer says which Worker served it (SCRIPT).
import { Hono } from "hono";
import { createD1Factory, setupMultiTenancy } from "edge-tenancy/hono";

const authenticate = { secrets: [{ secret: "shards-spec-secret-0123456789abcdef0123456789", alg: "HS256" }], tenantClaim: "tenant" };

let app;
function setup(env) {
  const factory = createD1Factory({
    registry: env.CONTROL_PLANE,
    env,
    accountId: env.ACCOUNT_ID,
    apiToken: env.API_TOKEN,
    api: env.CLOUDFLARE_API,
    bindTo: JSON.parse(env.SHARDS),
    maxBindings: Number(env.MAX_BINDINGS),
    createAdapters: (db) => ({ db }),
    afterProvision: async ({ database }) => {
      await database.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    },
  });
  const tenancy = setupMultiTenancy({
    accessControl: { mainTenantId: "main" },
    databaseIsolation: { getAdapters: factory.getAdapters, onProvision: factory.provision, onDeprovision: factory.deprovision },
    resolve: { strategies: [{ type: "pathPrefix", prefix: "/t/" }] },
    authenticate,
  });
  app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    // The first Worker to answer names itself: a shard's answer passes the front unchanged.
    if (!c.res.headers.has("x-served-by")) {
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set("x-served-by", env.SCRIPT);
    }
  });
  app.route("/", tenancy.app);
  app.use("/t/*", tenancy.middleware);
  app.post("/t/:tenant/notes", async (c) => {
    const { body } = await c.req.json();
    return c.json(await c.env.data.db.prepare("INSERT INTO notes (body) VALUES (?) RETURNING id, body").bind(body).first(), 201);
  });
  app.get("/t/:tenant/notes", async (c) => {
    const { results } = await c.env.data.db.prepare("SELECT id, body FROM notes ORDER BY id").all();
    return c.json({ notes: results });
  });
}

export default {
  fetch(request, env, ctx) {
    if (!app) setup(env);
    return app.fetch(request, env, ctx);
  },
};
