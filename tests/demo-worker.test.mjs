// The built Rust demo worker (demo/build) in workerd with a local D1 and the local Cloudflare API:
// the registry round trip, the pipeline, and bad input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import * as jose from "jose";
import { Miniflare } from "miniflare";
import { ROOT, startWorker, json } from "./helpers.mjs";
import { demoWorker } from "./demo-admin.mjs";
import { localApiWorker } from "../local-api/testing.mjs";

// The demo's pipeline configuration exactly as wrangler.toml ships it.
const TENANCY_CONFIG = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/TENANCY_CONFIG = '''([\s\S]*?)'''/)[1];
const DEMO_SECRET = new TextEncoder().encode(JSON.parse(TENANCY_CONFIG).authenticate.secrets[0].secret);

const D1_FACTORY = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^D1_FACTORY = '(.*)'$/m)[1];

let worker;
before(async () => {
  const mf = new Miniflare({ workers: [demoWorker({}, { D1_FACTORY }), localApiWorker()] });
  const url = await mf.ready;
  worker = {
    mf,
    fetch: (path, init) => fetch(new URL(path, url), init),
    dispose: () => mf.dispose(),
  };
});
after(() => worker?.dispose());

const demoToken = (claims) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("edge-tenancy-demo").setExpirationTime("5m").sign(DEMO_SECRET);
let admin;
const asAdmin = async () => ({ authorization: `Bearer ${(admin ??= await demoToken({ tenant: "main", scope: "tenants:admin" }))}` });
const post = async (body) =>
  worker.fetch("/tenants", { method: "POST", headers: { "content-type": "application/json", ...(await asAdmin()) }, body });
const getAsAdmin = async (path) => worker.fetch(path, { headers: await asAdmin() });

test("health reports the crate version", async () => {
  const res = await worker.fetch("/health");
  assert.equal(res.status, 200);
  const cargo = (await import("node:fs")).readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  assert.deepEqual(await json(res), { status: "ok", version: cargo.match(/^version = "(.+)"/m)[1] });
});

test("a provisioned tenant is stored in D1 and read back", async () => {
  const before = Date.now();
  const created = await post(JSON.stringify({ id: "acme" }));
  assert.equal(created.status, 201);
  const record = await json(created);
  assert.equal(record.id, "acme");
  assert.ok(record.created_at >= before && record.created_at <= Date.now(), "created_at is now");

  const got = await getAsAdmin("/tenants/acme");
  assert.equal(got.status, 200);
  assert.deepEqual(await json(got), record);

  // Straight from the D1 binding, not through the worker: the row is really there.
  const db = await worker.mf.getD1Database("CONTROL_PLANE", "edge-tenancy-demo");
  const row = await db.prepare("SELECT id, created_at, state, database_id FROM edge_tenancy_tenants WHERE id = ?").bind("acme").first();
  assert.deepEqual(row, { id: "acme", created_at: record.created_at, state: "ready", database_id: record.database_id });
});

test("the list is ordered by id", async () => {
  for (const id of ["zeta", "beta"]) assert.equal((await post(JSON.stringify({ id }))).status, 201);
  const res = await getAsAdmin("/tenants");
  assert.equal(res.status, 200);
  const ids = (await json(res)).tenants.map((t) => t.id);
  assert.deepEqual(ids, [...ids].sort());
  assert.ok(["acme", "beta", "zeta"].every((id) => ids.includes(id)));
});

test("the tenant routes are for control-plane administrators only", async () => {
  const member = { authorization: `Bearer ${await demoToken({ tenant: "acme", scope: "tenants:admin" })}` };
  const cases = [
    ["/tenants", {}, 401],
    ["/tenants", member, 403],
    ["/tenants/acme", {}, 401],
    ["/tenants/acme", member, 403],
  ];
  for (const [path, headers, status] of cases) assert.equal((await worker.fetch(path, { headers })).status, status, path);
  for (const headers of [{}, member]) {
    const res = await worker.fetch("/tenants", { method: "POST", headers, body: JSON.stringify({ id: "intruder" }) });
    assert.ok([401, 403].includes(res.status));
  }
  const ids = (await json(await getAsAdmin("/tenants"))).tenants.map((t) => t.id);
  assert.ok(!ids.includes("intruder"), "nothing was registered");
});

test("provisioning twice is idempotent: 200 with the same record", async () => {
  const first = await post(JSON.stringify({ id: "twice" }));
  assert.equal(first.status, 201);
  const record = await json(first);
  const second = await post(JSON.stringify({ id: "twice" }));
  assert.equal(second.status, 200);
  assert.deepEqual(await json(second), record);
  assert.deepEqual(await json(await getAsAdmin("/tenants/twice")), record);
});

