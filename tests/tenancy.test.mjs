// The pipeline through the npm package in workerd, with tokens signed by an independent JWT
// implementation (jose): every algorithm verifies, and every way a token can be wrong is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

const ISSUER = "https://auth.example.com/";
const AUDIENCE = "edge-tenancy-tests";
const HS256_SECRET = "an HS256 test secret of at least 32 bytes!";
const ALGS = ["EdDSA", "ES256", "RS256"];

let worker;
const keys = {};
before(async () => {
  const jwks = { keys: [] };
  for (const alg of ALGS) {
    const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
    keys[alg] = pair.privateKey;
    jwks.keys.push({ ...(await jose.exportJWK(pair.publicKey)), kid: alg.toLowerCase(), alg });
  }
  worker = await startWorker({
    scriptPath: bundleWithWrangler(join(ROOT, "js/examples/hono-app")),
    bindings: { JWKS: JSON.stringify(jwks), HS256_SECRET, ISSUER, AUDIENCE, BASE_DOMAIN: "example.com" },
  });
});
after(() => worker?.dispose());

async function sign(alg, claims = {}, { header = {}, exp = "5m", iss = ISSUER, aud = AUDIENCE } = {}) {
  const kid = alg === "HS256" ? "hs" : alg.toLowerCase();
  const key = alg === "HS256" ? new TextEncoder().encode(HS256_SECRET) : keys[alg];
  let jwt = new jose.SignJWT({ org_name: "acme", sub: "user-1", scope: "read write", ...claims })
    .setProtectedHeader({ alg, kid, ...header })
    .setIssuedAt();
  if (iss) jwt = jwt.setIssuer(iss);
  if (aud) jwt = jwt.setAudience(aud);
  if (exp) jwt = jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

// Node's fetch will not send a chosen Host header, so requests for a tenant's host go through
// miniflare's dispatchFetch, which hands workerd the request with that URL and host.
function call(host, path, token, extra = {}) {
  const headers = { ...extra };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return worker.mf.dispatchFetch(`https://${host}${path}`, { headers });
}

test("tokens of every algorithm, signed by jose, verify in workerd", async () => {
  for (const alg of ["HS256", ...ALGS]) {
    const res = await call("acme.example.com", "/api/items", await sign(alg));
    assert.equal(res.status, 200, alg);
    const body = await json(res);
    assert.equal(body.tenant, "acme", alg);
    assert.equal(body.source, "subdomain", alg);
    assert.equal(body.access, "member", alg);
    assert.equal(body.principal.subject, "user-1", alg);
    assert.deepEqual(body.principal.scopes, ["read", "write"], alg);
  }
});

test("public-key signatures are checked with WebCrypto: forged, flipped and foreign ones fail", async () => {
  for (const alg of ALGS) {
    const good = await sign(alg);
    // Twice: the second answer comes from the verified-token cache.
    for (let i = 0; i < 2; i++) assert.equal((await call("acme.example.com", "/api/x", good)).status, 200, alg);
    const [h, p, s] = good.split(".");
    const sig = Buffer.from(s, "base64url");
    sig[sig.length >> 1] ^= 1;
    const flipped = `${h}.${p}.${sig.toString("base64url")}`;
    // Signed by a key of the same type that the worker does not know, under a known kid.
    const stranger = (await jose.generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined })).privateKey;
    const forged = await new jose.SignJWT({ org_name: "acme", sub: "user-1" })
      .setProtectedHeader({ alg, kid: alg.toLowerCase() })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(stranger);
    // Another algorithm's signature under this key's kid.
    const other = ALGS.find((a) => a !== alg);
    const foreign = (await sign(other)).split(".");
    const crossed = `${b64url({ alg: other, kid: alg.toLowerCase() })}.${foreign[1]}.${foreign[2]}`;
    for (const [name, token] of Object.entries({ flipped, forged, crossed, "signature cut": `${h}.${p}.${s.slice(0, 20)}` })) {
      const res = await call("acme.example.com", "/api/x", token);
      assert.equal(res.status, 401, `${alg} ${name}`);
      assert.equal((await json(res)).error.code, "unauthenticated", `${alg} ${name}`);
    }
  }
});

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");

test("the control plane administers other tenants; other tokens stay in their tenant", async () => {
  const admin = await sign("EdDSA", { org_name: "main", scope: "tenants:admin" });
  const asAdmin = await json(await call("beta.example.com", "/api/x", admin));
  assert.deepEqual([asAdmin.tenant, asAdmin.access], ["beta", "admin"]);

  const acme = await sign("ES256");
  const denied = await call("beta.example.com", "/api/x", acme);
  assert.equal(denied.status, 403);
  assert.equal((await json(denied)).error.code, "forbidden");

  const mainReader = await sign("ES256", { org_name: "main", scope: "read" });
  assert.equal((await call("beta.example.com", "/api/x", mainReader)).status, 403);

  // The token names the tenant when the request does not.
  const byClaim = await json(await call("other.net", "/api/x", acme));
  assert.deepEqual([byClaim.tenant, byClaim.source], ["acme", "jwtClaim"]);

  // Path prefix: the rest of the path is handed on.
  const byPath = await json(await call("other.net", "/api/t/acme/orders", acme));
  assert.deepEqual([byPath.tenant, byPath.source, byPath.path], ["acme", "pathPrefix", "/orders"]);
  assert.equal((await call("other.net", "/api/t/beta/orders", acme)).status, 403);
  const byPrefix = await json(await call("other.net", "/api/x", acme, { "x-tenant-id": "acme" }));
  assert.deepEqual([byPrefix.tenant, byPrefix.source], ["acme", "header"]);
});

