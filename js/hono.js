// Hono middleware with the names and shapes of @authhero/multi-tenancy: setupMultiTenancy and
// createDatabaseMiddleware. The pipeline's decisions are Rust's (createTenancy); this file puts
// them on Hono's context and injects the tenant's adapters.
import { Hono } from "hono";
import { createTenancy } from "./index.js";
import { EdgeTenancyError } from "./errors.js";
import { RESOLVE, checkKeys, unknownName } from "./internal.js";
import { FACTORY, registryFor } from "./factory.js";
import { LockedD1Database } from "./d1/locked.js";
export { createD1Factory } from "./factory.js";

const ADAPTERS_FAILED = { status: 500, code: "adapters_failed", message: "the tenant's data adapters could not be made" };
const INTERNAL = { status: 500, code: "internal", message: "internal error" };
const HOOK_FAILED = { status: 500, code: "hook_failed", message: "a provisioning hook failed; the tenant is marked failed" };
const DEPROVISION_HOOK_FAILED = { status: 500, code: "hook_failed", message: "a deprovisioning hook failed" };
const NOT_ADMIN = { status: 403, code: "forbidden", message: "this needs a control-plane administrator" };

const errorResponse = (fields) => new EdgeTenancyError(fields).toResponse();

// A query's whole number (undefined when absent); anything else is refused.
function queryNumber(c, name) {
  const value = c.req.query(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new EdgeTenancyError({ status: 400, code: "invalid_body", message: `${name} is a whole number` });
  return Number(value);
}

// What databaseIsolation gives: adapters by tenant, and, with a registry (a factory made by
// createD1Factory, or `registry` for a factory written in JS), lookups and the tenant list.
// `allowAnonymous`: whether an anonymous caller on a public path gets the tenant's adapters too.
// `where` names the function it was given to, in errors.
const ISOLATION = ["getAdapters", "onProvision", "onDeprovision", "registry", "allowAnonymous"];
function isolation(databaseIsolation, where) {
  checkKeys(databaseIsolation, ISOLATION, where, "databaseIsolation");
  const { getAdapters, onProvision, onDeprovision, registry, allowAnonymous = false } = databaseIsolation;
  const refuse = (message) => new TypeError(`edge-tenancy: ${where}: databaseIsolation.${message}`);
  if (typeof getAdapters !== "function") throw refuse("getAdapters is a function");
  if (typeof allowAnonymous !== "boolean") throw refuse("allowAnonymous is a boolean");
  for (const [name, fn] of Object.entries({ onProvision, onDeprovision })) {
    if (fn !== undefined && typeof fn !== "function") throw refuse(`${name} is a function`);
  }
  const made = getAdapters[FACTORY];
  if (made !== undefined) {
    if (registry !== undefined) throw refuse("registry: the D1 factory has its own registry");
    return {
      ...made,
      provision: onProvision === undefined ? made.provision : hooked("onProvision", onProvision, made.fail),
      deprovision: onDeprovision === undefined ? made.deprovision : hooked("onDeprovision", onDeprovision),
      allowAnonymous,
    };
  }
  if (registry !== undefined) {
    for (const [name, fn] of Object.entries({ onProvision, onDeprovision })) {
      if (typeof fn !== "function") throw refuse(`${name} is a function: the registry provisions through it`);
    }
    return { ...registryFor({ getAdapters, provision: onProvision, deprovision: onDeprovision }, registry, `${where}: databaseIsolation.registry`), allowAnonymous };
  }
  return { getAdapters, provision: onProvision, deprovision: onDeprovision, allowAnonymous };
}

// The user's own provisioning step around the D1 factory's (the anchor's pattern: `provision`,
// then migrations): what it throws is a failed hook, 500 `hook_failed` with the detail in the
// log only, and a tenant it leaves `ready` is marked failed (`fail`), so it is never served
// without its schema; provisioning again resumes it. The factory's own errors pass as they are.
function hooked(name, hook, fail) {
  return async (tenantId) => {
    try {
      return await hook(tenantId);
    } catch (error) {
      if (error instanceof EdgeTenancyError) throw error;
      console.error(`edge-tenancy: ${name}(${tenantId}) threw:`, error);
      const message = String(error?.message ?? error).split("\n")[0];
      await fail?.(tenantId, message).catch((why) => console.error(`edge-tenancy: ${tenantId} could not be marked failed:`, why));
      throw new EdgeTenancyError(fail === undefined ? DEPROVISION_HOOK_FAILED : HOOK_FAILED);
    }
  };
}

// Whether the request the pipeline let in as `tenancy` gets the tenant's adapters: not an
// anonymous caller on a public path (no token, or one that may not act for the tenant), unless
// the factory serves anyone on purpose. A public page that reads tenant data by accident would
// hand it to the whole internet.
const mayOpen = (iso, tenancy) => tenancy?.access !== "public" || iso.allowAnonymous;

// The tenant's adapters and database, or the response to answer with. A user's function that
// throws is a 500 with a generic body; its detail goes to the log only.
async function adaptersFor(iso, tenantId) {
  try {
    if (iso.open !== undefined) return await iso.open(tenantId);
    return { adapters: await iso.getAdapters(tenantId) };
  } catch (error) {
    if (error instanceof EdgeTenancyError) return { response: error.toResponse() };
    console.error(`edge-tenancy: getAdapters(${tenantId}) threw:`, error);
    return { response: errorResponse(ADAPTERS_FAILED) };
  }
}

// A schema group's database for a caller whose token holds the `ddl` scope (Turso's `ddl`
// permission): it may change the schema, and its writes still wait while a job holds the group.
// Per request, since the tenant's shared handle (and the adapters made over it) stays locked.
const forSchemaChanges = (opened, guard) =>
  new LockedD1Database(opened, { check: (sql) => (guard.lock === "migrating" ? guard.check(sql, "held") : undefined) });

// Hands the handler the adapters at `c.env.data` on a copy of env: the runtime's env object is
// shared by every request of the isolate and is never written. A tenant served by a shard (the
// Worker binding its database) is handed there instead: a Promise of the shard's answer.
function put(c, { adapters, database, guard, opened, schemaGroup, schemaVersion, forward }) {
  if (forward !== undefined) return handOver(c.req.raw, forward);
  const env = Object.create(c.env ?? null);
  // Assigned, the fast way, unless env has a `data` of its own that assignment would not shadow.
  if (c.env != null && "data" in c.env) Object.defineProperty(env, "data", { value: adapters, enumerable: true });
  else env.data = adapters;
  c.env = env;
  const ddl = guard !== undefined && c.get("principal")?.scopes.includes("ddl");
  if (database !== undefined) c.set("database", ddl ? forSchemaChanges(opened, guard) : database);
  if (schemaGroup != null) c.set("schema", { group: schemaGroup, version: schemaVersion });
}

// The header a request handed to a shard carries (Rust's HANDED_OVER): a request is handed over
// at most once, whatever the deployment's service bindings.
const HANDED_OVER = "x-edge-tenancy-handed-over";
const HANDED_TWICE = {
  status: 503,
  code: "not_configured",
  message: "a request handed to a shard would be handed over again: a shard must have no service binding to a shard",
};

// `request` whole to `shard`, which runs the pipeline again and answers.
function handOver(request, shard) {
  if (request.headers.has(HANDED_OVER)) {
    console.error(`edge-tenancy: ${HANDED_TWICE.message}`);
    return errorResponse(HANDED_TWICE);
  }
  const copy = new Request(request);
  copy.headers.set(HANDED_OVER, "1");
  return shard.fetch(copy);
}

// Puts the tenant's adapters on the context: at once (undefined) when what is kept of the tenant
// holds, the warm path with no await; else a Promise of undefined or of the response to answer
// (a shard's, for a tenant another Worker serves).
function inject(c, iso, tenantId) {
  const known = iso.known?.(tenantId);
  if (known !== undefined) return put(c, known);
  return adaptersFor(iso, tenantId).then((got) => got.response ?? put(c, got));
}

/**
 * Injects the tenant's adapters at `c.env.data`, after a middleware that set `tenantId` (the one
 * from setupMultiTenancy does). Not for an anonymous caller on a public path (`tenancy.access` is
 * "public") unless `databaseIsolation.allowAnonymous` is true.
 */
export function createDatabaseMiddleware(options) {
  checkKeys(options, ["databaseIsolation"], "createDatabaseMiddleware");
  const iso = isolation(options.databaseIsolation, "createDatabaseMiddleware");
  return async function databaseMiddleware(c, next) {
    const tenantId = c.get("tenantId");
    if (typeof tenantId !== "string") {
      console.error("edge-tenancy: createDatabaseMiddleware runs after the tenancy middleware, which sets tenantId");
      return errorResponse({ status: 503, code: "not_configured", message: "the tenant of this request is not known" });
    }
    if (!mayOpen(iso, c.get("tenancy"))) return next();
    const pending = inject(c, iso, tenantId);
    return (pending && (await pending)) ?? next();
  };
}

// Why the body of `POST /tenants` is refused, or undefined: it is `{"id": "<tenant id>"}` and
// nothing else (a field the route does not read, such as a location hint, must not look as if it
// applied), and never names the control-plane tenant, which has no tenant database.
function newTenant(body, controlPlaneTenant, restores) {
  const fields = restores ? ["id", "restore"] : ["id"];
  const expected = restores ? 'expected {"id": "<tenant id>"}, and "restore": "<backup key>" to restore' : 'expected {"id": "<tenant id>"}';
  if (typeof body !== "object" || body === null || Array.isArray(body)) return expected;
  const unknown = Object.keys(body).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    const name = unknown.length > 64 ? `${unknown.slice(0, 64)}…` : unknown;
    return `${JSON.stringify(name)}: ${unknownName(unknown, fields, "field")}; ${expected}`;
  }
  if (typeof body.id !== "string" || !["string", "undefined"].includes(typeof body.restore)) return expected;
  if (body.id === controlPlaneTenant) return `${body.id} is the control-plane tenant, which has no tenant database`;
  return undefined;
}

