// The local Cloudflare API on its own, over real HTTP in workerd: the shapes, codes and limits of
// the real API, and the fault switches the client specs lean on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { ROOT, json } from "./helpers.mjs";
import { localApiWorker, control } from "../local-api/testing.mjs";

const ACCOUNT = "0000000000000000000000000000000a";
const TOKEN = "local-dev-token";
const D1 = `/client/v4/accounts/${ACCOUNT}/d1/database`;

let mf, base, local;
before(async () => {
  mf = new Miniflare(localApiWorker());
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

test("create checks names, hints and jurisdictions, and refuses a taken name with 7502", async () => {
  await local.reset();
  const db = await create("tenant-a", { primary_location_hint: "weur", jurisdiction: "eu" });
  assert.match(db.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(db.name, "tenant-a");
  assert.equal(db.version, "production");
  assert.equal(db.num_tables, 0);
  assert.equal(db.jurisdiction, "eu");
  assert.ok(!Number.isNaN(Date.parse(db.created_at)));
  for (const name of ["", "-a", "_a", "a b", "a.b", "é", "x".repeat(65), 7]) {
    await failsWith(await api("POST", D1, { name }), 400, 7400);
  }
  await failsWith(await api("POST", D1, { name: "ok", primary_location_hint: "mars" }), 400, 7400);
  await failsWith(await api("POST", D1, { name: "ok", jurisdiction: "us" }), 400, 7400);
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

test("get and delete: the data is really gone, and unknown ids are 7404", async () => {
  await local.reset();
  const db = await create("gone");
  await envelope(await api("POST", `${D1}/${db.uuid}/query`, { sql: "CREATE TABLE t (v); INSERT INTO t VALUES (1)" }), 200);
  const got = (await envelope(await api("GET", `${D1}/${db.uuid}`), 200)).result;
  assert.equal(got.num_tables, 1);
  assert.ok(got.file_size > 0);
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
  const db = await create("sql");
  const q = (body, endpoint = "query") => api("POST", `${D1}/${db.uuid}/${endpoint}`, body);
  let body = await envelope(await q({ sql: "CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO n (v) VALUES ('a'), ('b')" }), 200);
  assert.equal(body.result.length, 2);
  assert.equal(body.result[1].meta.changes, 2);
  assert.equal(body.result[1].meta.last_row_id, 2);
  assert.equal(body.result[1].meta.changed_db, true);
  body = await envelope(await q({ sql: "SELECT id, v FROM n WHERE v = ?", params: ["b"] }), 200);
  assert.deepEqual(body.result[0].results, [{ id: 2, v: "b" }]);
  assert.equal(body.result[0].meta.changes, 0);
  body = await envelope(await q({ sql: "SELECT id, v FROM n ORDER BY id" }, "raw"), 200);
  assert.deepEqual(body.result[0].results, { columns: ["id", "v"], rows: [[1, "a"], [2, "b"]] });
  body = await envelope(await q({ batch: [{ sql: "SELECT ? AS x", params: [true] }, { sql: "SELECT ? AS y", params: [null] }] }), 200);
  assert.deepEqual(body.result.map((r) => r.results[0]), [{ x: 1 }, { y: null }]);

  const error = await failsWith(await q({ sql: "SELECT * FROM missing" }), 400, 7500);
  assert.match(error.errors[0].message, /^no such table: missing: SQLITE_ERROR$/);
  await failsWith(await q({ sql: "SELECT 1; SELECT 2", params: [1] }), 400, 7400);
  await failsWith(await q({ sql: "SELECT 1", params: Array(101).fill(1) }), 400, 7500);
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
  await envelope(await q(db.uuid, { sql: "INSERT INTO p (name, n) VALUES (?, ?)", params: ["it's", 1.5] }), 200);
  await envelope(await q(db.uuid, { sql: "INSERT INTO p (name, n) VALUES (NULL, 2)" }), 200);
  const exp = (body) => api("POST", `${D1}/${db.uuid}/export`, body);
  await failsWith(await exp({ output_format: "file" }), 400, 7400);
  let status = (await envelope(await exp({ output_format: "polling" }), 200)).result;
  assert.equal(status.status, "active");
  const bookmark = status.at_bookmark;
  await failsWith(await exp({ output_format: "polling", current_bookmark: "nope" }), 400, 7400);
  status = (await envelope(await exp({ output_format: "polling", current_bookmark: bookmark }), 200)).result;
  assert.equal(status.status, "active");
  status = (await envelope(await exp({ output_format: "polling", current_bookmark: bookmark }), 200)).result;
  assert.equal(status.status, "complete");
  assert.equal(status.result.filename, `${db.uuid}-${bookmark}.sql`);
  const dump = await (await fetch(status.result.signed_url.replace(/^https?:\/\/[^/]+/, base.origin))).text();

  const copy = await create("copy");
  await envelope(await q(copy.uuid, { sql: dump }), 200);
  const rows = (await envelope(await q(copy.uuid, { sql: "SELECT name, n FROM p ORDER BY id" }), 200)).result[0].results;
  assert.deepEqual(rows, [{ name: "it's", n: 1.5 }, { name: null, n: 2 }]);
  assert.equal((await envelope(await api("GET", `${D1}/${copy.uuid}`), 200)).result.num_tables, 1);
  assert.equal((await fetch(new URL("/__local/exports/0123.sql", base))).status, 404);
});

test("Worker settings: read, bind a D1 database, inherit, replace; bad bodies and unknown bindings refused", async () => {
  await local.reset();
  const path = `/client/v4/accounts/${ACCOUNT}/workers/scripts/edge-tenancy-demo/settings`;
  const patch = (settings, contentType) => {
    const form = new FormData();
    form.set("settings", JSON.stringify(settings));
    return contentType ? api("PATCH", path, JSON.stringify(settings), { headers: { "content-type": contentType } }) : api("PATCH", path, form);
  };
  assert.deepEqual((await envelope(await api("GET", path), 200)).result.bindings, []);
  await failsWith(await api("GET", `/client/v4/accounts/${ACCOUNT}/workers/scripts/nope/settings`), 404, 10007);
  const db = await create("bound");
  let settings = (await envelope(await patch({ bindings: [{ type: "d1", name: "DB", id: db.uuid }, { type: "plain_text", name: "MODE", text: "x" }] }), 200)).result;
  assert.deepEqual(settings.bindings.map((b) => b.name), ["DB", "MODE"]);
  settings = (await envelope(await patch({ bindings: [{ type: "inherit", name: "DB" }] }), 200)).result;
  assert.deepEqual(settings.bindings, [{ type: "d1", name: "DB", id: db.uuid }]);
  await failsWith(await patch({ bindings: [{ type: "inherit", name: "MODE" }] }), 400, 10021);
  await failsWith(await patch({ bindings: [{ type: "d1", name: "X", id: "00000000-0000-4000-8000-000000000000" }] }), 400, 10021);
  await failsWith(await patch({ bindings: [] }, "application/json"), 400, 10026);
  assert.deepEqual((await envelope(await api("GET", path), 200)).result.bindings.map((b) => b.name), ["DB"]);
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
  assert.deepEqual(await local.calls(), { total: 5, calls: { "d1.create": 1, "d1.list": 3, unknown: 1 } });
  await local.resetCalls();
  assert.deepEqual(await local.calls(), { total: 0, calls: {} });
});

test("local-api/wrangler.toml is a valid wrangler configuration", () => {
  const outdir = mkdtempSync(join(tmpdir(), "edge-tenancy-local-api-"));
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir, "-c", "local-api/wrangler.toml"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  assert.ok(existsSync(join(outdir, "index.js")));
});
