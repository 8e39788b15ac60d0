// What a JS factory keeps of each tenant per isolate (js/factory.js, over the control plane's
// wasm and its Rust tenant cache), in Node on the portable build, with a D1 registry from
// miniflare: an open that this isolate's own provisioning call overtakes answers its request and
// keeps nothing, whether its registry read or its adapters were slow; an open that never returns
// holds no other up; a registry read that never answers holds the next lookup up for the load
// timeout (2 s), not for ever.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import "../js/load/control-bytes.js";
import { registryFor } from "../js/factory.js";

let mf;
let d1;
before(async () => {
  mf = new Miniflare({ modules: true, script: "export default { fetch: () => new Response() }", d1Databases: ["REGISTRY"] });
  d1 = await mf.getD1Database("REGISTRY");
});
after(() => mf?.dispose());

/** A promise and the function that settles it. */
function gate() {
  let open;
  const opened = new Promise((resolve) => (open = resolve));
  return { opened, open };
}

/** Waits (up to 5 s) until `ready()`. */
async function until(ready) {
  const stop = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > stop) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// A factory written in JS under the registry (tenantsOf is the same for createD1Factory), whose
// registry reads and adapters the test can hold: `holdRead()` makes the next registry batch run
// at once but answer only when its gate opens (a read of the tenant as it was, arriving late);
// `holdAdapters()` does the same to the next getAdapters.
function world() {
  const reads = [];
  const adapters = [];
  let batches = 0;
  let made = 0;
  const registry = {
    prepare: (sql) => d1.prepare(sql),
    async batch(statements) {
      const results = await d1.batch(statements);
      batches++;
      const held = reads.shift();
      if (held !== undefined) {
        held.reached.open();
        await held.opened;
      }
      return results;
    },
  };
  const factory = {
    async getAdapters(tenantId) {
      made++;
      const held = adapters.shift();
      if (held !== undefined) await held.opened;
      return { tenantId, made };
    },
    provision: async () => {},
    deprovision: async () => {},
  };
  const hold = (queue) => {
    const held = { ...gate(), reached: gate() };
    queue.push(held);
    return held;
  };
  return {
    tenants: registryFor(factory, registry, "registry"),
    holdRead: () => hold(reads),
    holdAdapters: () => hold(adapters),
    batches: () => batches,
    made: () => made,
  };
}

const notFound = (error) => error.status === 404 && error.code === "tenant_not_found";

test("an open whose adapters arrive after a deprovision answers its request and keeps nothing", async () => {
  const w = world();
  await w.tenants.provision("acme");
  const held = w.holdAdapters();
  const opening = w.tenants.open("acme");
  await until(() => w.made() === 1); // located, its adapters being made
  await w.tenants.deprovision("acme");
  held.open();
  const opened = await opening;
  assert.equal(opened.adapters.tenantId, "acme");
  assert.equal(w.tenants.known("acme"), undefined);
  await assert.rejects(w.tenants.open("acme"), notFound);
});

test("an open whose registry read straddles a deprovision or a provision keeps nothing, in JS or in Rust", async () => {
  const w = world();
  await w.tenants.provision("beta");
  let held = w.holdRead();
  const opening = w.tenants.open("beta");
  await held.reached.opened; // it read "ready"; the answer comes late
  await w.tenants.deprovision("beta");
  held.open();
  assert.equal((await opening).adapters.tenantId, "beta");
  assert.equal(w.tenants.known("beta"), undefined);
  // Rust kept nothing either: the next lookup reads the registry again and finds no tenant.
  const batches = w.batches();
  assert.deepEqual(await w.tenants.lookUpTenant("beta"), { state: "notFound" });
  assert.equal(w.batches(), batches + 1);
  await assert.rejects(w.tenants.open("beta"), notFound);

  // The other way round: "not found" read before a provision is not kept (it would be for 5 s).
  held = w.holdRead();
  const missing = w.tenants.open("gamma");
  await held.reached.opened;
  await w.tenants.provision("gamma");
  held.open();
  await assert.rejects(missing, notFound);
  assert.deepEqual(await w.tenants.lookUpTenant("gamma"), { state: "ready" });
  assert.equal((await w.tenants.open("gamma")).adapters.tenantId, "gamma");
  assert.notEqual(w.tenants.known("gamma"), undefined);
});

test("an open that never returns holds no other open of its tenant up", async () => {
  const w = world();
  await w.tenants.provision("delta");
  w.holdAdapters(); // never opened: this request's adapters never come
  const lost = w.tenants.open("delta");
  await until(() => w.made() === 1);
  const started = performance.now();
  const opened = await w.tenants.open("delta");
  assert.equal(opened.adapters.made, 2);
  assert.ok(performance.now() - started < 1000);
  assert.equal(w.tenants.known("delta"), opened);
  void lost;
});

test("a registry read that never answers holds the next lookup up for the load timeout, not for ever", { timeout: 30_000 }, async () => {
  const w = world();
  await w.tenants.provision("eps");
  const held = w.holdRead(); // never opened: the request that made this read went away
  const lost = w.tenants.open("eps");
  await held.reached.opened;
  const started = performance.now();
  assert.deepEqual(await w.tenants.lookUpTenant("eps"), { state: "ready" });
  const waited = performance.now() - started;
  assert.ok(waited >= 1900 && waited < 6000, `waited ${waited} ms`);
  // It read the registry itself, and its answer is kept: the next lookup reads nothing.
  const batches = w.batches();
  assert.equal((await w.tenants.open("eps")).adapters.tenantId, "eps");
  assert.equal(w.batches(), batches);
  void lost;
});
