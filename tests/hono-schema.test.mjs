// Multi-database schema in the npm package, in workerd: createD1Factory's `schema` setting over
// the local Cloudflare API, as three deployments of one Worker share a registry (each with one
// more migration). Tenants are provisioned at the group's version; their handles refuse schema
// changes by every path (403 `blocked`); a migration job submitted, driven and committed through
// the control-plane routes holds writes while it runs (503 `schema_migrating`, reads go on); a
// tenant provisioned meanwhile catches up on its first request; a migration one tenant's data
// refuses ends the job `dry_run_failed` with nothing changed; bad requests get clear errors; and
// once the tenants' bindings are deployed, jobs and the drift report reach them with no API call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

const API = localApiWorker();
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = API.bindings;
const SECRET = new TextEncoder().encode("hono-schema-secret-0123456789abcdef0123456789");
const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(SECRET);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let mf;
let deployment;
const deployments = {};
async function connect() {
  for (const v of [1, 2, 3]) deployments[v] = await mf.getWorker(`schema-v${v}`);
}
before(async () => {
  const scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/hono-schema"));
  // The same Worker deployed three times, each with one more migration, on one registry.
  deployment = (migrations, wrappedBindings = {}) => ({
    name: `schema-v${migrations}`,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: { CONTROL_PLANE: "control-plane" },
    serviceBindings: { CLOUDFLARE_API: API.name },
    bindings: { ACCOUNT_ID: LOCAL_ACCOUNT_ID, API_TOKEN: LOCAL_API_TOKEN, MIGRATIONS: String(migrations) },
    wrappedBindings,
  });
  mf = new Miniflare({ workers: [deployment(1), deployment(2), deployment(3), API, localD1Worker()] });
  await connect();
});
after(() => mf?.dispose());

