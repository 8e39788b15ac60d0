// The provisioning queue in the demo worker, against the local Cloudflare API with a rate limit
// of its real shape in a shortened window (120 calls per 10 s: 1,200 per 5 minutes, three times
// as fast) and the demo's own budget below it (100 per 10 s): 100 tenants queued in one call all
// end ready, each database made exactly once, oldest first, by drains that stop where the budget
// has no room and never meet a 429; a queued tenant's requests wait (503) until it is ready;
// bad requests are refused with clear errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker, sign } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, control } from "../local-api/testing.mjs";

const TENANTS = 100;
const ids = Array.from({ length: TENANTS }, (_, i) => `q${String(i).padStart(3, "0")}`);
const BUDGET = { budget: { limit: 100, windowSecs: 10, maxWaitMs: 0 } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let w;
before(async () => {
  const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_" });
  const mf = new Miniflare({ workers: [demoWorker(BUDGET, { D1_FACTORY }), localApiWorker(), localD1Worker()] });
  const api = await mf.getWorker("edge-tenancy-local-api");
  const admin = await adminToken();
  const call = async (method, path, body, token = admin) => {
    const res = await fetch(new URL(path, await mf.ready), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await json(res) };
  };
  const local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
  await local.limits({ rateLimit: { limit: 120, windowSeconds: 10 } });
  w = { mf, call, local };
});
after(() => w?.mf.dispose());

test("100 tenants queued at once all end ready, each made once, oldest first, within the budget", async () => {
  await w.local.resetCalls();
  const queued = await w.call("POST", "/queue", { ids });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  assert.deepEqual(queued.body.queued, ids);
  assert.equal(queued.body.queue.length, TENANTS);
  // Queued again: nothing new.
  const again = await w.call("POST", "/queue", { ids: ids.slice(0, 10) });
  assert.deepEqual([again.status, again.body.queued], [202, []]);
  // Its requests wait until it is ready.
  const member = await sign({ tenant: ids[0], sub: "u" });
  const waiting = await w.call("GET", `/t/${ids[0]}/notes`, undefined, member);
  assert.equal(waiting.status, 503, JSON.stringify(waiting.body));
  assert.ok(Number(waiting.headers.get("retry-after")) > 0);

  const order = [];
  let budgetStops = 0;
  const started = Date.now();
  for (let round = 0; ; round++) {
    assert.ok(round < 60, "the queue did not drain");
    const drained = await w.call("POST", "/queue/drain?secs=10&tenants=60");
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.deepEqual(drained.body.drained.failed, []);
    order.push(...drained.body.drained.ready);
    if (drained.body.drained.stopped === "empty") break;
    if (drained.body.drained.stopped === "budget") {
      budgetStops++;
      await sleep(Math.min(drained.body.drained.wait_ms, 10_000));
    }
  }
  const seconds = (Date.now() - started) / 1000;
  assert.deepEqual(order, ids, "each once, oldest first");
  assert.ok(budgetStops > 0, "the budget paced the drains");
  const { calls, rateLimited } = await w.local.calls();
  assert.equal(rateLimited, 0, "no 429 met");
  assert.equal(calls["d1.create"], TENANTS, "one database each");
  const status = await w.call("GET", "/queue");
  assert.equal(status.body.length, 0);
  const page = await w.call("GET", "/tenants?limit=1000");
  const states = page.body.tenants.filter((t) => ids.includes(t.id)).map((t) => t.state);
  assert.deepEqual(states, ids.map(() => "ready"));
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  console.log(`${TENANTS} tenants in ${seconds.toFixed(1)} s, ${(total / TENANTS).toFixed(2)} API calls per tenant, ${budgetStops} budget stops`);
  // Ready: served.
  assert.equal((await w.call("GET", `/t/${ids[0]}/notes`, undefined, member)).status, 200);
});

test("bad queue requests are refused with clear errors", async () => {
  const cases = [
    [{ ids: [] }, /expected \{"ids"/],
    [{ id: "acme" }, /expected \{"ids"/],
    ["not json", /expected \{"ids"/],
    [{ ids: ["Not An Id"] }, /.+/],
    [{ ids: ["main"] }, /control-plane tenant/],
    [{ ids: ["x".repeat(60)] }, /tenant id of at most/],
  ];
  for (const [body, message] of cases) {
    const res = await w.call("POST", "/queue", body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error.message, message);
  }
  assert.equal((await w.call("POST", "/queue/drain?secs=lots")).status, 400);
  assert.equal((await w.call("GET", "/queue", undefined, await sign({ tenant: "acme", sub: "u" }))).status, 403);
});
