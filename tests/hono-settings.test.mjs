// Settings of edge-tenancy, edge-tenancy/hono and edge-tenancy/d1, checked when they are built
// (in Node, on the portable build): an unknown or misspelled one is an error that names it, and a
// token never shows in an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTenancy } from "edge-tenancy";
import { createD1Factory, setupMultiTenancy, createDatabaseMiddleware } from "edge-tenancy/hono";

const registry = { prepare() {}, batch() {} };
const d1 = { registry, accountId: "0000000000000000000000000000000a", apiToken: "tok-SECRET-123", createAdapters: (db) => ({ db }) };
const resolve = { strategies: [{ type: "header" }] };

test("createD1Factory names a misspelled setting, never the token", () => {
  assert.throws(() => createD1Factory({ ...d1, databasePrefx: "t_" }), (e) => /databasePrefx: unknown setting; did you mean databasePrefix/.test(e.message) && !e.message.includes("SECRET"));
  assert.throws(() => createD1Factory({ ...d1, accountId: "nope" }), /accountId is not a 32-hex account id/);
  assert.throws(() => createD1Factory({ ...d1, databasePrefix: "Bad Prefix" }), /databasePrefix/);
  assert.throws(() => createD1Factory({ ...d1, registry: {} }), /registry is the D1 binding/);
  assert.throws(() => createD1Factory({ ...d1, createAdapters: undefined }), /createAdapters is a function/);
  assert.throws(() => createD1Factory({ ...d1, apiToken: 42 }), (e) => /apiToken/.test(e.message));
});

test("setupMultiTenancy and createDatabaseMiddleware name unknown settings", () => {
  const factory = createD1Factory(d1);
  assert.throws(() => setupMultiTenancy({ resolve, acessControl: {} }), /acessControl: unknown setting/);
  assert.throws(() => setupMultiTenancy({ resolve, accessControl: { mainTenant: "main" } }), /accessControl.mainTenant: unknown setting/);
  assert.throws(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapter: factory.getAdapters } }), /databaseIsolation.getAdapter: unknown setting/);
  assert.throws(() => setupMultiTenancy({ resolve: { ...resolve, lookUpTenant: true } }), /resolve.lookUpTenant: unknown setting; did you mean lookUpTenants/);
  assert.throws(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: factory.getAdapters, registry } }), /the D1 factory has its own registry/);
  assert.throws(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: async () => ({}), registry } }), /databaseIsolation.onProvision is a function: the registry provisions through it/);
  assert.throws(() => createDatabaseMiddleware({ databaseIsolation: {} }), /getAdapters is a function/);
  const { middleware, app } = setupMultiTenancy({ resolve, accessControl: { mainTenantId: "main" }, databaseIsolation: { getAdapters: factory.getAdapters } });
  assert.equal(typeof middleware, "function");
  assert.equal(typeof app.fetch, "function");
});

test("createTenancy names an unknown option and refuses one that is not a function", () => {
  assert.throws(() => createTenancy({ resolve }, { lookupTenant: () => null }), /options.lookupTenant: unknown option \(known: clock, lookUpDomain, lookUpTenant\)/);
  assert.throws(() => createTenancy({ resolve }, { clock: 5 }), /options.clock is a function/);
  assert.throws(() => createTenancy({ resolve }, null), /options is an object/);
  assert.equal(typeof createTenancy({ resolve }, { clock: () => 0 }).resolve, "function");
});
