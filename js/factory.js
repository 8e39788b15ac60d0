// Database factories: createD1Factory, and the control plane a factory written in JS runs under.
// Registry, leases, provisioning steps and the tenant cache are Rust's (js/control/src/control.rs);
// this file hands Rust the runtime's I/O (the registry binding, fetch, timers, the user's
// callbacks) and turns where a tenant's database is into a D1Database and adapters.
import * as wasm from "./dist/edge_tenancy_control.js";
import { EdgeTenancyError, call, settle } from "./errors.js";
import { RestD1Database } from "./d1/rest.js";
import { LockedD1Database, SchemaGuard } from "./d1/locked.js";

// Marks the functions of a factory made here, so setupMultiTenancy finds its registry.
export const FACTORY = Symbol("edge-tenancy factory");
// Tenants whose location and adapters are kept per isolate, oldest out first.
const MAX_KEPT = 1000;

const failed = (error) => JSON.stringify({ error: String(error?.stack ?? error) });

// The edges Rust's control plane calls (ControlEdges in js/control/src/edges.rs). None rejects:
// a failure travels as {"error": why}.
function controlEdges({ registry, api, hooks = {}, factory, open, tenantBinding, reaches, bucket }) {
  return {
    // On the registry, or (a schema group's job) on a tenant's binding, which Rust has checked
    // with `bound` first.
    async batch(json, binding) {
      try {
        const db = binding == null ? registry : tenantBinding?.(binding);
        if (typeof db?.prepare !== "function") return failed(`no D1 binding ${binding}`);
        const statements = JSON.parse(json).map(({ sql, params }) =>
          db.prepare(sql).bind(...params.map((p) => (p?.blob ? new Uint8Array(p.blob) : p))),
        );
        const results = await db.batch(statements);
        return JSON.stringify({ rows: results.map((r) => r.results) });
      } catch (error) {
        return failed(error?.message ?? error);
      }
    },
    async send(head, body, timeoutMs) {
      const { method, url, headers } = JSON.parse(head);
      try {
        const init = { method, headers, body: body ?? undefined, signal: AbortSignal.timeout(timeoutMs) };
        const response = await (api ? api.fetch(url, init) : fetch(url, init));
        const text = await response.text();
        return JSON.stringify({ status: response.status, headers: [...response.headers], body: text });
      } catch (error) {
        return error?.name === "TimeoutError" ? '{"timeout":true}' : failed(error?.message ?? error);
      }
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    async hook(name, json) {
      const hook = hooks[name];
      if (hook === undefined) return "{}";
      try {
        const record = JSON.parse(json);
        const done = await hook({ tenantId: record.id, record, database: open?.(record) });
        // The factory's own backup says where it went, for the registry to record.
        return typeof done?.[BACKUP] === "string" ? JSON.stringify({ backup: done[BACKUP] }) : "{}";
      } catch (error) {
        return failed(error);
      }
    },
    async backup(key) {
      try {
        const object = await bucket.head(key);
        if (object === null) return '{"missing":true}';
        // R2's MD5 of an object put whole (its etag is the same, in hex).
        const md5 = object.checksums?.md5 ? hex(object.checksums.md5) : /^[0-9a-f]{32}$/.test(object.etag) ? object.etag : null;
        return JSON.stringify({ md5, size: object.size });
      } catch (error) {
        return failed(error?.message ?? error);
      }
    },
    async upload(key, url) {
      try {
        const object = await bucket.get(key);
        if (object === null) return failed(`no backup ${key}`);
        // A presigned URL takes no upload of unknown length: the stream goes with its length.
        const fixed = new FixedLengthStream(object.size);
        const piped = object.body.pipeTo(fixed.writable);
        const init = { method: "PUT", body: fixed.readable };
        const [response] = await Promise.all([api ? api.fetch(url, init) : fetch(url, init), piped]);
        if (!response.ok) return failed(`the upload URL answered ${response.status}`);
        return JSON.stringify({ etag: response.headers.get("etag") });
      } catch (error) {
        return failed(error?.message ?? error);
      }
    },
    async factory(call, tenant) {
      try {
        await (call === "make" ? factory.provision : factory.deprovision)(tenant);
        return "{}";
      } catch (error) {
        return failed(error);
      }
    },
    bound: (binding, databaseId) => reaches?.(binding, databaseId) === true,
    log: (message) => console.error(message),
    info: (message) => console.log(message),
  };
}

// A whole number for Rust's u32 (undefined: Rust's default); anything else is refused by name.
function whole(n, name) {
  if (n === undefined || (Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) return n;
  throw new EdgeTenancyError({ status: 400, code: "invalid_body", message: `${name} is a whole number` });
}
// A number or its text for Rust to read (undefined: Rust's default).
const text = (n, name) => (n === undefined ? undefined : String(whole(typeof n === "string" && /^\d{1,9}$/.test(n) ? Number(n) : n, name)));

// The lock on a schema group's tenant database, where its location says it stands.
const lockOf = (location) => (location.schemaHeld ? "migrating" : "schema");

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

// Where createD1Factory's backup went, in its beforeDeprovision's answer.
const BACKUP = Symbol("edge-tenancy backup");

// A control plane's answer, its errors as EdgeTenancyError.
const answer = async (promise) => JSON.parse(await settle(promise));

function checkRegistry(registry, where) {
  if (typeof registry?.prepare !== "function") throw new TypeError(`edge-tenancy: ${where} is the D1 binding of the tenant registry`);
}

function checkFunction(options, name, required) {
  const value = options[name];
  if (value === undefined && !required) return;
  if (typeof value !== "function") throw new TypeError(`edge-tenancy: createD1Factory: ${name} is a function`);
}

// createD1Factory's settings that JS keeps (bindings and functions). Rust checks the name of
// every setting, these too, so that one list holds them all: they go to it as `true`.
const HELD = ["registry", "env", "api", "createAdapters", "afterProvision", "beforeDeprovision", "backupBucket"];

// The settings as JSON for Rust: what JS keeps as `true`, and a value JSON cannot carry (a
// function under a misspelled name, say) as null rather than dropped, so that its name is checked.
function settingsJson(options) {
  return JSON.stringify(options, function (key, value) {
    if (this === options && HELD.includes(key)) return value === undefined ? undefined : true;
    return ["function", "symbol", "bigint"].includes(typeof value) ? null : value;
  });
}

// Rust's error about the settings, without the API token should a setting have been given it
// (a value in the wrong place is quoted by the error). A token of a few characters is no secret,
// and replacing it would garble the message.
function settingsError(error, apiToken) {
  const message = String(error?.message ?? error);
  return new TypeError(typeof apiToken === "string" && apiToken.length >= 8 ? message.replaceAll(apiToken, "<apiToken>") : message);
}

// Where a tenant's database is, and its adapters, kept per isolate as Rust says: a location until
// the `until` Rust gave with it (when its registry answer falls due), adapters for as long as the
// location stays the same (made again only when it moves). Dropped when this isolate provisions
// or deprovisions the tenant, and an open begun before that keeps nothing. `make(location,
// tenantId)` opens the database and makes adapters.
//
// No open waits for another's: each awaits its own locate (Rust's cache reads the registry once
// for all of them, and stops waiting for a read whose request went away or that is 2 s old) and
// its own adapters, so an open that never returns (its request gone) holds no other up.
function tenantsOf(control, make) {
  // tenant → { databaseId, binding, shard, schemaGroup, schemaVersion, schemaHeld, until,
  // database, adapters, and for a schema group's tenant its guard and the database under it
  // (opened), and for a tenant a shard this Worker reaches serves, that shard's Fetcher (forward) }
  const kept = new Map();
  // Moved by every provisioning call as it starts and as it ends: an open begun before a move may
  // have read the tenant as it was, and answers its own request without keeping it. One number
  // for all tenants, so nothing grows with the tenants changed: changes are rare, and an open they
  // overtake costs the next request one locate (from Rust's cache) and maybe new adapters.
  let generation = 0;
  // What is kept of the tenant while Rust's answer holds: a warm request's whole lookup, no await.
  function known(tenantId) {
    const entry = kept.get(tenantId);
    return entry !== undefined && Date.now() < entry.until ? entry : undefined;
  }
  async function open(tenantId) {
    const entry = known(tenantId);
    if (entry !== undefined) return entry;
    const began = generation;
    // A tenant that is not there or not ready throws its 404 or 503 here.
    const location = await answer(control.locate(tenantId));
    const previous = kept.get(tenantId);
    const reuse =
      previous?.databaseId === location.databaseId && previous.binding === location.binding && previous.shard === location.shard && previous.schemaGroup === location.schemaGroup;
    const { database, adapters, guard, opened, forward } = reuse ? previous : await make(location, tenantId);
    // A kept guard moves only with a read no change overtook (a stale read must not lift a hold).
    if (reuse && guard !== undefined && generation === began) guard.lock = lockOf(location);
    const fresh = { ...location, database, adapters, guard, opened, forward };
    if (generation !== began) return fresh;
    kept.delete(tenantId);
    if (kept.size >= MAX_KEPT) kept.delete(kept.keys().next().value);
    kept.set(tenantId, fresh);
    return fresh;
  }
  // A migration job driven here may have held or released any tenant of its group: every kept
  // location falls due (its adapters and guard stay, the guard moved by the next read), and
  // opens begun before keep nothing.
  function forget() {
    generation++;
    for (const entry of kept.values()) entry.until = 0;
  }
  // A provisioning call: what was kept of the tenant goes before it and again after it (a request
  // may have kept the old state meanwhile), and opens begun before either keep nothing.
  async function change(tenantId, call) {
    generation++;
    kept.delete(tenantId);
    try {
      return await answer(call(tenantId));
    } finally {
      generation++;
      kept.delete(tenantId);
    }
  }
  return {
    known,
    open,
    change,
    forget,
    getAdapters: async (tenantId) => (await open(tenantId)).adapters,
    provision: (tenantId) => change(tenantId, (id) => control.provision(id)),
    move: (tenantId, script) => change(tenantId, (id) => control.moveTenant(id, String(script))),
    deprovision: async (tenantId) => (await change(tenantId, (id) => control.deprovision(id))).backup ?? null,
    // A ready tenant marked failed: the user's own step after `provision` threw `message`.
    fail: (tenantId, message) => change(tenantId, (id) => control.fail(id, message)),
    get: async (tenantId) => answer(control.get(tenantId)),
    list: async ({ after, limit = 100 } = {}) => answer(control.list(after, limit)),
    lookUpTenant: async (tenantId) => answer(control.lookUp(tenantId)),
  };
}

/**
 * The D1 database factory: each tenant gets a D1 database made through the Cloudflare API, listed
 * in a registry on the `registry` D1 binding. `getAdapters(tenantId)` gives
 * `createAdapters(database, tenantId)` over the tenant's binding in `env` when the Worker has it,
 * or over the REST API otherwise.
 */
export function createD1Factory(options) {
  if (typeof options !== "object" || options === null) throw new TypeError("edge-tenancy: createD1Factory: its argument is an object");
  const { registry, env = {}, api, createAdapters, afterProvision, beforeDeprovision, backupBucket, apiToken } = options;

  const warned = new Set();
  // The Worker's D1 binding `binding` when it reaches database `databaseId`. Under the local API
  // (`api`, development), a binding declared in wrangler.toml is a separate local D1 that
  // wrangler makes: only one that names the local API's database reaches it.
  function bound(binding, databaseId) {
    const db = binding ? env[binding] : undefined;
    const reaches = api === undefined || db?.localApiDatabase === databaseId;
    return typeof db?.prepare === "function" && reaches ? db : undefined;
  }
  function openDatabase({ id, databaseId, binding }, quiet = false) {
    const db = bound(binding, databaseId);
    if (db !== undefined) return db;
    if (!quiet && !warned.has(id)) {
      if (warned.size >= 10_000) warned.clear(); // bounded, as the Rust factory's
      warned.add(id);
      console.warn(`edge-tenancy: tenant ${id} has no D1 binding here that reaches its database; its queries go through the REST API (1,200 requests per 5 minutes per account)`);
    }
    // The API's `success` is per call: a result the client decoded is a success.
    return new RestD1Database(async (body) => JSON.parse(await settle(control.raw(databaseId, JSON.stringify(body)))).map((r) => ({ ...r, success: true })));
  }
  // A tenant's database as SQL, streamed from the export's signed URL: a Response of known length.
  async function exportOf(databaseId) {
    const { signed_url: url } = JSON.parse(await settle(control.export(databaseId)));
    const response = await (api ? api.fetch(url) : fetch(url));
    if (!response.ok) throw new Error(`edge-tenancy: the export's URL answered ${response.status}`);
    return response;
  }
  // Before a tenant's database is deleted: its dump into the bucket (R2 takes the stream as it
  // comes, its length known), then the user's hook.
  async function backUpThenHook(event) {
    let key;
    if (backupBucket !== undefined && event.record.database_id) {
      const response = await exportOf(event.record.database_id);
      key = `backups/${event.tenantId}/${Date.now()}.sql`;
      const stored = await backupBucket.put(key, response.body);
      const length = response.headers.get("content-length");
      if (length !== null && String(stored?.size) !== length) throw new Error(`edge-tenancy: backup ${key}: ${stored?.size} bytes stored of ${length}`);
    }
    await beforeDeprovision?.(event);
    return { [BACKUP]: key };
  }
  const edges = controlEdges({
    registry,
    api,
    hooks: { afterProvision, beforeDeprovision: backupBucket === undefined ? beforeDeprovision : backUpThenHook },
    open: (record) => openDatabase({ id: record.id, databaseId: record.database_id, binding: record.binding }),
    tenantBinding: (binding) => env[binding],
    reaches: (binding, databaseId) => bound(binding, databaseId) !== undefined,
    bucket: backupBucket,
  });
  // Every setting's name first (and the values Rust reads), then what JS keeps.
  let control;
  try {
    control = new wasm.Control(edges, settingsJson(options));
  } catch (error) {
    throw settingsError(error, apiToken);
  }
  try {
    checkRegistry(registry, "createD1Factory: registry");
    if (api !== undefined && typeof api?.fetch !== "function") throw new TypeError("edge-tenancy: createD1Factory: api is a Fetcher (a service binding)");
    if (typeof env !== "object" || env === null) throw new TypeError("edge-tenancy: createD1Factory: env is the Worker's env (an object of bindings)");
    checkFunction(options, "createAdapters", true);
    checkFunction(options, "afterProvision", false);
    checkFunction(options, "beforeDeprovision", false);
    // Named and not bound (env.BACKUPS undefined, say) is a deployment error, never a skipped backup.
    if ("backupBucket" in options && typeof backupBucket?.put !== "function") throw new TypeError("edge-tenancy: createD1Factory: backupBucket is an R2 bucket binding, and it is not bound");
  } catch (error) {
    control.free();
    throw error;
  }

  // A schema group's database refuses schema changes of its own, and writes while its group
  // migrates (the lock Rust decides, set again each time the tenant's location is read).
  const tenants = tenantsOf(control, async (location, tenantId) => {
    // Bound to another Worker (a shard) this one reaches: its requests are handed there whole
    // (`forward`); its adapters here (a cron job's, say) go over the REST API.
    const shard = location.shard === null ? undefined : env[location.shard];
    const forward = typeof shard?.fetch === "function" ? shard : undefined;
    const opened = openDatabase({ id: tenantId, ...location }, forward !== undefined);
    if (location.schemaGroup === null) return { database: opened, adapters: await createAdapters(opened, tenantId), forward };
    const guard = new SchemaGuard((sql, lock) => call(wasm.checkSql, sql, lock));
    guard.lock = lockOf(location);
    const database = new LockedD1Database(opened, guard);
    return { database, guard, opened, adapters: await createAdapters(database, tenantId), forward };
  });
  const { open, known, change, forget, ...factory } = tenants;
  factory.database = async (tenantId) => (await open(tenantId)).database;
  // The tenant's database as SQL, on demand: a Response streaming the dump (never held here).
  factory.exportDatabase = async (tenantId) => {
    const record = await answer(control.get(tenantId));
    if (!record?.database_id) throw new TypeError(`edge-tenancy: tenant ${tenantId} has no database`);
    return exportOf(record.database_id);
  };
  // With a `schema` setting: the schema group's migration jobs and drift report (Rust's, as the
  // Rust workers' routes have them). A job's settings go to Rust as they came (a route's body
  // text as it is), and Rust names what it does not take.
  if (options.schema !== undefined) {
    const driven = async (promise) => {
      try {
        return await answer(promise);
      } finally {
        forget();
      }
    };
    factory.jobs = tenants.jobs = {
      submit: async (settings = {}) => answer(control.submitJob(typeof settings === "string" ? settings : JSON.stringify(settings))),
      get: async (id, { tasks = false, from, limit } = {}) =>
        answer(control.job(String(id), tasks === true ? "1" : undefined, text(from, "from"), text(limit, "limit"))),
      act: async (id, action, { calls, secs } = {}) => driven(control.actOnJob(String(id), String(action), whole(calls, "calls"), whole(secs, "secs"))),
      driveAll: async ({ calls = 900, secs = 50 } = {}) => driven(control.driveJobs(whole(calls, "calls"), whole(secs, "secs"))),
      drift: async ({ after, limit = 50 } = {}) => answer(control.drift(after, whole(limit, "limit"))),
    };
  }
  // The provisioning queue (Rust's): tenants taken at once, provisioned in the background within
  // the API's budget. A drain may make any queued tenant ready: nothing kept of one holds.
  factory.queue = tenants.queue = {
    add: async (ids) => answer(control.enqueue(JSON.stringify(ids))),
    status: async () => answer(control.queueStatus()),
    drain: async ({ secs, tenants: count } = {}) => {
      try {
        return await answer(control.drainQueue(whole(secs, "secs"), whole(count, "tenants")));
      } finally {
        forget();
      }
    },
  };
  // With a backupBucket: a new database for the tenant, filled from the backup at `backupKey`
  // (what deprovision answered), streamed from the bucket to the import's upload URL; then
  // bound, afterProvision, ready. A key with no backup is refused before anything is made.
  if (backupBucket !== undefined) {
    factory.restore = tenants.restore = async (tenantId, backupKey) => {
      if (typeof backupKey !== "string" || (await backupBucket.head(backupKey)) === null) {
        throw new EdgeTenancyError({ status: 404, code: "not_found", message: "no backup with that key" });
      }
      return change(tenantId, (id) => control.restore(id, backupKey));
    };
  }
  Object.defineProperty(factory.getAdapters, FACTORY, { value: tenants });
  return factory;
}

/**
 * A factory written in JS (`{ getAdapters, provision, deprovision }`, each async, checked by the
 * caller) under a registry on the `registry` D1 binding (`where` names it in an error): its
 * provisioning gets the registry's states and leases, its tenants are looked up on every request,
 * and the control-plane routes list them.
 */
export function registryFor(factory, registry, where) {
  checkRegistry(registry, where);
  const control = new wasm.Control(controlEdges({ registry, factory }), undefined);
  return tenantsOf(control, async (_location, tenantId) => ({ adapters: await factory.getAdapters(tenantId) }));
}
