// The Hono middleware of edge-tenancy/hono in workerd: setupMultiTenancy over createD1Factory
// (databases made through the local Cloudflare API, reached over REST, then over their bindings
// once applied as a deploy would) and over a factory written in JS under a registry; the
// control-plane routes; what each request costs; and errors that keep their detail in the log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

// The local API knows the spec worker's script, as the real one knows a deployed Worker's.
const API = localApiWorker({ bindings: { ...localApiWorker().bindings, LOCAL_SCRIPTS: "edge-tenancy-hono-spec" } });
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = API.bindings;
const SECRET = new TextEncoder().encode("hono-spec-secret-0123456789abcdef0123456789");
const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(SECRET);
const admin = () => sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });
const member = (tenant) => sign({ tenant, sub: `${tenant}-user` });

let mf;
let spec;
let local;
const worker = (scriptPath, wrappedBindings = {}) => ({
  name: "hono-spec",
  modules: true,
  scriptPath,
  modulesRoot: dirname(scriptPath),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: COMPATIBILITY_DATE,
  d1Databases: { CONTROL_PLANE: "control-plane", JS_REGISTRY: "js-registry" },
  serviceBindings: { CLOUDFLARE_API: API.name },
  bindings: { ACCOUNT_ID: LOCAL_ACCOUNT_ID, API_TOKEN: LOCAL_API_TOKEN },
  wrappedBindings,
});
let scriptPath;
// Stubs into workerd go stale when the options change: taken again each time.
async function connect() {
  spec = await mf.getWorker("hono-spec");
  const api = await mf.getWorker(API.name);
  local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
}
before(async () => {
  scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/hono"));
  mf = new Miniflare({ workers: [worker(scriptPath), API, localD1Worker()] });
  await connect();
});
after(() => mf?.dispose());

