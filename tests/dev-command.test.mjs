// README line 1: `scripts/dev.sh` serves the demo on 127.0.0.1 with a local D1 and the local
// Cloudflare API beside it, no account.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./helpers.mjs";

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

test("scripts/dev.sh serves the demo, keeps tenants in the local D1 and provisions databases through the local API", { timeout: 180_000 }, async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "edge-tenancy-dev-"));
  const child = spawn("bash", ["scripts/dev.sh", "--port", String(port), "--persist-to", state], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  try {
    let health;
    const deadline = Date.now() + 150_000;
    while (!health && Date.now() < deadline) {
      if (child.exitCode !== null) assert.fail(`dev.sh exited with ${child.exitCode}: ${stderr}`);
      health = await fetch(`${base}/health`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(health, `not serving after 150 s: ${stderr}`);
    assert.equal(health.status, 200);

    // The README's way to an admin token: scripts/admin-token.mjs signs one with the dev secret.
    const token = (...args) =>
      execFileSync(process.execPath, [join(ROOT, "scripts/admin-token.mjs"), ...args], { encoding: "utf8" }).trim();
    const admin = token();
    const headers = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
    const anonymous = await fetch(`${base}/tenants`, { method: "POST", body: JSON.stringify({ id: "dev-tenant" }) });
    assert.equal(anonymous.status, 401, "the tenant routes need an administrator");
    const created = await fetch(`${base}/tenants`, { method: "POST", headers, body: JSON.stringify({ id: "dev-tenant" }) });
    assert.equal(created.status, 201);
    const listed = await (await fetch(`${base}/tenants`, { headers })).json();
    assert.deepEqual(listed.tenants.map((t) => t.id), ["dev-tenant"]);
    // A registered tenant's own token passes; an unregistered tenant is 404.
    const member = { authorization: `Bearer ${token("--tenant", "dev-tenant", "--scope", "read")}` };
    assert.equal((await fetch(`${base}/t/dev-tenant/whoami`, { headers: member })).status, 200);
    const ghost = { authorization: `Bearer ${token("--tenant", "ghost", "--scope", "read")}` };
    assert.equal((await fetch(`${base}/t/ghost/whoami`, { headers: ghost })).status, 404);

    // The /admin routes reach the local Cloudflare API through the service binding: a real D1
    // database is created and queried, offline.
    const db = await fetch(`${base}/admin/databases`, { method: "POST", headers, body: JSON.stringify({ name: "tenant-dev" }) });
    assert.equal(db.status, 201, await db.clone().text());
    const { uuid } = await db.json();
    const query = await fetch(`${base}/admin/databases/${uuid}/query`, {
      method: "POST",
      headers,
      body: JSON.stringify({ sql: "SELECT 40 + ? AS answer", params: [2] }),
    });
    assert.deepEqual((await query.json()).results[0].results, [{ answer: 42 }]);
  } finally {
    process.kill(-child.pid, "SIGTERM");
  }
});
