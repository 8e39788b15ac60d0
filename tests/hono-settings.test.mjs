// Settings of edge-tenancy, edge-tenancy/hono and edge-tenancy/d1, checked when they are built
// (in Node, on the portable build): every setting, functions included, is checked by name; an
// unknown or misspelled one is an error that names it, the setting it most likely stands for, and
// every known one, in the same words whether JS or Rust reads it; a token never shows in an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTenancy } from "edge-tenancy";
import { createD1Factory, setupMultiTenancy, createDatabaseMiddleware } from "edge-tenancy/hono";
import { checkKeys } from "../js/internal.js";

const TOKEN = "tok-SECRET-1234567890";
const registry = { prepare() {}, batch() {} };
const d1 = { registry, accountId: "0000000000000000000000000000000a", apiToken: TOKEN, createAdapters: (db) => ({ db }) };
const resolve = { strategies: [{ type: "header" }] };
const hook = async () => {};

const D1_SETTINGS = ["registry", "env", "api", "createAdapters", "afterProvision", "beforeDeprovision", "backupBucket", "accountId", "apiToken", "apiBase", "client", "databasePrefix", "locationHint", "jurisdiction", "bindTo", "maxBindings", "bindingListSecs", "schema"];
const SETUP = ["accessControl", "databaseIsolation", "resolve", "authenticate", "access", "clock", "lookUpDomain"];
const ISOLATION = ["getAdapters", "onProvision", "onDeprovision", "registry", "allowAnonymous"];

/** The error `build` throws: its message, which must never hold the token. */
function refusal(build) {
  try {
    build();
  } catch (error) {
    assert.ok(!error.message.includes(TOKEN), `the token is echoed: ${error.message}`);
    return error.message;
  }
  assert.fail("no error");
}

/** The known settings an error lists, in its order. */
function listed(message) {
  const known = /\(known: ([^)]*)\)$/.exec(message);
  assert.ok(known, `no list of known settings: ${message}`);
  return known[1].split(", ");
}

/** Asserts `message` refuses `name` (at `prefix`), suggests `meant` (or nothing), and lists every one of `known`. */
function refuses(message, prefix, name, meant, known) {
  const said = meant === undefined ? "unknown setting (known: " : `unknown setting; did you mean ${meant}? (known: `;
  assert.ok(message.startsWith(`${prefix}${name}: ${said}`), `${message}\n  wanted: ${prefix}${name}: ${said}…`);
  assert.deepEqual(listed(message).toSorted(), known.toSorted(), message);
}

test("createD1Factory checks every setting by name, functions and bindings included", () => {
  const cases = [
    ["afterProvison", hook, "afterProvision"],
    ["beforeDeprovison", hook, "beforeDeprovision"],
    ["createAdapter", (db) => db, "createAdapters"],
    ["registy", registry, "registry"],
    ["Env", {}, "env"],
    ["apis", { fetch() {} }, "api"],
    ["databasePrefx", "t_", "databasePrefix"],
    ["account_id", "x", "accountId"],
    ["locationhint", "weur", "locationHint"],
    ["backup", hook, "backupBucket"],
    ["onProvision", hook, undefined],
  ];
  for (const [name, value, meant] of cases) {
    const message = refusal(() => createD1Factory({ ...d1, [name]: value }));
    refuses(message, "edge-tenancy: createD1Factory: ", name, meant, D1_SETTINGS);
  }
  // A misspelled createAdapters is named as such, not reported as a missing function.
  const { createAdapters, ...rest } = d1;
  refuses(refusal(() => createD1Factory({ ...rest, createAdapter: createAdapters })), "edge-tenancy: createD1Factory: ", "createAdapter", "createAdapters", D1_SETTINGS);
  // Settings inside settings, in the same words.
  refuses(refusal(() => createD1Factory({ ...d1, client: { timeoutMS: 5 } })), "edge-tenancy: createD1Factory: client.", "timeoutMS", "timeoutMs", ["timeoutMs", "retry", "budget", "exportPollMs", "exportMaxMs"]);
  // A misspelled key whose value JSON cannot carry is still named.
  refuses(refusal(() => createD1Factory({ ...d1, afterProvison: Symbol("x") })), "edge-tenancy: createD1Factory: ", "afterProvison", "afterProvision", D1_SETTINGS);
});

