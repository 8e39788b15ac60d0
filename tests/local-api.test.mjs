// The local Cloudflare API on its own, over real HTTP in workerd: the shapes, codes and limits of
// the real API, and the fault switches the client specs lean on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { ROOT, json } from "./helpers.mjs";
import { localApiWorker, control, ON_A_REAL_ACCOUNT } from "../local-api/testing.mjs";

const ACCOUNT = "0000000000000000000000000000000a";
const TOKEN = "local-dev-token";
const D1 = `/client/v4/accounts/${ACCOUNT}/d1/database`;

let mf, base, local;
before(async () => {
  mf = new Miniflare(localApiWorker(ON_A_REAL_ACCOUNT));
  base = await mf.ready;
  local = control((path, init) => fetch(new URL(path, base), init));
});
after(() => mf?.dispose());

// A body is sent as is when it is a string or a FormData, as JSON otherwise.
function api(method, path, body, { token = TOKEN, headers = {} } = {}) {
  const raw = body === undefined || typeof body === "string" || body instanceof FormData;
  return fetch(new URL(path, base), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(raw ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: raw ? body : JSON.stringify(body),
  });
}

async function envelope(res, status) {
  assert.equal(res.status, status);
  const body = await json(res);
  assert.deepEqual(Object.keys(body).sort().filter((k) => k !== "result_info"), ["errors", "messages", "result", "success"]);
  return body;
}

async function failsWith(res, status, code) {
  const body = await envelope(res, status);
  assert.equal(body.success, false);
  assert.equal(body.errors[0].code, code, JSON.stringify(body));
  assert.ok(!JSON.stringify(body).includes(TOKEN), "never echoes the token");
  return body;
}

async function create(name, extra = {}) {
  const body = await envelope(await api("POST", D1, { name, ...extra }), 200);
  assert.equal(body.success, true);
  return body.result;
}

test("auth, routing and malformed requests get the real API's codes", async () => {
  await local.reset();
  await failsWith(await api("GET", D1, undefined, { token: null }), 400, 9106);
  await failsWith(await api("GET", D1, undefined, { token: "wrong" }), 403, 10000);
  await failsWith(await api("GET", `/client/v4/accounts/${"f".repeat(32)}/d1/database`), 403, 7403);
  await failsWith(await api("GET", `${D1}/x/y/z`), 400, 7003);
  await failsWith(await api("PUT", D1, {}), 405, 10405);
  await failsWith(await api("POST", D1, "{not json", { headers: { "content-type": "application/json" } }), 400, 7400);
});

test("create checks names, hints, jurisdictions and read replication, and refuses a taken name with 7502", async () => {
  await local.reset();
  const db = await create("tenant-a", { primary_location_hint: "weur", jurisdiction: "eu", read_replication: { mode: "auto" } });
  assert.match(db.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The schema's database object: no primary_location_hint, jurisdiction always there.
  assert.deepEqual(Object.keys(db).sort(), [
    "created_at", "file_size", "jurisdiction", "name", "num_tables", "read_replication", "running_in_region", "uuid", "version",
  ]);
  assert.equal(db.name, "tenant-a");
  assert.equal(db.version, "production");
  assert.equal(db.num_tables, 0);
  assert.equal(db.jurisdiction, "eu");
  assert.equal(db.running_in_region, "WEUR");
  assert.deepEqual(db.read_replication, { mode: "auto" });
  assert.ok(!Number.isNaN(Date.parse(db.created_at)));
  const plain = await create("tenant-us", { jurisdiction: "us" });
  assert.equal(plain.jurisdiction, "us");
  assert.deepEqual(plain.read_replication, { mode: "disabled" });
  assert.equal((await create("tenant-none")).jurisdiction, null);
  for (const name of ["", "-a", "_a", "a b", "a.b", "é", "Tenant", "x".repeat(65), 7]) {
    await failsWith(await api("POST", D1, { name }), 400, 7400);
  }
  await failsWith(await api("POST", D1, { name: "ok", primary_location_hint: "mars" }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "ok", jurisdiction: "mars" }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "ok", read_replication: { mode: "sometimes" } }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "ok", read_replication: "auto" }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "ok", colour: "blue" }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "tenant-a" }), 400, 7502);
  await local.limits({ maxDatabases: 1 });
  await failsWith(await api("POST", D1, { name: "tenant-b" }), 400, 7406);
});