/** `method path` on deployment `v`, as `token` (an administrator by default). */
async function call(v, method, path, { token, body, text } = {}) {
  token ??= await sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });
  const res = await deployments[v].fetch(`http://spec${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: text ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, headers: res.headers, body: await json(res) };
}
const member = (tenant) => sign({ tenant, sub: `${tenant}-user` });

/** Drives job `id` on deployment `v`, `secs` at a time, until it is over or `until(report)` holds. */
async function drive(v, id, { secs = 10, until = (report) => report.outcome !== null } = {}) {
  for (let round = 0; round < 40; round++) {
    const driven = await call(v, "POST", `/schema/jobs/${id}/drive?calls=200&secs=${secs}`);
    assert.equal(driven.status, 200, JSON.stringify(driven.body));
    if (until(driven.body)) return driven.body;
    await sleep(250);
  }
  assert.fail(`job ${id} did not get there`);
}

test("tenants get the group's schema, refuse their own changes, and move together in a job that holds their writes", async () => {
  for (const id of ["acme", "globex"]) {
    const made = await call(1, "POST", "/tenants", { body: { id } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual([made.body.state, made.body.schema_group, made.body.schema_version], ["ready", "app", 1]);
  }
  const acme = await member("acme");
  assert.equal((await call(1, "POST", "/t/acme/notes", { token: acme, body: { body: "first" } })).status, 201);
  assert.deepEqual((await call(1, "GET", "/t/acme/notes", { token: acme })).body, { notes: [{ id: 1, body: "first" }], schema: { group: "app", version: 1 } });

  // Schema changes are refused whichever way they are sent, before they reach D1.
  for (const how of ["prepare", "exec", "batch", "session"]) {
    for (const sql of ["CREATE TABLE extra (a)", "DROP TABLE notes", "/* x */ alter table notes add column y", "PRAGMA writable_schema = 1"]) {
      const refused = await call(1, "POST", `/t/acme/ddl/${how}`, { token: acme, text: sql });
      assert.equal(refused.status, 403, `${how} ${sql}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.code, "blocked");
    }
  }
  // exec runs each line as a query of its own: a line that changes the schema is found.
  const lines = await call(1, "POST", "/t/acme/ddl/exec", { token: acme, text: "SELECT 1\nDROP TABLE notes" });
  assert.deepEqual([lines.status, lines.body.error?.code], [403, "blocked"]);
  assert.deepEqual((await call(1, "GET", "/t/acme/notes", { token: acme })).body.notes.length, 1);

  // The second deployment's migration, submitted as a job: dry runs, then writes held.
  const submitted = await call(2, "POST", "/schema/jobs", { body: { hold_secs: 3, concurrency: 2 } });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  assert.deepEqual([submitted.body.group, submitted.body.version], ["app", 2]);
  // A hold this short is for a test: the answer says what it risks.
  assert.equal(submitted.body.warnings.length, 1);
  assert.match(submitted.body.warnings[0], /^hold_secs 3 is shorter than the 65 s the guarantee needs/);
  const id = submitted.body.id;
  const again = await call(2, "POST", "/schema/jobs", { body: {} });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  // A second at a time: the hold outlasts it, so the driver leaves the job holding.
  const holding = await drive(2, id, { secs: 1, until: (r) => r.outcome !== null || r.phase.hold?.since != null });
  assert.equal(holding.outcome, null, JSON.stringify(holding));
  // Held: writes wait, reads go on.
  const held = await call(2, "POST", "/t/acme/notes", { token: acme, body: { body: "during" } });
  assert.equal(held.status, 503, JSON.stringify(held.body));
  assert.equal(held.body.error.code, "schema_migrating");
  assert.equal(held.headers.get("retry-after"), "10");
  assert.equal((await call(2, "GET", "/t/acme/notes", { token: acme })).status, 200);
  // A caller who may change the schema is told to wait too, not refused.
  const dba = await sign({ tenant: "acme", sub: "dba", scope: "ddl" });
  const waits = await call(2, "POST", "/t/acme/ddl/exec?via=var", { token: dba, text: "CREATE TABLE scratch (a)" });
  assert.deepEqual([waits.status, waits.body.error?.code], [503, "schema_migrating"]);
  // A tenant provisioned now is not in the job: it starts at the group's version so far.
  const late = await call(1, "POST", "/tenants", { body: { id: "newco" } });
  assert.deepEqual([late.status, late.body.schema_version], [201, 1]);

  await sleep(3_000);
  const done = await drive(2, id);
  assert.equal(done.outcome, "committed", JSON.stringify(done));
  assert.equal(done.counts.migrated, 2, JSON.stringify(done.counts));
  const report = await call(2, "GET", `/schema/jobs/${id}?tasks=1`);
  assert.deepEqual([report.body.tasks.map((t) => t.tenant).sort(), report.body.tasks_next], [["acme", "globex"], null]);
  // A page at a time.
  const first = await call(2, "GET", `/schema/jobs/${id}?tasks=1&limit=1`);
  const second = await call(2, "GET", `/schema/jobs/${id}?tasks=1&from=${first.body.tasks_next}&limit=1`);
  assert.deepEqual([first.body.tasks.length, first.body.tasks_next, second.body.tasks.length, second.body.tasks_next], [1, 1, 1, null]);
  assert.notEqual(first.body.tasks[0].tenant, second.body.tasks[0].tenant);
  assert.equal((await call(2, "GET", `/schema/jobs/${id}?tasks=1&from=x`)).status, 400);

  // Writes are back, on the new schema.
  assert.equal((await call(2, "POST", "/t/acme/notes", { token: acme, body: { body: "after" } })).status, 201);
  assert.deepEqual((await call(2, "GET", "/t/acme/notes", { token: acme })).body.notes, [
    { id: 1, body: "first", done: 0 },
    { id: 2, body: "after", done: 0 },
  ]);
  // The tenant provisioned during the job catches up on its first request, and the registry
  // records it.
  const newco = await member("newco");
  assert.equal((await call(2, "POST", "/t/newco/notes", { token: newco, body: { body: "n" } })).status, 201);
  assert.deepEqual((await call(2, "GET", "/t/newco/notes", { token: newco })).body, { notes: [{ id: 1, body: "n", done: 0 }], schema: { group: "app", version: 2 } });
  assert.equal((await call(2, "GET", "/tenants/newco")).body.schema_version, 2);

  const drift = await call(2, "GET", "/schema/drift?limit=2");
  assert.equal(drift.status, 200, JSON.stringify(drift.body));
  assert.deepEqual(drift.body.tenants.map((t) => [t.tenant, t.version, t.pending, t.drift]), [
    ["acme", 2, [], []],
    ["globex", 2, [], []],
  ]);
  assert.equal(drift.body.next, "globex");
  const rest = await call(2, "GET", "/schema/drift?after=globex");
  assert.deepEqual(rest.body.tenants.map((t) => [t.tenant, t.version]), [["newco", 2]]);
  assert.equal(rest.body.next, null);
});

