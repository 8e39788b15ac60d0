// Backups of a tenant's database to R2 in the demo worker, against the local Cloudflare API, both
// in workerd: a 50 MB database is streamed from the export's signed URL into R2, and the Worker's
// wasm memory (which the demo logs after each backup) stays far below the dump's size; backups
// named (BACKUP_BUCKET) with no bucket bound refuse provisioning and deprovisioning. The npm
// package's createD1Factory does the same with its `backupBucket`, and exports on demand.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { dirname, join } from "node:path";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, control } from "../local-api/testing.mjs";

const { LOCAL_ACCOUNT_ID = "0000000000000000000000000000000a", LOCAL_API_TOKEN = "local-dev-token" } = localApiWorker().bindings;
const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", bindTo: "edge-tenancy-demo" });
const OPTIONS = { timeoutMs: 60_000 };
const MB = 1_000_000;

let w;
const logged = [];
before(async () => {
  const mf = new Miniflare({
    workers: [
      { ...demoWorker(OPTIONS, { D1_FACTORY, BACKUP_BUCKET: "BACKUPS" }), r2Buckets: ["BACKUPS"] },
      // The same Worker deployed with backups named and the bucket's binding forgotten.
      { ...demoWorker(OPTIONS, { D1_FACTORY, BACKUP_BUCKET: "BACKUPS" }), name: "edge-tenancy-demo-unbound" },
      localApiWorker(),
      localD1Worker(),
    ],
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) stream.on("data", (chunk) => logged.push(String(chunk)));
    },
  });
  const api = await mf.getWorker("edge-tenancy-local-api");
  const admin = await adminToken();
  const call = async (method, path, body) =>
    fetch(new URL(path, await mf.ready), {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const query = (uuid, sql) =>
    api
      .fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}/d1/database/${uuid}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${LOCAL_API_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ sql }),
      })
      .then((r) => r.json());
  const unbound = await mf.getWorker("edge-tenancy-demo-unbound");
  const callUnbound = (method, path, body) =>
    unbound.fetch(new URL(path, "http://demo"), {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  w = { mf, call, callUnbound, query, local: control((u, init) => api.fetch(new URL(u, "http://local-api"), init)) };
});
after(() => w?.mf.dispose());

