// The control plane's costs, measured (not a test): the demo worker and the local Cloudflare API
// in one workerd. Provisions and deprovisions N tenants and prints, per operation, the API calls
// it made (from the local API's own counters) and its wall time; then, on a warm isolate, how
// many registry reads M requests spread over those tenants cost.
//   node bench/control/provision.mjs [tenants=20] [requests=2000]
import { Miniflare } from "miniflare";
import { demoWorker, adminToken, sign } from "../../tests/demo-admin.mjs";
import { localApiWorker, control } from "../../local-api/testing.mjs";

const TENANTS = Number(process.argv[2] ?? 20);
const REQUESTS = Number(process.argv[3] ?? 2000);
const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", bindTo: "edge-tenancy-demo" });

const mf = new Miniflare({ workers: [{ ...demoWorker({}, { D1_FACTORY }), r2Buckets: ["BACKUPS"] }, localApiWorker()] });
const url = await mf.ready;
const api = await mf.getWorker("edge-tenancy-local-api");
const local = control((u, init) => api.fetch(new URL(u, "http://local-api"), init));
const admin = await adminToken();
const call = (method, path, body, token = admin) =>
  fetch(new URL(path, url), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body && JSON.stringify(body),
  });

async function calls() {
  const { calls } = await local.calls();
  await local.resetCalls();
  return Object.fromEntries(Object.entries(calls).filter(([, n]) => n > 0));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ids = Array.from({ length: TENANTS }, (_, i) => `bench-${i}`);
await local.reset();

// Provision, one tenant at a time, each call's API operations counted on its own.
const provision = { ms: [], calls: {} };
for (const id of ids) {
  const start = performance.now();
  const res = await call("POST", "/tenants", { id });
  provision.ms.push(performance.now() - start);
  if (res.status !== 201) throw new Error(`provision ${id}: ${res.status} ${await res.text()}`);
  for (const [op, n] of Object.entries(await calls())) provision.calls[op] = (provision.calls[op] ?? 0) + n;
}

// Warm requests: every tenant's members, round robin; registry reads from the demo's counter.
const usage = async () => (await (await call("GET", "/admin/api-usage")).json()).registryReads;
const tokens = await Promise.all(ids.map((id) => sign({ tenant: id, sub: `${id}-user` })));
for (const [i, id] of ids.entries()) await call("GET", `/t/${id}/whoami`, undefined, tokens[i]); // warm-up: one read each
const readsBefore = await usage();
const started = performance.now();
for (let i = 0; i < REQUESTS; i++) {
  const n = i % ids.length;
  const res = await call("GET", `/t/${ids[n]}/whoami`, undefined, tokens[n]);
  const body = await res.json();
  if (res.status !== 200 || body.tenant !== ids[n]) throw new Error(`request ${i}: ${res.status} ${JSON.stringify(body)}`);
}
const requestMs = (performance.now() - started) / REQUESTS;
const reads = (await usage()) - readsBefore;

const deprovision = { ms: [], calls: {} };
for (const id of ids) {
  const start = performance.now();
  const res = await call("DELETE", `/tenants/${id}`);
  deprovision.ms.push(performance.now() - start);
  if (res.status !== 200) throw new Error(`deprovision ${id}: ${res.status} ${await res.text()}`);
  for (const [op, n] of Object.entries(await calls())) deprovision.calls[op] = (deprovision.calls[op] ?? 0) + n;
}
await mf.dispose();

const perOp = (calls) =>
  Object.entries(calls)
    .map(([op, n]) => `${op} ${(n / TENANTS).toFixed(2)}`)
    .join(", ");
console.log(`control plane, ${TENANTS} tenants, demo worker + local Cloudflare API in workerd (miniflare)`);
console.log(`provision    median ${median(provision.ms).toFixed(1)} ms; API calls per provision: ${perOp(provision.calls)}`);
console.log(`deprovision  median ${median(deprovision.ms).toFixed(1)} ms; API calls per deprovision: ${perOp(deprovision.calls)}`);
console.log(`warm requests: ${REQUESTS} over ${TENANTS} tenants, ${reads} registry reads (${(reads / REQUESTS).toFixed(4)} per request), ${requestMs.toFixed(2)} ms per request through miniflare's proxy`);
