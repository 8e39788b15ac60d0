// The floor for a middleware: Hono with one that sets a context variable and calls next().
import { Hono } from "hono";

const app = new Hono();
app.use("*", async (c, next) => {
  c.set("tenant", null);
  await next();
});
app.get("*", (c) => c.json({ tenant: c.get("tenant") }));
export default app;
