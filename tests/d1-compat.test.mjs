// The tenant database handed to JS is D1Database-compatible on every path: drizzle-orm/d1,
// kysely-d1 and D1's own API, run in workerd on a D1 binding (miniflare's D1), on
// RestD1Database (js/d1/rest.js) over the local Cloudflare API's raw endpoint, and on the database
// createD1Factory hands out for a tenant without a binding (RestD1Database through the package's
// Rust API client). Every case runs on all three; what they must agree on is compared whole, and
// each path's own answers are checked.
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
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
        compatibilityDate: COMPATIBILITY_DATE,
        d1Databases: ["DB", "REGISTRY"],
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

/** Runs a case on every path and asserts they agree; returns the binding's `same` and each path's `own`. */
async function both(name) {
  const binding = await run("binding", name);
  const answers = { rest: await run("rest", name), factory: await run("factory", name) };
  for (const [path, answer] of Object.entries(answers)) {
    for (const key of Object.keys(binding.same)) assert.deepEqual(answer.same[key], binding.same[key], `${name}: ${key} differs between ${path} and the binding`);
    assert.deepEqual(Object.keys(answer.same), Object.keys(binding.same));
  }
  return { same: binding.same, binding: binding.own, rest: answers.rest.own, factory: answers.factory.own };
}

/** The REST paths' own answers, for what both must show. */
const restPaths = (answers) => [answers.rest, answers.factory];

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
  const { same, binding, rest, factory } = await both("d1-api");
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
  for (const own of restPaths({ rest, factory })) assert.deepEqual(own.inheritedName, { error: "D1_COLUMN_NOTFOUND: Column not found (constructor)", cause: "Column not found" });
  assert.deepEqual(same.repeatedNames[0].results, [{ 1: 3, a: 2 }]);
  assert.deepEqual(same.repeatedNames[1], [["a", "a"], [1, 2]]);
  assert.deepEqual(same.severalStatements.results, [{ two: 2 }], "the last statement's rows, as D1 gives");
  assert.equal(same.execLines, 2, "one query per line");
  // Blank and comment-only lines: the REST API skips them; miniflare's D1 refuses them.
  for (const own of restPaths({ rest, factory })) assert.equal(own.execBlankLine, 4);
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
  // (the factory's path hands over the meta fields its Rust client reads, which these are not)
  assert.equal(typeof rest.meta.served_by_region, "string");
  assert.equal(rest.meta.served_by_primary, true);

  // NULL and NaN (which a binding's JSON makes NULL) as parameters, alike on every path.
  assert.deepEqual(same.nullish, { null: null, nan: null });
  // A number without a column's affinity stays a number on every path.
  // (miniflare's D1 and the local API bind every number as a double: "real" where D1 says "integer")
  assert.deepEqual(same.untyped, { v: 42, t: "real", sum: 43 });
  // What a binding sends that the REST API cannot: blobs, refused with a clear error, never changed.
  assert.deepEqual(binding.unsendable, { blob: [0, 1, 255], bytes: [0, 1, 255] });
  for (const own of restPaths({ rest, factory })) {
    assert.match(own.unsendable.blob.error, /^D1_TYPE_ERROR: a blob parameter cannot be sent over the D1 REST API .*X'…'/);
    assert.match(own.unsendable.bytes.error, /^D1_TYPE_ERROR: a blob parameter/);
  }
});

