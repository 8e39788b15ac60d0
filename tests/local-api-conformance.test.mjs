// The local Cloudflare API against clients nobody on this project wrote: the official `cloudflare`
// SDK (pointed at it with `baseURL`) and `wrangler d1 … --remote` (pointed at it with
// CLOUDFLARE_API_BASE_URL), over real HTTP, on the same running local API that the project's own
// Rust client (in the demo worker, through its service binding) uses. Code that works against
// these clients' expectations here is what works against Cloudflare.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import Cloudflare from "cloudflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker } from "./demo-admin.mjs";
import { localApiWorker, control, ON_A_REAL_ACCOUNT } from "../local-api/testing.mjs";

const ACCOUNT = "0000000000000000000000000000000a";
const TOKEN = "local-dev-token";
const SCRIPT = "edge-tenancy-demo";
const account_id = ACCOUNT;

let mf, base, local, sdk, demo;
before(async () => {
  // The local API first: Miniflare's HTTP socket serves it, so the SDK and wrangler reach it over
  // the network like the real one; the demo reaches the same instance through its binding.
  mf = new Miniflare({ workers: [localApiWorker(ON_A_REAL_ACCOUNT), demoWorker({ exportPollMs: 20 })] });
  base = new URL("/client/v4", await mf.ready).href;
  local = control((path, init) => fetch(new URL(path, base), init));
  sdk = new Cloudflare({ apiToken: TOKEN, baseURL: base, maxRetries: 0 });
  const worker = await mf.getWorker("edge-tenancy-demo");
  const admin = await adminToken();
  demo = async (method, path, body) => {
    const res = await worker.fetch(new URL(path, "http://demo"), {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await json(res) };
  };
});
after(() => mf?.dispose());

/** The error an SDK call throws: its HTTP status and Cloudflare's first error code. */
async function sdkFails(promise) {
  const error = await promise.then(
    () => assert.fail("the SDK call should have failed"),
    (e) => e,
  );
  assert.ok(error instanceof Cloudflare.APIError, String(error));
  return { status: error.status, code: error.errors?.[0]?.code };
}

const items = async (page) => {
  const all = [];
  for await (const item of page) all.push(item);
  return all;
};

/** The signed URLs point at the local API's host; the test reaches it wherever Miniflare put it. */
const local_url = (url) => url.replace(/^https?:\/\/[^/]+/, new URL(base).origin);

test("the official SDK: create, get by id and name, list every page, update, edit, delete, with the API's errors", async () => {
  await local.reset();
  const db = await sdk.d1.database.create({ account_id, name: "sdk-db", jurisdiction: "us", read_replication: { mode: "auto" } });
  assert.equal(db.name, "sdk-db");
  assert.equal(db.jurisdiction, "us");
  assert.deepEqual(db.read_replication, { mode: "auto" });
  assert.deepEqual(await sdk.d1.database.get("sdk-db", { account_id, fields: ["uuid", "name"] }), { uuid: db.uuid, name: "sdk-db" });
  assert.equal((await sdk.d1.database.get(db.uuid, { account_id })).num_tables, 0);

  await local.seed("seeded", 25);
  const listed = await items(sdk.d1.database.list({ account_id, per_page: 10 }));
  assert.equal(listed.length, 26, "the SDK's pager walks every page");
  assert.equal(new Set(listed.map((d) => d.uuid)).size, 26);
  assert.equal(listed.find((d) => d.uuid === db.uuid).jurisdiction, "us");
  assert.deepEqual((await items(sdk.d1.database.list({ account_id, name: "sdk" }))).map((d) => d.name), ["sdk-db"]);

  assert.deepEqual((await sdk.d1.database.update(db.uuid, { account_id, read_replication: { mode: "disabled" } })).read_replication, { mode: "disabled" });
  assert.deepEqual((await sdk.d1.database.edit(db.uuid, { account_id, read_replication: { mode: "auto" } })).read_replication, { mode: "auto" });

  assert.deepEqual(await sdkFails(sdk.d1.database.create({ account_id, name: "sdk-db" })), { status: 400, code: 7502 });
  assert.deepEqual(await sdkFails(sdk.d1.database.create({ account_id, name: "Upper" })), { status: 400, code: 7400 });
  assert.deepEqual(await sdkFails(sdk.d1.database.get("no-such-db", { account_id })), { status: 404, code: 7404 });
  assert.deepEqual(await sdkFails(new Cloudflare({ apiToken: "wrong", baseURL: base, maxRetries: 0 }).d1.database.get(db.uuid, { account_id })), {
    status: 403,
    code: 10000,
  });
  assert.equal(await sdk.d1.database.delete(db.uuid, { account_id }), null);
  assert.deepEqual(await sdkFails(sdk.d1.database.get(db.uuid, { account_id })), { status: 404, code: 7404 });
});

test("the official SDK: query and raw with params and multi-statement batch entries; numbers and null taken, as the real API takes them", async () => {
  await local.reset();
  const db = await sdk.d1.database.create({ account_id, name: "sdk-sql" });
  const created = await items(
    sdk.d1.database.query(db.uuid, { account_id, sql: "CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO n (v) VALUES ('a'), ('b')" }),
  );
  assert.equal(created.length, 2);
  assert.equal(created[1].meta.changes, 2);
  assert.ok(["WNAM", "ENAM", "WEUR", "EEUR", "APAC", "OC"].includes(created[1].meta.served_by_region));
  const rows = await items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT v FROM n WHERE id = ?", params: ["2"] }));
  assert.deepEqual(rows[0].results, [{ v: "b" }]);
  const batch = await items(
    sdk.d1.database.query(db.uuid, { account_id, batch: [{ sql: "SELECT count(*) AS n FROM n" }, { sql: "SELECT 1 AS one; SELECT 2 AS two" }] }),
  );
  assert.deepEqual(batch.map((r) => r.results[0]), [{ n: 2 }, { one: 1 }, { two: 2 }]);
  const raw = await items(sdk.d1.database.raw(db.uuid, { account_id, sql: "SELECT id, v FROM n ORDER BY id" }));
  assert.deepEqual(raw[0].results, { columns: ["id", "v"], rows: [[1, "a"], [2, "b"]] });
  // The SDK's types say `params: string[]`; JavaScript lets a number or null through, and the API
  // binds them as such, as the real one does (local-api/README.md names the sources).
  const typed = await items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT ? AS n, ? AS z, typeof(?) AS tz", params: [2.5, null, null] }));
  assert.deepEqual(typed[0].results, [{ n: 2.5, z: null, tz: "null" }]);
  // A boolean is not among them.
  assert.deepEqual(await sdkFails(items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT ?", params: [true] }))), { status: 400, code: 7400 });
  const failed = await sdkFails(items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT * FROM missing" })));
  assert.deepEqual(failed, { status: 400, code: 7500 });
});

test("the official SDK: export polled to completion (202 while running, 200 at the end), import, time travel", async () => {
  await local.reset();
  await local.limits({ exportPolls: 2 });
  const db = await sdk.d1.database.create({ account_id, name: "sdk-tasks" });
  await items(sdk.d1.database.query(db.uuid, { account_id, sql: "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')" }));

  // The SDK unwraps `result`; withResponse shows the status code.
  const { data: started, response } = await sdk.d1.database.export(db.uuid, { account_id, output_format: "polling" }).withResponse();
  assert.deepEqual([response.status, started.status, started.success], [202, "active", true]);
  let status = started;
  const statuses = [];
  while (status.status === "active") {
    const next = await sdk.d1.database.export(db.uuid, { account_id, output_format: "polling", current_bookmark: started.at_bookmark }).withResponse();
    status = next.data;
    statuses.push(next.response.status);
  }
  assert.deepEqual(statuses, [202, 200]);
  assert.equal(status.status, "complete");
  const dump = await (await fetch(local_url(status.result.signed_url))).text();
  assert.match(dump, /INSERT INTO "t" VALUES\('kept'\);/);

  // Import: init, upload to the URL given, ingest, poll.
  const file = "CREATE TABLE imported (v TEXT);\nINSERT INTO imported VALUES ('in');\n";
  const etag = createHash("md5").update(file).digest("hex");
  const init = await sdk.d1.database.import(db.uuid, { account_id, action: "init", etag });
  const put = await fetch(local_url(init.upload_url), { method: "PUT", body: file });
  assert.equal(put.headers.get("etag"), `"${etag}"`);
  const ingested = await sdk.d1.database.import(db.uuid, { account_id, action: "ingest", etag, filename: init.filename });
  assert.deepEqual([ingested.status, ingested.result.num_queries], ["complete", 2]);
  const polled = await sdk.d1.database.import(db.uuid, { account_id, action: "poll", current_bookmark: ingested.at_bookmark });
  assert.equal(polled.result.final_bookmark, ingested.result.final_bookmark);

  // Time travel: back to before the import, and forward again.
  const { bookmark } = await sdk.d1.database.timeTravel.getBookmark(db.uuid, { account_id });
  assert.equal(bookmark, ingested.result.final_bookmark);
  const back = await sdk.d1.database.timeTravel.restore(db.uuid, { account_id, bookmark: ingested.at_bookmark });
  assert.equal(back.previous_bookmark, bookmark);
  assert.deepEqual(await sdkFails(items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT * FROM imported" }))), { status: 400, code: 7500 });
  await sdk.d1.database.timeTravel.restore(db.uuid, { account_id, bookmark: back.previous_bookmark });
  const rows = await items(sdk.d1.database.query(db.uuid, { account_id, sql: "SELECT v FROM imported" }));
  assert.deepEqual(rows[0].results, [{ v: "in" }]);
  assert.deepEqual(await sdkFails(sdk.d1.database.timeTravel.restore(db.uuid, { account_id })), { status: 400, code: 7400 });
});

test("the official SDK: Worker settings and script settings; the v7 settings upload is broken in the SDK", async () => {
  await local.reset();
  const db = await sdk.d1.database.create({ account_id, name: "sdk-bound" });
  const settings = sdk.workers.scripts.scriptAndVersionSettings;
  assert.deepEqual((await settings.get(SCRIPT, { account_id })).bindings, []);

  // SDK bug (cloudflare 7.3.0, reported as cloudflare/cloudflare-typescript#2648): `edit` sends the
  // nested `settings` object as bracketed form fields (`settings[bindings][][name]`, …) instead of
  // one JSON part named `settings`, so the API answers 10201, as it is reported to do for real.
  const bindings = [{ type: "d1", name: "DB", database_id: db.uuid }];
  assert.deepEqual(await sdkFails(settings.edit(SCRIPT, { account_id, settings: { bindings } })), { status: 400, code: 10201 });
  // Through the SDK all the same, with the part it should have sent: a named JSON blob.
  const part = new File([JSON.stringify({ bindings })], "settings.json", { type: "application/json" });
  const edited = await settings.edit(SCRIPT, { account_id, settings: part });
  assert.deepEqual(edited.bindings, bindings);
  assert.deepEqual((await settings.get(SCRIPT, { account_id })).bindings, bindings);
  const unknown = new File([JSON.stringify({ usage_model: "free" })], "settings.json", { type: "application/json" });
  assert.deepEqual(await sdkFails(settings.edit(SCRIPT, { account_id, settings: unknown })), { status: 400, code: 10021 });

  // `workers.scripts.settings` is the Worker-level `script-settings` endpoint, JSON in and out.
  assert.deepEqual(await sdk.workers.scripts.settings.get(SCRIPT, { account_id }), { logpush: false, tags: [], tail_consumers: [] });
  const scriptSettings = await sdk.workers.scripts.settings.edit(SCRIPT, { account_id, logpush: true, tags: ["tenants"] });
  assert.deepEqual(scriptSettings, { logpush: true, tags: ["tenants"], tail_consumers: [] });
  assert.deepEqual(await sdkFails(sdk.workers.scripts.settings.get("no-such-worker", { account_id })), { status: 404, code: 10007 });
});

/** Runs wrangler against the local API, as a user with a token and an account id would. */
async function wrangler(cwd, ...args) {
  const env = { ...process.env, CLOUDFLARE_API_BASE_URL: base, CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: ACCOUNT, CI: "true" };
  try {
    const { stdout } = await promisify(execFile)("wrangler", args, { cwd, env });
    return stdout;
  } catch (error) {
    assert.fail(`wrangler ${args.join(" ")} failed:\n${error.stdout}\n${error.stderr}`);
  }
}

/** The JSON that `wrangler … --json` prints after its banner, if any. */
const printed = (stdout) => JSON.parse(stdout.slice(stdout.search(/^[[{]/m)));

test("wrangler d1 create, list, info, execute (command and file), export and time-travel info --remote", async () => {
  await local.reset();
  const cwd = mkdtempSync(join(tmpdir(), "edge-tenancy-wrangler-"));
  assert.match(await wrangler(cwd, "d1", "create", "wrangler-db", "--jurisdiction", "us"), /Successfully created DB 'wrangler-db'/);
  const list = printed(await wrangler(cwd, "d1", "list", "--json"));
  const made = list.find((d) => d.name === "wrangler-db");
  assert.equal(made.jurisdiction, "us");
  // info looks the database up by name (GET d1/database/{name}), then by id.
  const info = printed(await wrangler(cwd, "d1", "info", "wrangler-db", "--json"));
  assert.equal(info.uuid, made.uuid);

  const executed = printed(
    await wrangler(cwd, "d1", "execute", "wrangler-db", "--remote", "--json", "--command", "CREATE TABLE w (v TEXT); INSERT INTO w VALUES ('one')"),
  );
  assert.deepEqual(executed.map((r) => r.success), [true, true]);
  // --file goes through the import endpoint: init, upload, ingest.
  writeFileSync(join(cwd, "more.sql"), "INSERT INTO w VALUES ('two');\nINSERT INTO w VALUES ('three');\n");
  assert.match(await wrangler(cwd, "d1", "execute", "wrangler-db", "--remote", "--file", "more.sql", "-y"), /Executed 2 queries/);
  const selected = printed(await wrangler(cwd, "d1", "execute", "wrangler-db", "--remote", "--json", "--command", "SELECT v FROM w ORDER BY rowid"));
  assert.deepEqual(selected[0].results, [{ v: "one" }, { v: "two" }, { v: "three" }]);

  await local.limits({ exportPolls: 2 });
  await wrangler(cwd, "d1", "export", "wrangler-db", "--remote", "--output", "dump.sql", "-y");
  const dump = readFileSync(join(cwd, "dump.sql"), "utf8");
  assert.match(dump, /CREATE TABLE w/);
  assert.match(dump, /VALUES\('three'\)/);

  const travel = printed(await wrangler(cwd, "d1", "time-travel", "info", "wrangler-db", "--json"));
  const { bookmark } = await sdk.d1.database.timeTravel.getBookmark(made.uuid, { account_id });
  assert.equal(travel.bookmark, bookmark);
});

test("one local API for all: what wrangler and the SDK make, the Rust client reads and changes, and back", async () => {
  await local.reset();
  const cwd = mkdtempSync(join(tmpdir(), "edge-tenancy-wrangler-"));
  await wrangler(cwd, "d1", "create", "shared-db");
  await wrangler(cwd, "d1", "execute", "shared-db", "--remote", "--command", "CREATE TABLE s (id INTEGER PRIMARY KEY, n INTEGER)");

  // The Rust client finds it, and writes with numbers that go over REST as JSON numbers.
  let res = await demo("GET", "/admin/databases?name=shared");
  const [found] = res.body.databases;
  assert.equal(found.name, "shared-db");
  res = await demo("POST", `/admin/databases/${found.uuid}/query`, { sql: "INSERT INTO s (n) VALUES (?), (?)", params: [41, 1.5] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const rows = await items(sdk.d1.database.query(found.uuid, { account_id, sql: "SELECT n, typeof(n) AS t FROM s ORDER BY id" }));
  assert.deepEqual(rows[0].results, [{ n: 41, t: "integer" }, { n: 1.5, t: "real" }]);

  // It binds the database to the Worker with database_id, which the SDK reads back.
  res = await demo("POST", `/admin/workers/${SCRIPT}/d1-bindings`, { name: "SHARED", id: found.uuid });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const read = await sdk.workers.scripts.scriptAndVersionSettings.get(SCRIPT, { account_id });
  assert.deepEqual(read.bindings, [{ type: "d1", name: "SHARED", database_id: found.uuid }]);

  // Its export sees 202s while the local API keeps the export running, then the dump.
  await local.limits({ exportPolls: 3 });
  await local.resetCalls();
  res = await demo("POST", `/admin/databases/${found.uuid}/export`, {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal((await local.calls()).calls["d1.export"], 4);
  assert.match(await (await fetch(local_url(res.body.signed_url))).text(), /INSERT INTO "s" VALUES\(1,41\);/);

  // A failed export reaches the Rust client as an error, not as a hang or a success.
  await local.faults([{ operation: "d1.export", fault: "taskError", message: "export failed on purpose" }]);
  res = await demo("POST", `/admin/databases/${found.uuid}/export`, {});
  assert.equal(res.status, 502);
  assert.match(res.body.error.message, /export failed on purpose/);

  // And what the Rust client deletes, wrangler no longer finds.
  assert.equal((await demo("DELETE", `/admin/databases/${found.uuid}`)).status, 200);
  assert.ok(!printed(await wrangler(cwd, "d1", "list", "--json")).some((d) => d.name === "shared-db"));
});
