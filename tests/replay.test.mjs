// Answers replayed in JS under the rules Rust gives (`Reuse`): keyed by the authority, the headers
// Rust reads, whether the path is public, the path's tenant head under a path prefix strategy,
// and the query only when a strategy reads it.
// In Node, the package's calls into wasm are counted: a known token on a new path does not cross.
// In workerd, an isolate that replays answers and one that keeps nothing (cacheTokens: 0) answer
// the same sequence of requests identically.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

const ISSUER = "https://auth.example.com/";
const SECRET = "a replay test secret of at least 32 bytes!";
const key = new TextEncoder().encode(SECRET);

function config({ strategies = [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }], cacheTokens } = {}) {
  return {
    resolve: { strategies, controlPlaneTenant: "main" },
    authenticate: { secrets: [{ secret: SECRET, alg: "HS256", kid: "hs" }], issuer: ISSUER, tenantClaim: "org", cacheTokens },
    access: { publicPaths: ["/health", "/docs/"] },
  };
}

const sign = (org, scope = "read") =>
  new jose.SignJWT({ org, sub: `user-of-${org}`, scope }).setProtectedHeader({ alg: "HS256", kid: "hs" }).setIssuer(ISSUER).setExpirationTime("10m").sign(key);

test("a known token on a new path, query or fragment does not cross into wasm, public or not; a change of host or token does", async () => {
  const wasm = await import(join(ROOT, "js/dist/edge_tenancy.js"));
  const { createTenancy } = await import(join(ROOT, "js/portable.js"));
  let crossings = 0;
  const start = wasm.Tenancy.prototype.start;
  wasm.Tenancy.prototype.start = function (...args) {
    crossings++;
    return start.apply(this, args);
  };
  try {
    const acme = await sign("acme");
    const tenancy = createTenancy(config());
    const resolve = async (url, token) => {
      const before = crossings;
      const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
      const result = await tenancy.resolve(new Request(url, { headers }));
      return { result, crossed: crossings - before };
    };
    let { result, crossed } = await resolve("https://acme.example.com/orders/1", acme);
    assert.deepEqual([result.ok, result.path, result.access, crossed], [true, "/orders/1", "member", 1]);
    for (let i = 2; i <= 50; i++) {
      ({ result, crossed } = await resolve(`https://acme.example.com/orders/${i}?page=${i}#top`, acme));
      assert.deepEqual([result.ok, result.tenant, result.path, result.access, crossed], [true, "acme", `/orders/${i}`, "member", 0]);
      assert.ok(Object.isFrozen(result) && Object.isFrozen(result.principal));
    }
    // Whether the path is public is not an input: the token's tenant is a member on every path.
    for (const path of ["/health", "/docs/a/b", "/healthz"]) {
      ({ result, crossed } = await resolve(`https://acme.example.com${path}`, acme));
      assert.deepEqual([result.access, result.path, crossed], ["member", path, 0]);
    }
    // Another tenant's token on a public path is anonymous there, and such answers are not kept.
    const beta = await sign("beta");
    for (let i = 0; i < 2; i++) {
      ({ result, crossed } = await resolve("https://acme.example.com/health", beta));
      assert.deepEqual([result.ok, result.tenant, result.access, result.principal, crossed], [true, "acme", "public", null, 1]);
    }
    // Another host or another token is a new decision; a refusal is never kept.
    ({ result, crossed } = await resolve("https://beta.example.com/orders/1", acme));
    assert.deepEqual([result.ok, result.error?.status, crossed], [false, 403, 1]);
    ({ result, crossed } = await resolve("https://beta.example.com/orders/2", acme));
    assert.deepEqual([result.ok, crossed], [false, 1]);
    ({ result, crossed } = await resolve("https://acme.example.com/orders/1", await sign("acme", "write")));
    assert.deepEqual([result.ok, crossed], [true, 1]);
    // Tokenless answers are not kept, even on public paths.
    for (let i = 0; i < 2; i++) {
      ({ result, crossed } = await resolve(`https://acme.example.com/health`));
      assert.deepEqual([result.ok, result.access, crossed], [true, "public", 1]);
    }

    // With a path prefix strategy the path names the tenant through its head (`/t/acme`): a new
    // path under a known head does not cross, a new head does.
    const byPath = createTenancy(config({ strategies: [{ type: "pathPrefix", prefix: "/t/" }, { type: "jwtClaim" }] }));
    const paths = ["/t/acme/a", "/t/acme/b", "/t/acme/a/b", "/t/acme", "/x", "/y/z", "/t/beta/a"];
    const counted = [];
    for (const path of paths) {
      const before = crossings;
      const res = await byPath.resolve(new Request(`https://api.example.com${path}`, { headers: { authorization: `Bearer ${acme}` } }));
      counted.push([res.ok, res.path, crossings - before]);
    }
    assert.deepEqual(counted, [
      [true, "/a", 1],
      [true, "/b", 0],
      [true, "/a/b", 0],
      [true, "/", 0],
      [true, "/x", 1],
      [true, "/y/z", 0],
      [false, undefined, 1],
    ]);
  } finally {
    wasm.Tenancy.prototype.start = start;
  }
});