test("a migration one tenant's data refuses ends the job dry_run_failed, nothing changed; the cron drives it", async () => {
  const acme = await member("acme");
  // Two notes alike: the third migration's unique index cannot be made on acme.
  for (const body of ["same", "same"]) assert.equal((await call(2, "POST", "/t/acme/notes", { token: acme, body: { body } })).status, 201);
  const submitted = await call(3, "POST", "/schema/jobs", {});
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  let report;
  for (let round = 0; round < 40 && !report?.outcome; round++) {
    const cron = await call(3, "POST", "/cron");
    assert.equal(cron.status, 200, JSON.stringify(cron.body));
    report = cron.body.jobs.find((j) => j.id === submitted.body.id) ?? (await call(3, "GET", `/schema/jobs/${submitted.body.id}`)).body;
  }
  assert.equal(report.outcome, "dry_run_failed", JSON.stringify(report));
  assert.deepEqual(report.failing.map((f) => f.tenant), ["acme"]);
  assert.match(JSON.stringify(report.failing), /UNIQUE/);
  const drift = await call(3, "GET", "/schema/drift");
  assert.deepEqual(drift.body.tenants.map((t) => [t.tenant, t.version, t.pending]), [
    ["acme", 2, ["0003_unique.sql"]],
    ["globex", 2, ["0003_unique.sql"]],
    ["newco", 2, ["0003_unique.sql"]],
  ]);
  // Writes were never held: a dry run changes nothing.
  assert.equal((await call(3, "POST", "/t/acme/notes", { token: acme, body: { body: "still" } })).status, 201);
});

test("bad job requests are refused with clear errors", async () => {
  const cases = [
    ["POST", "/schema/jobs", { text: '{"concurrency": 0}' }, 400, /concurrency is 1 to 50/],
    ["POST", "/schema/jobs", { text: '{"holdSecs": 5}' }, 400, /expected \{"dry_run_only"/],
    ["POST", "/schema/jobs", { text: "not json" }, 400, /expected/],
    ["POST", "/schema/jobs", { text: '{"canary": ["nobody"]}' }, 400, /canary/],
    ["GET", "/schema/jobs/abc", {}, 404, /no such schema job/],
    ["GET", "/schema/jobs/999", {}, 404, /.+/],
    ["POST", "/schema/jobs/1/explode", {}, 404, /no such action/],
    ["POST", "/schema/jobs/1/drive?calls=lots", {}, 400, /calls is a whole number/],
    ["GET", "/schema/drift?after=Not%20An%20Id", {}, 400, /.+/],
  ];
  for (const [method, path, options, status, message] of cases) {
    const res = await call(2, method, path, options);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error.message, message, `${method} ${path}`);
  }
  // A tenant's member is no administrator.
  const refused = await call(2, "GET", "/schema/drift", { token: await member("acme") });
  assert.equal(refused.status, 403);
});

