// The Rust Cloudflare API client, compiled into the demo worker, against the local Cloudflare API
// worker (real SQLite in Durable Objects), both in workerd. Every endpoint, every fault, and the
// number of API calls each operation costs, read from the local API's own counters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, control } from "../local-api/testing.mjs";

/** The demo (bound to the local API as CLOUDFLARE_API) and the local API, in one workerd. */
async function start(clientOptions = {}, extraBindings = {}) {
  const mf = new Miniflare({ workers: [demoWorker(clientOptions, extraBindings), localApiWorker()] });
  const url = await mf.ready;
  const api = await mf.getWorker("edge-tenancy-local-api");
  const admin = await adminToken();
  const call = (method, path, body, token = admin) =>
    fetch(new URL(path, url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { mf, api, call, local: control((u, init) => api.fetch(new URL(u, "http://local-api"), init)) };
}

// Fast retries so faults cost milliseconds, and a timeout the "slow" fault outlasts.
const OPTIONS = { timeoutMs: 1500, retry: { baseDelayMs: 20, maxDelayMs: 200 }, exportPollMs: 50 };

let w;
before(async () => {
  w = await start(OPTIONS);
});
after(() => w?.mf.dispose());

async function fresh() {
  await w.local.reset();
}

async function created(name) {
  const res = await w.call("POST", "/admin/databases", { name });
  assert.equal(res.status, 201, await res.clone().text());
  return json(res);
}

/** Calls per operation since the last reset, without operations that were not called. */
async function calls() {
  const { calls } = await w.local.calls();
  return Object.fromEntries(Object.entries(calls).filter(([, n]) => n > 0));
}

test("every endpoint, one API call each", async () => {
  await fresh();
  const db = await created("tenant-acme");
  assert.match(db.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(db.name, "tenant-acme");

  let res = await w.call("POST", `/admin/databases/${db.uuid}/query`, {
    batch: [
      { sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, stars INTEGER)" },
      // Numbers and NULL go over REST as the JSON a binding sends.
      { sql: "INSERT INTO notes (body, stars) VALUES (?, ?), (?, ?)", params: ["first", 3, "second", null] },
    ],
  });
  assert.equal(res.status, 200, await res.clone().text());
  const [, insert] = (await json(res)).results;
  assert.equal(insert.meta.changes, 2);

  res = await w.call("POST", `/admin/databases/${db.uuid}/query`, { sql: "SELECT body, stars FROM notes WHERE stars > ?", params: [1] });
  assert.deepEqual((await json(res)).results[0].results, [{ body: "first", stars: 3 }]);

  res = await w.call("POST", `/admin/databases/${db.uuid}/raw`, { sql: "SELECT id, body FROM notes ORDER BY id" });
  const raw = (await json(res)).results[0].results;
  assert.deepEqual(raw, { columns: ["id", "body"], rows: [[1, "first"], [2, "second"]] });

  res = await w.call("GET", `/admin/databases/${db.uuid}`);
  const got = await json(res);
  assert.equal(got.num_tables, 1);
  assert.ok(got.file_size > 0);

  res = await w.call("POST", `/admin/databases/${db.uuid}/export`, {});
  assert.equal(res.status, 200, await res.clone().text());
  const exported = await json(res);
  const dump = await (await w.api.fetch(exported.signed_url)).text();
  assert.match(dump, /CREATE TABLE/);
  assert.match(dump, /second/);

  res = await w.call("GET", "/admin/databases?name=acme");
  assert.deepEqual((await json(res)).databases.map((d) => d.name), ["tenant-acme"]);

  res = await w.call("POST", "/admin/workers/edge-tenancy-demo/d1-bindings", { name: "TENANT_ACME", id: db.uuid });
  assert.equal(res.status, 200, await res.clone().text());
  const settings = await json(res);
  assert.ok(settings.bindings.some((b) => b.type === "d1" && b.name === "TENANT_ACME" && b.database_id === db.uuid));

  res = await w.call("DELETE", `/admin/databases/${db.uuid}`);
  assert.equal(res.status, 200);
  res = await w.call("GET", `/admin/databases/${db.uuid}`);
  assert.equal(res.status, 404);
  assert.equal((await json(res)).error.code, "not_found");

  assert.deepEqual(await calls(), {
    "d1.create": 1,
    "d1.query": 2,
    "d1.raw": 1,
    "d1.get": 2,
    // start, then polls until complete (the local API completes on the first poll)
    "d1.export": 2,
    "d1.list": 1,
    "workers.settings.get": 1,
    "workers.settings.patch": 1,
    "d1.delete": 1,
  });
});

test("a lost create answer still ends with exactly one database", async () => {
  for (const [fault, creates] of [
    [{ fault: "drop" }, 1], // done, answer lost: create + lookup
    [{ fault: "slow", delayMs: 3000 }, 1], // done, answer past the timeout: create + lookup
    [{ fault: "status", status: 503, body: "html" }, 2], // not done: create + lookup + create
    [{ fault: "status", status: 500 }, 2],
    [{ fault: "successFalse" }, 2],
  ]) {
    await fresh();
    await w.local.faults([{ operation: "d1.create", ...fault }]);
    const db = await created("tenant-lost");
    assert.equal(db.name, "tenant-lost");
    const list = await json(await w.call("GET", "/admin/databases"));
    assert.deepEqual(list.databases.map((d) => d.name), ["tenant-lost"], JSON.stringify(fault));
    const c = await calls();
    assert.equal(c["d1.create"], creates, JSON.stringify({ fault, c }));
    assert.equal(c["d1.list"], 2, "one lookup by the client, one by this check");
  }
});

test("a taken name is 409 after one call; the count limit is 409 after one call", async () => {
  await fresh();
  await created("taken");
  let res = await w.call("POST", "/admin/databases", { name: "taken" });
  assert.equal(res.status, 409);
  assert.equal((await json(res)).error.code, "database_exists");

  await w.local.limits({ maxDatabases: 1 });
  res = await w.call("POST", "/admin/databases", { name: "one-too-many" });
  assert.equal(res.status, 409);
  assert.equal((await json(res)).error.code, "database_limit_reached");
  assert.deepEqual(await calls(), { "d1.create": 3 });
});

test("bad input is refused before any API call", async () => {
  await fresh();
  for (const [method, path, body] of [
    ["POST", "/admin/databases", { name: "bad name" }],
    ["POST", "/admin/databases", { name: "-dash" }],
    ["POST", "/admin/databases", { name: "ok", jurisdiction: "mars" }],
    ["GET", "/admin/databases/not-a-uuid"],
    ["GET", "/admin/databases/..%2F..%2Fzones"],
    ["POST", "/admin/databases/7b162190-cb3e-4d7b-a862-9f5a69e36a62/query", { sql: "SELECT 1", params: [{}] }],
    ["POST", "/admin/databases/7b162190-cb3e-4d7b-a862-9f5a69e36a62/query", { batch: [] }],
    ["POST", "/admin/databases", { name: "Upper-Case" }],
    ["POST", "/admin/workers/Bad%20Name/d1-bindings", { name: "DB", id: "7b162190-cb3e-4d7b-a862-9f5a69e36a62" }],
  ]) {
    const res = await w.call(method, path, body);
    assert.ok([400, 404].includes(res.status), `${method} ${path}: ${res.status}`);
    assert.ok((await json(res)).error.code);
  }
  assert.deepEqual(await calls(), {});
});

test("only a control-plane administrator reaches the API", async () => {
  await fresh();
  const member = await sign({ tenant: "acme", sub: "u" });
  const mainNoScope = await sign({ tenant: "main", sub: "u" });
  assert.equal((await w.call("GET", "/admin/databases", undefined, member)).status, 403);
  assert.equal((await w.call("GET", "/admin/databases", undefined, mainNoScope)).status, 403);
  const anonymous = await fetch(new URL("/admin/databases", await w.mf.ready));
  assert.equal(anonymous.status, 401);
  assert.deepEqual(await calls(), {});
});

test("reads are retried through 500s, timeouts and success:false", async () => {
  await fresh();
  const db = await created("reads");
  await w.local.faults([
    { operation: "d1.get", fault: "status", status: 500 },
    { operation: "d1.get", fault: "slow", delayMs: 3000 },
    { operation: "d1.get", fault: "successFalse" },
  ]);
  const res = await w.call("GET", `/admin/databases/${db.uuid}`);
  assert.equal(res.status, 200);
  assert.equal((await calls())["d1.get"], 4);
});

test("a write whose answer was lost is not repeated, and says so", async () => {
  await fresh();
  const db = await created("writes");
  await w.call("POST", `/admin/databases/${db.uuid}/query`, { sql: "CREATE TABLE t (v)" });
  await w.local.faults([{ operation: "d1.query", fault: "drop" }]);
  let res = await w.call("POST", `/admin/databases/${db.uuid}/query`, { sql: "INSERT INTO t VALUES (1)" });
  assert.equal(res.status, 502);
  assert.equal((await json(res)).error.code, "upstream_outcome_unknown");
  // It did run, once.
  res = await w.call("POST", `/admin/databases/${db.uuid}/query`, { sql: "SELECT count(*) AS n FROM t" });
  assert.equal((await json(res)).results[0].results[0].n, 1);
  assert.equal((await calls())["d1.query"], 3);

  // A lost delete answer: sent again, and the 404 that follows means done.
  await w.local.faults([{ operation: "d1.delete", fault: "drop" }]);
  res = await w.call("DELETE", `/admin/databases/${db.uuid}`);
  assert.equal(res.status, 200);
  assert.equal((await calls())["d1.delete"], 2);
});

test("a 429 storm is waited out, not multiplied", async () => {
  await fresh();
  await w.local.faults([{ operation: "d1.list", fault: "status", status: 429, retryAfter: 1, times: 3 }]);
  const started = Date.now();
  const res = await w.call("GET", "/admin/databases");
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started >= 3000, "three retry-after: 1 waits");
  assert.deepEqual(await calls(), { "d1.list": 4 });
});

test("pagination over 2,500 databases returns each exactly once", async () => {
  await fresh();
  await w.local.seed("page", 2500);
  for (const [perPage, pages] of [[1000, 3], [10000, 1]]) {
    await w.local.resetCalls();
    const res = await w.call("GET", `/admin/databases?per_page=${perPage}`);
    assert.equal(res.status, 200);
    const names = (await json(res)).databases.map((d) => d.name);
    assert.equal(names.length, 2500);
    assert.equal(new Set(names).size, 2500);
    assert.deepEqual(await calls(), { "d1.list": pages });
  }
});

test("an account the token may not use is a 502 upstream_unauthorized after one call, token not echoed", async () => {
  const other = await start(OPTIONS, { CLOUDFLARE_ACCOUNT_ID: "ffffffffffffffffffffffffffffffff" });
  try {
    const res = await other.call("GET", "/admin/databases");
    assert.equal(res.status, 502);
    const body = await json(res);
    assert.equal(body.error.code, "upstream_unauthorized");
    assert.ok(!JSON.stringify(body).includes("local-dev-token"));
    assert.equal((await other.local.calls()).total, 1);
  } finally {
    await other.mf.dispose();
  }
});

test("the client's budget spreads a burst instead of tripping the server's lockout", async () => {
  const budgeted = await start({ ...OPTIONS, budget: { limit: 5, windowSecs: 2, maxWaitMs: 5000 } });
  try {
    await budgeted.local.limits({ rateLimit: { limit: 5, windowSeconds: 2 } });
    const answers = await Promise.all(Array.from({ length: 8 }, () => budgeted.call("GET", "/admin/databases")));
    assert.deepEqual(answers.map((r) => r.status), Array(8).fill(200));
    const { calls } = await budgeted.local.calls();
    assert.equal(calls["d1.list"], 8, "no call was refused with 429, so none was repeated");
    const usage = await json(await budgeted.call("GET", "/admin/api-usage"));
    assert.equal(usage.sent["d1.list"], 8);
  } finally {
    await budgeted.mf.dispose();
  }
});

test("without a budget, the server's lockout is waited out once per call", async () => {
  await fresh();
  await w.local.limits({ rateLimit: { limit: 5, windowSeconds: 2 } });
  const answers = await Promise.all(Array.from({ length: 8 }, () => w.call("GET", "/admin/databases")));
  assert.deepEqual(answers.map((r) => r.status), Array(8).fill(200));
  const { calls } = await w.local.calls();
  // 5 pass, 3 get a 429; the client holds every call until retry-after, then each goes once more.
  assert.ok(calls["d1.list"] <= 11, `d1.list ${calls["d1.list"]}`);
  await w.local.reset();
});