test("createD1Factory's values are checked too, and the token never shows", () => {
  assert.match(refusal(() => createD1Factory({ ...d1, accountId: "nope" })), /^edge-tenancy: createD1Factory: accountId is not a 32-hex account id$/);
  assert.match(refusal(() => createD1Factory({ ...d1, databasePrefix: "Bad Prefix" })), /^edge-tenancy: createD1Factory: databasePrefix: /);
  assert.match(refusal(() => createD1Factory({ ...d1, registry: {} })), /createD1Factory: registry is the D1 binding/);
  assert.match(refusal(() => createD1Factory({ ...d1, registry: undefined })), /createD1Factory: registry is the D1 binding/);
  assert.match(refusal(() => createD1Factory({ ...d1, createAdapters: undefined })), /createD1Factory: createAdapters is a function/);
  assert.match(refusal(() => createD1Factory({ ...d1, afterProvision: "migrate" })), /createD1Factory: afterProvision is a function/);
  assert.match(refusal(() => createD1Factory({ ...d1, api: {} })), /createD1Factory: api is a Fetcher/);
  assert.match(refusal(() => createD1Factory({ ...d1, env: null })), /createD1Factory: env is the Worker's env/);
  assert.match(refusal(() => createD1Factory({ ...d1, apiToken: 42 })), /createD1Factory: apiToken: /);
  assert.match(refusal(() => createD1Factory(null)), /createD1Factory: its argument is an object/);
  // The token given to a setting that quotes what it was given.
  assert.match(refusal(() => createD1Factory({ ...d1, locationHint: TOKEN })), /^edge-tenancy: createD1Factory: locationHint: unknown value "<apiToken>"/);
  assert.match(refusal(() => createD1Factory({ ...d1, client: TOKEN })), /^edge-tenancy: createD1Factory: client: /);
  assert.match(refusal(() => createD1Factory({ ...d1, databasePrefix: TOKEN })), /^edge-tenancy: createD1Factory: databasePrefix: /);
  // A schema group: its name, its migrations and their keys, each named.
  const schema = (value) => refusal(() => createD1Factory({ ...d1, schema: value }));
  assert.match(schema({ group: "Bad Name", migrations: [] }), /^edge-tenancy: createD1Factory: schema\.group: /);
  assert.match(schema({ group: "app", migrations: { "notes.sql": "CREATE TABLE n (a)" } }), /^edge-tenancy: createD1Factory: schema\.migrations: .*notes\.sql/);
  assert.match(schema({ group: "app", migrations: [{ name: "1", sql: "BEGIN; CREATE TABLE n (a); COMMIT;" }] }), /^edge-tenancy: createD1Factory: schema\.migrations: /);
  assert.match(schema({ group: "app", migrations: [{ name: "1", sql: "CREATE TABLE n (a)" }, { name: "1", sql: "SELECT 1" }] }), /^edge-tenancy: createD1Factory: schema\.migrations: .*1/);
  refuses(schema({ group: "app", migration: [] }), "edge-tenancy: createD1Factory: schema.", "migration", "migrations", ["group", "migrations"]);
  assert.match(schema({ group: "app", migrations: 3 }), /^edge-tenancy: createD1Factory: schema\.migrations: /);
  // Every setting at once is accepted.
  const factory = createD1Factory({ ...d1, env: {}, api: { fetch() {} }, apiBase: "http://127.0.0.1:1/client/v4", client: { timeoutMs: 5 }, databasePrefix: "t_", locationHint: "weur", jurisdiction: "eu", bindTo: "my-worker", afterProvision: hook, beforeDeprovision: hook, schema: { group: "app", migrations: [{ name: "0001", sql: "CREATE TABLE notes (id)" }] } });
  assert.equal(typeof factory.getAdapters, "function");
});

test("setupMultiTenancy and createDatabaseMiddleware check every setting by name, functions included", () => {
  const factory = createD1Factory(d1);
  const setup = "edge-tenancy: setupMultiTenancy: ";
  refuses(refusal(() => setupMultiTenancy({ resolve, acessControl: {} })), setup, "acessControl", "accessControl", SETUP);
  refuses(refusal(() => setupMultiTenancy({ resolve, lookupDomain: async () => null })), setup, "lookupDomain", "lookUpDomain", SETUP);
  refuses(refusal(() => setupMultiTenancy({ resolve, clok: () => 0 })), setup, "clok", "clock", SETUP);
  refuses(refusal(() => setupMultiTenancy({ resolve, onProvision: hook })), setup, "onProvision", undefined, SETUP);
  refuses(refusal(() => setupMultiTenancy({ resolve, accessControl: { mainTenant: "main" } })), setup, "accessControl.mainTenant", "mainTenantId", ["mainTenantId"]);
  for (const [name, value, meant] of [
    ["getAdapter", factory.getAdapters, "getAdapters"],
    ["onProvison", hook, "onProvision"],
    ["onDeprovison", hook, "onDeprovision"],
    ["allowAnonymus", true, "allowAnonymous"],
    ["registy", registry, "registry"],
    ["afterProvision", hook, undefined],
  ]) {
    const databaseIsolation = { getAdapters: factory.getAdapters, [name]: value };
    refuses(refusal(() => setupMultiTenancy({ resolve, databaseIsolation })), setup, `databaseIsolation.${name}`, meant, ISOLATION);
    refuses(refusal(() => createDatabaseMiddleware({ databaseIsolation })), "edge-tenancy: createDatabaseMiddleware: ", `databaseIsolation.${name}`, meant, ISOLATION);
  }
  refuses(refusal(() => createDatabaseMiddleware({ databaseIsolaton: {} })), "edge-tenancy: createDatabaseMiddleware: ", "databaseIsolaton", "databaseIsolation", ["databaseIsolation"]);
  // Settings the pipeline reads are Rust's, in the same words.
  const rust = refusal(() => setupMultiTenancy({ resolve: { ...resolve, lookUpTenant: true } }));
  assert.match(rust, /resolve\.lookUpTenant: unknown setting; did you mean lookUpTenants\? \(known: strategies, controlPlaneTenant, trustForwardedHost, lookUpTenants\)$/);

  // Values.
  assert.match(refusal(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: factory.getAdapters, registry } })), /setupMultiTenancy: databaseIsolation\.registry: the D1 factory has its own registry/);
  assert.match(refusal(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: async () => ({}), registry } })), /setupMultiTenancy: databaseIsolation\.onProvision is a function: the registry provisions through it/);
  assert.match(refusal(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: async () => ({}), registry: {}, onProvision: hook, onDeprovision: hook } })), /setupMultiTenancy: databaseIsolation\.registry is the D1 binding/);
  assert.match(refusal(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: factory.getAdapters, onProvision: "yes" } })), /setupMultiTenancy: databaseIsolation\.onProvision is a function/);
  assert.match(refusal(() => setupMultiTenancy({ resolve, databaseIsolation: { getAdapters: factory.getAdapters, allowAnonymous: "yes" } })), /setupMultiTenancy: databaseIsolation\.allowAnonymous is a boolean/);
  assert.match(refusal(() => createDatabaseMiddleware({ databaseIsolation: {} })), /createDatabaseMiddleware: databaseIsolation\.getAdapters is a function/);
  assert.match(refusal(() => createDatabaseMiddleware({ databaseIsolation: null })), /createDatabaseMiddleware: databaseIsolation is an object/);
  const { middleware, app } = setupMultiTenancy({ resolve, accessControl: { mainTenantId: "main" }, databaseIsolation: { getAdapters: factory.getAdapters, allowAnonymous: true } });
  assert.equal(typeof middleware, "function");
  assert.equal(typeof app.fetch, "function");
});

