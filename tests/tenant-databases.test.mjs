// The D1 database factory in the demo worker against the local Cloudflare API, both in workerd:
// tenants provisioned, used and deprovisioned over HTTP, concurrent provisions, API faults, and
// what each operation costs in API calls, read from the local API's own counters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

const { LOCAL_ACCOUNT_ID = "0000000000000000000000000000000a", LOCAL_API_TOKEN = "local-dev-token" } = localApiWorker().bindings;

const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", bindTo: "edge-tenancy-demo" });
const OPTIONS = { timeoutMs: 1500, retry: { baseDelayMs: 20, maxDelayMs: 200 } };

let w;
const demo = { ...demoWorker(OPTIONS, { D1_FACTORY, BACKUP_BUCKET: "BACKUPS" }), r2Buckets: ["BACKUPS"] };
// A second isolate of the same Worker: the same registry, the same Worker's bindings to change.
const twin = { ...demo, name: "edge-tenancy-demo-twin" };
// Staging: the same code and account, the same database prefix, its own registry and Worker.
const staging = {
  ...demoWorker(OPTIONS, { D1_FACTORY: JSON.stringify({ databasePrefix: "tenant_", bindTo: "edge-tenancy-example-hono-d1" }) }),
  name: "edge-tenancy-demo-staging",
  d1Databases: { CONTROL_PLANE: "control-plane-staging" },
};
before(async () => {
  const mf = new Miniflare({ workers: [demo, twin, staging, localApiWorker(), localD1Worker()] });
  const api = await mf.getWorker("edge-tenancy-local-api");
  const admin = await adminToken();
  // The URL is asked for each time: setOptions (applying bindings, as a deploy) moves it.
  const call = async (method, path, body, token = admin) =>
    fetch(new URL(path, await mf.ready), {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const cf = (path) =>
    api.fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}${path}`, { headers: { authorization: `Bearer ${LOCAL_API_TOKEN}` } }).then((r) => r.json());
  w = { mf, call, cf, local: control((u, init) => api.fetch(new URL(u, "http://local-api"), init)) };
});
after(() => w?.mf.dispose());

/** The local API's databases with this exact name. */
// A tenant's databases: named by the prefix, the tenant and the registry's identity (8 hex digits).
async function databasesOf(id) {
  const { result } = await w.cf(`/d1/database?name=tenant_${id}-&per_page=100`);
  return result.filter((db) => new RegExp(`^tenant_${id}-[0-9a-f]{8}$`).test(db.name));
}

async function bindings() {
  const { result } = await w.cf("/workers/scripts/edge-tenancy-demo/settings");
  return result.bindings.map((b) => b.name);
}

async function calls() {
  const { calls } = await w.local.calls();
  return Object.fromEntries(Object.entries(calls).filter(([, n]) => n > 0));
}

const member = (tenant) => sign({ tenant, sub: `${tenant}-user` });

test("tenants are provisioned, used in isolation, listed and deprovisioned", async () => {
  await w.local.reset();
  const records = {};
  for (const id of ["acme", "beta", "gamma"]) {
    const res = await w.call("POST", "/tenants", { id });
    assert.equal(res.status, 201, await res.clone().text());
    records[id] = await json(res);
    assert.equal(records[id].state, "ready");
    assert.match(records[id].database_name, new RegExp(`^tenant_${id}-[0-9a-f]{8}$`));
    assert.equal(records[id].binding, `TENANT_${id.toUpperCase()}`);
    assert.equal((await databasesOf(id))[0].uuid, records[id].database_id);
  }
  assert.deepEqual((await bindings()).sort(), ["TENANT_ACME", "TENANT_BETA", "TENANT_GAMMA"]);

  // Each tenant's rows stay in its own database.
  const note = await w.call("POST", "/t/acme/notes", { body: "acme's secret plan" }, await member("acme"));
  assert.equal(note.status, 201, await note.clone().text());
  // This isolate has no binding for the new database until a deploy: the REST path, said so.
  assert.equal(note.headers.get("x-edge-tenancy-database-path"), "rest");
  const acme = await json(await w.call("GET", "/t/acme/notes", undefined, await member("acme")));
  assert.deepEqual(acme.notes.map((n) => n.body), ["acme's secret plan"]);
  const beta = await json(await w.call("GET", "/t/beta/notes", undefined, await member("beta")));
  assert.deepEqual(beta.notes, []);
  assert.equal((await w.call("GET", "/t/acme/notes", undefined, await member("beta"))).status, 403);

  // Paged.
  const first = await json(await w.call("GET", "/tenants?limit=2"));
  assert.deepEqual(first.tenants.map((t) => t.id), ["acme", "beta"]);
  const rest = await json(await w.call("GET", `/tenants?limit=2&after=${first.next}`));
  assert.deepEqual(rest.tenants.map((t) => t.id), ["gamma"]);
  assert.equal(rest.next, null);

  // Deprovisioned: backed up to R2 first, then binding, database and record gone; its members get
  // 404; the others keep theirs.
  const gone = await w.call("DELETE", "/tenants/acme");
  assert.equal(gone.status, 200, await gone.clone().text());
  const backups = await w.mf.getR2Bucket("BACKUPS", "edge-tenancy-demo");
  const { objects } = await backups.list({ prefix: "backups/acme/" });
  assert.equal(objects.length, 1);
  const dump = await (await backups.get(objects[0].key)).text();
  assert.match(dump, /CREATE TABLE notes/);
  assert.match(dump, /acme's secret plan|acme''s secret plan/);
  assert.deepEqual(await databasesOf("acme"), []);
  assert.deepEqual((await bindings()).sort(), ["TENANT_BETA", "TENANT_GAMMA"]);
  assert.equal((await w.call("GET", "/tenants/acme")).status, 404);
  assert.equal((await w.call("GET", "/t/acme/notes", undefined, await member("acme"))).status, 404);
  assert.equal((await w.call("GET", "/t/beta/notes", undefined, await member("beta"))).status, 200);
  assert.equal((await w.call("DELETE", "/tenants/acme")).status, 404);
});

test("a provision costs one create and one settings update, no list; a burst reads the Worker's bindings once", async () => {
  await w.local.reset();
  // The bindings the registry kept from earlier provisions are gone with the reset, as after a
  // deploy: the write that keeps them is refused, and the list is read and written again.
  const res = await w.call("POST", "/tenants", { id: "delta" });
  assert.equal(res.status, 201);
  // The schema group's two migrations are one query: both in one batch that checks the new
  // database's ledger is empty.
  assert.deepEqual(await calls(), {
    "d1.create": 1,
    "workers.settings.patch": 2,
    "workers.settings.get": 1,
    "d1.query": 1,
  });
  // The next provision within a minute writes from the list the last change answered.
  await w.local.resetCalls();
  assert.equal((await w.call("POST", "/tenants", { id: "delta-2" })).status, 201);
  assert.deepEqual(await calls(), { "d1.create": 1, "workers.settings.patch": 1, "d1.query": 1 });
  assert.deepEqual((await bindings()).sort(), ["TENANT_DELTA", "TENANT_DELTA_2"]);
  // A second provision of a ready tenant costs no API call.
  await w.local.resetCalls();
  await w.call("POST", "/tenants", { id: "delta" });
  assert.deepEqual(await calls(), {});
});

test("20 concurrent provisions of one tenant make one database", async () => {
  await w.local.reset();
  const answers = await Promise.all(Array.from({ length: 20 }, () => w.call("POST", "/tenants", { id: "rush" })));
  const statuses = answers.map((r) => r.status);
  // One request provisions it; the others find it ready (200) or in progress (409, retry later).
  assert.equal(statuses.filter((s) => s === 201).length, 1, String(statuses));
  for (const status of statuses) assert.ok([200, 201, 409].includes(status), String(statuses));
  for (const res of answers.filter((r) => r.status === 409)) {
    assert.equal((await json(res)).error.code, "tenant_busy");
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  }
  assert.equal((await databasesOf("rush")).length, 1);
  assert.equal((await calls())["d1.create"], 1);
  const record = await json(await w.call("GET", "/tenants/rush"));
  assert.equal(record.state, "ready");
});

test("10 tenants provisioned at once from two isolates: 10 databases, 10 bindings, none lost", async () => {
  await w.local.reset();
  const other = await w.mf.getWorker("edge-tenancy-demo-twin");
  const admin = await adminToken();
  const ids = Array.from({ length: 10 }, (_, i) => `twin-${i}`);
  const answers = await Promise.all(
    ids.map(async (id, i) => {
      const init = { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ id }) };
      // Every other one through the second isolate.
      return i % 2 ? other.fetch("http://demo/tenants", init) : fetch(new URL("/tenants", await w.mf.ready), init);
    }),
  );
  for (const [i, res] of answers.entries()) assert.equal(res.status, 201, `${ids[i]}: ${await res.clone().text()}`);
  const records = await Promise.all(answers.map((res) => json(res)));
  assert.deepEqual(records.map((r) => r.binding), ids.map((id) => `TENANT_${id.toUpperCase().replace("-", "_")}`));
  // Every binding the registry records is on the Worker, reaching the database it records.
  const { result } = await w.cf("/workers/scripts/edge-tenancy-demo/settings");
  for (const record of records) {
    const binding = result.bindings.find((b) => b.name === record.binding);
    assert.equal(binding?.database_id ?? binding?.id, record.database_id, `${record.id}: ${JSON.stringify(result.bindings.map((b) => b.name))}`);
  }
  for (const id of ids) assert.equal((await databasesOf(id)).length, 1, id);
});

test("staging and production registries on one account and prefix never touch each other's databases", async () => {
  await w.local.reset();
  const stagingWorker = await w.mf.getWorker("edge-tenancy-demo-staging");
  const admin = await adminToken();
  const onStaging = (method, path, body, token = admin) =>
    stagingWorker.fetch(`http://staging${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  for (const id of ["shared", "other"]) {
    assert.equal((await w.call("POST", "/tenants", { id })).status, 201);
    assert.equal((await onStaging("POST", "/tenants", { id })).status, 201);
  }
  const production = await json(await w.call("GET", "/tenants/shared"));
  const stagingRecord = await json(await onStaging("GET", "/tenants/shared"));
  assert.notEqual(production.database_id, stagingRecord.database_id);
  assert.notEqual(production.database_name, stagingRecord.database_name);
  assert.equal((await databasesOf("shared")).length, 2, "one database each");
  // Production's tenant has data; staging removes its own tenant of the same name.
  const note = await w.call("POST", "/t/shared/notes", { body: "production data" }, await member("shared"));
  assert.equal(note.status, 201, await note.clone().text());
  assert.equal((await onStaging("DELETE", "/tenants/shared")).status, 200);
  assert.deepEqual((await databasesOf("shared")).map((db) => db.uuid), [production.database_id]);
  const kept = await json(await w.call("GET", "/t/shared/notes", undefined, await member("shared")));
  assert.deepEqual(kept.notes.map((n) => n.body), ["production data"]);
  const { result } = await w.cf("/workers/scripts/edge-tenancy-demo/settings");
  assert.ok(result.bindings.some((b) => b.name === "TENANT_SHARED" && b.database_id === production.database_id));
  // And the other way round.
  assert.equal((await w.call("DELETE", "/tenants/other")).status, 200);
  assert.equal((await databasesOf("other")).length, 1);
  assert.equal((await json(await onStaging("GET", "/tenants/other"))).state, "ready");
});