test("a 50 MB tenant database is backed up to R2 and restored, the Worker never holding the dump", async () => {
  await w.local.reset();
  const created = await w.call("POST", "/tenants", { id: "big" });
  assert.equal(created.status, 201, await created.clone().text());
  const { database_id } = await json(created);
  // 50,000 notes of 1,000 characters each, in one statement (one time-travel state).
  const filled = await w.query(
    database_id,
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) " +
      "INSERT INTO notes (body) SELECT hex(randomblob(500)) FROM n",
  );
  assert.equal(filled.success, true, JSON.stringify(filled.errors));
  const before = await w.query(database_id, "SELECT count(*) AS n, sum(length(body)) AS chars, max(id) AS last FROM notes");
  const { n, chars, last } = before.result[0].results[0];
  assert.equal(n, 50_000);
  assert.equal(chars, 50 * MB);
  const lastBody = (await w.query(database_id, `SELECT body FROM notes WHERE id = ${last}`)).result[0].results[0].body;

  const gone = await w.call("DELETE", "/tenants/big");
  assert.equal(gone.status, 200, (await gone.clone().text()) + logged.join(""));
  const backups = await w.mf.getR2Bucket("BACKUPS", "edge-tenancy-demo");
  const { objects } = await backups.list({ prefix: "backups/big/" });
  assert.equal(objects.length, 1);
  // The removal answers where its backup is.
  assert.deepEqual(await gone.json(), { deleted: "big", backup: objects[0].key });
  const size = objects[0].size;
  assert.ok(size > 50 * MB, `a dump of ${size} bytes`);
  const dump = await (await backups.get(objects[0].key)).text();
  assert.equal(dump.length, size);
  // The schema group's ledger first (its migrations made the notes table), then the notes.
  assert.match(dump, /^CREATE TABLE edge_tenancy_migrations [\s\S]*\nCREATE TABLE notes \(/);
  assert.equal(dump.split('\nINSERT INTO "notes" VALUES(').length - 1, 50_000);
  assert.ok(dump.includes(`INSERT INTO "notes" VALUES(${last},'${lastBody}');`));

  // The demo logs its wasm memory after the backup (1.3 MB here): a dump held in it, as the
  // download before streaming did (a String, then the bytes put), grew it to 136 MB for this
  // dump, past the Worker's 128 MB.
  const line = logged.join("").match(/big backed up to (\S+) \(wasm memory (\d+) bytes\)/);
  assert.ok(line, logged.join(""));
  assert.equal(line[1], objects[0].key);
  const wasm = Number(line[2]);
  console.log(`dump ${size} bytes; demo's wasm memory after the backup ${wasm} bytes`);
  assert.ok(wasm < 10 * MB, `wasm memory ${wasm} bytes`);

  // Restoring is one call: a new database, the dump streamed from R2 to the import's upload URL,
  // then bound and ready.
  const restored = await w.call("POST", "/tenants", { id: "big", restore: objects[0].key });
  assert.equal(restored.status, 201, (await restored.clone().text()) + logged.join(""));
  const record = await restored.json();
  assert.equal(record.state, "ready");
  assert.equal(record.restored_from, objects[0].key);
  assert.notEqual(record.database_id, database_id);
  const after = await w.query(record.database_id, "SELECT count(*) AS n, sum(length(body)) AS chars, max(id) AS last FROM notes");
  assert.deepEqual(after.result[0].results[0], { n, chars, last });
  const token = await sign({ tenant: "big", sub: "u1", scope: "read" });
  const note = await fetch(new URL(`/t/big/notes/${last}`, await w.mf.ready), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(note.status, 200);
  assert.equal((await note.json()).note.body, lastBody);
  const restoreLine = logged.join("").match(/big restored from (\S+) \(wasm memory (\d+) bytes\)/);
  assert.ok(restoreLine, logged.join(""));
  const restoreWasm = Number(restoreLine[2]);
  console.log(`demo's wasm memory after restoring the ${size}-byte dump: ${restoreWasm} bytes`);
  assert.ok(restoreWasm < 10 * MB, `wasm memory ${restoreWasm} bytes`);
  // The same call again finds it done; over a tenant that exists, another backup is refused.
  assert.equal((await w.call("POST", "/tenants", { id: "big", restore: objects[0].key })).status, 200);
  const other = await w.call("POST", "/tenants", { id: "big", restore: "backups/big/0.sql" });
  assert.equal(other.status, 404, "no such backup: checked first");
});

test("restores: an unknown backup or an existing tenant is refused before anything is made; a failed import is resumed", async () => {
  await w.local.reset();
  const backups = await w.mf.getR2Bucket("BACKUPS", "edge-tenancy-demo");
  await backups.put("backups/small/1.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\nINSERT INTO notes VALUES(1,'kept');\n");
  const missing = await w.call("POST", "/tenants", { id: "small", restore: "backups/small/2.sql" });
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: { code: "not_found", message: "no backup with that key" } });
  assert.equal((await w.call("POST", "/tenants", { id: "there" })).status, 201);
  const exists = await w.call("POST", "/tenants", { id: "there", restore: "backups/small/1.sql" });
  assert.equal(exists.status, 409);
  assert.equal((await exists.json()).error.code, "tenant_exists");
  assert.equal((await w.local.calls()).calls["d1.create"], 1, "only the plain tenant's");

  // The import fails (its ingest): the tenant is failed, not ready without its data. Provisioning
  // it again resumes the restore into the same database.
  await w.local.faults([{ operation: "d1.import", fault: "taskError", message: "disk full" }]);
  const failed = await w.call("POST", "/tenants", { id: "small", restore: "backups/small/1.sql" });
  assert.equal(failed.status, 500);
  assert.equal((await failed.json()).error.code, "hook_failed");
  const row = await json(await w.call("GET", "/tenants/small"));
  assert.equal(row.state, "failed");
  assert.equal(row.restored_from, "backups/small/1.sql");
  const resumed = await w.call("POST", "/tenants", { id: "small" });
  assert.equal(resumed.status, 201, await resumed.clone().text());
  const record = await resumed.json();
  assert.equal(record.database_id, row.database_id);
  assert.deepEqual((await w.query(record.database_id, "SELECT * FROM notes")).result[0].results, [{ id: 1, body: "kept" }]);
  // A backup from before the schema group is brought to it after the import: the notes table's
  // migration (IF NOT EXISTS) adopts the imported table, the next one adds what it lacked.
  assert.equal(record.schema_group, "demo");
  assert.equal(record.schema_version, 2);
  const tables = await w.query(record.database_id, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('notes', 'round_trip') ORDER BY name");
  assert.deepEqual(tables.result[0].results, [{ name: "notes" }, { name: "round_trip" }]);
  const { calls } = await w.local.calls();
  assert.equal(calls["d1.create"], 2);
  // init, ingest (failed), init, ingest, no polls: the local API's ingest finishes before it answers.
  assert.equal(calls["d1.import"], 4);
});

