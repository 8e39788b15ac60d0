// Keys from a JWKS URL through the npm package in workerd: a real HTTP server in this process
// publishes the keys (and rotates them, or fails), and the worker fetches them itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

const ISSUER = "https://auth.example.com/";
const AUDIENCE = "edge-tenancy-tests";

// What the identity provider serves: its JWKS, or a failure; and how often it was asked.
const provider = { keys: [], status: 200, hits: 0 };
let server;
let worker;
const signers = {};

async function newKey(kid) {
  const pair = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  signers[kid] = pair.privateKey;
  return { ...(await jose.exportJWK(pair.publicKey)), kid, alg: "EdDSA" };
}

function sign(kid, claims = {}) {
  return new jose.SignJWT({ org_name: "acme", sub: "user-1", ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime("5m")
    .sign(signers[kid]);
}

function call(token) {
  return worker.mf.dispatchFetch("https://acme.example.com/api/x", { headers: { authorization: `Bearer ${token}` } });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  provider.keys = [await newKey("one")];
  server = createServer((req, res) => {
    provider.hits++;
    res.writeHead(provider.status, { "content-type": "application/json" });
    res.end(provider.status === 200 ? JSON.stringify({ keys: provider.keys }) : '{"error":"down"}');
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  worker = await startWorker({
    scriptPath: bundleWithWrangler(join(ROOT, "js/examples/hono-app")),
    bindings: {
      JWKS_URL: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`,
      // Short enough for a test to wait out.
      JWKS_REFRESH: JSON.stringify({ maxAgeSecs: 3600, minIntervalSecs: 1 }),
      HS256_SECRET: "an HS256 test secret of at least 32 bytes!",
      ISSUER,
      AUDIENCE,
      BASE_DOMAIN: "example.com",
    },
  });
});
after(async () => {
  await worker?.dispose();
  server?.close();
});

test("keys are fetched once for concurrent first requests, then kept", async () => {
  const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => sign("one", { sub: `user-${i}` })));
  const answers = await Promise.all(tokens.map(call));
  assert.deepEqual(answers.map((r) => r.status), Array(8).fill(200));
  assert.equal((await json(answers[0])).principal.subject, "user-0");
  for (const token of tokens) assert.equal((await call(token)).status, 200);
  assert.equal(provider.hits, 1);
});

test("a key rotated in is fetched on its first token; made-up kids cost at most one fetch a second", async () => {
  provider.keys.push(await newKey("two"));
  const before = provider.hits;
  await sleep(1100);
  assert.equal((await call(await sign("two"))).status, 200);
  assert.equal(provider.hits, before + 1);
  // Tokens naming kids the provider never published: refused, and one fetch for all of them.
  await sleep(1100);
  signers.ghost = signers.one;
  const ghosts = await Promise.all(Array.from({ length: 10 }, () => sign("ghost")));
  for (const token of ghosts) {
    const res = await call(token);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /invalid_token/);
  }
  assert.equal(provider.hits, before + 2);
});

test("a provider that fails keeps the keys there were; a key rotated out stops working", async () => {
  provider.status = 500;
  await sleep(1100);
  signers.three = signers.one;
  assert.equal((await call(await sign("three"))).status, 401, "unknown kid, the refetch failed");
  assert.equal((await call(await sign("one"))).status, 200, "old keys kept");
  provider.status = 200;
  provider.keys = provider.keys.filter((k) => k.kid !== "one");
  await sleep(1100);
  assert.equal((await call(await sign("three"))).status, 401, "refetched: still unknown");
  const rotatedOut = await call(await sign("one"));
  assert.equal(rotatedOut.status, 401, "a key rotated out no longer verifies");
  assert.equal((await call(await sign("two"))).status, 200);
});

test("with no keys at all, tokens get 503 with a JSON error, not 401", async () => {
  const down = createServer((req, res) => res.writeHead(503).end());
  await new Promise((resolve) => down.listen(0, "127.0.0.1", resolve));
  const lonely = await startWorker({
    scriptPath: bundleWithWrangler(join(ROOT, "js/examples/hono-app")),
    bindings: {
      JWKS_URL: `http://127.0.0.1:${down.address().port}/jwks`,
      HS256_SECRET: "an HS256 test secret of at least 32 bytes!",
      ISSUER,
      AUDIENCE,
      BASE_DOMAIN: "example.com",
    },
  });
  try {
    const res = await lonely.mf.dispatchFetch("https://acme.example.com/api/x", {
      headers: { authorization: `Bearer ${await sign("two")}` },
    });
    assert.equal(res.status, 503);
    assert.equal((await json(res)).error.code, "keys_unavailable");
  } finally {
    await lonely.dispose();
    down.close();
  }
});
