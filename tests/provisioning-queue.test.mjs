// The provisioning queue in the demo worker (tests/onboarding.mjs), against the local Cloudflare
// API with its real rate limit (1,200 calls per 5 minutes) in a shortened window (1,200 per 15 s)
// and the demo's own budget below it: 2,000 tenants queued at once all end ready, each database
// made exactly once and bound to the demo Worker, oldest first, by drains that bind each batch of
// tenants in one change of the Worker's bindings (at most 1.2 API calls a tenant to make and bind
// them), stop where the budget has no room and never meet a 429; a queued tenant's requests wait
// (503) until it is ready; a drain cut off midway (the runtime stopped and started again) is
// finished by the next once the leases it held run out, each database made once;
// bad requests are refused with clear errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { adminToken, sign } from "./demo-admin.mjs";
import { onboardingWorld, onboard, boundDatabases } from "./onboarding.mjs";

const TENANTS = 2_000;
const ids = Array.from({ length: TENANTS }, (_, i) => `q${String(i).padStart(4, "0")}`);

let w;
before(async () => {
  w = await onboardingWorld(15);
});
after(() => w?.mf.dispose());

test("2,000 tenants queued at once all end ready and bound, each made once, oldest first, within the budget", async () => {
  // A queued tenant's requests wait until it is ready; queued again, nothing new.
  const first = await w.call("POST", "/queue", { ids: ids.slice(0, 10) });
  assert.deepEqual([first.status, first.body.queued], [202, ids.slice(0, 10)]);
  const member = await sign({ tenant: ids[0], sub: "u" });
  const waiting = await w.call("GET", `/t/${ids[0]}/notes`, undefined, member);
  assert.equal(waiting.status, 503, JSON.stringify(waiting.body));
  assert.ok(Number(waiting.headers.get("retry-after")) > 0);

  const run = await onboard(w, ids);
  assert.deepEqual(run.queued, ids.slice(10), "those queued already are left as they are");
  assert.deepEqual(run.failed, []);
  assert.deepEqual(run.order, ids, "each once, oldest first");
  assert.ok(run.budgetStops > 0, "the budget paced the drains");
  assert.equal(run.rateLimited, 0, "no 429 met");
  assert.equal(run.calls["d1.create"], TENANTS, "one database each");
  assert.ok(run.ours <= TENANTS * 1.2, `${run.ours} calls to make and bind ${TENANTS} tenants`);
  const status = await w.call("GET", "/queue");
  assert.equal(status.body.length, 0);
  // Ready, each bound to its own database.
  const bound = await boundDatabases(w);
  let rows = [];
  for (let after = ""; ; ) {
    const page = await w.call("GET", `/tenants?limit=1000${after}`);
    rows.push(...page.body.tenants);
    if (!page.body.next) break;
    after = `&after=${page.body.next}`;
  }
  rows = rows.filter((t) => ids.includes(t.id));
  assert.deepEqual(rows.map((t) => t.state), ids.map(() => "ready"));
  for (const row of rows) assert.equal(bound.get(row.binding), row.database_id, row.id);
  console.log(
    `${TENANTS} tenants in ${run.seconds.toFixed(1)} s: ${(run.ours / TENANTS).toFixed(3)} API calls a tenant to make and bind them ` +
      `(${run.calls["workers.settings.patch"]} binding changes, ${run.calls["workers.settings.get"] ?? 0} reads), ` +
      `${(run.total / TENANTS).toFixed(3)} with the demo's hook; ${run.budgetStops} budget stops`,
  );
  assert.equal((await w.call("GET", `/t/${ids[0]}/notes`, undefined, member)).status, 200);
});

test("a drain cut off midway is finished by the next once its leases run out, each database made once", async () => {
  const crashed = Array.from({ length: 40 }, (_, i) => `crash${String(i).padStart(2, "0")}`);
  assert.equal((await w.call("POST", "/queue", { ids: crashed })).status, 202);
  // Each database takes 200 ms to make, so the drain is midway when its request is aborted.
  await w.local.faults([{ operation: "d1.create", fault: "slow", delayMs: 200, times: null }]);
  // The runtime is stopped midway through a drain (and started again, its state kept).
  const drain = fetch(new URL("/queue/drain?secs=20&tenants=40", await w.mf.ready), {
    method: "POST",
    headers: { authorization: `Bearer ${await adminToken()}` },
  }).catch((error) => error);
  let registry = await w.mf.getD1Database("CONTROL_PLANE", "edge-tenancy-demo");
  const leased = () => registry.prepare("SELECT count(*) AS n FROM edge_tenancy_tenants WHERE id LIKE 'crash%' AND lease_until IS NOT NULL").first("n");
  for (let waited = 0; (await leased()) === 0 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  await w.restart();
  await drain;
  registry = await w.mf.getD1Database("CONTROL_PLANE", "edge-tenancy-demo");
  const ready = () => registry.prepare("SELECT count(*) AS n FROM edge_tenancy_tenants WHERE id LIKE 'crash%' AND state = 'ready'").first("n");
  // Stopped: no database is made after it.
  const made = async () => (await w.cf("/d1/database?name=tenant_crash&per_page=1000")).result.length;
  const atAbort = await made();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await made(), atAbort, "nothing made after the cut");
  assert.ok(atAbort > 0 && atAbort < crashed.length, `cut off midway: ${atAbort} made`);
  assert.ok((await leased()) > 0, "its leases left behind");
  await w.local.clearFaults();
  // Two minutes pass: the leases it held (and the Worker bindings' lock) run out.
  await registry.batch([
    registry.prepare("UPDATE edge_tenancy_tenants SET lease_until = lease_until - 180000 WHERE lease_until IS NOT NULL"),
    registry.prepare("UPDATE edge_tenancy_locks SET until = until - 180000"),
  ]);
  for (let round = 0; ; round++) {
    assert.ok(round < 20, "the queue did not drain");
    const drained = await w.call("POST", "/queue/drain?secs=20&tenants=60");
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    if (drained.body.drained.stopped === "empty") break;
    await new Promise((r) => setTimeout(r, Math.min(drained.body.drained.wait_ms, 15_000)));
  }
  assert.equal(await ready(), crashed.length);
  const bound = await boundDatabases(w);
  for (const id of crashed) {
    const { result } = await w.cf(`/d1/database?name=tenant_${id}-&per_page=100`);
    assert.equal(result.length, 1, `${id}: one database`);
    const record = (await w.call("GET", `/tenants/${id}`)).body;
    assert.equal(bound.get(record.binding), result[0].uuid, `${id}: bound to it`);
  }
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
