// The tenant database handed to JS is D1Database-compatible on both paths: drizzle-orm/d1,
// kysely-d1 and D1's own API, run in workerd on a D1 binding (miniflare's D1) and on
// RestD1Database (js/d1/rest.js) over the local Cloudflare API's raw endpoint. Every case runs
// on both; what both must agree on is compared whole, and each path's own answers are checked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { localApiWorker, control } from "../local-api/testing.mjs";
import { RestD1Database } from "../js/d1/rest.js";

const API = localApiWorker();
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = API.bindings;

let mf;
let api;
let databaseId;
before(async () => {
  const scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/d1-compat"));
  mf = new Miniflare({
    workers: [
      {
        name: "d1-compat",
        modules: true,
        scriptPath,
        modulesRoot: dirname(scriptPath),
        compatibilityDate: COMPATIBILITY_DATE,
        d1Databases: ["DB"],
        serviceBindings: { CLOUDFLARE_API: API.name },
        bindings: { ACCOUNT_ID: LOCAL_ACCOUNT_ID, API_TOKEN: LOCAL_API_TOKEN },
      },
      API,
    ],
  });
  api = await mf.getWorker(API.name);
  databaseId = (await cloudflare("POST", "/d1/database", { name: "d1-compat" })).result.uuid;
});

