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
import { adminToken, demoWorker } from "./demo-admin.mjs";
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

test("a 50 MB tenant database is backed up to R2 without the Worker holding the dump", async () => {
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
  const size = objects[0].size;
  assert.ok(size > 50 * MB, `a dump of ${size} bytes`);
  const dump = await (await backups.get(objects[0].key)).text();
  assert.equal(dump.length, size);
  assert.match(dump, /^CREATE TABLE notes/);
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

    assert.equal((await call("DELETE", "/deprovision/acme")).status, 204);
    const backups = await mf.getR2Bucket("BACKUPS", "backup-spec");
    const { objects } = await backups.list({ prefix: "backups/acme/" });
    assert.equal(objects.length, 1);
    assert.equal(await (await backups.get(objects[0].key)).text(), dump);
    // Deprovisioned: the tenant and its database are gone.
    assert.match(await (await call("GET", "/export/acme")).text(), /no such tenant/);
  } finally {
    await mf.dispose();
  }
});