test("through the tenants' bindings, once deployed, a job's steps and the drift report make no API call", async () => {
  // A deploy that applies the bindings the factory made (bindTo).
  const bindings = {};
  for (const id of ["acme", "globex", "newco"]) {
    const { body } = await call(2, "GET", `/tenants/${id}`);
    assert.equal(body.binding, `TENANT_${id.toUpperCase()}`);
    bindings[body.binding] = localD1Binding(body.database_id);
  }
  await mf.setOptions({ workers: [deployment(1), deployment(2, bindings), deployment(3, bindings), API, localD1Worker()] });
  await connect();
  const api = await mf.getWorker(API.name);
  const local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
  await local.resetCalls();
  const queries = async () => {
    const { calls } = await local.calls();
    return (calls["d1.query"] ?? 0) + (calls["d1.raw"] ?? 0);
  };

  const drift = await call(3, "GET", "/schema/drift");
  assert.deepEqual(drift.body.tenants.map((t) => [t.tenant, t.version]), [["acme", 2], ["globex", 2], ["newco", 2]]);
  assert.equal(await queries(), 0, "the drift report reads every ledger through its binding");

  const submitted = await call(3, "POST", "/schema/jobs", { body: { dry_run_only: true } });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const done = await drive(3, submitted.body.id);
  // acme's two notes alike refuse the unique index, through the binding too.
  assert.equal(done.outcome, "dry_run_failed", JSON.stringify(done));
  assert.deepEqual(done.failing.map((f) => f.tenant), ["acme"]);
  // Only the group's schema database (no Worker binds it) costs queries: brought to the group's
  // version, then the dry run.
  assert.equal(await queries(), 2);

  // The handle over a binding is locked as the REST one is, and serves reads and writes.
  const acme = await member("acme");
  const refused = await call(3, "POST", "/t/acme/ddl/prepare", { token: acme, text: "DROP TABLE notes" });
  assert.deepEqual([refused.status, refused.body.error.code], [403, "blocked"]);
  assert.equal((await call(3, "POST", "/t/acme/notes", { token: acme, body: { body: "bound" } })).status, 201);
  assert.equal(await queries(), 2);

  // A token with the `ddl` scope changes the schema through its request's handle; the shared
  // adapters stay locked, and a token without it is refused on the request's handle too.
  const ddl = await sign({ tenant: "acme", sub: "dba", scope: "ddl" });
  const made = await call(3, "POST", "/t/acme/ddl/exec?via=var", { token: ddl, text: "CREATE TABLE scratch (a)" });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  assert.equal((await call(3, "POST", "/t/acme/ddl/prepare", { token: ddl, text: "DROP TABLE scratch" })).status, 403);
  assert.equal((await call(3, "POST", "/t/acme/ddl/prepare?via=var", { token: acme, text: "DROP TABLE scratch" })).status, 403);
  assert.equal((await call(3, "POST", "/t/acme/ddl/prepare?via=var", { token: ddl, text: "DROP TABLE scratch" })).status, 200);
});

test("the provisioning queue: tenants queued at once are drained to ready, at the group's version", async () => {
  const ids = ["q1", "q2", "q3", "q4", "q5"];
  const queued = await call(2, "POST", "/queue", { body: { ids } });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  assert.deepEqual([queued.body.queued, queued.body.queue.length], [ids, 5]);
  const waiting = await call(2, "GET", "/t/q1/notes", { token: await member("q1") });
  assert.equal(waiting.status, 503);
  const drained = await call(2, "POST", "/queue/drain?secs=20&tenants=10");
  assert.equal(drained.status, 200, JSON.stringify(drained.body));
  assert.deepEqual([drained.body.drained.ready, drained.body.drained.stopped, drained.body.queue.length], [ids, "empty", 0]);
  // At the group's version (the job above moved it to 2), and served.
  for (const id of ids) assert.deepEqual((await call(2, "GET", `/tenants/${id}`)).body.schema_version, 2);
  const notes = await call(2, "GET", "/t/q1/notes", { token: await member("q1") });
  assert.deepEqual([notes.status, notes.body.schema], [200, { group: "app", version: 2 }]);
  // Bad requests, by name.
  for (const body of [{ ids: [] }, { id: "x" }, { ids: ["main"] }, { ids: ["Not An Id"] }]) {
    const res = await call(2, "POST", "/queue", { body });
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
  }
  assert.equal((await call(2, "POST", "/queue/drain?tenants=many")).status, 400);
  assert.equal((await call(2, "GET", "/queue", { token: await member("q1") })).status, 403);
});