/** A call to the local Cloudflare API; its envelope. */
async function cloudflare(method, path, body) {
  const res = await api.fetch(`https://api.cloudflare.com/client/v4/accounts/${LOCAL_ACCOUNT_ID}${path}`, {
    method,
    headers: { authorization: `Bearer ${LOCAL_API_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return res.json();
}
after(() => mf?.dispose());

/** One case on one path: `{same, own}`. */
async function run(path, name, query = {}) {
  const params = new URLSearchParams({ ...query, ...(path === "rest" ? { db: databaseId } : {}) });
  const res = await mf.dispatchFetch(`http://d1-compat/${path}/${name}?${params}`);
  const answer = await json(res);
  assert.equal(res.status, 200, `${path}/${name}: ${answer.error}`);
  return answer;
}

/** Runs a case on both paths and asserts they agree; returns the binding's `same` and both `own`s. */
async function both(name) {
  const binding = await run("binding", name);
  const rest = await run("rest", name);
  for (const key of Object.keys(binding.same)) assert.deepEqual(rest.same[key], binding.same[key], `${name}: ${key} differs between REST and the binding`);
  assert.deepEqual(Object.keys(rest.same), Object.keys(binding.same));
  return { same: binding.same, binding: binding.own, rest: rest.own };
}

const noError = (outcome, what) => assert.ok(!outcome?.error, `${what}: ${JSON.stringify(outcome)}`);

test("drizzle-orm/d1: schema, the four operations, a join, batch, and a failing batch undone", async () => {
  const { same } = await both("drizzle");
  for (const key of ["schema", "insertOne", "insertMany", "byIndexedColumn", "update", "note", "join", "delete", "batch"]) noError(same[key], key);
  assert.equal(same.schema, 3);
  assert.deepEqual(same.insertOne, [{ id: 1, email: "ada@example.com", name: "Ada", age: 36 }]);
  assert.deepEqual(same.insertMany, [{ id: 2 }, { id: 3 }]);
  assert.deepEqual(same.byIndexedColumn, [{ id: 2, email: "grace@example.com", name: "Grace", age: 45 }]);
  assert.deepEqual(same.update, [{ id: 1, email: "ada@example.com", name: "Ada", age: 37 }]);
  // Two `id` columns in one row: each lands in its table's object.
  assert.deepEqual(same.join, [{ d_notes: { id: 1, userId: 1, body: "first note" }, d_users: { id: 1, email: "ada@example.com", name: "Ada", age: 37 } }]);
  assert.deepEqual(same.delete, [{ id: 3 }]);
  const [inserted, updated, users, count] = same.batch;
  assert.equal(inserted.meta.changes, 1);
  assert.equal(updated.meta.changes, 1);
  assert.deepEqual(users.map((u) => [u.name, u.age]), [["Ada", 37], ["Grace", 46], ["Edsger", 72]]);
  assert.deepEqual(count, [{ n: 1 }]);
  assert.match(same.failingBatch.error ?? "", /UNIQUE constraint failed: d_users\.email/);
  assert.ok(same.rolledBack, "nothing of the failed batch stays");
  assert.deepEqual(same.after.map((u) => u.name), ["Ada", "Grace", "Edsger"]);
});

test("kysely-d1: schema builder, the four operations, a join, batch, and a failing batch undone", async () => {
  const { same } = await both("kysely");
  for (const key of ["schema", "insertOne", "insertMany", "byIndexedColumn", "update", "note", "join", "delete", "batch"]) noError(same[key], key);
  assert.deepEqual(same.schema, [
    { type: "table", name: "k_notes" },
    { type: "table", name: "k_users" },
    { type: "index", name: "k_users_email" },
  ]);
  assert.deepEqual(same.insertOne, { id: 1, email: "ada@example.com", name: "Ada", age: 36 });
  assert.deepEqual(same.insertMany, { insertId: "3n", numInsertedOrUpdatedRows: "2n" });
  assert.deepEqual(same.byIndexedColumn, [{ id: 2, email: "grace@example.com", name: "Grace", age: 45 }]);
  assert.equal(same.update.numUpdatedRows, "1n");
  assert.deepEqual(same.join, [{ note: 1, user: 1, name: "Ada", body: "first note" }]);
  assert.equal(same.delete.numDeletedRows, "1n");
  assert.deepEqual(same.batch[2].results.map((u) => [u.name, u.age]), [["Ada", 37], ["Grace", 46], ["Edsger", 72]]);
  assert.match(same.failingBatch.error ?? "", /UNIQUE constraint failed: k_users\.email/);
  assert.ok(same.rolledBack, "nothing of the failed batch stays");
  assert.deepEqual(same.after.map((u) => u.name), ["Ada", "Grace", "Edsger"]);
});

test("D1's API: every value type, raw, first, exec, batch, meta and D1's errors", async () => {
  const { same, binding, rest } = await both("d1-api");
  for (const key of ["exec", "written", "rows", "all", "raw", "rawColumns", "first", "execLines"]) noError(same[key], key);
  const byKey = Object.fromEntries(same.all.results.map((row) => [row.k, row]));
  const UNICODE = "héllo, 世界 🌍 ∑ end";
  assert.deepEqual(byKey.typed, { k: "typed", i: 42, r: 1.5, t: UNICODE, b: null, ti: "integer", tr: "real", tt: "text", tb: "null", exact: "42" });
  assert.deepEqual(byKey.blob, { k: "blob", i: -7, r: -0.25, t: "", b: [0, 1, 127, 128, 255], ti: "integer", tr: "real", tt: "text", tb: "blob", exact: "-7" });
  assert.deepEqual(byKey.nulls, { k: "nulls", i: null, r: null, t: null, b: null, ti: "null", tr: "null", tt: "null", tb: "null", exact: null });
  assert.equal(byKey.max.exact, "9223372036854775807", "stored exactly");
  assert.equal(byKey.max.i, 9223372036854775807, "read back as the nearest JS number");
  assert.equal(byKey.big.exact, "9007199254740992");
  assert.deepEqual([byKey.big.r, byKey.big.tr], [1e21, "real"]);
  assert.deepEqual([byKey.bools.i, byKey.bools.r], [1, 0]);
  assert.deepEqual([byKey.small.i, byKey.small.r], [-9007199254740991, 5e-324]);
  assert.deepEqual(same.raw, same.all.results.map(Object.values));
  assert.deepEqual(same.rawColumns[0], ["k", "i", "r", "t", "b", "ti", "tr", "tt", "tb", "exact"]);
  assert.deepEqual(same.rawColumns.slice(1), same.raw);
  assert.deepEqual(same.rawEmpty, [["k", "i"]]);
  assert.equal(same.first.t, UNICODE);
  assert.equal(same.firstColumn, UNICODE);
  assert.equal(same.firstNone, null);
  assert.deepEqual(same.firstMissingColumn, { error: "D1_COLUMN_NOTFOUND: Column not found (nope)", cause: "Column not found" });
  // A name every object inherits is no column: the binding hands back Object's constructor.
  assert.equal(binding.inheritedName, "function");
  assert.deepEqual(rest.inheritedName, { error: "D1_COLUMN_NOTFOUND: Column not found (constructor)", cause: "Column not found" });
  assert.deepEqual(same.repeatedNames[0].results, [{ 1: 3, a: 2 }]);
  assert.deepEqual(same.repeatedNames[1], [["a", "a"], [1, 2]]);
  assert.deepEqual(same.severalStatements.results, [{ two: 2 }], "the last statement's rows, as D1 gives");
  assert.equal(same.execLines, 2, "one query per line");
  // Blank and comment-only lines: the REST API skips them; miniflare's D1 refuses them.
  assert.equal(rest.execBlankLine, 4);
  assert.ok(binding.execBlankLine === 4 || binding.execBlankLine.error?.startsWith("D1_EXEC_ERROR: "), JSON.stringify(binding.execBlankLine));
  assert.equal(same.execCounted, 3);
  assert.ok(same.execFailed, JSON.stringify([binding.execFailed, rest.execFailed]));
  assert.equal(same.execRolledBack, 0);
  assert.deepEqual(same.sqlError, { error: "D1_ERROR: no such table: nope: SQLITE_ERROR", cause: "no such table: nope: SQLITE_ERROR" });
  assert.match(same.constraint.error, /^D1_ERROR: UNIQUE constraint failed: vals\.k: SQLITE_CONSTRAINT/);
  assert.deepEqual(same.emptyBatch, { error: "D1_ERROR: No SQL statements detected.", cause: "No SQL statements detected." });
  assert.deepEqual(same.refusedByD1.bigint, { error: "D1_TYPE_ERROR: Type 'bigint' not supported for value '5'", cause: "Type 'bigint' not supported for value '5'" });
  assert.match(same.refusedByD1.undefined.error, /^D1_TYPE_ERROR: Type 'undefined' not supported/);
  assert.match(same.refusedByD1.object.error, /^D1_TYPE_ERROR: Type 'object' not supported for value '\[object Object\]'/);
  assert.match(same.refusedByD1.date.error, /^D1_TYPE_ERROR: Type 'object' not supported/);
  assert.equal(same.dump, true, "dump() fails with a D1_DUMP_ERROR on both");
  // Meta: every documented field, of its type, on both; REST adds where it was served.
  assert.deepEqual(same.metaTypes, { changes: "number", last_row_id: "number", changed_db: "boolean", duration: "number", rows_read: "number", rows_written: "number", size_after: "number" });
  assert.deepEqual([same.written.meta.changes, same.written.meta.last_row_id, same.written.meta.changed_db], [1, 1, true]);
  assert.equal(typeof rest.meta.served_by_region, "string");
  assert.equal(rest.meta.served_by_primary, true);

  // What a binding sends that the REST API cannot: refused with a clear error, never changed.
  assert.deepEqual(binding.unsendable, { null: null, blob: [0, 1, 255], bytes: [0, 1, 255], nan: null });
  assert.match(rest.unsendable.null.error, /^D1_TYPE_ERROR: a NULL parameter cannot be sent over the D1 REST API .*write NULL into the SQL/);
  assert.match(rest.unsendable.blob.error, /^D1_TYPE_ERROR: a blob parameter cannot be sent over the D1 REST API .*X'…'/);
  assert.match(rest.unsendable.bytes.error, /^D1_TYPE_ERROR: a blob parameter/);
  assert.match(rest.unsendable.nan.error, /^D1_TYPE_ERROR: NaN cannot be sent over the D1 REST API/);
  // A number where no column's affinity applies stays the text it was sent as.
  // (miniflare's D1 binds every number as a double: "real" where D1 says "integer")
  assert.deepEqual({ ...binding.untyped, t: undefined }, { v: 42, t: undefined, sum: 43 });
  assert.match(binding.untyped.t, /^(integer|real)$/);
  assert.deepEqual(rest.untyped, { v: "42", t: "text", sum: 43 });
});

test("read your writes: a session's bookmark starts a session that reads its write, on both paths and across them", async () => {
  const { same, binding, rest } = await both("sessions");
  assert.equal(same.beforeAnyQuery, null);
  assert.equal(same.unconstrained, null);
  noError(same.write, "write");
  assert.ok(same.bookmarkIsText, JSON.stringify([binding.bookmark, rest.bookmark]));
  // A session from a bookmark starts there; "first-primary" is a starting point, not a bookmark.
  assert.equal(binding.startsFrom, binding.bookmark);
  assert.equal(rest.startsFrom, null);
  assert.deepEqual(same.read.results, [{ body: "written in a session" }]);
  assert.deepEqual(same.drizzle, [{ id: 1, body: "written in a session" }]);
  assert.deepEqual(same.kysely, [{ body: "written in a session" }]);
  assert.deepEqual(same.batch[1].results, [{ n: 2 }]);
  assert.equal(same.bookmarkAfter, "string");
  // The REST API names no version, so its sessions hand out the one starting point that reads
  // every write; the binding's bookmark is D1's.
  assert.equal(rest.bookmark, "first-primary");
  assert.match(binding.bookmark, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);

  // Each path takes the other's bookmark (a tenant moves from REST to its binding after a deploy).
  const fromRest = await run("binding", "from-bookmark", { bookmark: rest.bookmark });
  const fromBinding = await run("rest", "from-bookmark", { bookmark: binding.bookmark });
  assert.deepEqual(fromRest.same.results, [{ body: "written in a session" }, { body: "second" }]);
  assert.deepEqual(fromBinding.same, fromRest.same);
});

test("send's contract: the raw endpoint's answer, or a rejection that becomes D1's error", async () => {
  const sendTo = (endpoint) => async (body) => {
    const envelope = await cloudflare("POST", `/d1/database/${databaseId}/${endpoint}`, body);
    if (!envelope.success) throw new Error(envelope.errors.map((e) => e.message).join("; "));
    return envelope.result;
  };
  assert.throws(() => new RestD1Database(), /needs send\(body\)/);
  // The query endpoint's rows are objects: refused, as they would lose columns.
  await assert.rejects(new RestD1Database(sendTo("query")).prepare("SELECT 1 AS a, 2 AS a").all(), /^Error: D1_ERROR: send\(body\) must resolve with the result of the D1 REST API's raw endpoint/);
  const db = new RestD1Database(sendTo("raw"));
  assert.deepEqual((await db.prepare("SELECT 1 AS a, 2 AS a").raw({ columnNames: true })), [["a", "a"], [1, 2]]);
  // A failed call (here the API's 500) surfaces as D1_ERROR, the API's message as its cause.
  const local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
  await local.faults([{ operation: "d1.raw", fault: "status", status: 500 }]);
  const failure = await db.prepare("SELECT 1").all().catch((e) => e);
  assert.match(failure.message, /^D1_ERROR: /);
  assert.equal(failure.message, `D1_ERROR: ${failure.cause.message}`);
  // A batch whose statement holds two answers more results than statements: said, not mispaired.
  await assert.rejects(db.batch([db.prepare("SELECT 1; SELECT 2"), db.prepare("SELECT 3")]), /the batch ran, but its 2 statements answered 3 results/);
});
