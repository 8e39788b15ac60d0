// The npm package's edges in workerd, where they can go wrong: key rotations while a key import
// or a signature check is in flight, a slow JWKS endpoint under a flood of made-up kids, answers
// remembered past a key's removal, and misspelled settings. A real HTTP server in this process
// is the identity provider; the worker (tests/workers/pipeline) fetches from it itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

const ISSUER = "https://auth.example.com/";
const AUDIENCE = "edge-tenancy-tests";

// The provider: the keys it publishes, how long it takes to answer, whether it is down, and how
// often it was asked.
const provider = { keys: [], delayMs: 0, down: false, hits: 0 };
let server;
let script;

async function newKey(kid) {
  const pair = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { jwk: { ...(await jose.exportJWK(pair.publicKey)), kid, alg: "EdDSA" }, privateKey: pair.privateKey };
}

function sign(key, claims = {}) {
  return new jose.SignJWT({ org_name: "acme", sub: "user-1", ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid: key.jwk.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime("10m")
    .sign(key.privateKey);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh isolate of the spec worker, keys from the provider, refreshed after `maxAgeSecs`. */
async function isolate({ maxAgeSecs = 3600, maxStaleSecs } = {}) {
  const config = {
    resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }] },
    authenticate: {
      jwksUrl: `http://127.0.0.1:${server.address().port}/jwks`,
      jwksRefresh: { maxAgeSecs, minIntervalSecs: 1, maxStaleSecs },
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantClaim: "org_name",
    },
  };
  const worker = await startWorker({ scriptPath: script, bindings: { TENANCY_CONFIG: JSON.stringify(config) } });
  return {
    worker,
    call: (token, path = "/x") =>
      worker.mf.dispatchFetch(`https://acme.example.com${path}`, { headers: { authorization: `Bearer ${token}` } }),
    advance: (ms) => worker.mf.dispatchFetch(`https://acme.example.com/__clock?advance=${ms}`),
  };
}