async function call(method, path, { token, body } = {}) {
  const res = await spec.fetch(`http://spec${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await json(res) };
}
const counts = async () => (await call("GET", "/counts")).body;
const apiCalls = async () => (await local.calls()).calls;

test("administrators provision tenants through the control-plane app; others cannot", async () => {
  const made = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "acme" } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.state, "ready");
  assert.equal(made.body.binding, "TENANT_ACME");
  assert.equal((await call("POST", "/d1/tenants", { token: await admin(), body: { id: "acme" } })).status, 200);
  assert.equal((await call("POST", "/d1/tenants", { token: await admin(), body: { id: "beta" } })).status, 201);

  const page = await call("GET", "/d1/tenants?limit=1", { token: await admin() });
  assert.deepEqual(page.body.tenants.map((t) => t.id), ["acme"]);
  assert.equal(page.body.next, "acme");
  assert.equal((await call("GET", "/d1/tenants/beta", { token: await admin() })).body.id, "beta");

  const refused = await call("POST", "/d1/tenants", { token: await member("acme"), body: { id: "gamma" } });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "forbidden");
  assert.equal((await call("GET", "/d1/tenants")).status, 401);
  const bad = await call("POST", "/d1/tenants", { token: await admin(), body: { name: "x" } });
  assert.deepEqual([bad.status, bad.body.error.code], [400, "invalid_body"]);
  const invalid = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "Not Valid" } });
  assert.deepEqual([invalid.status, invalid.body.error.code], [400, "invalid_tenant_id"]);
});

test("POST /tenants takes {id} and nothing else, and never the control-plane tenant", async () => {
  await local.resetCalls();
  const refusals = [
    [{ id: "gamma", locationHint: "weur" }, '"locationHint": unknown field (known: id); expected {"id": "<tenant id>"}'],
    [{ ID: "gamma" }, '"ID": unknown field; did you mean id? (known: id); expected {"id": "<tenant id>"}'],
    [{ id: "gamma", id2: null }, '"id2": unknown field; did you mean id? (known: id); expected {"id": "<tenant id>"}'],
    [["gamma"], 'expected {"id": "<tenant id>"}'],
    ["gamma", 'expected {"id": "<tenant id>"}'],
    [{ id: 5 }, 'expected {"id": "<tenant id>"}'],
    [{ id: "main" }, "main is the control-plane tenant, which has no tenant database"],
  ];
  for (const [body, message] of refusals) {
    for (const app of ["/d1", "/js"]) {
      const refused = await call("POST", `${app}/tenants`, { token: await admin(), body });
      assert.deepEqual([refused.status, refused.body.error], [400, { code: "invalid_body", message }], `${app} ${JSON.stringify(body)}`);
    }
  }
  // Nothing was made: no database, no registry row, no binding.
  for (const id of ["gamma", "main"]) {
    assert.equal((await call("GET", `/d1/tenants/${id}`, { token: await admin() })).status, 404, id);
    assert.equal((await call("GET", `/js/tenants/${id}`, { token: await admin() })).status, 404, id);
  }
  assert.deepEqual(Object.entries(await apiCalls()).filter(([, n]) => n > 0), []);
  assert.deepEqual((await counts()).made, []);
  // A field name is never echoed whole.
  const long = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "gamma", ["x".repeat(500)]: 1 } });
  assert.equal(long.status, 400);
  assert.ok(long.body.error.message.length < 200, long.body.error.message);
});

test("handlers get the tenant, principal, database and adapters; REST first, the binding once applied", async () => {
  const note = await call("POST", "/t/acme/notes", { token: await member("acme"), body: { body: "acme's plan" } });
  assert.equal(note.status, 201, JSON.stringify(note.body));
  assert.deepEqual((await call("GET", "/t/acme/notes", { token: await member("acme") })).body.notes, [{ id: 1, body: "acme's plan" }]);
  assert.deepEqual((await call("GET", "/t/beta/notes", { token: await member("beta") })).body.notes, []);
  assert.equal((await call("GET", "/t/acme/notes", { token: await member("beta") })).status, 403);
  // A developer's SQL error reads as D1's would, over REST too.
  const badSql = await call("GET", "/t/acme/bad-sql", { token: await member("acme") });
  assert.match(badSql.body.message, /no such table: no_such_table/);

  // Applied bindings (a deploy): the same database, now through its binding, no REST call.
  const { body: record } = await call("GET", "/d1/tenants/acme", { token: await admin() });
  await mf.setOptions({ workers: [worker(scriptPath, { TENANT_ACME: localD1Binding(record.database_id) }), API, localD1Worker()] });
  await connect();
  await local.resetCalls();
  assert.deepEqual((await call("GET", "/t/acme/notes", { token: await member("acme") })).body.notes, [{ id: 1, body: "acme's plan" }]);
  assert.equal((await apiCalls())["d1.raw"] ?? 0, 0);

  const probe = await call("GET", "/t/acme/probe", { token: await member("acme") });
  assert.deepEqual(probe.body, { tenant: "acme", subject: "acme-user", adapters: "acme", rows: null, envWritten: false, hasDatabase: true, administrator: false });
});

test("two tenants' requests at once each see their own adapters; env is never written", async () => {
  const [slow, fast] = await Promise.all([
    call("GET", "/t/acme/probe?ms=300", { token: await member("acme") }),
    (async () => {
      await new Promise((r) => setTimeout(r, 50));
      return call("GET", "/t/beta/probe", { token: await member("beta") });
    })(),
  ]);
  assert.equal(slow.body.adapters, "acme");
  assert.equal(fast.body.adapters, "beta");
  assert.equal(slow.body.envWritten || fast.body.envWritten, false);
});

test("warm requests cost no registry read, no new adapters and no database work", async () => {
  const token = await member("acme");
  await call("GET", "/t/acme/probe", { token });
  const before = await counts();
  await local.resetCalls();
  for (let i = 0; i < 50; i++) assert.equal((await call("GET", `/t/acme/probe?n=${i}`, { token })).status, 200);
  const after = await counts();
  assert.equal(after.registryBatches - before.registryBatches, 0);
  assert.equal(after.createAdapters - before.createAdapters, 0);
  assert.deepEqual(Object.values(await apiCalls()).filter((n) => n > 0), []);
});

test("unknown tenants are 404, failed ones 503; a hook's failure detail stays in the log", async () => {
  const unknown = await call("GET", "/t/nobody/probe", { token: await member("nobody") });
  assert.deepEqual([unknown.status, unknown.body.error.code], [404, "tenant_not_found"]);

  const failed = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "hookfail" } });
  assert.deepEqual([failed.status, failed.body.error.code], [500, "hook_failed"]);
  assert.doesNotMatch(JSON.stringify(failed.body), /secret-detail-42/);
  assert.equal((await call("GET", "/d1/tenants/hookfail", { token: await admin() })).body.state, "failed");
  const unavailable = await call("GET", "/t/hookfail/probe", { token: await member("hookfail") });
  assert.deepEqual([unavailable.status, unavailable.body.error.code], [503, "tenant_unavailable"]);
  assert.ok(Number(unavailable.headers.get("retry-after")) > 0);

  const gone = await call("DELETE", "/d1/tenants/beta", { token: await admin() });
  assert.deepEqual([gone.status, gone.body], [200, { deleted: "beta", backup: null }]);
  assert.equal((await call("GET", "/t/beta/probe", { token: await member("beta") })).status, 404);
});

test("an onProvision that throws after the factory's provision: 500 hook_failed, the tenant failed, never served, resumed by a retry", async () => {
  const failed = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "latefail" } });
  assert.deepEqual([failed.status, failed.body.error.code], [500, "hook_failed"]);
  assert.doesNotMatch(JSON.stringify(failed.body), /secret-detail-44|migrations\.js/);
  const record = (await call("GET", "/d1/tenants/latefail", { token: await admin() })).body;
  assert.deepEqual([record.state, record.error_code], ["failed", "hook_failed"]);
  assert.doesNotMatch(record.error, /migrations\.js|\n/, "the first line only, no stack");
  const unavailable = await call("GET", "/t/latefail/probe", { token: await member("latefail") });
  assert.deepEqual([unavailable.status, unavailable.body.error.code], [503, "tenant_unavailable"]);
  // Fixed, provisioning again resumes it: the same database, ready.
  await call("POST", "/late-fail-fixed");
  const again = await call("POST", "/d1/tenants", { token: await admin(), body: { id: "latefail" } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.deepEqual([again.body.state, again.body.database_id, again.body.error_code], ["ready", record.database_id, null]);
  assert.equal((await call("GET", "/t/latefail/probe", { token: await member("latefail") })).status, 200);
});

test("a deprovision whose delete succeeded and whose row removal failed completes on retry, with no second backup or delete", async () => {
  assert.equal((await call("POST", "/d1/tenants", { token: await admin(), body: { id: "halfgone" } })).status, 201);
  await call("POST", "/fail-row-removal");
  await local.resetCalls();
  const first = await call("DELETE", "/d1/tenants/halfgone", { token: await admin() });
  assert.deepEqual([first.status, first.body.error.code], [503, "storage_unavailable"]);
  const deleted = await apiCalls();
  assert.equal(deleted["d1.delete"], 1, JSON.stringify(deleted));
  // The row stays, saying why, its database gone; the failed attempt gave its lease up.
  const stuck = (await call("GET", "/d1/tenants/halfgone", { token: await admin() })).body;
  assert.deepEqual([stuck.state, stuck.error_code], ["deprovisioning", "storage_unavailable"]);
  await local.resetCalls();
  const retry = await call("DELETE", "/d1/tenants/halfgone", { token: await admin() });
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal((await call("GET", "/d1/tenants/halfgone", { token: await admin() })).status, 404);
  const again = await apiCalls();
  for (const op of ["d1.delete", "d1.export", "workers.settings.get", "workers.settings.patch"]) assert.equal(again[op] ?? 0, 0, `${op}: ${JSON.stringify(again)}`);
});

test("a factory written in JS runs under the registry; its errors are the pipeline's", async () => {
  const made = await call("POST", "/js/tenants", { token: await admin(), body: { id: "one" } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual([made.body.backend, made.body.state], ["custom", "ready"]);
  assert.deepEqual((await counts()).made, ["one"]);
  // Provisioning a ready tenant again does not call the factory again.
  assert.equal((await call("POST", "/js/tenants", { token: await admin(), body: { id: "one" } })).status, 200);
  assert.deepEqual((await counts()).made, ["one"]);

  const probe = await call("GET", "/js/t/one/probe", { token: await member("one") });
  assert.deepEqual([probe.body.adapters, probe.body.rows, probe.body.hasDatabase], ["one", [], false], JSON.stringify(probe));
  assert.equal((await call("GET", "/js/t/two/probe", { token: await member("two") })).status, 404);

  assert.equal((await call("POST", "/js/tenants", { token: await admin(), body: { id: "broken" } })).status, 201);
  const broken = await call("GET", "/js/t/broken/probe", { token: await member("broken") });
  assert.deepEqual([broken.status, broken.body.error.code], [500, "adapters_failed"]);
  assert.doesNotMatch(JSON.stringify(broken.body), /hunter2/);

  const refused = await call("POST", "/js/tenants", { token: await admin(), body: { id: "refused" } });
  assert.deepEqual([refused.status, refused.body.error.code], [500, "hook_failed"]);
  assert.doesNotMatch(JSON.stringify(refused.body), /secret-detail-43/);
  assert.equal((await call("GET", "/js/tenants/refused", { token: await admin() })).body.state, "failed");

  assert.equal((await call("DELETE", "/js/tenants/one", { token: await admin() })).status, 200);
  assert.deepEqual((await counts()).unmade, ["one"]);
  assert.equal((await call("GET", "/js/t/one/probe", { token: await member("one") })).status, 404);
});