test("list pages through every database once, with result_info and a name search", async () => {
  await local.reset();
  await local.seed("page", 2500);
  await create("other-db");
  const seen = new Set();
  for (let page = 1; ; page++) {
    const body = await envelope(await api("GET", `${D1}?page=${page}&per_page=1000`), 200);
    assert.equal(body.result_info.total_count, 2501);
    assert.equal(body.result_info.count, body.result.length);
    for (const db of body.result) {
      assert.ok(!seen.has(db.uuid), "each database once");
      seen.add(db.uuid);
    }
    if (body.result.length < 1000) break;
  }
  assert.equal(seen.size, 2501);
  const past = await envelope(await api("GET", `${D1}?page=9&per_page=1000`), 200);
  assert.deepEqual([past.result, past.result_info.count], [[], 0]);
  const found = await envelope(await api("GET", `${D1}?name=other`), 200);
  assert.deepEqual(found.result.map((d) => d.name), ["other-db"]);
  // The search is literal: "_" and "%" are not wildcards.
  assert.equal((await envelope(await api("GET", `${D1}?name=page_1`), 200)).result.length, 0);
  for (const q of ["per_page=9", "per_page=10001", "page=0", "page=x"]) {
    await failsWith(await api("GET", `${D1}?${q}`), 400, 7400);
  }
});

test("get (by id or name, with fields), update and delete: the data is really gone, and unknown ids are 7404", async () => {
  await local.reset();
  const db = await create("gone");
  await envelope(await api("POST", `${D1}/${db.uuid}/query`, { sql: "CREATE TABLE t (v); INSERT INTO t VALUES (1)" }), 200);
  const got = (await envelope(await api("GET", `${D1}/${db.uuid}`), 200)).result;
  assert.equal(got.num_tables, 1);
  assert.ok(got.file_size > 0);
  // By name, as wrangler looks databases up, and only the fields asked for, in either form.
  assert.deepEqual((await envelope(await api("GET", `${D1}/gone?fields=uuid,name`), 200)).result, { uuid: db.uuid, name: "gone" });
  assert.deepEqual((await envelope(await api("GET", `${D1}/gone?fields=uuid&fields=num_tables`), 200)).result, { uuid: db.uuid, num_tables: 1 });
  await failsWith(await api("GET", `${D1}/gone?fields=secret`), 400, 7400);
  await failsWith(await api("GET", `${D1}/nothing-by-this-name`), 404, 7404);
  // Only get takes a name.
  await failsWith(await api("POST", `${D1}/gone/query`, { sql: "SELECT 1" }), 404, 7404);

  // Read replication: PUT needs it, PATCH may leave it out.
  let updated = (await envelope(await api("PUT", `${D1}/${db.uuid}`, { read_replication: { mode: "auto" } }), 200)).result;
  assert.deepEqual(updated.read_replication, { mode: "auto" });
  await failsWith(await api("PUT", `${D1}/${db.uuid}`, {}), 400, 7400);
  updated = (await envelope(await api("PATCH", `${D1}/${db.uuid}`, {}), 200)).result;
  assert.deepEqual(updated.read_replication, { mode: "auto" });
  updated = (await envelope(await api("PATCH", `${D1}/${db.uuid}`, { read_replication: { mode: "disabled" } }), 200)).result;
  assert.deepEqual(updated.read_replication, { mode: "disabled" });
  await failsWith(await api("PATCH", `${D1}/${db.uuid}`, { read_replication: { mode: "on" } }), 400, 7400);
  await failsWith(await api("PATCH", `${D1}/${db.uuid}`, { name: "renamed" }), 400, 7400);
  await failsWith(await api("PATCH", `${D1}/00000000-0000-4000-8000-000000000000`, {}), 404, 7404);
  assert.equal((await envelope(await api("DELETE", `${D1}/${db.uuid}`), 200)).result, null);
  await failsWith(await api("GET", `${D1}/${db.uuid}`), 404, 7404);
  await failsWith(await api("DELETE", `${D1}/${db.uuid}`), 404, 7404);
  await failsWith(await api("POST", `${D1}/not-a-uuid/query`, { sql: "SELECT 1" }), 404, 7404);
  // A new database of the same name starts empty.
  const again = await create("gone");
  await failsWith(await api("POST", `${D1}/${again.uuid}/query`, { sql: "SELECT * FROM t" }), 400, 7500);
});

