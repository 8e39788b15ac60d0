// Baseline: a Hono app answering a small JSON, with no tenancy at all.
import { Hono } from "hono";

const app = new Hono();
app.get("*", (c) => c.json({ tenant: null }));
export default app;