test("every value a binding takes, bound as a parameter: selected, stored in each affinity and read back alike on every path", async () => {
  const { same, binding, rest, factory } = await both("values");
  noError(same.schema, "schema");
  assert.equal(same.stored, 40, JSON.stringify(same.stored));
  const read = same.read;
  noError(read, "read");
  const row = (k) => read[k];
  // NULL: stored as NULL in every column, found by IS, not by =.
  assert.deepEqual(row("null"), { k: "null", v: null, tv: "null", hv: "", i: null, ti: "null", xi: null, r: null, tr: "null", t: null, tt: "null", ht: "", n: null, tn: "null" });
  assert.deepEqual(same.selected.null, { v: null, t: "null", h: "" });
  assert.deepEqual(same.isNull, ["nan", "infinity", "minusInfinity", "null"].toSorted());
  assert.deepEqual(same.equalsNull, []);
  // NaN and infinities: NULL, as a binding's JSON makes them.
  for (const k of ["nan", "infinity", "minusInfinity"]) assert.equal(row(k).tv, "null", k);
  // Integers past 2^53, as JS numbers: 2 ** 60 is stored exactly in an INTEGER column, and found.
  assert.equal(row("p60").xi, "1152921504606846976");
  assert.equal(row("p60").i, 2 ** 60);
  assert.equal(row("past53").xi, "9007199254740994");
  // -2^63 as a double: SQLite's INTEGER affinity keeps it a real, on every path.
  assert.deepEqual([row("minusP63").ti, row("minusP63").xi], ["real", "-9.22337203685478e+18"]);
  assert.deepEqual(same.byNumber, ["p60"]);
  // Reals at the edges of doubles read back as the very same doubles.
  for (const k of ["tenth", "tenthPlusFifth", "third", "pi", "small", "epsilon", "minSubnormal", "minusMinSubnormal", "minNormal", "maxValue", "minusMaxValue", "e21", "p64"]) {
    assert.equal(row(k).r, { tenth: 0.1, tenthPlusFifth: 0.1 + 0.2, third: 1 / 3, pi: Math.PI, small: 1e-7, epsilon: Number.EPSILON, minSubnormal: Number.MIN_VALUE, minusMinSubnormal: -Number.MIN_VALUE, minNormal: 2.2250738585072014e-308, maxValue: Number.MAX_VALUE, minusMaxValue: -Number.MAX_VALUE, e21: 1e21, p64: 2 ** 64 }[k], k);
    assert.equal(row(k).tr, "real", k);
  }
  assert.equal(Object.is(row("negativeZero").r, 0), true, "-0 as 0, as JSON writes it");
  assert.equal(same.reals, 0, "doubles that came back changed");
  // Booleans as 1 and 0.
  assert.deepEqual([row("true").i, row("false").i, row("true").ti], [1, 0, "integer"]);
  // Text: NUL and characters outside the BMP, byte for byte.
  assert.deepEqual([row("nul").t, row("nul").ht], ["a\u0000b", "610062"]);
  assert.deepEqual([row("onlyNul").t, row("onlyNul").ht], ["\u0000", "00"]);
  assert.equal(row("nonBmp").t, "😀 𝄞 𐍈 🏳️‍🌈");
  assert.equal(row("nonBmp").ht, Buffer.from("😀 𝄞 𐍈 🏳️‍🌈").toString("hex").toUpperCase());
  assert.deepEqual([row("empty").t, row("empty").tt], ["", "text"]);
  assert.deepEqual([row("numericText").v, row("numericText").tv, row("numericText").i, row("numericText").ti], ["42", "text", 42, "integer"]);
  assert.equal(row("long").t.length, 3000);
  // Blobs: the binding stores them; both REST paths refuse them before anything runs.
  assert.deepEqual(binding.blob, { v: [0, 1, 255], t: "blob" });
  assert.deepEqual([binding.bytes, binding.buffer], [[0, 1, 255], [7]]);
  assert.equal(binding.blobBatchRan, 2);
  for (const own of [rest, factory]) {
    for (const k of ["blob", "bytes", "buffer", "blobBatch"]) assert.match(own[k].error, /^D1_TYPE_ERROR: a blob parameter cannot be sent over the D1 REST API/, k);
    assert.equal(own.blobBatchRan, 0, "nothing of the batch ran");
  }
});

test("batch entries holding several `;`-joined statements: each answers its last, with no error after the commit", async () => {
  const { same } = await both("batch-several");
  noError(same.batch, "batch");
  assert.deepEqual(same.batch, [
    { results: [], changes: 2, changed_db: true, last_row_id: 2 },
    { results: [{ n: 2 }], changes: 0, changed_db: false },
    { results: [], changes: 1, changed_db: true, last_row_id: 3 },
    { results: [{ v: "x;y" }], changes: 0, changed_db: false },
    { results: [{ two: 2 }], changes: 0, changed_db: false },
    { results: [{ k: "p;1" }, { k: "s1" }, { k: "s2" }], changes: 0, changed_db: false },
  ]);
  assert.deepEqual(same.written, ["p;1", "s1", "s2"]);
  assert.deepEqual(same.alone, [{ results: [{ n: 4 }], changes: 1, changed_db: true, last_row_id: 4 }]);
  assert.deepEqual(same.second, [
    { results: [{ five: 5 }], changes: 0, changed_db: false },
    { results: [{ n: 5 }], changes: 1, changed_db: true, last_row_id: 5 },
  ]);
  assert.deepEqual(same.prepared, [{ results: [], changes: 2, changed_db: true, last_row_id: 7 }]);
  assert.equal(same.failed, true);
  assert.equal(same.afterFailed, 0);
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
  // An entry holding two statements answers its last one; the markers between entries are not seen.
  const sent = [];
  const watched = new RestD1Database(async (body) => (sent.push(body), sendTo("raw")(body)));
  const answered = await watched.batch([watched.prepare("SELECT 1 AS a; SELECT 2 AS b"), watched.prepare("SELECT 3 AS c")]);
  assert.deepEqual(answered.map((r) => r.results), [[{ b: 2 }], [{ c: 3 }]]);
  assert.equal(sent[0].batch.length, 3, "one marker between the two entries");
  assert.match(sent[0].batch[1].sql, /^SELECT 1 AS "edge-tenancy batch entry [0-9a-f-]{36}"$/);
  // Entries without a second statement go as they are.
  await watched.batch([watched.prepare("SELECT 1"), watched.prepare("SELECT 2")]);
  assert.deepEqual(sent[1], { batch: [{ sql: "SELECT 1", params: [] }, { sql: "SELECT 2", params: [] }] });
  // Parameters go as the JSON values a binding sends.
  await watched.prepare("SELECT ?, ?, ?, ?, ?, ?").bind("t", 7, 2.5, null, true, NaN).all();
  assert.deepEqual(sent[2], { sql: "SELECT ?, ?, ?, ?, ?, ?", params: ["t", 7, 2.5, null, 1, null] });
  // A blob is refused when it is bound, before anything is sent.
  assert.throws(() => watched.prepare("SELECT ?").bind(new Uint8Array([1])), /^Error: D1_TYPE_ERROR: a blob parameter/);
  assert.equal(sent.length, 3);
});