test("query and raw: params, several statements, meta, and SQL errors as 7500", async () => {
  await local.reset();
  const db = await create("sql", { primary_location_hint: "apac" });
  const q = (body, endpoint = "query") => api("POST", `${D1}/${db.uuid}/${endpoint}`, body);
  let body = await envelope(await q({ sql: "CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO n (v) VALUES ('a'), ('b')" }), 200);
  assert.equal(body.result.length, 2);
  assert.equal(body.result[1].meta.changes, 2);
  assert.equal(body.result[1].meta.last_row_id, 2);
  assert.equal(body.result[1].meta.changed_db, true);
  // The schema's meta: served_by_region from its enum, a measured duration.
  for (const { meta } of body.result) {
    assert.equal(meta.served_by_region, "APAC");
    assert.equal(meta.served_by_primary, true);
    assert.equal(typeof meta.duration, "number");
    assert.equal(meta.timings.sql_duration_ms, meta.duration);
  }
  assert.ok(body.result.some((r) => r.meta.duration > 0), "the call into the database takes time");
  body = await envelope(await q({ sql: "SELECT id, v FROM n WHERE v = ?", params: ["b"] }), 200);
  assert.deepEqual(body.result[0].results, [{ id: 2, v: "b" }]);
  assert.equal(body.result[0].meta.changes, 0);
  assert.equal(body.result[0].meta.changed_db, false);
  // A string bound to an INTEGER column compares as a number (SQLite's affinity).
  body = await envelope(await q({ sql: "SELECT v FROM n WHERE id = ?", params: ["2"] }), 200);
  assert.deepEqual(body.result[0].results, [{ v: "b" }]);
  body = await envelope(await q({ sql: "SELECT id, v FROM n ORDER BY id" }, "raw"), 200);
  assert.deepEqual(body.result[0].results, { columns: ["id", "v"], rows: [[1, "a"], [2, "b"]] });
  // A batch entry may hold several statements, each with its own result.
  body = await envelope(await q({ batch: [{ sql: "SELECT ? AS x", params: ["1"] }, { sql: "SELECT 2 AS y; SELECT 3 AS z" }] }), 200);
  assert.deepEqual(body.result.map((r) => r.results[0]), [{ x: "1" }, { y: 2 }, { z: 3 }]);

  const error = await failsWith(await q({ sql: "SELECT * FROM missing" }), 400, 7500);
  assert.match(error.errors[0].message, /^no such table: missing: SQLITE_ERROR$/);
  // params are strings, numbers and null, as the real API takes them, each bound as its type.
  body = await envelope(await q({ sql: "SELECT ? AS s, typeof(?) AS ts, ? AS n, typeof(?) AS tn, ? AS z, typeof(?) AS tz", params: ["7", "7", 1.5, 1.5, null, null] }), 200);
  assert.deepEqual(body.result[0].results, [{ s: "7", ts: "text", n: 1.5, tn: "real", z: null, tz: "null" }]);
  body = await envelope(await q({ batch: [{ sql: "SELECT ? AS x", params: [2] }, { sql: "SELECT v FROM n WHERE id = ?", params: [2] }] }), 200);
  assert.deepEqual(body.result.map((r) => r.results[0]), [{ x: 2 }, { v: "b" }]);
  // Nothing says it takes a boolean, an array (a binding's blob) or an object.
  for (const params of [[true], [[1, 2]], [{}], "a", { 0: "a" }]) await failsWith(await q({ sql: "SELECT ?", params }), 400, 7400);
  await failsWith(await q({ batch: [{ sql: "SELECT ?", params: [false] }] }), 400, 7400);
  await failsWith(await q({ batch: [{ sql: "SELECT 1; SELECT ?", params: ["1"] }] }), 400, 7400);
  await failsWith(await q({ batch: [{ sql: "SELECT 1" }], sql: "SELECT 2" }), 400, 7400);
  await failsWith(await q({ sql: "SELECT 1; SELECT 2", params: ["1"] }), 400, 7400);
  await failsWith(await q({ sql: "SELECT 1", params: Array(101).fill("1") }), 400, 7500);
  await failsWith(await q({ sql: `SELECT '${"x".repeat(100_001)}'` }), 400, 7500);
  await failsWith(await q({ nope: 1 }), 400, 7400);
  // Splitting minds quotes and comments.
  body = await envelope(await q({ sql: "SELECT 'a;b' AS s; -- c;\nSELECT 2 AS t /* ; */" }), 200);
  assert.deepEqual(body.result.map((r) => r.results[0]), [{ s: "a;b" }, { t: 2 }]);
});

