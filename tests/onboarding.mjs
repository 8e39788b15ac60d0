// Onboarding through the provisioning queue, for the queue's spec and its benchmark: the demo
// worker with its tenants' databases bound to it (`bindTo`), the local Cloudflare API with the
// real rate limit's shape (1,200 calls a window) in a window of `windowSecs`, and the demo's own
// budget below it (1,100); `onboard` queues tenants (1,000 a call) and drains the queue until it
// is empty, waiting where the budget says.
import { Miniflare } from "miniflare";
import { json } from "./helpers.mjs";
import { adminToken, demoWorker } from "./demo-admin.mjs";
import { localApiWorker, localD1Worker, control } from "../local-api/testing.mjs";

export const SCRIPT = "edge-tenancy-demo";
/** The account's real limit, in calls a window. */
export const API_LIMIT = 1_200;
const BUDGET_LIMIT = 1_100;
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = localApiWorker().bindings;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function onboardingWorld(windowSecs) {
  const D1_FACTORY = JSON.stringify({ databasePrefix: "tenant_", bindTo: SCRIPT });
  const budget = { budget: { limit: BUDGET_LIMIT, windowSecs, maxWaitMs: 0 } };
  const workers = [demoWorker(budget, { D1_FACTORY }), localApiWorker(), localD1Worker()];
  const mf = new Miniflare({ workers });
  // The stub is asked for each time: a restart (setOptions) makes old ones stale.
  const api = { fetch: async (...args) => (await mf.getWorker("edge-tenancy-local-api")).fetch(...args) };
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
  const limits = () => local.limits({ rateLimit: { limit: API_LIMIT, windowSeconds: windowSecs } });
  await limits();
  const cf = (path) =>
    api.fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}${path}`, { headers: { authorization: `Bearer ${LOCAL_API_TOKEN}` } }).then((r) => r.json());
  // The runtime stopped and started again, state kept: every invocation in flight dies.
  const restart = async () => {
    await mf.setOptions({ workers });
    await limits();
  };
  return { mf, call, local, cf, windowSecs, restart };
}

/**
 * Queues `ids` and drains until the queue is empty: the tenants made ready in order, the drains'
 * failures, the stops for the budget, the seconds it took and the API calls the account counted.
 */
export async function onboard(w, ids) {
  await w.local.resetCalls();
  const queued = [];
  for (let at = 0; at < ids.length; at += 1_000) {
    const res = await w.call("POST", "/queue", { ids: ids.slice(at, at + 1_000) });
    if (res.status !== 202) throw new Error(`POST /queue: ${res.status} ${JSON.stringify(res.body)}`);
    queued.push(...res.body.queued);
  }
  const order = [];
  const failed = [];
  let budgetStops = 0;
  const drains = [];
  const started = Date.now();
  for (let round = 0; round < 10 * ids.length; round++) {
    const drained = await w.call("POST", "/queue/drain?secs=10&tenants=60");
    if (drained.status !== 200) throw new Error(`POST /queue/drain: ${drained.status} ${JSON.stringify(drained.body)}`);
    order.push(...drained.body.drained.ready);
    drains.push(`${drained.body.drained.ready.length}:${drained.body.drained.stopped}`);
    failed.push(...drained.body.drained.failed);
    if (drained.body.drained.stopped === "empty") break;
    if (drained.body.drained.stopped === "budget") {
      budgetStops++;
      await sleep(Math.min(drained.body.drained.wait_ms, w.windowSecs * 1_000));
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const { calls, rateLimited } = await w.local.calls();
  // The calls that make and bind databases, and all of them (the demo's hook makes each
  // tenant's table over the REST API: the binding is not live in the isolate that made it).
  const ours = (calls["d1.create"] ?? 0) + (calls["workers.settings.get"] ?? 0) + (calls["workers.settings.patch"] ?? 0);
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  return { queued, order, failed, drains, budgetStops, seconds, calls, rateLimited, ours, total };
}

/** The demo Worker's D1 bindings, by name: the database each reaches. */
export async function boundDatabases(w) {
  const { result } = await w.cf(`/workers/scripts/${SCRIPT}/settings`);
  return new Map(result.bindings.filter((b) => b.type === "d1").map((b) => [b.name, b.database_id]));
}
