// README line 1: `scripts/dev.sh` serves the demo on 127.0.0.1 with a local D1, no account.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
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

test("scripts/dev.sh serves the demo and persists tenants in the local D1", { timeout: 180_000 }, async () => {
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

    const created = await fetch(`${base}/tenants`, { method: "POST", body: JSON.stringify({ id: "dev-tenant" }) });
    assert.equal(created.status, 201);
    const listed = await (await fetch(`${base}/tenants`)).json();
    assert.deepEqual(listed.tenants.map((t) => t.id), ["dev-tenant"]);
  } finally {
    process.kill(-child.pid, "SIGTERM");
  }
});
