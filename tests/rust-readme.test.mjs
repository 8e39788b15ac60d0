// The README's "Use it in your own Rust worker" works as written: its Cargo.toml, wrangler.toml
// and src/lib.rs are read from the README's text (so the README cannot drift from the code),
// copied into a new crate outside the workspace, built with worker-build and the README's release
// profile, and run in workerd beside the local Cloudflare API with the README's wrangler.toml as
// wrangler reads it. The only change: the edge-tenancy dependency gets this checkout's path.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import * as jose from "jose";
import { jsonCaller } from "./helpers.mjs";
import { readmeFiles, writeCrate, buildWorker } from "./rust-worker.mjs";
import { localApiWorker } from "../local-api/testing.mjs";

let mf;
let dir;
after(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the README's Rust worker builds outside the workspace and serves tenants in workerd", { timeout: 900_000 }, async () => {
  const written = readmeFiles();
  assert.deepEqual(Object.keys(written).toSorted(), ["Cargo.toml", "src/lib.rs", "wrangler.toml"]);
  dir = writeCrate(written);
  const size = buildWorker(dir);
  // A figure to read, not a limit to trip over: `bash bench/run.sh sizes` compares them.
  console.log(`README Rust worker (HS256 keys, no default features): ${size.raw} bytes of wasm, ${size.gzip} gzip`);
  assert.ok(statSync(join(dir, "build/index.js")).size > 0);

  // The README's wrangler.toml as wrangler reads it, beside the local API it binds.
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(join(dir, "wrangler.toml"));
  assert.equal(main, join(dir, "build/index.js"), "wrangler runs what worker-build made");
  const script = { modules: true, scriptPath: main, modulesRoot: dirname(main), modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }] };
  const name = written["wrangler.toml"].match(/^name = "(.+)"$/m)[1];
  mf = new Miniflare({ workers: [{ ...workerOptions, ...script, name }, localApiWorker()] });
  const config = JSON.parse(workerOptions.bindings.TENANCY_CONFIG);
  const secret = new TextEncoder().encode(config.authenticate.secrets[0].secret);
  const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(secret);
  const worker = await mf.getWorker(name);
  const call = jsonCaller(worker);

  const admin = await sign({ tenant: "main", sub: "ops", scope: "tenants:admin" });
  const made = await call("POST", "/tenants", admin, { id: "acme" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.state, "ready");
  assert.equal((await call("POST", "/tenants", admin, { id: "acme" })).status, 200, "provisioning again");
  assert.equal((await call("POST", "/tenants", admin, { id: "globex" })).status, 201);

  const alice = await sign({ tenant: "acme", sub: "alice" });
  const note = await call("POST", "/t/acme/notes", alice, { body: "from the README" });
  assert.deepEqual([note.status, note.body], [201, { id: 1, body: "from the README" }]);
  assert.deepEqual(await call("GET", "/t/acme/notes", alice), { status: 200, body: [{ id: 1, body: "from the README" }] });
  // globex's database is its own: empty, and its schema made by the hook.
  assert.deepEqual(await call("GET", "/t/globex/notes", await sign({ tenant: "globex", sub: "bob" })), { status: 200, body: [] });

  // What the README says a caller gets without the right token or tenant.
  const codes = async (path, token, body) => {
    const answer = await call(body ? "POST" : "GET", path, token, body);
    return [answer.status, answer.body.error?.code];
  };
  assert.deepEqual(await codes("/t/acme/notes"), [401, "unauthenticated"]);
  assert.deepEqual(await codes("/t/acme/notes", await sign({ tenant: "globex", sub: "bob" })), [403, "forbidden"]);
  assert.deepEqual(await codes("/t/nobody/notes", await sign({ tenant: "nobody", sub: "eve" })), [404, "tenant_not_found"]);
  assert.deepEqual(await codes("/tenants", alice, { id: "x" }), [403, "forbidden"]);
  assert.deepEqual(await codes("/tenants", admin, { name: "x" }), [400, "invalid_body"]);
  assert.deepEqual(await codes("/tenants", admin, { id: "Not A Tenant" }), [400, "invalid_tenant_id"]);
  assert.deepEqual(await codes("/t/acme/notes", alice, { text: "no body field" }), [400, "invalid_body"]);
});