/**
 * The whole pipeline as Hono middleware, with the control-plane routes as a sub-app.
 * `middleware` resolves, authenticates and authorizes each request, sets `tenancy`, `tenantId`
 * and `principal` (and `database` with a D1 factory), and injects the tenant's adapters at
 * `c.env.data` (not for the control-plane tenant, which has no tenant database). `app` serves
 * `POST /tenants`, `GET /tenants`, `GET /tenants/:id` and `DELETE /tenants/:id` to
 * control-plane administrators, and with a schema group the migration jobs' `POST /schema/jobs`,
 * `GET /schema/jobs/:id`, `POST /schema/jobs/:id/:action` and `GET /schema/drift`.
 */
export function setupMultiTenancy(options) {
  checkKeys(options, ["accessControl", "databaseIsolation", "resolve", "authenticate", "access", "clock", "lookUpDomain"], "setupMultiTenancy");
  const { accessControl = {}, databaseIsolation, clock, lookUpDomain, ...config } = options;
  checkKeys(accessControl, ["mainTenantId"], "setupMultiTenancy", "accessControl");
  const { mainTenantId } = accessControl;
  const iso = databaseIsolation === undefined ? undefined : isolation(databaseIsolation, "setupMultiTenancy");
  const resolve = { ...config.resolve };
  if (mainTenantId !== undefined) resolve.controlPlaneTenant = mainTenantId;
  // With a registry the tenant is looked up where its database is found (after authorization, as
  // the pipeline would, 404 or 503), from a location kept per isolate: the pipeline itself then
  // looks nothing up, so its answers for known tokens are replayed without entering wasm.
  const tenancy = createTenancy({ ...config, resolve }, { clock, lookUpDomain, lookUpTenant: iso?.lookUpTenant });

  async function middleware(c, next) {
    let result = tenancy[RESOLVE](c.req.raw);
    if (result instanceof Promise) result = await result;
    if (!result.ok) return result.response;
    c.set("tenancy", result);
    c.set("tenantId", result.tenant);
    c.set("principal", result.principal);
    if (iso !== undefined && result.tenant !== resolve.controlPlaneTenant && mayOpen(iso, result)) {
      const pending = inject(c, iso, result.tenant);
      const refused = pending && (await pending);
      if (refused !== undefined) return refused;
    }
    await next();
  }

  const app = new Hono();
  // Only its own routes ("/tenants/*" takes "/tenants" too): mounted at "/", the app must not
  // stand in front of the tenants' routes.
  const administrators = async (c, next) => {
    const result = await tenancy.resolve(c.req.raw);
    if (!result.ok) {
      // An administrator's token is bound to the control-plane tenant, which is never looked
      // up: a token for a tenant the registry lacks is simply not an administrator's.
      const { code } = result.error;
      return code === "tenant_not_found" || code === "tenant_unavailable" ? errorResponse(NOT_ADMIN) : result.response;
    }
    if (!result.administrator) return errorResponse(NOT_ADMIN);
    if (iso?.list === undefined) {
      console.error("edge-tenancy: the control-plane routes need a registry: a createD1Factory factory, or databaseIsolation.registry");
      return errorResponse({ status: 503, code: "not_configured", message: "the tenant registry is not configured" });
    }
    c.set("tenancy", result);
    await next();
  };
  app.use("/tenants/*", administrators);
  // Only with a schema group, or a queue: otherwise `/schema/…` and `/queue` are the app's own.
  if (iso?.jobs !== undefined) app.use("/schema/*", administrators);
  if (iso?.queue !== undefined) {
    app.use("/queue", administrators);
    app.use("/queue/*", administrators);
  }
  app.post("/tenants", async (c) => {
    const body = await c.req.json().catch(() => null);
    const refused = newTenant(body, resolve.controlPlaneTenant, iso.restore !== undefined);
    if (refused !== undefined) return errorResponse({ status: 400, code: "invalid_body", message: refused });
    const provisioned = body.restore === undefined ? await iso.provision(body.id) : await iso.restore(body.id, body.restore);
    if (provisioned?.record !== undefined) return c.json(provisioned.record, provisioned.already ? 200 : 201);
    return c.json(await iso.get(body.id), 201);
  });
  app.get("/tenants", async (c) => {
    const limit = c.req.query("limit");
    if (limit !== undefined && !/^\d{1,4}$/.test(limit)) return errorResponse({ status: 400, code: "invalid_body", message: "limit is a number from 1 to 1000" });
    return c.json(await iso.list({ after: c.req.query("after"), limit: limit === undefined ? 100 : Number(limit) }));
  });
  app.get("/tenants/:id", async (c) => c.json(await iso.get(c.req.param("id"))));
  // With shards: a tenant's database binding moved to another of them, `{"to": "<script>"}`.
  if (iso?.move !== undefined) {
    app.post("/tenants/:id/move", async (c) => {
      const body = await c.req.json().catch(() => null);
      const keys = body !== null && typeof body === "object" ? Object.keys(body) : [];
      if (keys.length !== 1 || typeof body.to !== "string") {
        return errorResponse({ status: 400, code: "invalid_body", message: 'expected {"to": "<one of bindTo\'s scripts>"}' });
      }
      return c.json(await iso.move(c.req.param("id"), body.to));
    });
  }
  app.delete("/tenants/:id", async (c) => {
    const backup = await iso.deprovision(c.req.param("id"));
    return c.json({ deleted: c.req.param("id"), backup: typeof backup === "string" ? backup : null });
  });
  // The schema group's migration jobs (createD1Factory's `schema`), as the Rust workers' routes.
  if (iso?.jobs !== undefined) {
    const { jobs } = iso;
    app.get("/schema/drift", async (c) => c.json(await jobs.drift({ after: c.req.query("after"), limit: queryNumber(c, "limit") ?? 50 })));
    // The body as it came: Rust reads it, and names what it does not take.
    app.post("/schema/jobs", async (c) => c.json(await jobs.submit(await c.req.text()), 202));
    app.get("/schema/jobs/:id", async (c) =>
      c.json(await jobs.get(c.req.param("id"), { tasks: c.req.query("tasks") === "1", from: c.req.query("from"), limit: c.req.query("limit") })),
    );
    app.post("/schema/jobs/:id/:action", async (c) =>
      c.json(await jobs.act(c.req.param("id"), c.req.param("action"), { calls: queryNumber(c, "calls"), secs: queryNumber(c, "secs") })),
    );
  }
  // The D1 factory's provisioning queue, as the Rust demo's routes.
  if (iso?.queue !== undefined) {
    const { queue } = iso;
    app.get("/queue", async (c) => c.json(await queue.status()));
    app.post("/queue", async (c) => {
      const body = await c.req.json().catch(() => null);
      const ids = body?.ids;
      const expected = 'expected {"ids": ["<tenant id>", …]}, 1 to 1,000 of them';
      if (!Array.isArray(ids) || Object.keys(body).length !== 1 || !ids.every((id) => typeof id === "string")) {
        return errorResponse({ status: 400, code: "invalid_body", message: expected });
      }
      if (ids.includes(resolve.controlPlaneTenant)) {
        return errorResponse({ status: 400, code: "invalid_body", message: "the control-plane tenant has no tenant database" });
      }
      return c.json(await queue.add(ids), 202);
    });
    app.post("/queue/drain", async (c) => c.json(await queue.drain({ secs: queryNumber(c, "secs"), tenants: queryNumber(c, "tenants") })));
  }
  app.onError((error) => {
    if (error instanceof EdgeTenancyError) return error.toResponse();
    console.error("edge-tenancy: a control-plane route failed:", error);
    return errorResponse(INTERNAL);
  });

  return { middleware, app, tenancy };
}