test("createTenancy names an unknown option and refuses one that is not a function", () => {
  assert.equal(
    refusal(() => createTenancy({ resolve }, { lookupTenant: () => null })),
    "edge-tenancy: createTenancy: options.lookupTenant: unknown option; did you mean lookUpTenant? (known: clock, lookUpDomain, lookUpTenant)",
  );
  assert.equal(refusal(() => createTenancy({ resolve }, { onTenant: () => null })), "edge-tenancy: createTenancy: options.onTenant: unknown option (known: clock, lookUpDomain, lookUpTenant)");
  assert.throws(() => createTenancy({ resolve }, { clock: 5 }), /createTenancy: options\.clock is a function/);
  assert.throws(() => createTenancy({ resolve }, null), /createTenancy: options is an object/);
  assert.equal(typeof createTenancy({ resolve }, { clock: () => 0 }).resolve, "function");
});

test("a name misspelled in a setting JS reads and in one Rust reads gets the same suggestion", () => {
  // Rust names authenticate's settings; JS's checker, given Rust's own list, must agree on each.
  const typos = ["audiance", "iss", "tenant_claim", "leeway", "requireEXP", "jwksURL", "cacheToken", "maxTokenSize", "KEYS", "secret", "jwks", "tenantclaims", "attach", "x"];
  for (const typo of typos) {
    const rust = refusal(() => createTenancy({ resolve, authenticate: { secrets: [], [typo]: 1 } }));
    const known = listed(rust);
    const js = refusal(() => checkKeys({ [typo]: 1 }, known, "createTenancy", "authenticate"));
    const tail = (message) => message.slice(message.indexOf(`authenticate.${typo}: `));
    assert.equal(tail(js), tail(rust), typo);
  }
});
