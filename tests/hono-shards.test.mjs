// Shards in a JS worker (tests/workers/hono-shards): createD1Factory binds tenants' databases to
// three shard Workers of two bindings each, filled in order; once each shard is deployed with its
// bindings, the Hono middleware of the front Worker hands each tenant's requests to the shard
// that binds its database (the service binding SHARD_<SCRIPT>), which serves them through the
// binding, with no REST call; a tenant moved in one call is served from its new shard.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE, bundleWithWrangler, json } from "./helpers.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

const API = localApiWorker();
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = API.bindings;
const SECRET = new TextEncoder().encode("shards-spec-secret-0123456789abcdef0123456789");
const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(SECRET);
const SHARDS = ["hono-shard-a", "hono-shard-b", "hono-shard-c"];
const ids = ["t1", "t2", "t3", "t4", "t5", "t6"];

let mf;
let scriptPath;
const worker = (name, extra = {}) => ({
  name,
  modules: true,
  scriptPath,
  modulesRoot: dirname(scriptPath),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: COMPATIBILITY_DATE,
  d1Databases: { CONTROL_PLANE: "shards-registry" },
  bindings: { ACCOUNT_ID: LOCAL_ACCOUNT_ID, API_TOKEN: LOCAL_API_TOKEN, SHARDS: JSON.stringify(SHARDS), MAX_BINDINGS: "2", SCRIPT: name },
  ...extra,
  serviceBindings: { CLOUDFLARE_API: API.name, ...extra.serviceBindings },
});
const front = () => worker("hono-front", { serviceBindings: Object.fromEntries(SHARDS.map((s) => [`SHARD_${s.replaceAll("-", "_").toUpperCase()}`, s])) });
const cf = async (path) =>
  (await mf.getWorker(API.name)).fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}${path}`, { headers: { authorization: `Bearer ${LOCAL_API_TOKEN}` } }).then((r) => r.json());
// A deploy of every shard with the D1 bindings the factory gave it.
async function deploy() {
  const shards = [];
  for (const script of SHARDS) {
    const { result } = await cf(`/workers/scripts/${script}/settings`);
    shards.push(worker(script, { wrappedBindings: Object.fromEntries(result.bindings.filter((b) => b.type === "d1").map((b) => [b.name, localD1Binding(b.database_id)])) }));
  }
  await mf.setOptions({ workers: [front(), ...shards, API, localD1Worker()] });
}
before(async () => {
  scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/hono-shards"));
  mf = new Miniflare({ workers: [front(), ...SHARDS.map((s) => worker(s)), API, localD1Worker()] });
});
after(() => mf?.dispose());

async function call(method, path, token, body) {
  const res = await (await mf.getWorker("hono-front")).fetch(`http://front${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, servedBy: res.headers.get("x-served-by"), body: await json(res) };
}
const admin = () => sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });
const member = (tenant) => sign({ tenant, sub: `${tenant}-user` });

test("six tenants fill three shards of two in order, and each one's requests reach its own database through its shard", async () => {
  const token = await admin();
  for (const id of ids) {
    const made = await call("POST", "/tenants", token, { id });
    assert.equal(made.status, 201, JSON.stringify(made.body));
  }
  const { body: page } = await call("GET", "/tenants", token);
  assert.deepEqual(page.tenants.map((t) => t.script), [0, 0, 1, 1, 2, 2].map((n) => SHARDS[n]));
  await deploy();
  const local = control(async (u, init) => (await mf.getWorker(API.name)).fetch(new URL(u, "http://local-api"), init));
  await local.resetCalls();
  for (const [i, id] of ids.entries()) {
    const who = await member(id);
    const wrote = await call("POST", `/t/${id}/notes`, who, { body: `${id}'s note` });
    assert.equal(wrote.status, 201, `${id}: ${JSON.stringify(wrote.body)}`);
    const read = await call("GET", `/t/${id}/notes`, who);
    assert.equal(read.servedBy, SHARDS[Math.floor(i / 2)], id);
    assert.deepEqual(read.body.notes.map((n) => n.body), [`${id}'s note`], id);
  }
  assert.equal((await local.calls()).calls["d1.query"] ?? 0, 0, "no request took the REST path");
  assert.equal((await call("GET", `/t/t1/notes`, await member("t6"))).status, 403);
  // A request handed over already is never handed over again: refused, not served over REST.
  const front = await mf.getWorker("hono-front");
  const again = await front.fetch("http://front/t/t1/notes", { headers: { authorization: `Bearer ${await member("t1")}`, "x-edge-tenancy-handed-over": "1" } });
  assert.deepEqual([again.status, (await again.json()).error.code], [503, "not_configured"]);
});

test("a tenant moves to another shard in one call and is served from there once it is deployed", async () => {
  const token = await admin();
  assert.equal((await call("DELETE", "/tenants/t6", token)).status, 200);
  const moved = await call("POST", "/tenants/t1/move", token, { to: SHARDS[2] });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.script, SHARDS[2]);
  await deploy();
  const read = await call("GET", "/t/t1/notes", await member("t1"));
  assert.equal(read.servedBy, SHARDS[2]);
  assert.deepEqual(read.body.notes.map((n) => n.body), ["t1's note"]);
  const full = await call("POST", "/tenants/t3/move", token, { to: SHARDS[2] });
  assert.deepEqual([full.status, full.body.error?.code], [409, "binding_limit"]);
  assert.equal((await call("POST", "/tenants/t3/move", token, { towards: SHARDS[0] })).status, 400);
});