before(async () => {
  server = createServer(async (req, res) => {
    provider.hits++;
    const keys = provider.keys.map((k) => k.jwk);
    if (provider.delayMs) await sleep(provider.delayMs);
    if (provider.down) return res.writeHead(503).end("down");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  script = bundleWithWrangler(join(ROOT, "tests/workers/pipeline"));
});
after(() => server?.close());

test("a slow JWKS endpoint under 50 concurrent requests with made-up kids is fetched once", async () => {
  const good = await newKey("good");
  provider.keys = [good];
  provider.hits = 0;
  provider.delayMs = 2500; // longer than minIntervalSecs: 1
  const { worker, call } = await isolate();
  try {
    const forger = await newKey("forger");
    const madeUp = (i) => sign({ ...forger, jwk: { ...forger.jwk, kid: `made-up-${i}` } });
    const early = Array.from({ length: 25 }, async (_, i) => call(await madeUp(i)));
    const goodAnswer = call(await sign(good));
    // Past the minimum interval, with the first fetch still in flight: they wait for it too.
    await sleep(1300);
    const late = Array.from({ length: 25 }, async (_, i) => call(await madeUp(25 + i)));
    const answers = await Promise.all([...early, ...late]);
    assert.deepEqual(answers.map((r) => r.status), Array(50).fill(401));
    assert.equal((await goodAnswer).status, 200);
    assert.equal(provider.hits, 1, "one fetch for every request that needed keys");
  } finally {
    provider.delayMs = 0;
    await worker.dispose();
  }
});

test("a rotated-out key's token is refused right after the refresh, though its answer was remembered", async () => {
  const one = await newKey("one");
  const two = await newKey("two");
  provider.keys = [one, two];
  const { worker, call, advance } = await isolate();
  try {
    const token = await sign(one);
    for (let i = 0; i < 3; i++) assert.equal((await call(token)).status, 200); // remembered in JS now
    // "one" is withdrawn and "three" published; a token for "three" makes the isolate refresh.
    const three = await newKey("three");
    provider.keys = [two, three];
    await advance(1500);
    assert.equal((await call(await sign(three))).status, 200);
    const refused = await call(token);
    assert.equal(refused.status, 401);
    assert.equal((await json(refused)).error.code, "unauthenticated");
    assert.equal((await call(await sign(two))).status, 200, "the kept key still works");
  } finally {
    await worker.dispose();
  }
});

test("keys kept while the provider is down stop verifying after maxStaleSecs: 503, the replayed answer too", async () => {
  const one = await newKey("one");
  provider.keys = [one];
  const { worker, call, advance } = await isolate({ maxAgeSecs: 60, maxStaleSecs: 30 });
  try {
    const token = await sign(one);
    for (let i = 0; i < 3; i++) assert.equal((await call(token, `/x/${i}`)).status, 200); // kept in JS now
    provider.down = true;
    await advance(61_000); // due: the refresh fails, the old keys are kept
    assert.equal((await call(token, "/y")).status, 200, "within maxStaleSecs");
    await advance(30_000); // past maxAgeSecs + maxStaleSecs
    for (const path of ["/y", "/z"]) {
      const refused = await call(token, path);
      assert.equal(refused.status, 503);
      assert.equal((await json(refused)).error.code, "keys_unavailable");
    }
    provider.down = false;
    await advance(1500); // past minIntervalSecs: the next request fetches again
    assert.equal((await call(token, "/y")).status, 200, "the provider is back");
  } finally {
    provider.down = false;
    await worker.dispose();
  }
});

test("a rotation while keys are imported and signatures checked never mixes the key sets", async () => {
  // The same kid names another key after the rotation: a key imported or a verdict reached for
  // the old set must never count for the new one.
  const before = await newKey("k1");
  const after = await newKey("k1");
  const { worker, call, advance } = await isolate({ maxAgeSecs: 60 });
  provider.delayMs = 50;
  try {
    for (let round = 0; round < 5; round++) {
      const [old, next] = round % 2 ? [after, before] : [before, after];
      const oldTokens = await Promise.all(Array.from({ length: 10 }, (_, i) => sign(old, { sub: `r${round}-old-${i}` })));
      const newTokens = await Promise.all(Array.from({ length: 10 }, (_, i) => sign(next, { sub: `r${round}-new-${i}` })));
      provider.keys = [old];
      await advance(61_000); // the keys fall due: the next requests fetch them
      const first = oldTokens.map((t) => call(t));
      await sleep(10);
      // With the first fetch still out, the clock jumps: that fetch is taken for lost, a second
      // one brings the rotated set, and the two answers land while the first requests import
      // the old key and check their signatures.
      await advance(61_000);
      provider.keys = [next];
      const during = newTokens.map((t) => call(t));
      const answers = await Promise.all([...first, ...during]);
      for (const answer of answers) assert.ok([200, 401].includes(answer.status), `status ${answer.status}`);
      // Once the rotation is in, old tokens never pass and new ones always do.
      for (const t of oldTokens) assert.equal((await call(t)).status, 401, `round ${round}: old key`);
      for (const t of newTokens) assert.equal((await call(t)).status, 200, `round ${round}: new key`);
    }
  } finally {
    provider.delayMs = 0;
    await worker.dispose();
  }
});

test("misspelled settings are refused at creation, each named by its path, with every known one", async () => {
  provider.keys = [await newKey("any")];
  const { worker } = await isolate();
  const base = () => ({
    resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }] },
    authenticate: { secrets: [{ secret: "an HS256 test secret of at least 32 bytes!", alg: "HS256" }] },
  });
  const cases = [
    [(c) => (c.authenticate.audiance = "api"), "authenticate.audiance: unknown setting; did you mean audience? (known: keys, jwksUrl, jwksRefresh, secrets, issuer, audience, leewaySecs, requireExp, tenantClaim, attachClaim, maxTokenBytes, cacheTokens)"],
    [(c) => (c.authenticate.iss = "x"), "authenticate.iss: unknown setting; did you mean issuer?"],
    [(c) => (c.authenticate.tenant_claim = "org"), "authenticate.tenant_claim: unknown setting; did you mean tenantClaim?"],
    [(c) => (c.authenticate.leeway = 5), "authenticate.leeway: unknown setting; did you mean leewaySecs?"],
    [(c) => (c.authenticate.requireEXP = false), "authenticate.requireEXP: unknown setting; did you mean requireExp?"],
    [(c) => (c.authenticate.jwksURL = "https://x/"), "authenticate.jwksURL: unknown setting; did you mean jwksUrl?"],
    [(c) => (c.authenticate.cacheToken = 0), "authenticate.cacheToken: unknown setting; did you mean cacheTokens?"],
    [(c) => (c.authenticate.maxTokenSize = 10), "authenticate.maxTokenSize: unknown setting (known: keys, jwksUrl, jwksRefresh, secrets, issuer, audience, leewaySecs, requireExp, tenantClaim, attachClaim, maxTokenBytes, cacheTokens)"],
    [(c) => (c.authenticate.secrets[0].kId = "a"), "authenticate.secrets[0].kId: unknown setting; did you mean kid?"],
    [(c) => (c.authenticate.secrets[0].algorithm = "HS256"), "authenticate.secrets[0].algorithm: unknown setting; did you mean alg? (known: secret, alg, kid)"],
    [(c) => (c.authenticate.jwksRefresh = { maxAge: 1 }), "authenticate.jwksRefresh.maxAge: unknown setting; did you mean maxAgeSecs?"],
    [(c) => (c.resolve.controlPlaneTenantId = "main"), "resolve.controlPlaneTenantId: unknown setting; did you mean controlPlaneTenant?"],
    [(c) => (c.resolve.trustForwardedHosts = true), "resolve.trustForwardedHosts: unknown setting; did you mean trustForwardedHost?"],
    [(c) => (c.resolve.lookupTenants = true), "resolve.lookupTenants: unknown setting; did you mean lookUpTenants?"],
    [(c) => (c.resolve.strategies[0].baseDomain = "example.com"), "resolve.strategies[0].baseDomain: unknown setting; did you mean baseDomains?"],
    [(c) => (c.resolve.strategies[0].type = "subdomian"), 'resolve.strategies[0].type: unknown value "subdomian"; did you mean subdomain?'],
    [(c) => (c.access = { publicPath: ["/health"] }), "access.publicPath: unknown setting; did you mean publicPaths?"],
    [(c) => (c.access = { adminscope: "x" }), "access.adminscope: unknown setting; did you mean adminScope?"],
    [(c) => (c.auth = {}), "auth: unknown setting; did you mean authenticate?"],
    [(c) => (c.authenticate.jwksUrl = "http://auth.example.com/jwks"), "authenticate.jwksUrl: an https: URL (http: only for localhost)"],
  ];
  assert.equal(cases.length, 20);
  try {
    const accepted = await worker.mf.dispatchFetch("https://x/__config", { method: "POST", body: JSON.stringify(base()) });
    assert.equal(accepted.status, 200, "the base configuration is good");
    for (const [change, message] of cases) {
      const config = base();
      change(config);
      const res = await worker.mf.dispatchFetch("https://x/__config", { method: "POST", body: JSON.stringify(config) });
      assert.equal(res.status, 400, message);
      const error = await res.json();
      assert.ok(error.message.includes(message), `${error.message}\n  wanted: ${message}`);
      assert.ok(!error.message.includes("an HS256 test secret"), "the secret is never echoed");
    }
  } finally {
    await worker.dispose();
  }
});