test("a batch is one transaction: a failing statement leaves no trace of the others", async () => {
  await local.reset();
  const db = await create("atomic");
  const q = (body) => api("POST", `${D1}/${db.uuid}/query`, body);
  await envelope(await q({ sql: "CREATE TABLE t (v UNIQUE)" }), 200);
  const unique = await failsWith(await q({ batch: [{ sql: "INSERT INTO t VALUES (1)" }, { sql: "INSERT INTO t VALUES (1)" }] }), 400, 7500);
  assert.match(unique.errors[0].message, /^UNIQUE constraint failed: t\.v: SQLITE_CONSTRAINT$/);
  await failsWith(await q({ sql: "INSERT INTO t VALUES (2); INSERT INTO nowhere VALUES (3)" }), 400, 7500);
  const rows = (await envelope(await q({ sql: "SELECT count(*) AS n FROM t" }), 200)).result[0].results;
  assert.deepEqual(rows, [{ n: 0 }]);
});

test("export: start, poll, download a dump that rebuilds the database", async () => {
  await local.reset();
  await local.limits({ exportPolls: 2 });
  const db = await create("source");
  const q = (id, body) => api("POST", `${D1}/${id}/query`, body);
  await envelope(await q(db.uuid, { sql: "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, n REAL); CREATE INDEX p_name ON p (name)" }), 200);
  await envelope(await q(db.uuid, { sql: "INSERT INTO p (name, n) VALUES (?, ?)", params: ["it's", "1.5"] }), 200);
  await envelope(await q(db.uuid, { sql: "INSERT INTO p (name, n) VALUES (NULL, 2)" }), 200);
  const exp = (body) => api("POST", `${D1}/${db.uuid}/export`, body);
  await failsWith(await exp({ output_format: "file" }), 400, 7400);
  // A running export is 202 Accepted; the task itself says success, as wrangler checks.
  let status = (await envelope(await exp({ output_format: "polling" }), 202)).result;
  assert.deepEqual([status.type, status.status, status.success], ["export", "active", true]);
  const bookmark = status.at_bookmark;
  assert.equal(bookmark, (await envelope(await api("GET", `${D1}/${db.uuid}/time_travel/bookmark`), 200)).result.bookmark);
  await failsWith(await exp({ output_format: "polling", current_bookmark: "nope" }), 400, 7400);
  status = (await envelope(await exp({ output_format: "polling", current_bookmark: bookmark }), 202)).result;
  assert.equal(status.status, "active");
  // Written after the start: not in the dump, which is the state at at_bookmark.
  await envelope(await q(db.uuid, { sql: "INSERT INTO p (name, n) VALUES ('late', 3)" }), 200);
  status = (await envelope(await exp({ output_format: "polling", current_bookmark: bookmark }), 200)).result;
  assert.deepEqual([status.status, status.success], ["complete", true]);
  assert.equal(status.result.filename, `${db.uuid}-${bookmark}.sql`);
  const dump = await (await fetch(status.result.signed_url.replace(/^https?:\/\/[^/]+/, base.origin))).text();

  const copy = await create("copy");
  await envelope(await q(copy.uuid, { sql: dump }), 200);
  const rows = (await envelope(await q(copy.uuid, { sql: "SELECT name, n FROM p ORDER BY id" }), 200)).result[0].results;
  assert.deepEqual(rows, [{ name: "it's", n: 1.5 }, { name: null, n: 2 }]);
  assert.equal((await envelope(await api("GET", `${D1}/${copy.uuid}`), 200)).result.num_tables, 1);
  assert.equal((await fetch(new URL("/__local/exports/0123.sql", base))).status, 404);

  // A failed export: the taskError fault makes the next call report status "error".
  await local.faults([{ operation: "d1.export", fault: "taskError", message: "disk on fire" }]);
  status = (await envelope(await exp({ output_format: "polling" }), 200)).result;
  assert.deepEqual([status.status, status.success, status.error], ["error", false, "disk on fire"]);
  const started = (await envelope(await exp({ output_format: "polling" }), 202)).result;
  await local.faults([{ operation: "d1.export", fault: "taskError" }]);
  status = (await envelope(await exp({ output_format: "polling", current_bookmark: started.at_bookmark }), 200)).result;
  assert.equal(status.status, "error");
  // The failed task is gone.
  await failsWith(await exp({ output_format: "polling", current_bookmark: started.at_bookmark }), 400, 7400);
  await assert.rejects(local.faults([{ operation: "d1.list", fault: "taskError" }]));
});

