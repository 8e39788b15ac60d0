// Migration jobs over 200 tenant databases: the demo worker and the local Cloudflare API, both in
// workerd. The tenants are made by a deployment whose schema group stood at version 1
// (0001_notes.sql); the demo's code has 0002_round_trip.sql too, which only a job brings them to.
// A dry run that fails on one tenant changes none; a failure in one tenant's run, after every dry
// run passed, restores every migrated tenant to its bookmark with its rows intact; a good job
// reaches all 200 exactly once, driven by many drivers in turn, while writes wait (503) and reads
// go on; a job cancelled while it holds the writes releases them and changes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, control } from "../local-api/testing.mjs";

const TENANTS = 200;
const ids = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(3, "0")}`);
const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_" });
// The account's and the client's request budgets raised, as for an account whose limit was: the
// jobs here take about 1,000 calls in a few seconds (see the last test's figures).
const BUDGET = { budget: { limit: 100_000, windowSecs: 300, maxWaitMs: 10_000 } };

let w;
before(async () => {
  const mf = new Miniflare({ workers: [demoWorker(BUDGET, { D1_FACTORY }), localApiWorker(), localD1Worker()] });
  const api = await mf.getWorker("edge-tenancy-local-api");
  const admin = await adminToken();
  const call = async (method, path, body, token = admin) =>
    fetch(new URL(path, await mf.ready), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
  w = { mf, call, local, records: {} };
  await local.limits({ rateLimit: { limit: 100_000 } });
  // The registry's tables, then the group as an earlier deployment left it: at version 1.
  assert.equal((await call("GET", "/tenants")).status, 200);
  const registry = await mf.getD1Database("CONTROL_PLANE", "edge-tenancy-demo");
  await registry.prepare("INSERT INTO edge_tenancy_schema_groups (name, version) VALUES ('demo', 1)").run();
  w.registry = registry;
  for (let i = 0; i < TENANTS; i += 20) {
    const made = await Promise.all(ids.slice(i, i + 20).map((id) => call("POST", "/tenants", { id })));
    for (const res of made) {
      const record = await json(res);
      assert.equal(res.status, 201, JSON.stringify(record));
      assert.equal(record.schema_version, 1);
      w.records[record.id] = record;
    }
  }
  // A note in every tenant's database, written before any job.
  for (let i = 0; i < TENANTS; i += 20) {
    await Promise.all(
      ids.slice(i, i + 20).map(async (id) => {
        const res = await call("POST", `/t/${id}/notes`, { body: `${id}'s first` }, await sign({ tenant: id, sub: "u" }));
        assert.equal(res.status, 201, await res.text());
      }),
    );
  }
});
after(() => w?.mf.dispose());

/** The admin console's SQL on a tenant's database (outside the tenant's lock). */
async function sql(id, statement) {
  const res = await w.call("POST", `/admin/databases/${w.records[id].database_id}/query`, { sql: statement });
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.results[0].results;
}

/** Drives job `id` to its end, `calls` (database calls and subrequests) at a time, each time a new driver. */
async function driveToEnd(id, calls = 200) {
  for (let round = 0; round < 200; round++) {
    const res = await w.call("POST", `/schema/jobs/${id}/drive?calls=${calls}&secs=20`);
    const job = await json(res);
    assert.equal(res.status, 200, JSON.stringify(job));
    if (job.outcome) return job;
  }
  throw new Error("the job did not end");
}

/** Each tenant's migrations, as its ledger says. */
async function ledgers() {
  const rows = await Promise.all(ids.map((id) => sql(id, "SELECT group_concat(name) AS names, count(*) AS n FROM edge_tenancy_migrations")));
  return Object.fromEntries(ids.map((id, i) => [id, rows[i][0].names]));
}

async function submit(body) {
  const res = await w.call("POST", "/schema/jobs", body);
  const job = await json(res);
  assert.equal(res.status, 202, JSON.stringify(job));
  return job;
}

