// setupMultiTenancy's middleware in front of one handler that reports what it was given: the
// tenant context, the principal and whether the tenant's adapters were injected at c.env.data.
// One middleware per table: TENANCY_CONFIGS maps a table's name to its settings (JSON, with
// `allowAnonymous` for databaseIsolation); the request's `x-spec-table` header names the table.
// The adapters come from a factory written in JS with no registry.
import { Hono } from "hono";
import { setupMultiTenancy } from "edge-tenancy/hono";

const apps = new Map();

function build(settings) {
  const { allowAnonymous, ...config } = settings;
  const databaseIsolation = { getAdapters: async (tenantId) => ({ tenantId }) };
  if (allowAnonymous !== undefined) databaseIsolation.allowAnonymous = allowAnonymous;
  const { middleware } = setupMultiTenancy({ accessControl: { mainTenantId: "main" }, databaseIsolation, ...config });
  const app = new Hono();
  app.use("*", middleware);
  app.all("*", (c) => {
    const tenancy = c.get("tenancy");
    return c.json({
      tenant: tenancy.tenant,
      source: tenancy.source,
      path: tenancy.path,
      access: tenancy.access,
      principal: tenancy.principal?.subject ?? null,
      administrator: tenancy.administrator,
      tenantId: c.get("tenantId"),
      principalVar: c.get("principal")?.subject ?? null,
      injected: c.env.data === undefined ? null : (c.env.data.tenantId ?? "?"),
    });
  });
  return app;
}

// A table whose settings throw answers 500 with the message, so each of its cells names it.
function appFor(name, env) {
  if (!apps.has(name)) {
    const settings = JSON.parse(env.TENANCY_CONFIGS)[name];
    try {
      if (settings === undefined) throw new Error(`no table ${JSON.stringify(name)}`);
      apps.set(name, { app: build(settings) });
    } catch (error) {
      apps.set(name, { setupError: String(error?.message ?? error) });
    }
  }
  return apps.get(name);
}

export default {
  fetch(request, env, ctx) {
    const { app, setupError } = appFor(request.headers.get("x-spec-table") ?? "", env);
    if (setupError !== undefined) return Response.json({ setupError }, { status: 500 });
    return app.fetch(request, env, ctx);
  },
};
