// Type tests of edge-tenancy/hono and edge-tenancy/d1 (checked by tsc, never run).
import { Hono } from "hono";
import { createD1Factory, setupMultiTenancy, createDatabaseMiddleware, type MultiTenancyEnv, type TenantRecord } from "./hono.js";
import type { D1Database } from "./d1/index.js";

declare const registry: D1Database;
declare const env: { CONTROL_PLANE: D1Database };

const factory = createD1Factory({
  registry,
  env,
  accountId: "0000000000000000000000000000000a",
  apiToken: "token",
  createAdapters: (db, tenantId) => ({ db, tenantId, users: { list: async () => [] as string[] } }),
  afterProvision: async ({ database, tenantId }) => {
    await database.prepare("CREATE TABLE t (x)").run();
    tenantId satisfies string;
  },
});
type Adapters = Awaited<ReturnType<typeof factory.getAdapters>>;

const multiTenancy = setupMultiTenancy({
  accessControl: { mainTenantId: "main" },
  databaseIsolation: { getAdapters: factory.getAdapters, onProvision: factory.provision, onDeprovision: factory.deprovision },
  resolve: { strategies: [{ type: "pathPrefix", prefix: "/t/" }] },
});

const app = new Hono<MultiTenancyEnv<Adapters, { CONTROL_PLANE: D1Database }>>();
app.route("/", multiTenancy.app);
app.use("/t/*", multiTenancy.middleware);
app.get("/t/:tenant/users", async (c) => {
  const users: string[] = await c.env.data.users.list();
  const tenant: string = c.var.tenantId;
  const admin: boolean = c.var.tenancy.administrator;
  const db: D1Database = c.var.database;
  void db;
  c.env.CONTROL_PLANE satisfies D1Database;
  return c.json({ users, tenant, admin, subject: c.var.principal?.subject ?? null });
});

// A factory written in JS, under a registry.
const custom = createDatabaseMiddleware({
  databaseIsolation: { getAdapters: async (tenantId: string) => ({ tenantId }), onProvision: async () => {}, onDeprovision: async () => {}, registry },
});
app.use("/c/*", custom);

async function records(): Promise<TenantRecord[]> {
  const page = await factory.list({ limit: 10 });
  const next: string | null = page.next;
  void next;
  return page.tenants;
}
void records;

// @ts-expect-error: createAdapters is required
createD1Factory({ registry, accountId: "a", apiToken: "t" });
// @ts-expect-error: an unknown setting
setupMultiTenancy({ resolve: { strategies: [] }, accessControll: {} });

// A schema group, its jobs and its drift report.
const grouped = createD1Factory({
  registry,
  accountId: "0000000000000000000000000000000a",
  apiToken: "token",
  schema: { group: "app", migrations: { "0001_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY)" } },
  createAdapters: (db) => ({ db }),
});
async function migrate(): Promise<string | null> {
  const job = await grouped.jobs.submit({ canary: ["acme"], on_error: "continue", hold_secs: 65 });
  const warnings: string[] = job.warnings;
  void warnings;
  const driven = await grouped.jobs.act(job.id, "drive", { calls: 400, secs: 20 });
  const { jobs } = await grouped.jobs.driveAll();
  void jobs;
  const { next } = await grouped.jobs.drift({ limit: 10 });
  void next;
  // @ts-expect-error: no such action
  await grouped.jobs.act(job.id, "explode");
  return driven.outcome;
}
void migrate;
// @ts-expect-error: migrations are files or a list
createD1Factory({ registry, accountId: "a", apiToken: "t", createAdapters: (db) => db, schema: { group: "app", migrations: 3 } });

// The provisioning queue.
async function onboard(): Promise<number> {
  const { queued } = await factory.queue.add(["acme", "globex"]);
  const { drained, queue } = await factory.queue.drain({ secs: 20 });
  const stopped: "empty" | "budget" | "limit" = drained.stopped;
  void stopped;
  return queued.length + queue.length + drained.ready.length;
}
void onboard;