test("import: init, upload to the signed URL (md5 etag), ingest in one transaction, poll", async () => {
  await local.reset();
  const db = await create("imported");
  const imp = (body) => api("POST", `${D1}/${db.uuid}/import`, body);
  const file = "CREATE TABLE i (v TEXT);\nINSERT INTO i VALUES ('semi;colon');\nINSERT INTO i VALUES ('two');\n";
  const etag = createHash("md5").update(file).digest("hex");
  const init = (await envelope(await imp({ action: "init", etag }), 200)).result;
  assert.deepEqual([init.type, init.success], ["import", true]);
  const uploaded = await fetch(init.upload_url.replace(/^https?:\/\/[^/]+/, base.origin), { method: "PUT", body: file });
  assert.equal(uploaded.status, 200);
  assert.equal(uploaded.headers.get("etag"), `"${etag}"`);
  const done = (await envelope(await imp({ action: "ingest", etag, filename: init.filename }), 200)).result;
  assert.deepEqual([done.status, done.success, done.result.num_queries], ["complete", true, 3]);
  assert.equal(done.result.meta.rows_written > 0, true);
  assert.equal(typeof done.result.meta.duration, "number");
  assert.equal(done.result.final_bookmark, (await envelope(await api("GET", `${D1}/${db.uuid}/time_travel/bookmark`), 200)).result.bookmark);
  assert.deepEqual((await envelope(await imp({ action: "poll", current_bookmark: done.at_bookmark }), 200)).result, done);
  const rows = (await envelope(await api("POST", `${D1}/${db.uuid}/query`, { sql: "SELECT v FROM i" }), 200)).result[0].results;
  assert.deepEqual(rows, [{ v: "semi;colon" }, { v: "two" }]);

  // A failing file changes nothing and reports status "error".
  const bad = "INSERT INTO i VALUES ('three');\nINSERT INTO nowhere VALUES (1);\n";
  const badTag = createHash("md5").update(bad).digest("hex");
  const slot = (await envelope(await imp({ action: "init", etag: badTag }), 200)).result;
  await fetch(slot.upload_url.replace(/^https?:\/\/[^/]+/, base.origin), { method: "PUT", body: bad });
  const failed = (await envelope(await imp({ action: "ingest", etag: badTag, filename: slot.filename }), 200)).result;
  assert.deepEqual([failed.status, failed.success], ["error", false]);
  assert.match(failed.error, /no such table: nowhere/);
  assert.equal((await envelope(await api("POST", `${D1}/${db.uuid}/query`, { sql: "SELECT count(*) AS n FROM i" }), 200)).result[0].results[0].n, 2);

  // An upload that does not match its etag, or none at all, cannot be ingested.
  const other = (await envelope(await imp({ action: "init", etag: "0".repeat(32) }), 200)).result;
  await fetch(other.upload_url.replace(/^https?:\/\/[^/]+/, base.origin), { method: "PUT", body: "SELECT 1;" });
  await failsWith(await imp({ action: "ingest", etag: "0".repeat(32), filename: other.filename }), 400, 7400);
  await failsWith(await imp({ action: "init", etag: "not-md5" }), 400, 7400);
  await failsWith(await imp({ action: "poll", current_bookmark: "nope" }), 400, 7400);
  await failsWith(await imp({ action: "explode" }), 400, 7400);

  // A file of several 1 MB parts, with 3-byte characters across the parts' edges, arrives whole.
  const long = "CREATE TABLE l (v TEXT);\n" + Array.from({ length: 800 }, (_, i) => `INSERT INTO l VALUES ('${i}${"€".repeat(1000)}');\n`).join("");
  const longTag = createHash("md5").update(long).digest("hex");
  const big = (await envelope(await imp({ action: "init", etag: longTag }), 200)).result;
  const bigUrl = big.upload_url.replace(/^https?:\/\/[^/]+/, base.origin);
  // As R2 does, an upload of unknown length (chunked) is refused.
  const chunked = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(long)), c.close()) });
  assert.equal((await fetch(bigUrl, { method: "PUT", body: chunked, duplex: "half" })).status, 411);
  assert.equal((await fetch(bigUrl, { method: "PUT", body: long })).headers.get("etag"), `"${longTag}"`);
  // A taskError for an import waits for its ingest.
  await local.faults([{ operation: "d1.import", fault: "taskError", message: "disk full" }]);
  const refused = (await envelope(await imp({ action: "ingest", etag: longTag, filename: big.filename }), 200)).result;
  assert.deepEqual([refused.status, refused.error], ["error", "disk full"]);
  const whole = (await envelope(await imp({ action: "ingest", etag: longTag, filename: big.filename }), 200)).result;
  assert.equal(whole.status, "complete");
  const counted = await envelope(await api("POST", `${D1}/${db.uuid}/query`, { sql: "SELECT count(*) AS n, sum(length(v)) AS chars FROM l" }), 200);
  assert.deepEqual(counted.result[0].results[0], { n: 800, chars: 800 * 1000 + Array.from({ length: 800 }, (_, i) => String(i).length).reduce((a, b) => a + b) });
});

