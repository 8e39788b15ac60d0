// The npm package as a JS worker uses it: imported by name from a Hono app, bundled by wrangler,
// run in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

let worker;
before(async () => {
  worker = await startWorker({ scriptPath: bundleWithWrangler(join(ROOT, "js/examples/hono-app")) });
});
after(() => worker?.dispose());

test("the package reports the Rust crate's version", async () => {
  const cargo = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "(.+)"/m)[1];
  assert.deepEqual(await json(await worker.fetch("/health")), { status: "ok", version: cargo });
});

test("parseTenantId accepts valid ids unchanged", async () => {
  for (const id of ["acme", "a", "acme-2", "0", "a".repeat(63)]) {
    const res = await worker.fetch(`/tenants/${id}`);
    assert.equal(res.status, 200, id);
    assert.deepEqual(await json(res), { tenant: id });
  }
});

test("parseTenantId errors become 400 responses with the Rust error code", async () => {
  for (const id of ["Acme", "-acme", "acme-", "xn--acme", "a".repeat(64), "a_b", "%C3%BC"]) {
    const res = await worker.fetch(`/tenants/${id}`);
    assert.equal(res.status, 400, id);
    const body = await json(res);
    assert.equal(body.error.code, "invalid_tenant_id", id);
    assert.match(body.error.message, /tenant id is 1 to 63 characters/);
  }
});