test("bad input gets 400 with a JSON error that does not echo it", async () => {
  const cases = [
    [JSON.stringify({ id: "Acme" }), "invalid_tenant_id"],
    [JSON.stringify({ id: "-acme" }), "invalid_tenant_id"],
    [JSON.stringify({ id: "xn--acme" }), "invalid_tenant_id"],
    [JSON.stringify({ id: "a".repeat(64) }), "invalid_tenant_id"],
    [JSON.stringify({ id: "" }), "invalid_tenant_id"],
    [JSON.stringify({ id: "<script>SECRET</script>" }), "invalid_tenant_id"],
    [JSON.stringify({ id: 42 }), "invalid_body"],
    [JSON.stringify({}), "invalid_body"],
    ["not json SECRET", "invalid_body"],
    ["", "invalid_body"],
  ];
  for (const [body, code] of cases) {
    const res = await post(body);
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get("content-type"), "application/json");
    const text = await res.text();
    assert.equal(JSON.parse(text).error.code, code, body);
    assert.ok(!text.includes("SECRET"), `echoed input: ${text}`);
  }
  const ids = (await json(await getAsAdmin("/tenants"))).tenants.map((t) => t.id);
  assert.ok(!ids.some((id) => !/^[a-z0-9-]+$/.test(id)), "nothing invalid was stored");
});

test("lookups: unknown tenant 404, invalid id 400", async () => {
  const missing = await getAsAdmin("/tenants/nobody");
  assert.equal(missing.status, 404);
  assert.equal((await json(missing)).error.code, "tenant_not_found");
  for (const raw of ["UPPER", "-x", "a_b", "a%2eb", "xn--zz"]) {
    const res = await getAsAdmin(`/tenants/${raw}`);
    assert.equal(res.status, 400, raw);
    assert.equal((await json(res)).error.code, "invalid_tenant_id", raw);
  }
});

test("whoami runs the pipeline in the Rust worker", async () => {
  const token = (claims) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("edge-tenancy-demo").setExpirationTime("5m").sign(DEMO_SECRET);
  const get = async (path, bearer, headers = {}) =>
    worker.fetch(path, { headers: bearer ? { authorization: `Bearer ${bearer}`, ...headers } : headers });

  const anonymous = await get("/t/acme/whoami");
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="edge-tenancy"');

  const acme = await token({ tenant: "acme", sub: "u1" });
  const mine = await get("/t/acme/whoami", acme);
  assert.equal(mine.status, 200);
  const context = await json(mine);
  assert.deepEqual(
    { tenant: context.tenant, source: context.source, path: context.path, access: context.access, sub: context.principal.subject },
    { tenant: "acme", source: "pathPrefix", path: "/whoami", access: "member", sub: "u1" },
  );

  const other = await get("/t/beta/whoami", acme);
  assert.equal(other.status, 403);
  assert.equal((await json(other)).error.code, "forbidden");

  const admin = await token({ tenant: "main", scope: "tenants:admin" });
  const asAdmin = await json(await get("/whoami", admin, { "x-tenant-id": "beta" }));
  assert.deepEqual([asAdmin.tenant, asAdmin.source, asAdmin.access], ["beta", "header", "admin"]);

  const forged = await new jose.SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "HS256" })
    .setIssuer("edge-tenancy-demo").setExpirationTime("5m").sign(new TextEncoder().encode("x".repeat(40)));
  const refused = await get("/t/acme/whoami", forged);
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get("www-authenticate"), /error="invalid_token"/);

  const badTenant = await get("/t/ACME/whoami", acme);
  assert.equal(badTenant.status, 400);

  // The tenant must be registered: the pipeline looks it up in the registry.
  const ghost = await get("/t/ghost/whoami", await token({ tenant: "ghost" }));
  assert.equal(ghost.status, 404);
  assert.equal((await json(ghost)).error.code, "tenant_not_found");
});

test("with a jwksUrl, the Rust worker fetches its keys from the provider and keeps them", async () => {
  const pair = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await jose.exportJWK(pair.publicKey)), kid: "provider-1", alg: "EdDSA" };
  let hits = 0;
  let up = true;
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    hits++;
    if (!up) return res.writeHead(500).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const config = JSON.parse(TENANCY_CONFIG);
  config.authenticate.jwksUrl = `http://127.0.0.1:${server.address().port}/jwks`;
  const withUrl = await startWorker({
    scriptPath: join(ROOT, "demo/build/index.js"),
    d1Databases: { CONTROL_PLANE: "control-plane" },
    bindings: { TENANCY_CONFIG: JSON.stringify(config) },
  });
  try {
    // Tokens for the control-plane tenant, which exists without a registry row.
    const token = (sub) =>
      new jose.SignJWT({ tenant: "main", sub })
        .setProtectedHeader({ alg: "EdDSA", kid: "provider-1" })
        .setIssuer(config.authenticate.issuer)
        .setExpirationTime("5m")
        .sign(pair.privateKey);
    for (const sub of ["a", "b", "c"]) {
      const res = await withUrl.fetch("/whoami", { headers: { authorization: `Bearer ${await token(sub)}` } });
      assert.equal(res.status, 200);
      assert.equal((await json(res)).principal.subject, sub);
    }
    assert.equal(hits, 1, "fetched once, then kept");
    // A kid the provider never published, while the provider is down: 401, the old keys kept.
    up = false;
    const stranger = await new jose.SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "EdDSA", kid: "provider-2" })
      .setIssuer(config.authenticate.issuer)
      .setExpirationTime("5m")
      .sign(pair.privateKey);
    assert.equal((await withUrl.fetch("/whoami", { headers: { authorization: `Bearer ${stranger}` } })).status, 401);
    assert.equal((await withUrl.fetch("/whoami", { headers: { authorization: `Bearer ${await token("d")}` } })).status, 200);
  } finally {
    await withUrl.dispose();
    server.close();
  }
});