test("time travel: bookmarks by time, restore to one and back again", async () => {
  await local.reset();
  const db = await create("travel");
  const q = (sql) => api("POST", `${D1}/${db.uuid}/query`, { sql });
  const tt = (method, what) => api(method, `${D1}/${db.uuid}/time_travel/${what}`);
  const current = async () => (await envelope(await tt("GET", "bookmark"), 200)).result.bookmark;
  const empty = await current();
  assert.match(empty, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
  await envelope(await q("CREATE TABLE t (v)"), 200);
  await envelope(await q("INSERT INTO t VALUES (1)"), 200);
  const one = await current();
  await new Promise((r) => setTimeout(r, 20));
  const between = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await envelope(await q("INSERT INTO t VALUES (2)"), 200);
  const two = await current();
  assert.equal(new Set([empty, one, two]).size, 3);
  assert.equal(await current(), two, "reads do not move the bookmark");
  await envelope(await q("SELECT * FROM t"), 200);
  assert.equal(await current(), two);
  assert.equal((await envelope(await tt("GET", `bookmark?timestamp=${between}`), 200)).result.bookmark, one);

  let restored = (await envelope(await tt("POST", `restore?bookmark=${one}`), 200)).result;
  assert.equal(restored.previous_bookmark, two);
  assert.ok(![one, two].includes(restored.bookmark), "a restore is a new state");
  assert.equal(typeof restored.message, "string");
  assert.deepEqual((await envelope(await q("SELECT v FROM t"), 200)).result[0].results, [{ v: 1 }]);
  // And undone with the previous bookmark.
  restored = (await envelope(await tt("POST", `restore?bookmark=${restored.previous_bookmark}`), 200)).result;
  assert.deepEqual((await envelope(await q("SELECT v FROM t ORDER BY v"), 200)).result[0].results, [{ v: 1 }, { v: 2 }]);
  // By timestamp, back to before the table existed.
  await envelope(await tt("POST", `restore?timestamp=${encodeURIComponent(db.created_at)}`), 200);
  await failsWith(await q("SELECT * FROM t"), 400, 7500);
  assert.equal((await envelope(await api("GET", `${D1}/${db.uuid}`), 200)).result.num_tables, 0);

  await failsWith(await tt("POST", "restore"), 400, 7400);
  await failsWith(await tt("POST", `restore?bookmark=${one}&timestamp=${between}`), 400, 7400);
  await failsWith(await tt("POST", "restore?bookmark=00000000-00000000-00000000-00000000000000000000000000000000"), 400, 7400);
  await failsWith(await tt("GET", "bookmark?timestamp=yesterday"), 400, 7400);
  await failsWith(await tt("GET", `bookmark?timestamp=${new Date(Date.now() + 60_000).toISOString()}`), 400, 7400);
  await failsWith(await tt("GET", "bookmark?timestamp=2001-01-01T00:00:00Z"), 400, 7400);
  await failsWith(await api("GET", `${D1}/00000000-0000-4000-8000-000000000000/time_travel/bookmark`), 404, 7404);
});

test("Worker settings: read, bind a D1 database, inherit and rename, replace; bad bodies, settings and bindings refused", async () => {
  await local.reset();
  const path = `/client/v4/accounts/${ACCOUNT}/workers/scripts/edge-tenancy-demo/settings`;
  const patch = (settings, contentType) => {
    const form = new FormData();
    form.set("settings", JSON.stringify(settings));
    return contentType ? api("PATCH", path, JSON.stringify(settings), { headers: { "content-type": contentType } }) : api("PATCH", path, form);
  };
  const initial = (await envelope(await api("GET", path), 200)).result;
  assert.deepEqual(initial.bindings, []);
  assert.equal(initial.usage_model, "standard");
  await failsWith(await api("GET", `/client/v4/accounts/${ACCOUNT}/workers/scripts/nope/settings`), 404, 10007);
  // As configured by default (LOCAL_SCRIPTS "*"), the Worker being developed exists whatever it
  // is called.
  const anyName = new Miniflare(localApiWorker());
  try {
    const api = await anyName.getWorker("edge-tenancy-local-api");
    const answer = await api.fetch(`http://local-api/client/v4/accounts/${ACCOUNT}/workers/scripts/my-own-worker/settings`, {
      headers: { authorization: `Bearer ${localApiWorker().bindings.LOCAL_API_TOKEN}` },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual((await answer.json()).result.bindings, []);
  } finally {
    await anyName.dispose();
  }
  const db = await create("bound");
  let settings = (await envelope(await patch({ bindings: [{ type: "d1", name: "DB", database_id: db.uuid }, { type: "plain_text", name: "MODE", text: "x" }] }), 200)).result;
  assert.deepEqual(settings.bindings, [{ type: "d1", name: "DB", database_id: db.uuid }, { type: "plain_text", name: "MODE", text: "x" }]);
  // The deprecated `id` is taken, and stored as database_id.
  settings = (await envelope(await patch({ bindings: [{ type: "d1", name: "OLD", id: db.uuid }] }), 200)).result;
  assert.deepEqual(settings.bindings, [{ type: "d1", name: "OLD", database_id: db.uuid }]);
  settings = (await envelope(await patch({ bindings: [{ type: "inherit", name: "DB", old_name: "OLD" }] }), 200)).result;
  assert.deepEqual(settings.bindings, [{ type: "d1", name: "DB", database_id: db.uuid }]);
  settings = (await envelope(await patch({ bindings: [{ type: "inherit", name: "DB", version_id: "latest" }], usage_model: "unbound" }), 200)).result;
  assert.deepEqual([settings.bindings.map((b) => b.name), settings.usage_model], [["DB"], "unbound"]);

  for (const bindings of [
    [{ type: "inherit", name: "MODE" }],
    [{ type: "inherit", name: "DB", version_id: "0123" }],
    [{ type: "d1", name: "X", database_id: "00000000-0000-4000-8000-000000000000" }],
    [{ type: "d1", name: "X", database_id: db.uuid, id: "00000000-0000-4000-8000-000000000000" }],
    [{ type: "d1", name: "X" }],
    [{ type: "d1", name: "X", database_id: db.uuid }, { type: "d1", name: "X", database_id: db.uuid }],
    [{ name: "X" }],
  ]) {
    await failsWith(await patch({ bindings }), 400, 10021);
  }
  await failsWith(await patch({ usage_model: "free" }), 400, 10021);
  await failsWith(await patch({ colour: "blue" }), 400, 10021);
  await failsWith(await patch({ compatibility_date: "soon" }), 400, 10021);
  await failsWith(await patch({ bindings: [] }, "application/json"), 400, 10026);
  const noPart = new FormData();
  noPart.set("settings[bindings][][name]", "X");
  await failsWith(await api("PATCH", path, noPart), 400, 10201);
  const broken = new FormData();
  broken.set("settings", "{not json");
  await failsWith(await api("PATCH", path, broken), 400, 10026);
  assert.deepEqual((await envelope(await api("GET", path), 200)).result.bindings.map((b) => b.name), ["DB"]);

  // script-settings: the Worker-level subset, as JSON.
  const scriptPath = `/client/v4/accounts/${ACCOUNT}/workers/scripts/edge-tenancy-demo/script-settings`;
  assert.deepEqual((await envelope(await api("GET", scriptPath), 200)).result, { logpush: false, tags: [], tail_consumers: [] });
  const edited = (await envelope(await api("PATCH", scriptPath, { logpush: true, tags: ["a"] }), 200)).result;
  assert.deepEqual(edited, { logpush: true, tags: ["a"], tail_consumers: [] });
  assert.equal((await envelope(await api("GET", path), 200)).result.logpush, true);
  await failsWith(await api("PATCH", scriptPath, { bindings: [] }), 400, 10021);
  await failsWith(await api("PATCH", scriptPath, { logpush: "yes" }), 400, 10021);
});

test("fault switches: status, HTML pages, success:false, drop and slow, used up in order", async () => {
  await local.reset();
  await local.faults([
    { operation: "d1.list", fault: "status", status: 429, retryAfter: 7 },
    { operation: "d1.list", fault: "status", status: 503, body: "html" },
    { operation: "d1.list", fault: "status", status: 500 },
    { operation: "d1.list", fault: "successFalse" },
  ]);
  let res = await api("GET", D1);
  assert.equal(res.headers.get("retry-after"), "7");
  await failsWith(res, 429, 971);
  res = await api("GET", D1);
  assert.equal(res.status, 503);
  assert.match(res.headers.get("content-type"), /text\/html/);
  await failsWith(await api("GET", D1), 500, 7500);
  await failsWith(await api("GET", D1), 200, 7500);
  assert.equal((await envelope(await api("GET", D1), 200)).success, true, "all used up");

  // drop: the work is done, the answer breaks off: reading it fails, as on a reset connection.
  await local.faults([{ operation: "d1.create", fault: "drop" }]);
  await assert.rejects(async () => (await api("POST", D1, { name: "dropped" })).text());
  assert.deepEqual((await envelope(await api("GET", `${D1}?name=dropped`), 200)).result.map((d) => d.name), ["dropped"]);

  // slow: the work is done, the answer waits.
  await local.faults([{ operation: "d1.create", fault: "slow", delayMs: 600 }]);
  const started = Date.now();
  await envelope(await api("POST", D1, { name: "slowed" }), 200);
  assert.ok(Date.now() - started >= 600);

  // times: null is forever, until cleared.
  await local.faults([{ operation: "d1.get", fault: "status", status: 502, times: null }]);
  for (let i = 0; i < 3; i++) assert.equal((await api("GET", `${D1}/x`)).status, 502);
  await local.clearFaults();
  await failsWith(await api("GET", `${D1}/x`), 404, 7404);
  await assert.rejects(local.faults([{ fault: "explode" }]));
});

test("the global rate limit locks every call out until the window has passed, with headers", async () => {
  await local.reset();
  await local.limits({ rateLimit: { limit: 5, windowSeconds: 2 } });
  for (let i = 0; i < 5; i++) {
    const res = await api("GET", D1);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-policy"), '"default";q=5;w=2');
    assert.match(res.headers.get("ratelimit"), new RegExp(`^"default";r=${4 - i};t=\\d+$`));
  }
  const limited = await api("GET", D1);
  assert.equal(limited.headers.get("retry-after"), "2");
  await failsWith(limited, 429, 971);
  // Other operations are locked out too, and the lockout does not end early.
  await failsWith(await api("POST", D1, { name: "x" }), 429, 971);
  assert.equal((await local.calls()).rateLimited, 2, "the refused calls are counted apart");
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal((await api("GET", D1)).status, 200);
});

test("counters count every call per operation, faulted and refused ones included", async () => {
  await local.reset();
  await local.faults([{ operation: "d1.list", fault: "status", status: 500 }]);
  await api("GET", D1);
  await api("GET", D1);
  await api("GET", D1, undefined, { token: "wrong" });
  await api("POST", D1, { name: "counted" });
  await api("GET", `/client/v4/nowhere`);
  assert.deepEqual(await local.calls(), { total: 5, calls: { "d1.create": 1, "d1.list": 3, unknown: 1 }, rateLimited: 0 });
  await local.resetCalls();
  assert.deepEqual(await local.calls(), { total: 0, calls: {}, rateLimited: 0 });
});

test("local-api/wrangler.toml is a valid wrangler configuration", () => {
  const outdir = mkdtempSync(join(tmpdir(), "edge-tenancy-local-api-"));
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir, "-c", "local-api/wrangler.toml"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  assert.ok(existsSync(join(outdir, "index.js")));
});
