// The migration job's benchmark (not a test): `bash bench/run.sh schema-jobs [tenants] [rest|binding]` provisions
// that many tenants (default 1,000) of the demo's schema group at version 1 through the local
// Cloudflare API, then runs one job bringing them to version 2, over the REST path and then,
// with every tenant's binding applied as a deploy would, over the binding path. The account's
// real rate limit (1,200 calls per 5 minutes) and the demo's own client budget (1,000) stay as
// they are, except that each phase starts with a fresh window (a new account's, a new isolate's):
// what a job costs, not what provisioning left of the budget. Prints tenants migrated per
// minute, API calls per tenant, the 429s the account answered, and checks every tenant's ledger.
// The hold is 1 s here (65 s by default): a fixed wait, not throughput.
import { Miniflare } from "miniflare";
import { adminToken, demoWorker } from "../../tests/demo-admin.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../../local-api/testing.mjs";

const TENANTS = Number(process.argv[2] ?? 1000);
// `rest` or `binding` runs that path alone; both by default.
const PATHS = process.argv[3] ? [process.argv[3]] : ["rest", "binding"];
const ids = Array.from({ length: TENANTS }, (_, i) => `b${String(i).padStart(4, "0")}`);

// Provisioning is not what is measured: the account's limit and the client's budget are raised
// for it, and put back (a new isolate, a fresh window) for the job.
const RAISED = { budget: { limit: 100_000, windowSecs: 300, maxWaitMs: 10_000 } };

async function world(bindTo) {
  const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", ...(bindTo ? { bindTo: "edge-tenancy-demo" } : {}) });
  const demo = demoWorker({}, { D1_FACTORY });
  const raised = demoWorker(RAISED, { D1_FACTORY });
  const mf = new Miniflare({ workers: [raised, localApiWorker(), localD1Worker()] });
  // The stub is asked for each time: setOptions (a new isolate for the job) poisons old ones.
  const local = control(async (u, init) => (await mf.getWorker("edge-tenancy-local-api")).fetch(new URL(u, "http://local-api"), init));
  const admin = await adminToken();
  const call = async (method, path, body) => {
    const res = await fetch(new URL(path, await mf.ready), {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  return { mf, demo, raised, local, call };
}

async function provision(w) {
  await w.local.limits({ rateLimit: { limit: 100_000 } });
  await w.call("GET", "/tenants");
  const registry = await w.mf.getD1Database("CONTROL_PLANE", "edge-tenancy-demo");
  await registry.prepare("INSERT INTO edge_tenancy_schema_groups (name, version) VALUES ('demo', 1)").run();
  const records = [];
  for (let i = 0; i < TENANTS; i += 10) {
    records.push(...(await Promise.all(ids.slice(i, i + 10).map((id) => w.call("POST", "/tenants", { id })))));
  }
  return records;
}

async function job(w, label, wrappedBindings = {}) {
  // A fresh window for the account (its real limit) and for the demo (a new isolate with the
  // default budget).
  await w.mf.setOptions({ workers: [{ ...w.demo, wrappedBindings }, localApiWorker(), localD1Worker()] });
  await w.local.limits({ rateLimit: { limit: 1200, windowSeconds: 300 } });
  await w.local.resetCalls();
  const started = Date.now();
  let state = await w.call("POST", "/schema/jobs", { hold_secs: 1 });
  while (!state.outcome) state = await w.call("POST", `/schema/jobs/${state.id}/drive?calls=900&secs=25`);
  const seconds = (Date.now() - started) / 1000;
  if (state.outcome !== "committed" || state.counts.migrated !== TENANTS) throw new Error(`${label}: ${JSON.stringify(state)}`);
  const { calls, rateLimited = 0 } = await w.local.calls();
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  console.log(
    `${label.padEnd(8)} ${TENANTS} tenants in ${seconds.toFixed(1)} s: ${Math.round((TENANTS / seconds) * 60)} per minute; ` +
      `${(total / TENANTS).toFixed(2)} API calls per tenant (${JSON.stringify(calls)}); 429s answered: ${rateLimited}`,
  );
}

async function checkLedgers(w, records) {
  // Read with the raised limits: the job may have spent the demo's budget.
  await w.mf.setOptions({ workers: [w.raised, localApiWorker(), localD1Worker()] });
  await w.local.limits({ rateLimit: { limit: 100_000 } });
  for (const record of records) {
    const { results } = await w.call("POST", `/admin/databases/${record.database_id}/query`, { sql: "SELECT count(*) AS n FROM edge_tenancy_migrations" });
    if (results[0].results[0].n !== 2) throw new Error(`${record.id}: ${JSON.stringify(results)}`);
  }
}

// The REST path: no bindings.
if (PATHS.includes("rest")) {
  const w = await world(false);
  const records = await provision(w);
  await job(w, "rest");
  await checkLedgers(w, records);
  await w.mf.dispose();
}
// The binding path: every tenant bound, the bindings applied as a deploy would.
if (PATHS.includes("binding")) {
  const w = await world(true);
  const records = await provision(w);
  const wrappedBindings = Object.fromEntries(records.map((r) => [r.binding, localD1Binding(r.database_id)]));
  await job(w, "binding", wrappedBindings);
  await checkLedgers(w, records);
  await w.mf.dispose();
}