test("a dry run that fails on one tenant changes none", async () => {
  // An index named as the table 0002 makes: its CREATE TABLE fails there.
  await sql("t077", "CREATE INDEX round_trip ON notes (body)");
  const job = await submit({ hold_secs: 1 });
  assert.equal(job.phase, "validate", "the group's schema database first");
  assert.deepEqual(job.counts, { pending: TENANTS });
  const unknown = await w.call("POST", "/schema/jobs", { canary: ["nobody"] });
  assert.equal(unknown.status, 400);
  const again = await w.call("POST", "/schema/jobs", {});
  assert.equal(again.status, 409);
  assert.equal((await json(again)).error.code, "schema_job_active");
  const done = await driveToEnd(job.id);
  assert.equal(done.outcome, "dry_run_failed");
  assert.equal(done.failing.length, 1);
  assert.equal(done.failing[0].tenant, "t077");
  assert.match(done.failing[0].error, /there is already an index named round_trip/);
  const byTenant = await ledgers();
  assert.ok(Object.values(byTenant).every((names) => names === "0001_notes.sql"), JSON.stringify(byTenant));
  await sql("t077", "DROP INDEX round_trip");
});

test("a migration the group's schema database refuses ends the job before any tenant is read", async () => {
  const { results } = await w.registry.prepare("SELECT database_id FROM edge_tenancy_schema_groups WHERE name = 'demo'").all();
  const parent = results[0].database_id;
  assert.match(parent, /^[0-9a-f-]{36}$/, "made by the first job");
  const schema = async (statement) => {
    const res = await w.call("POST", `/admin/databases/${parent}/query`, { sql: statement });
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.results[0].results;
  };
  // It holds the canonical schema at the group's version, and no tenant's rows.
  assert.deepEqual(await schema("SELECT count(*) AS n FROM notes"), [{ n: 0 }]);
  assert.deepEqual(await schema("SELECT name FROM edge_tenancy_migrations"), [{ name: "0001_notes.sql" }]);
  await schema("CREATE INDEX round_trip ON notes (body)");
  await w.local.resetCalls();
  const done = await driveToEnd((await submit({ hold_secs: 1 })).id);
  assert.equal(done.outcome, "dry_run_failed");
  assert.match(done.schema_error, /there is already an index named round_trip/);
  assert.deepEqual(done.counts, { pending: TENANTS }, "no tenant's database was read");
  // Two queries: the schema database confirmed at the group's version, then the dry run.
  assert.deepEqual((await w.local.calls()).calls, { "d1.query": 2 });
  await schema("DROP INDEX round_trip");
});

test("a failure in one tenant's run, after every dry run passed, restores every migrated tenant to its bookmark", async () => {
  const job = await submit({ hold_secs: 1, canary: ["t199", "t198"], concurrency: 10 });
  // Through the dry runs and into the hold.
  let state = job;
  while (["validate", "dry_run"].includes(state.phase)) state = await json(await w.call("POST", `/schema/jobs/${job.id}/drive?calls=100&secs=1`));
  assert.equal(state.counts.dry_run_passed, TENANTS, JSON.stringify(state.counts));
  // Now, after its dry run passed, one tenant's database changes so that its migration fails.
  await sql("t150", "CREATE INDEX round_trip ON notes (body)");
  const done = await driveToEnd(job.id);
  assert.equal(done.outcome, "rolled_back", JSON.stringify(done.counts));
  assert.deepEqual(done.failing.map((f) => f.tenant), ["t150"]);
  assert.ok(done.counts.restored > 10, JSON.stringify(done.counts));
  const byTenant = await ledgers();
  assert.ok(Object.values(byTenant).every((names) => names === "0001_notes.sql"), JSON.stringify(byTenant));
  const tables = await sql("t000", "SELECT name FROM sqlite_master WHERE name = 'round_trip'");
  assert.deepEqual(tables, [], "t000 was migrated and restored");
  for (const id of ["t000", "t150", "t199"]) {
    assert.deepEqual(await sql(id, "SELECT body FROM notes"), [{ body: `${id}'s first` }], id);
  }
  const tenants = (await json(await w.call("GET", "/tenants?limit=1000"))).tenants;
  assert.ok(tenants.every((t) => t.schema_version === 1 && !t.schema_held));
  await sql("t150", "DROP INDEX round_trip");
});

