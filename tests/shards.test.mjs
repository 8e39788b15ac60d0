// Shards in the demo worker: the D1 factory binds tenants' databases to four Worker scripts (the
// shards, each a copy of the demo) with at most 50 bindings each. 200 tenants queued and drained
// fill them in order; once each shard is deployed with the bindings the factory made, every
// tenant's requests sent to the front Worker are handed (by its service binding SHARD_<script>)
// to the shard that binds the tenant's database, and reach that database through the binding,
// with no REST call: each tenant reads only its own notes. A tenant moved to another shard in one
// call is served from there once that shard is deployed again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../local-api/testing.mjs";

const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = localApiWorker().bindings;
const SHARDS = [0, 1, 2, 3].map((n) => `edge-tenancy-shard-${n}`);
const PER_SHARD = 50;
const TENANTS = 200;
const ids = Array.from({ length: TENANTS }, (_, i) => `s${String(i).padStart(3, "0")}`);
const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", bindTo: SHARDS, maxBindings: PER_SHARD });
const base = demoWorker({}, { D1_FACTORY });
const serviceName = (script) => `SHARD_${script.replaceAll("-", "_").toUpperCase()}`;
// The front Worker: the control plane, and a service binding to each shard.
const front = { ...base, serviceBindings: { ...base.serviceBindings, ...Object.fromEntries(SHARDS.map((s) => [serviceName(s), s])) } };
// A shard: the same code, the same registry, the bindings it was deployed with.
const shard = (script, wrappedBindings = {}) => ({ ...base, name: script, wrappedBindings });

let w;
before(async () => {
  const mf = new Miniflare({ workers: [front, ...SHARDS.map((s) => shard(s)), localApiWorker(), localD1Worker()] });
  const admin = await adminToken();
  const call = async (method, path, body, token = admin) => {
    const res = await fetch(new URL(path, await mf.ready), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await json(res) };
  };
  const api = async () => mf.getWorker("edge-tenancy-local-api");
  const cf = async (path) =>
    (await api()).fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}${path}`, { headers: { authorization: `Bearer ${LOCAL_API_TOKEN}` } }).then((r) => r.json());
  const local = control(async (u, init) => (await api()).fetch(new URL(u, "http://local-api"), init));
  // A deploy of every shard with the D1 bindings the factory gave it.
  const deploy = async () => {
    const shards = [];
    for (const script of SHARDS) {
      const { result } = await cf(`/workers/scripts/${script}/settings`);
      const wrapped = Object.fromEntries(result.bindings.filter((b) => b.type === "d1").map((b) => [b.name, localD1Binding(b.database_id)]));
      shards.push(shard(script, wrapped));
    }
    await mf.setOptions({ workers: [front, ...shards, localApiWorker(), localD1Worker()] });
  };
  w = { mf, call, cf, local, deploy };
});
after(() => w?.mf.dispose());

const member = (tenant) => sign({ tenant, sub: `${tenant}-user` });

async function records() {
  const rows = [];
  for (let after = ""; ; ) {
    const page = await w.call("GET", `/tenants?limit=1000${after}`);
    rows.push(...page.body.tenants);
    if (!page.body.next) return rows;
    after = `&after=${page.body.next}`;
  }
}

test("200 tenants fill four shards of 50 in order, and each one's requests reach its own database through its shard", async () => {
  const queued = await w.call("POST", "/queue", { ids });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  for (let round = 0; ; round++) {
    assert.ok(round < 50, "the queue did not drain");
    const drained = await w.call("POST", "/queue/drain?secs=20&tenants=60");
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.deepEqual(drained.body.drained.failed, []);
    if (drained.body.drained.stopped === "empty") break;
  }
  const rows = await records();
  assert.deepEqual(rows.map((r) => [r.id, r.state]), ids.map((id) => [id, "ready"]));
  // In order: the first 50 on the first shard, and so on.
  assert.deepEqual(rows.map((r) => r.script), ids.map((_, i) => SHARDS[Math.floor(i / PER_SHARD)]));
  for (const script of SHARDS) {
    const { result } = await w.cf(`/workers/scripts/${script}/settings`);
    const held = result.bindings.filter((b) => b.type === "d1");
    assert.equal(held.length, PER_SHARD, script);
    for (const row of rows.filter((r) => r.script === script)) {
      assert.ok(held.some((b) => b.name === row.binding && b.database_id === row.database_id), `${row.id} on ${script}`);
    }
  }

  await w.deploy();
  await w.local.resetCalls();
  for (const id of ids) {
    const token = await member(id);
    const wrote = await w.call("POST", `/t/${id}/notes`, { body: `${id}'s note` }, token);
    assert.equal(wrote.status, 201, `${id}: ${JSON.stringify(wrote.body)}`);
    const read = await w.call("GET", `/t/${id}/notes`, undefined, token);
    assert.equal(read.status, 200, `${id}: ${JSON.stringify(read.body)}`);
    assert.equal(read.headers.get("x-edge-tenancy-database-path"), "binding", id);
    assert.deepEqual(read.body.notes.map((n) => n.body), [`${id}'s note`], id);
  }
  const { calls } = await w.local.calls();
  assert.equal(calls["d1.query"] ?? 0, 0, "no request took the REST path");
  // A request handed over already is never handed over again (a shard deployed with service
  // bindings to shards would loop): refused, not served over REST.
  const res = await fetch(new URL(`/t/${ids[0]}/notes`, await w.mf.ready), {
    headers: { authorization: `Bearer ${await member(ids[0])}`, "x-edge-tenancy-handed-over": "x" },
  });
  assert.deepEqual([res.status, (await res.json()).error.code], [503, "not_configured"]);
  // A member of one tenant is refused another's, through the shards too.
  assert.equal((await w.call("GET", `/t/${ids[0]}/notes`, undefined, await member(ids[199]))).status, 403);
});

test("a tenant moves to another shard in one call and is served from there once it is deployed", async () => {
  const [moving, leaving] = [ids[0], ids[150]];
  // Room on the last shard.
  assert.equal((await w.call("DELETE", `/tenants/${leaving}`)).status, 200);
  const moved = await w.call("POST", `/tenants/${moving}/move`, { to: SHARDS[3] });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.script, SHARDS[3]);
  const { result: from } = await w.cf(`/workers/scripts/${SHARDS[0]}/settings`);
  assert.ok(!from.bindings.some((b) => b.name === moved.body.binding), "unbound from where it was");
  await w.deploy();
  const read = await w.call("GET", `/t/${moving}/notes`, undefined, await member(moving));
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.equal(read.headers.get("x-edge-tenancy-database-path"), "binding");
  assert.deepEqual(read.body.notes.map((n) => n.body), [`${moving}'s note`], "the same database");
  // A full shard, or a script that is none of them.
  const full = await w.call("POST", `/tenants/${ids[60]}/move`, { to: SHARDS[0] });
  assert.equal(full.status, 200, "the room the moved tenant left");
  const refused = await w.call("POST", `/tenants/${ids[61]}/move`, { to: SHARDS[0] });
  assert.deepEqual([refused.status, refused.body.error.code], [409, "binding_limit"]);
  const elsewhere = await w.call("POST", `/tenants/${ids[61]}/move`, { to: "somewhere-else" });
  assert.deepEqual([elsewhere.status, elsewhere.body.error.code], [400, "invalid_body"]);
  assert.equal((await w.call("POST", `/tenants/${ids[61]}/move`, { towards: SHARDS[1] })).status, 400);
});
