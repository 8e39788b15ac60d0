// A JS worker that uses edge-tenancy by its package name, bundled by wrangler.
import { Hono } from "hono";
import { EdgeTenancyError, parseTenantId, version } from "edge-tenancy";

const app = new Hono();

app.get("/health", (c) => c.json({ status: "ok", version }));

app.get("/tenants/:tenant", (c) => c.json({ tenant: parseTenantId(c.req.param("tenant")) }));

app.onError((err, c) => {
  if (err instanceof EdgeTenancyError) return err.toResponse();
  console.error(err);
  return c.json({ error: { code: "internal", message: "internal error" } }, 500);
});

export default app;