test("a job cancelled while it holds the writes releases them and changes nothing", async () => {
  const job = await submit({ hold_secs: 600 });
  let state = job;
  while (!state.phase.hold?.since) state = await json(await w.call("POST", `/schema/jobs/${job.id}/drive?calls=200`));
  const member = await sign({ tenant: "t010", sub: "u" });
  const held = await w.call("POST", "/t/t010/notes", { body: "during the hold" }, member);
  assert.equal(held.status, 503);
  assert.equal((await json(held)).error.code, "schema_migrating");
  const cancelled = await json(await w.call("POST", `/schema/jobs/${job.id}/cancel`));
  assert.equal(cancelled.cancelled, true);
  const done = await driveToEnd(job.id);
  assert.equal(done.outcome, "cancelled");
  const after = await w.call("POST", "/t/t010/notes", { body: "after the hold" }, member);
  assert.equal(after.status, 201, await after.text());
  assert.ok(Object.values(await ledgers()).every((names) => names === "0001_notes.sql"));
});

test("a good job reaches all 200 tenants exactly once, writes wait and reads go on meanwhile", async () => {
  await w.local.resetCalls();
  const job = await submit({ hold_secs: 1, canary: ["t042"] });
  const member = await sign({ tenant: "t005", sub: "u" });
  let state = job;
  let held;
  const started = Date.now();
  for (let round = 0; !state.outcome; round++) {
    state = await json(await w.call("POST", `/schema/jobs/${job.id}/drive?calls=60`));
    if (!held && state.phase === "run") {
      held = await w.call("POST", "/t/t005/notes", { body: "during the job" }, member);
      const read = await w.call("GET", "/t/t005/notes", undefined, member);
      assert.equal(read.status, 200, "reads go on");
      // A tenant signing up meanwhile starts at the group's version, not part of the job.
      const late = await w.call("POST", "/tenants", { id: "late" });
      assert.equal(late.status, 201);
      assert.equal((await json(late)).schema_version, 1);
    }
    assert.ok(round < 500);
  }
  const seconds = (Date.now() - started) / 1000;
  // What the job cost the account: its calls alone, before this test reads the ledgers.
  const { calls } = await w.local.calls();
  assert.equal(state.outcome, "committed", JSON.stringify(state));
  assert.equal(held.status, 503, "a write during the job waits");
  assert.ok(Number(held.headers.get("retry-after")) > 0);
  assert.equal((await json(held)).error.code, "schema_migrating");
  assert.equal(state.counts.migrated, TENANTS);
  assert.equal(state.done, 1);
  const byTenant = await ledgers();
  assert.ok(Object.values(byTenant).every((names) => names === "0001_notes.sql,0002_round_trip.sql"), JSON.stringify(byTenant));
  const tenants = (await json(await w.call("GET", "/tenants?limit=1000"))).tenants;
  const [late] = tenants.filter((t) => t.id === "late");
  assert.ok(tenants.every((t) => t === late || (t.schema_version === 2 && !t.schema_held)));
  assert.equal(late.schema_version, 1, "not part of the job: left at the version it started at");
  // Writes succeed again, into the new table too.
  const write = await w.call("POST", "/t/t005/notes", { body: "after the job" }, member);
  assert.equal(write.status, 201, await write.text());
  const value = await w.call("POST", "/t/t005/values", { column: "t", value: "x" }, member);
  assert.equal(value.status, 200, await value.text());
  const perTenant = (op) => ((calls[op] ?? 0) / TENANTS).toFixed(2);
  console.log(
    `200 tenants migrated in ${seconds.toFixed(1)} s (${Math.round((TENANTS / seconds) * 60)} per minute) over the REST path: ` +
      `${perTenant("d1.query")} queries and ${perTenant("d1.time_travel.bookmark")} bookmarks per tenant`,
  );
  // Per tenant one query for its dry run and one for its migration (each a batch that checks the
  // ledger is where the registry says), no bookmark call (the restore point is a time); and the
  // read made during the job, the late tenant's provisioning (its migrations in one batch), and
  // the group's schema database's validation first (confirmed at the group's version, then the
  // dry run) and its migration last.
  assert.equal(calls["d1.query"], 2 * TENANTS + 5, JSON.stringify(calls));
  assert.equal(calls["d1.time_travel.bookmark"], undefined);
  // A new tenant now starts at the group's new version.
  const fresh = await json(await w.call("POST", "/tenants", { id: "fresh" }));
  assert.equal(fresh.schema_version, 2);
  // The tenant provisioned during the job catches up on its first request, before the handler
  // runs, and the registry records it.
  const caughtUp = await w.call("GET", "/t/late/notes", undefined, await sign({ tenant: "late", sub: "u" }));
  assert.equal(caughtUp.status, 200, await caughtUp.text());
  assert.equal(caughtUp.headers.get("x-edge-tenancy-schema"), "demo@2");
  const record = await json(await w.call("GET", "/tenants/late"));
  assert.equal(record.schema_version, 2);
  const ledger = await w.call("POST", `/admin/databases/${record.database_id}/query`, { sql: "SELECT count(*) AS n FROM edge_tenancy_migrations" });
  assert.deepEqual((await json(ledger)).results[0].results, [{ n: 2 }]);
  const fresher = await w.call("GET", "/t/fresh/notes", undefined, await sign({ tenant: "fresh", sub: "u" }));
  assert.equal(fresher.headers.get("x-edge-tenancy-schema"), "demo@2");
});

