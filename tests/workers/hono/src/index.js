// setupMultiTenancy twice: over createD1Factory (/t/<tenant>/…, control routes at /d1/…) and over
// a factory written in JS under a registry (/js/t/<tenant>/…, control routes at /js/…). Probes
// report what the middleware gave the handler; counters report what it cost.
import { Hono } from "hono";
import { createD1Factory, setupMultiTenancy } from "edge-tenancy/hono";

const SECRET = "hono-spec-secret-0123456789abcdef0123456789";
const authenticate = { secrets: [{ secret: SECRET, alg: "HS256" }], tenantClaim: "tenant" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every registry statement, counted; `failRowRemovals` of the statements that delete a tenant's
// row fail, as a registry that is unreachable at that moment would.
const counts = { registryBatches: 0, createAdapters: 0, made: [], unmade: [], lateFailFixed: false, failRowRemovals: 0 };
const sqlOf = new WeakMap();
function counted(db) {
  return {
    prepare: (sql) => {
      const statement = db.prepare(sql);
      return { bind: (...values) => { const bound = statement.bind(...values); sqlOf.set(bound, sql); return bound; } };
    },
    batch: (statements) => {
      counts.registryBatches++;
      if (counts.failRowRemovals > 0 && statements.some((s) => sqlOf.get(s)?.startsWith("DELETE FROM edge_tenancy_tenants"))) {
        counts.failRowRemovals--;
        return Promise.reject(new Error("D1_ERROR: the registry is unreachable"));
      }
      return db.batch(statements);
    },
  };
}

let d1;
let js;
function setup(env) {
  const factory = createD1Factory({
    registry: counted(env.CONTROL_PLANE),
    env,
    accountId: env.ACCOUNT_ID,
    apiToken: env.API_TOKEN,
    api: env.CLOUDFLARE_API,
    bindTo: "edge-tenancy-hono-spec",
    client: { timeoutMs: 1500, retry: { baseDelayMs: 20, maxDelayMs: 200 } },
    createAdapters: (db, tenantId) => (counts.createAdapters++, { db, tenantId }),
    afterProvision: async ({ tenantId, database }) => {
      if (tenantId.startsWith("hookfail")) throw new Error("migration failed: secret-detail-42");
      await database.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    },
  });
  d1 = setupMultiTenancy({
    accessControl: { mainTenantId: "main" },
    databaseIsolation: {
      getAdapters: factory.getAdapters,
      // The anchor's pattern: the factory's provisioning, then the user's own step, which may
      // throw once the tenant is ready.
      onProvision: async (tenantId) => {
        const provisioned = await factory.provision(tenantId);
        if (tenantId.startsWith("latefail") && !counts.lateFailFixed) throw new Error("migration 9 failed: secret-detail-44\n    at migrate (src/migrations.js:9)");
        return provisioned;
      },
      onDeprovision: factory.deprovision,
    },
    resolve: { strategies: [{ type: "pathPrefix", prefix: "/t/" }] },
    authenticate,
    access: { publicPaths: ["/health"] },
  });

  // A factory written in JS: adapters from a Map, provisioning recorded; its failures are its own.
  const store = new Map();
  js = setupMultiTenancy({
    accessControl: { mainTenantId: "main" },
    databaseIsolation: {
      registry: env.JS_REGISTRY,
      getAdapters: async (tenantId) => {
        if (tenantId === "broken") throw new Error("connection string postgres://admin:hunter2@db");
        return { tenantId, rows: store.get(tenantId) };
      },
      onProvision: async (tenantId) => {
        if (tenantId === "refused") throw new Error("quota: secret-detail-43");
        counts.made.push(tenantId);
        store.set(tenantId, []);
      },
      onDeprovision: async (tenantId) => {
        counts.unmade.push(tenantId);
        store.delete(tenantId);
      },
    },
    resolve: { strategies: [{ type: "pathPrefix", prefix: "/js/t/" }] },
    authenticate,
  });
}

export default {
  fetch(request, env, ctx) {
    if (!d1) setup(env);
    return router().fetch(request, env, ctx);
  },
};

let built;
function router() {
  if (built) return built;
  built = new Hono();
  built.get("/counts", (c) => c.json(counts));
  built.post("/late-fail-fixed", (c) => ((counts.lateFailFixed = true), c.json(counts)));
  built.post("/fail-row-removal", (c) => ((counts.failRowRemovals = 1), c.json(counts)));
  built.route("/d1", d1.app);
  built.route("/js", js.app);
  built.use("/t/*", d1.middleware);
  built.use("/js/t/*", js.middleware);

  // What the handler got: its tenant, principal and adapters, and whether the env the runtime
  // handed in was written to. `ms` holds the request open, to overlap two tenants' requests.
  const probe = async (c) => {
    const ms = Number(c.req.query("ms") ?? 0);
    if (ms) await sleep(ms);
    const handedIn = Object.getPrototypeOf(c.env);
    return c.json({
      tenant: c.var.tenantId,
      subject: c.var.principal?.subject ?? null,
      adapters: c.env.data?.tenantId ?? null,
      rows: c.env.data?.rows ?? null,
      envWritten: Object.hasOwn(handedIn, "data"),
      hasDatabase: c.var.database !== undefined,
      administrator: c.var.tenancy.administrator,
    });
  };
  built.get("/t/:tenant/probe", probe);
  built.get("/js/t/:tenant/probe", probe);

  built.post("/t/:tenant/notes", async (c) => {
    const { body } = await c.req.json();
    const row = await c.var.database.prepare("INSERT INTO notes (body) VALUES (?) RETURNING id, body").bind(body).first();
    return c.json(row, 201);
  });
  built.get("/t/:tenant/notes", async (c) => {
    const { results } = await c.env.data.db.prepare("SELECT id, body FROM notes ORDER BY id").all();
    return c.json({ notes: results });
  });
  built.get("/t/:tenant/bad-sql", async (c) => {
    try {
      await c.env.data.db.prepare("SELECT * FROM no_such_table").all();
      return c.json({ ok: true });
    } catch (error) {
      return c.json({ message: String(error.message) }, 500);
    }
  });
  return built;
}