test("POST /tenants takes the id alone, and never the control-plane tenant: 400, nothing made", async () => {
  await w.local.reset();
  for (const body of [{ id: "hinted", locationHint: "weur" }, { id: "main" }, { ID: "x" }]) {
    const res = await w.call("POST", "/tenants", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal((await json(res)).error.code, "invalid_body");
  }
  assert.deepEqual(await calls(), {}, "no API call");
  assert.equal((await w.call("GET", "/tenants/hinted")).status, 404);
  assert.equal((await w.call("GET", "/tenants/main")).status, 404);
});

test("API faults during provisioning leave one database, a visible failure, and a retry that completes", async () => {
  const rules = [
    { operation: "d1.create", fault: "drop" },
    { operation: "d1.create", fault: "status", status: 500 },
    { operation: "workers.settings.patch", fault: "status", status: 500, times: 10 },
    { operation: "d1.query", fault: "status", status: 500, times: 10 },
  ];
  for (const [n, rule] of rules.entries()) {
    const id = `faulty-${n}`;
    const what = JSON.stringify(rule);
    await w.local.reset();
    await w.local.faults([rule]);
    const first = await w.call("POST", "/tenants", { id });
    if (first.status !== 201) {
      const body = await first.text();
      const record = await json(await w.call("GET", `/tenants/${id}`));
      assert.equal(record.state, "failed", `${what}: ${body}`);
      assert.ok(record.error, what);
      assert.ok(!body.includes("SQLITE") && !body.includes("html"), `no detail leaks: ${body}`);
      await w.local.clearFaults();
      const second = await w.call("POST", "/tenants", { id });
      assert.equal(second.status, 201, `${what}: ${await second.clone().text()}`);
    }
    assert.equal((await databasesOf(id)).length, 1, what);
    assert.equal((await json(await w.call("GET", `/tenants/${id}`))).state, "ready", what);
    assert.deepEqual(await bindings(), [`TENANT_FAULTY_${n}`], what);
  }
});

test("a warm isolate reads the registry once per tenant, not per request, opening its database too", async () => {
  await w.local.reset();
  assert.equal((await w.call("POST", "/tenants", { id: "warm" })).status, 201);
  const token = await member("warm");
  // Reads through the tenant cache, and every batch the isolate sent to the registry database.
  const usage = async () => {
    const { registryReads, registryBatches } = await json(await w.call("GET", "/admin/api-usage"));
    return { registryReads, registryBatches };
  };
  const since = async (before) => {
    const now = await usage();
    return { registryReads: now.registryReads - before.registryReads, registryBatches: now.registryBatches - before.registryBatches };
  };
  const before = await usage();
  const answers = await Promise.all(Array.from({ length: 50 }, () => w.call("GET", "/t/warm/whoami", undefined, token)));
  for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
  for (let i = 0; i < 20; i++) assert.equal((await w.call("GET", "/t/warm/whoami", undefined, token)).status, 200);
  assert.deepEqual(await since(before), { registryReads: 1, registryBatches: 1 }, "70 requests, one registry read");
  // Routes that open the tenant's database take its location from the same cached answer.
  const written = await w.call("POST", "/t/warm/notes", { body: "kept" }, token);
  assert.equal(written.status, 201, await written.clone().text());
  const [{ id }] = (await json(written)).notes;
  const reads = await Promise.all(
    Array.from({ length: 35 }, (_, i) => w.call("GET", i % 2 ? "/t/warm/notes" : `/t/warm/notes/${id}`, undefined, token)),
  );
  for (const read of reads) assert.equal(read.status, 200, await read.text());
  for (let i = 0; i < 34; i++) assert.equal((await w.call("GET", `/t/warm/notes/${id}`, undefined, token)).status, 200);
  assert.deepEqual(await since(before), { registryReads: 1, registryBatches: 1 }, "70 more requests that open the database, still one");
});

test("one note by id: an indexed SELECT in the tenant's database, 404 when there is none", async () => {
  const token = await member("warm");
  const written = await json(await w.call("POST", "/t/warm/notes", { body: "by id" }, token));
  const { id } = written.notes[0];
  const found = await w.call("GET", `/t/warm/notes/${id}`, undefined, token);
  assert.equal(found.status, 200);
  assert.equal(found.headers.get("x-edge-tenancy-database-path"), "rest");
  assert.deepEqual(await json(found), { note: { id, body: "by id" } });
  const missing = await w.call("GET", `/t/warm/notes/${id + 1000}`, undefined, token);
  assert.equal(missing.status, 404);
  assert.equal((await json(missing)).error.code, "not_found");
  const bad = await w.call("GET", "/t/warm/notes/first", undefined, token);
  assert.equal(bad.status, 400);
  assert.equal((await json(bad)).error.code, "invalid_body");
  // Another tenant's member reaches none of it.
  assert.equal((await w.call("GET", `/t/warm/notes/${id}`, undefined, await member("beta"))).status, 403);
});

/** Stores `value` (JSON text) in column `column` of `tenant`'s database and reads it back. */
async function roundTrip(tenant, column, value) {
  const res = await fetch(new URL(`/t/${tenant}/values`, await w.mf.ready), {
    method: "POST",
    headers: { authorization: `Bearer ${await member(tenant)}`, "content-type": "application/json" },
    body: `{"column":${JSON.stringify(column)},"value":${value}}`,
  });
  return { status: res.status, ...(await json(res)) };
}

const UNICODE = "héllo, 世界 🌍 ∑ end";

// Every SQLite type through one path: what comes back, exactly (`quote`) and as a value.
async function everyType(tenant) {
  return {
    unicode: await roundTrip(tenant, "t", JSON.stringify(UNICODE)),
    empty: await roundTrip(tenant, "t", '""'),
    small: await roundTrip(tenant, "i", "42"),
    negative: await roundTrip(tenant, "i", "-9007199254740991"),
    big: await roundTrip(tenant, "i", "9007199254740993"),
    exactBig: await roundTrip(tenant, "i", '"9223372036854775807"'),
    real: await roundTrip(tenant, "r", "1.5"),
    null: await roundTrip(tenant, "t", "null"),
    blob: await roundTrip(tenant, "b", '{"blob":[0,1,127,128,255]}'),
  };
}

test("every SQLite value over the REST path, and after the bindings are applied, over the binding", async () => {
  await w.local.reset();
  const record = await json(await w.call("POST", "/tenants", { id: "vals" }));
  const rest = await everyType("vals");
  for (const [name, answer] of Object.entries(rest)) {
    if (name === "blob") continue;
    assert.equal(answer.status, 200, `${name}: ${JSON.stringify(answer)}`);
    assert.equal(answer.path, "rest", name);
  }
  assert.deepEqual(rest.unicode.row, { type: "text", literal: `'${UNICODE}'`, value: UNICODE });
  assert.deepEqual(rest.empty.row, { type: "text", literal: "''", value: "" });
  assert.deepEqual(rest.small.row, { type: "integer", literal: "42", value: 42 });
  assert.deepEqual(rest.negative.row, { type: "integer", literal: "-9007199254740991", value: -9007199254740991 });
  // Past 2^53 a bound number is stored rounded; its text through CAST(? AS INTEGER) is stored
  // exactly (the literal), though handed back as a JS number.
  assert.equal(rest.big.row.type, "integer", JSON.stringify(rest.big));
  assert.equal(rest.big.row.literal, "9007199254740992");
  assert.equal(rest.exactBig.row.type, "integer");
  assert.equal(rest.exactBig.row.literal, "9223372036854775807");
  assert.deepEqual(rest.real.row, { type: "real", literal: "1.5", value: 1.5 });
  // NULL goes as the binding sends it; a blob has no form over REST, and is refused before any call.
  assert.deepEqual(rest.null.row, { type: "null", literal: "NULL", value: null });
  // The application's (a handler bound it), as a binding's type error is: 500, never the client's 400.
  assert.equal(rest.blob.status, 500, JSON.stringify(rest.blob));
  assert.equal(rest.blob.error.code, "query_failed");

  // A note written over REST before the binding exists.
  const early = await w.call("POST", "/t/vals/notes", { body: "over rest" }, await member("vals"));
  assert.equal(early.headers.get("x-edge-tenancy-database-path"), "rest");

  // A deploy would apply the recorded binding; here miniflare's setOptions does, binding the very
  // database the local API made.
  await w.mf.setOptions({
    workers: [
      { ...demo, wrappedBindings: { [record.binding]: localD1Binding(record.database_id) } },
      localApiWorker(),
      localD1Worker(),
    ],
  });
  const notes = await w.call("GET", "/t/vals/notes", undefined, await member("vals"));
  assert.equal(notes.headers.get("x-edge-tenancy-database-path"), "binding");
  assert.deepEqual((await json(notes)).notes.map((n) => n.body), ["over rest"], "the same database on both paths");
  const bound = await everyType("vals");
  for (const [name, answer] of Object.entries(bound)) {
    assert.equal(answer.status, 200, `${name}: ${JSON.stringify(answer)}`);
    assert.equal(answer.path, "binding", name);
  }
  for (const name of ["unicode", "empty", "small", "negative", "real", "null"]) assert.deepEqual(bound[name].row, rest[name].row, name);
  assert.equal(bound.big.row.literal, "9007199254740992");
  assert.equal(bound.exactBig.row.literal, "9223372036854775807");
  assert.deepEqual(bound.null.row, { type: "null", literal: "NULL", value: null });
  assert.equal(bound.blob.row.type, "blob");
  assert.equal(bound.blob.row.literal, "X'00017F80FF'");
});

test("read your writes: the binding path hands out a bookmark and reads from it", async () => {
  const token = await member("vals");
  const write = await w.call("POST", "/t/vals/notes", { body: "written" }, token);
  assert.equal(write.status, 201, await write.clone().text());
  assert.equal(write.headers.get("x-edge-tenancy-database-path"), "binding");
  const bookmark = write.headers.get("x-d1-bookmark");
  assert.ok(bookmark, "a bookmark comes back");
  const read = await fetch(new URL("/t/vals/notes", await w.mf.ready), {
    headers: { authorization: `Bearer ${token}`, "x-d1-bookmark": bookmark },
  });
  assert.equal(read.status, 200);
  assert.deepEqual((await json(read)).notes.map((n) => n.body), ["over rest", "written"]);
  assert.ok(read.headers.get("x-d1-bookmark"));
});

test("a statement the database refuses is the application's error on both paths: 500, no SQLite text, never 400 or 503", async () => {
  // "vals" is bound (the test above); "nosql" is provisioned now, so only REST reaches it.
  const other = await json(await w.call("POST", "/tenants", { id: "nosql" }));
  const vals = await json(await w.call("GET", "/tenants/vals"));
  for (const [tenant, record, path] of [["vals", vals, "binding"], ["nosql", other, "rest"]]) {
    const dropped = await w.call("POST", `/admin/databases/${record.database_id}/query`, { sql: "DROP TABLE notes" });
    assert.equal(dropped.status, 200, await dropped.clone().text());
    const res = await w.call("GET", `/t/${tenant}/notes/1`, undefined, await member(tenant));
    const text = await res.text();
    assert.equal(res.status, 500, `${path}: ${text}`);
    assert.equal(JSON.parse(text).error.code, "query_failed", path);
    assert.equal(res.headers.get("retry-after"), null, path);
    assert.doesNotMatch(text, /notes|SQLITE|no such table/, path);
  }
  // An admin's own SQL on the admin console is the caller's: 400 with the database's words.
  const bad = await w.call("POST", `/admin/databases/${other.database_id}/query`, { sql: "SELECT * FROM notes" });
  assert.equal(bad.status, 400);
  assert.match((await json(bad)).error.message, /no such table: notes/);
});

test("a tenant in the demo's schema group: migrated when provisioned, and its database refuses schema changes on both paths, 403 blocked", async () => {
  // "vals" is bound (above); "locked" is reached over REST only.
  await w.call("POST", "/tenants", { id: "locked" });
  for (const [tenant, path] of [["vals", "binding"], ["locked", "rest"]]) {
    const record = await json(await w.call("GET", `/tenants/${tenant}`));
    assert.equal(record.schema_group, "demo", path);
    assert.equal(record.schema_version, 2, path);
    const token = await member(tenant);
    const query = (sql, params, as = token) => w.call("POST", `/t/${tenant}/query`, { sql, params }, as);
    const ledger = await json(await query("SELECT name, version FROM edge_tenancy_migrations ORDER BY version"));
    assert.deepEqual(ledger.results, [{ name: "0001_notes.sql", version: 1 }, { name: "0002_round_trip.sql", version: 2 }], path);
    for (const sql of [
      "CREATE TABLE extra (a)",
      "select 1; DROP TABLE notes",
      "/* harmless */ alter table notes add column c",
      "PRAGMA writable_schema = 1",
      "UPDATE sqlite_master SET sql = ''",
      "DELETE FROM edge_tenancy_migrations; VACUUM",
    ]) {
      const res = await query(sql);
      const text = await res.text();
      assert.equal(res.status, 403, `${path}: ${sql}: ${text}`);
      assert.deepEqual(JSON.parse(text).error, { code: "blocked", message: "Operation was blocked" }, sql);
      assert.equal(res.headers.get("x-edge-tenancy-database-path"), null);
    }
    // A token holding the ddl scope may change the schema: here it puts back the notes table an
    // administrator dropped from "vals" behind the migrations' back (the test above).
    const ddl = await sign({ tenant, sub: `${tenant}-dba`, scope: "ddl" });
    const made = await query("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)", [], ddl);
    assert.equal(made.status, 200, await made.clone().text());
    // Reads and writes pass, on the path the tenant has.
    const write = await query("INSERT INTO notes (body) VALUES (?) RETURNING body", ["create table inside a string"]);
    assert.equal(write.status, 200, await write.clone().text());
    assert.equal(write.headers.get("x-edge-tenancy-database-path"), path);
    assert.equal((await json(await query("SELECT count(*) AS n FROM notes WHERE body LIKE 'create%'"))).results[0].n, 1);
  }
});

test("the tenant routes stay for administrators", async () => {
  assert.equal((await w.call("POST", "/tenants", { id: "x" }, null)).status, 401);
  assert.equal((await w.call("POST", "/tenants", { id: "x" }, await member("beta"))).status, 403);
  assert.equal((await w.call("DELETE", "/tenants/beta", undefined, await member("beta"))).status, 403);
});

test("under the local API, a D1 binding declared for a tenant (wrangler dev's own local database) is not used: the REST path reaches the database the local API made", async () => {
  const record = await json(await w.call("POST", "/tenants", { id: "declared" }));
  assert.equal(record.binding, "TENANT_DECLARED");
  const vals = await json(await w.call("GET", "/tenants/vals"));
  // As `wrangler dev` does with a [[d1_databases]] entry: a D1 of its own under that name.
  await w.mf.setOptions({
    workers: [
      {
        ...demo,
        d1Databases: { ...demo.d1Databases, TENANT_DECLARED: "wrangler-dev-local" },
        wrappedBindings: { [vals.binding]: localD1Binding(vals.database_id) },
      },
      localApiWorker(),
      localD1Worker(),
    ],
  });
  const token = await member("declared");
  const write = await w.call("POST", "/t/declared/notes", { body: "one database" }, token);
  assert.equal(write.status, 201, await write.clone().text());
  assert.equal(write.headers.get("x-edge-tenancy-database-path"), "rest");
  const read = await w.call("GET", "/t/declared/notes", undefined, token);
  assert.deepEqual((await json(read)).notes.map((n) => n.body), ["one database"]);
  // The note is in the local API's database, and the declared local D1 was never written.
  const inApi = await json(await w.call("POST", `/admin/databases/${record.database_id}/query`, { sql: "SELECT body FROM notes" }));
  assert.deepEqual(inApi.results[0].results, [{ body: "one database" }], JSON.stringify(inApi));
  const local = await w.mf.getD1Database("TENANT_DECLARED", "edge-tenancy-demo");
  const tables = await local.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'notes'").all();
  assert.deepEqual(tables.results, [], "wrangler dev's local D1 stays untouched");
  // A binding that names its database (the local API's own) is still used.
  const bound = await w.call("GET", "/t/vals/notes", undefined, await member("vals"));
  assert.equal(bound.headers.get("x-edge-tenancy-database-path"), "binding");
});