test("the drift report reads every ledger, and a tenant behind its recorded version catches up on its next request", async () => {
  // t003's applied migration changed behind the ledger's back; t006 lost its last migration, as
  // a restore from an older backup would leave it.
  await sql("t003", "UPDATE edge_tenancy_migrations SET hash = 'x' WHERE name = '0002_round_trip.sql'");
  await sql("t006", "DELETE FROM edge_tenancy_migrations WHERE version = 2");
  await sql("t006", "DROP TABLE round_trip");
  const page = await json(await w.call("GET", "/schema/drift?after=t002&limit=4"));
  assert.deepEqual(page.tenants.map((t) => t.tenant), ["t003", "t004", "t005", "t006"]);
  assert.equal(page.next, "t006");
  const [t003, t004, , t006] = page.tenants;
  assert.equal(t003.drift.length, 1);
  assert.equal(t003.drift[0].kind, "changed");
  assert.equal(t003.drift[0].applied_hash, "x");
  assert.match(t003.drift[0].listed_hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(t004, { tenant: "t004", registry_version: 2, version: 2, pending: [], drift: [] });
  assert.deepEqual(t006, { tenant: "t006", registry_version: 2, version: 1, pending: ["0002_round_trip.sql"], drift: [] });
  const member = await sign({ tenant: "t006", sub: "u" });
  const value = await w.call("POST", "/t/t006/values", { column: "t", value: "back" }, member);
  assert.equal(value.status, 200, await value.text());
  assert.deepEqual(await sql("t006", "SELECT count(*) AS n FROM edge_tenancy_migrations"), [{ n: 2 }]);
  // A tenant whose ledger drifted is served as it is (the drift logged), never migrated over it.
  const drifted = await w.call("GET", "/t/t003/notes", undefined, await sign({ tenant: "t003", sub: "u" }));
  assert.equal(drifted.status, 200);
  // Put back, or every later job would stop at t003's drift.
  await sql("t003", `UPDATE edge_tenancy_migrations SET hash = '${t003.drift[0].listed_hash}' WHERE name = '0002_round_trip.sql'`);
});

test("scripts/schema-job.mjs submits a dry run and shows its progress to the end", async () => {
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  const { stdout } = await promisify(execFile)(process.execPath, ["scripts/schema-job.mjs", "--url", String(await w.mf.ready), "--dry-run"]);
  assert.match(stdout, /job \d+ \[#+\] 100% finish|job \d+ \[#+\] 100% done/);
  assert.match(stdout, /: dry_run_passed\n$/);
});