test("backups named with no bucket bound: provisioning and deprovisioning refused, nothing done", async () => {
  await w.local.reset();
  const made = await w.callUnbound("POST", "/tenants", { id: "nobackup" });
  assert.equal(made.status, 503);
  assert.deepEqual(await made.json(), { error: { code: "not_configured", message: "BACKUP_BUCKET names no bound R2 bucket" } });
  assert.match(logged.join(""), /BACKUP_BUCKET names "BACKUPS", and no R2 bucket is bound by that name/);
  // A tenant made where the bucket is bound is not removed where it is not.
  assert.equal((await w.call("POST", "/tenants", { id: "kept" })).status, 201);
  const removed = await w.callUnbound("DELETE", "/tenants/kept");
  assert.equal(removed.status, 503);
  assert.equal((await w.call("GET", "/tenants/kept")).status, 200);
  const { calls } = await w.local.calls();
  assert.equal(calls["d1.export"] ?? 0, 0);
  assert.equal(calls["d1.delete"] ?? 0, 0);
  assert.equal(calls["d1.create"], 1);
});

test("createD1Factory: backupBucket streams the dump into R2 before the delete, and exportDatabase exports on demand", async () => {
  const scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/backup"));
  const mf = new Miniflare({
    workers: [
      {
        name: "backup-spec",
        modules: true,
        scriptPath,
        modulesRoot: dirname(scriptPath),
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
        compatibilityDate: COMPATIBILITY_DATE,
        d1Databases: { CONTROL_PLANE: "control-plane" },
        r2Buckets: ["BACKUPS"],
        serviceBindings: { CLOUDFLARE_API: "edge-tenancy-local-api" },
        bindings: { ACCOUNT_ID: LOCAL_ACCOUNT_ID, API_TOKEN: LOCAL_API_TOKEN },
      },
      localApiWorker(),
      localD1Worker(),
    ],
  });
  try {
    const spec = await mf.getWorker("backup-spec");
    const call = (method, path, body) => spec.fetch(`http://spec${path}`, { method, body });
    // Given and not bound: createD1Factory throws, naming it.
    const unbound = await call("GET", "/unbound");
    assert.equal(await unbound.text(), "edge-tenancy: createD1Factory: backupBucket is an R2 bucket binding, and it is not bound");

    const made = await call("POST", "/provision/acme");
    assert.equal(made.status, 200, await made.clone().text());
    for (const body of ["first note", "acme's second"]) assert.equal((await call("POST", "/note/acme", body)).status, 204);
    // On demand: the dump, streamed.
    const exported = await call("GET", "/export/acme");
    assert.equal(exported.status, 200);
    const dump = await exported.text();
    assert.match(dump, /CREATE TABLE notes/);
    assert.match(dump, /'acme''s second'/);

    const gone = await call("DELETE", "/deprovision/acme");
    assert.equal(gone.status, 200);
    const backups = await mf.getR2Bucket("BACKUPS", "backup-spec");
    const { objects } = await backups.list({ prefix: "backups/acme/" });
    assert.equal(objects.length, 1);
    assert.deepEqual(await gone.json(), { backup: objects[0].key });
    assert.equal(await (await backups.get(objects[0].key)).text(), dump);
    // Deprovisioned: the tenant and its database are gone.
    assert.match(await (await call("GET", "/export/acme")).text(), /no such tenant/);

    // Restored from it: a new database with the notes, ready; a key with no backup is a 404.
    const missing = await call("POST", "/restore/acme", "backups/acme/0.sql");
    assert.deepEqual([missing.status, await missing.text()], [404, "no backup with that key"]);
    const restored = await call("POST", "/restore/acme", objects[0].key);
    assert.equal(restored.status, 200, await restored.clone().text());
    const { record, already } = await restored.json();
    assert.deepEqual([record.state, record.restored_from, already], ["ready", objects[0].key, false]);
    assert.deepEqual(await (await call("GET", "/notes/acme")).json(), ["first note", "acme's second"]);
  } finally {
    await mf.dispose();
  }
});