test("a first sight of a public-key token whose header was seen takes one call into wasm; a forged one still fails", async () => {
  const wasm = await import(join(ROOT, "js/dist/edge_tenancy.js"));
  const { createTenancy } = await import(join(ROOT, "js/portable.js"));
  const counted = ["start", "resumeVerdict"];
  const calls = { start: 0, resumeVerdict: 0 };
  const originals = Object.fromEntries(counted.map((name) => [name, wasm.Tenancy.prototype[name]]));
  for (const name of counted) {
    wasm.Tenancy.prototype[name] = function (...args) {
      calls[name]++;
      return originals[name].apply(this, args);
    };
  }
  try {
    const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const other = await jose.generateKeyPair("EdDSA", { crv: "Ed25519" });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: "ed", alg: "EdDSA" };
    const tenancy = createTenancy({
      resolve: { strategies: [{ type: "jwtClaim" }] },
      authenticate: { keys: [jwk], issuer: ISSUER, tenantClaim: "org", cacheTokens: 0 },
    });
    const token = (org, key = privateKey) =>
      new jose.SignJWT({ org, sub: `user-of-${org}` }).setProtectedHeader({ alg: "EdDSA", kid: "ed" }).setIssuer(ISSUER).setExpirationTime("10m").sign(key);
    const resolve = async (jwt) => {
      const before = { ...calls };
      const result = await tenancy.resolve(new Request("https://api.example.com/x", { headers: { authorization: `Bearer ${jwt}` } }));
      return [result.ok ? result.tenant : result.error.code, calls.start - before.start, calls.resumeVerdict - before.resumeVerdict];
    };
    assert.deepEqual(await resolve(await token("acme")), ["acme", 1, 1]); // the header's first sight: Rust asks
    assert.deepEqual(await resolve(await token("beta")), ["beta", 1, 0]); // checked before the one call
    assert.deepEqual(await resolve(await token("gamma", other.privateKey)), ["unauthenticated", 1, 0]);
    const [head, payload] = (await token("acme")).split(".");
    const forged = `${head}.${Buffer.from(JSON.stringify({ org: "main", sub: "x", iss: ISSUER, exp: 9999999999 })).toString("base64url")}.${(await token("acme")).split(".")[2]}`;
    assert.notEqual(payload, forged.split(".")[1]);
    assert.deepEqual(await resolve(forged), ["unauthenticated", 1, 0]);
  } finally {
    Object.assign(wasm.Tenancy.prototype, originals);
  }
});

test("the Hono middleware reads a request once: a kept answer at once, a new one with one read", async () => {
  await import(join(ROOT, "js/portable.js"));
  const { setupMultiTenancy } = await import(join(ROOT, "js/hono.js"));
  const { Hono } = await import("hono");
  const { middleware } = setupMultiTenancy(config());
  const app = new Hono();
  app.use("*", middleware);
  app.get("*", (c) => c.json({ tenant: c.get("tenantId"), path: c.get("tenancy").path }));
  const acme = await sign("acme");
  const fetchCounting = async (url) => {
    const request = new Request(url, { headers: { authorization: `Bearer ${acme}` } });
    let reads = 0;
    const get = request.headers.get.bind(request.headers);
    request.headers.get = (name) => (reads++, get(name));
    const response = await app.fetch(request);
    return [response.status, await response.json(), reads];
  };
  // Rust reads only the Authorization header here: one get per request, whether it crosses or not.
  assert.deepEqual(await fetchCounting("https://acme.example.com/orders/1"), [200, { tenant: "acme", path: "/orders/1" }, 1]);
  assert.deepEqual(await fetchCounting("https://acme.example.com/orders/2"), [200, { tenant: "acme", path: "/orders/2" }, 1]);
});

let replaying;
let fresh;
let replayingByPath;
let freshByPath;
const BY_PATH = [{ type: "pathPrefix", prefix: "/t/" }, { type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }];
before(async () => {
  const script = bundleWithWrangler(join(ROOT, "tests/workers/pipeline"));
  const start = (options) => startWorker({ scriptPath: script, bindings: { TENANCY_CONFIG: JSON.stringify(config(options)) } });
  [replaying, fresh, replayingByPath, freshByPath] = await Promise.all([
    start(),
    start({ cacheTokens: 0 }),
    start({ strategies: BY_PATH }),
    start({ strategies: BY_PATH, cacheTokens: 0 }),
  ]);
});
after(async () => {
  for (const worker of [replaying, fresh, replayingByPath, freshByPath]) await worker?.dispose();
});