test("bad tokens get 401 with a challenge and never an echo", async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = await sign("RS256");
  const [h, p, s] = good.split(".");
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const cases = {
    missing: undefined,
    empty: "",
    "alg none": `${b64({ alg: "none", kid: "rs256" })}.${p}.`,
    "alg swapped to HS256 with the RSA kid": await new jose.SignJWT({ org_name: "acme" })
      .setProtectedHeader({ alg: "HS256", kid: "rs256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(HS256_SECRET)),
    "unknown kid": await sign("ES256", {}, { header: { kid: "nope" } }),
    expired: await sign("EdDSA", {}, { exp: now - 120 }),
    "not yet valid": await new jose.SignJWT({ org_name: "acme" })
      .setProtectedHeader({ alg: "EdDSA", kid: "eddsa" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setNotBefore(now + 3600)
      .setExpirationTime(now + 7200)
      .sign(keys.EdDSA),
    "wrong issuer": await sign("ES256", {}, { iss: "https://evil.example.com/" }),
    "wrong audience": await sign("ES256", {}, { aud: "someone-else" }),
    "no exp": await sign("ES256", {}, { exp: null }),
    "tampered payload": `${h}.${b64({ org_name: "beta", exp: now + 300, iss: ISSUER, aud: AUDIENCE })}.${s}`,
    truncated: good.slice(0, -10),
    "extra part": `${good}.AAAA`,
    "padded": `${good}==`,
    huge: `${h}.${"A".repeat(20000)}.${s}`,
    "invalid tenant claim": await sign("ES256", { org_name: "../Acme" }),
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await call("acme.example.com", "/api/x", token);
    assert.equal(res.status, 401, name);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="edge-tenancy"/, name);
    const text = await res.text();
    assert.equal(JSON.parse(text).error.code, "unauthenticated", name);
    if (token) assert.ok(!text.includes(token.slice(0, 20)), `${name}: echoed the token`);
    assert.ok(!text.includes(HS256_SECRET), name);
  }
  // A second Authorization header arrives joined by ", ": not a token.
  const twice = await worker.mf.dispatchFetch("https://acme.example.com/api/x", {
    headers: [["authorization", `Bearer ${good}`], ["authorization", `Bearer ${good}`]],
  });
  assert.equal(twice.status, 401);
});

test("resolution errors are 400s, and public paths need no token", async () => {
  assert.equal((await call("acme.example.com", "/health")).status, 200);
  for (const host of ["-acme.example.com", "acme_x.example.com"]) {
    const res = await call(host, "/api/x", await sign("ES256"));
    assert.equal(res.status, 400, host);
  }
  const badHeader = await call("other.net", "/api/x", await sign("ES256"), { "x-tenant-id": "Acme" });
  assert.equal(badHeader.status, 400);
  assert.equal((await json(badHeader)).error.code, "invalid_tenant_id");
  // A second tenant header arrives joined by ", ": no tenant id, so neither tenant is taken.
  const twice = await worker.mf.dispatchFetch("https://other.net/api/x", {
    headers: [["authorization", `Bearer ${await sign("ES256")}`], ["x-tenant-id", "acme"], ["x-tenant-id", "beta"]],
  });
  assert.equal(twice.status, 400);
  assert.equal((await json(twice)).error.code, "invalid_tenant_id");
});

test("a configured key WebCrypto refuses verifies nothing: its tokens get 401, not a crash", async () => {
  // A P-256 "public key" whose point is not on the curve: the npm build (no rust-crypto) accepts
  // its shape, and WebCrypto refuses it on first use.
  const good = await jose.exportJWK((await jose.generateKeyPair("ES256", { extractable: true })).publicKey);
  const offCurve = { ...good, y: Buffer.alloc(32, 7).toString("base64url"), kid: "es256", alg: "ES256" };
  const other = await startWorker({
    scriptPath: bundleWithWrangler(join(ROOT, "js/examples/hono-app")),
    bindings: { JWKS: JSON.stringify({ keys: [offCurve] }), HS256_SECRET, ISSUER, AUDIENCE, BASE_DOMAIN: "example.com" },
  });
  try {
    for (let i = 0; i < 2; i++) {
      const res = await other.mf.dispatchFetch("https://acme.example.com/api/x", {
        headers: { authorization: `Bearer ${await sign("ES256")}` },
      });
      assert.equal(res.status, 401);
      assert.equal((await json(res)).error.code, "unauthenticated");
    }
  } finally {
    await other.dispose();
  }
});

test("a repeated request's answer is replayed only for the same path, and never past exp", async () => {
  // Accepted for about 3 more seconds: exp is 57 s ago and the leeway is 60 s.
  const exp = Math.floor(Date.now() / 1000) - 57;
  const token = await sign("EdDSA", {}, { exp });
  for (const path of ["/api/a", "/api/a?page=2", "/api/b", "/api/a"]) {
    const res = await call("acme.example.com", path, token);
    assert.equal(res.status, 200, path);
    assert.equal((await json(res)).path, path.split("?")[0], path);
  }
  await new Promise((resolve) => setTimeout(resolve, (exp + 60 - Date.now() / 1000 + 0.5) * 1000));
  for (const path of ["/api/a", "/api/b"]) {
    const res = await call("acme.example.com", path, token);
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get("www-authenticate"), /invalid_token/);
  }
});
