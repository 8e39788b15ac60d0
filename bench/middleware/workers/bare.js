// (a) The ceiling: Hono with no auth and no tenancy. The database route queries the tenant's D1
// binding straight away, named by the factory's convention (TENANT_<ID>), with no registry read.
import { Hono } from "hono";
import { noteRoute } from "./routes.js";

const app = new Hono();
app.get("/t/:tenant/items/:n", (c) => c.json({ tenant: c.req.param("tenant"), user: null, item: Number(c.req.param("n")) }));
app.get(
  "/t/:tenant/notes/:id",
  noteRoute((c) => c.env[`TENANT_${c.req.param("tenant").toUpperCase().replaceAll("-", "_")}`]),
);
export default app;
