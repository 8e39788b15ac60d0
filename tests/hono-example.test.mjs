// The example JS worker (js/examples/hono-d1: Hono + edge-tenancy/hono + drizzle), bundled by
// wrangler as a deploy would and run in workerd beside the local Cloudflare API: tenants added by
// an administrator, notes written and read with drizzle over REST, then over the tenants'
// bindings once applied, each tenant in its own database.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

const EXAMPLE = join(ROOT, "js/examples/hono-d1");
const TOML = readFileSync(join(EXAMPLE, "wrangler.toml"), "utf8");
const VARS = Object.fromEntries([...TOML.matchAll(/^([A-Z0-9_]+) = "([^"]*)"$/gm)].map(([, k, v]) => [k, v]));
const SECRET = new TextEncoder().encode(VARS.HS256_SECRET);
const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(SECRET);
const API = localApiWorker();

let mf;
let scriptPath;
let local;
const example = (wrappedBindings = {}) => ({
  name: "edge-tenancy-example-hono-d1",
  modules: true,
  scriptPath,
  modulesRoot: dirname(scriptPath),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: COMPATIBILITY_DATE,
  d1Databases: { CONTROL_PLANE: "example-registry" },
  serviceBindings: { CLOUDFLARE_API: API.name },
  bindings: VARS,
  wrappedBindings,
});
before(async () => {
  scriptPath = bundleWithWrangler(EXAMPLE);
  mf = new Miniflare({ workers: [example(), API, localD1Worker()] });
  const api = await mf.getWorker(API.name);
  local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
});
after(() => mf?.dispose());

async function call(method, path, token, body) {
  const worker = await mf.getWorker("edge-tenancy-example-hono-d1");
  const res = await worker.fetch(`http://example${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: await json(res) };
}

test("the example: tenants added, notes kept apart with drizzle, over REST and then over bindings", async () => {
  const admin = await sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });
  const alice = await sign({ tenant: "acme", sub: "alice" });
  const bob = await sign({ tenant: "globex", sub: "bob" });
  assert.deepEqual((await call("GET", "/health")).body, { status: "ok" });
  for (const id of ["acme", "globex"]) {
    const made = await call("POST", "/tenants", admin, { id });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.binding, `TENANT_${id.toUpperCase()}`);
  }
  assert.equal((await call("POST", "/tenants", alice, { id: "evil" })).status, 403);

  const note = await call("POST", "/t/acme/notes", alice, { body: "acme only" });
  assert.deepEqual([note.status, note.body], [201, { id: 1, author: "alice", body: "acme only" }]);
  assert.deepEqual((await call("GET", "/t/acme/notes/1", alice)).body, { id: 1, author: "alice", body: "acme only" });
  assert.deepEqual((await call("GET", "/t/globex/notes", bob)).body, { tenant: "globex", notes: [] });
  assert.equal((await call("GET", "/t/acme/notes", bob)).status, 403);
  assert.deepEqual((await call("GET", "/t/acme/whoami", alice)).body, { tenant: "acme", user: "alice" });
  const missing = await call("GET", "/t/initech/notes", await sign({ tenant: "initech", sub: "x" }));
  assert.deepEqual([missing.status, missing.body.error.code], [404, "tenant_not_found"]);

  // A deploy applies the recorded bindings: the same databases, now with no REST call.
  const { body: page } = await call("GET", "/tenants", admin);
  const wrapped = Object.fromEntries(page.tenants.map((t) => [t.binding, localD1Binding(t.database_id)]));
  await mf.setOptions({ workers: [example(wrapped), API, localD1Worker()] });
  const api = await mf.getWorker(API.name);
  local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
  await local.resetCalls();
  assert.deepEqual((await call("GET", "/t/acme/notes", alice)).body.notes, [{ id: 1, author: "alice", body: "acme only" }]);
  assert.equal((await call("POST", "/t/globex/notes", bob, { body: "globex's" })).status, 201);
  assert.deepEqual((await call("GET", "/t/globex/notes", bob)).body.notes, [{ id: 1, author: "bob", body: "globex's" }]);
  assert.equal((await local.calls()).calls["d1.raw"] ?? 0, 0);
});