/** The same random sequence of requests to an isolate that replays and one that keeps nothing. */
async function compare(replayingWorker, freshWorker, paths) {
  const tokens = [await sign("acme"), await sign("beta"), await sign("main", "tenants:admin"), undefined];
  const hosts = ["acme.example.com", "beta.example.com", "example.com", "www.example.com"];
  let seed = 7;
  const random = (n) => ((seed = (seed * 48271) % 2147483647), seed % n);
  let passed = 0;
  for (let i = 0; i < 300; i++) {
    const token = tokens[random(tokens.length)];
    const url = `https://${hosts[random(hosts.length)]}${paths[random(paths.length)]}`;
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const [a, b] = await Promise.all([replayingWorker.mf.dispatchFetch(url, { headers }), freshWorker.mf.dispatchFetch(url, { headers })]);
    const [bodyA, bodyB] = [await json(a), await json(b)];
    assert.deepEqual([a.status, bodyA], [b.status, bodyB], `${url} with ${token === undefined ? "no token" : "a token"}`);
    if (a.status === 200) passed++;
  }
  assert.ok(passed > 50, `only ${passed} requests passed: the sequence tests little`);
}

test("in workerd, replayed answers are the pipeline's own for every path, query, host and token", async () => {
  await compare(replaying, fresh, ["/", "/x", "/x/y", "/health", "/health/", "/health/z", "/healthz", "/docs", "/docs/a", "/x?tenant=beta", "/health?x=1"]);
});

test("in workerd, with a path prefix too", async () => {
  await compare(replayingByPath, freshByPath, ["/", "/x", "/t/acme", "/t/acme/", "/t/acme/x", "/t/acme/x/y", "/t/beta/x", "/t/main/x", "/t/", "/t/ACME/x", "/t/health", "/health", "/health/z"]);
});

test("a key-set change on a fault path empties the kept answers before the next request", async () => {
  const { createServer } = await import("node:http");
  const wasm = await import(join(ROOT, "js/dist/edge_tenancy.js"));
  const { createTenancy } = await import(join(ROOT, "js/portable.js"));
  const pair = async (kid) => {
    const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    return { jwk: { ...(await jose.exportJWK(publicKey)), kid, alg: "EdDSA" }, privateKey };
  };
  const signWith = (key) =>
    new jose.SignJWT({ org: "acme", sub: "user-of-acme" }).setProtectedHeader({ alg: "EdDSA", kid: key.jwk.kid }).setIssuer(ISSUER).setExpirationTime("10m").sign(key.privateKey);
  const provider = { keys: [] };
  const server = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: provider.keys.map((k) => k.jwk) })));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const original = wasm.Tenancy.prototype.resumeJwks;
  const start = wasm.Tenancy.prototype.start;
  let crossings = 0;
  wasm.Tenancy.prototype.start = function (...args) {
    crossings++;
    return start.apply(this, args);
  };
  // Two ways a binding can break right after it installed a new key set: an answer the driver
  // does not know (the fault path) and a throw.
  const breakages = {
    "an unknown answer": (json) => JSON.stringify({ ...JSON.parse(json), io: { unknown: true }, run: 0, ticket: 0 }),
    "a throw": () => {
      throw new Error("the binding broke");
    },
  };
  try {
    for (const [name, breakage] of Object.entries(breakages)) {
      const one = await pair("one");
      const two = await pair("two");
      provider.keys = [one];
      let now = Date.now();
      const tenancy = createTenancy(
        {
          resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }] },
          authenticate: { jwksUrl: `http://127.0.0.1:${server.address().port}/jwks`, jwksRefresh: { maxAgeSecs: 3600, minIntervalSecs: 1 }, issuer: ISSUER, tenantClaim: "org" },
        },
        { clock: () => now },
      );
      const resolve = async (token) => {
        const before = crossings;
        const result = await tenancy.resolve(new Request("https://acme.example.com/x", { headers: { authorization: `Bearer ${token}` } })).catch((error) => ({ thrown: error }));
        return [result.thrown ? "threw" : result.ok ? 200 : result.error.status, crossings - before];
      };
      const old = await signWith(one);
      assert.deepEqual(await resolve(old), [200, 1], name);
      assert.deepEqual(await resolve(old), [200, 0], `${name}: replayed`);
      // "one" is withdrawn (leaked, say) and "two" published; two's first token makes the isolate
      // fetch the new set, and the binding breaks right after installing it.
      provider.keys = [two];
      now += 2000;
      wasm.Tenancy.prototype.resumeJwks = function (...args) {
        return breakage(original.apply(this, args));
      };
      const [status] = await resolve(await signWith(two));
      assert.ok([503, "threw"].includes(status), `${name}: ${status}`);
      wasm.Tenancy.prototype.resumeJwks = original;
      // The answer kept for "one" is gone with its key set: the request crosses and is refused.
      assert.deepEqual(await resolve(old), [401, 1], `${name}: the withdrawn key's answer is not replayed`);
      assert.deepEqual(await resolve(await signWith(two)), [200, 1], name);
    }
  } finally {
    wasm.Tenancy.prototype.resumeJwks = original;
    wasm.Tenancy.prototype.start = start;
    server.close();
  }
});
