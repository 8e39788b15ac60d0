// Replayed answers against Rust's own: for each configuration, a tenancy that replays kept answers
// (the default cacheTokens) and one that keeps nothing (cacheTokens: 0) answer the same random
// requests, on one fake clock, and must answer each identically. The JS key (urlParts, tenantHead,
// keyOf in js/index.js) is a second copy of Rust's `Reuse` rules: this is what proves it.
//
// The requests come from small pools, so the same inputs repeat often (and are replayed), while
// what must not matter (the path past the tenant head, an unread query, the fragment, unread
// headers) varies too, along with what an attacker would try. Deterministic from a seed:
//   REPLAY_DIFF_SEED=<seed> REPLAY_DIFF_REQUESTS=<total> node --test tests/replay-differential.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isDeepStrictEqual, inspect } from "node:util";
import * as jose from "jose";
import { ROOT } from "./helpers.mjs";

const ISSUER = "https://auth.example.com/";
const SECRET = "a replay test secret of at least 32 bytes!";
const key = new TextEncoder().encode(SECRET);
const otherKey = new TextEncoder().encode("another secret, not the configured one!!");

const SEED = process.env.REPLAY_DIFF_SEED !== undefined ? Number(process.env.REPLAY_DIFF_SEED) >>> 0 : crypto.getRandomValues(new Uint32Array(1))[0];
const TOTAL = process.env.REPLAY_DIFF_REQUESTS !== undefined ? Number(process.env.REPLAY_DIFF_REQUESTS) : 14400;
const RERUN = `REPLAY_DIFF_SEED=${SEED} REPLAY_DIFF_REQUESTS=${TOTAL} node --test tests/replay-differential.test.mjs`;

// The clock starts at a fixed time, so a seed replays the same tokens and the same expiries.
const T0 = 1_800_000_000_000;
const LEEWAY_MS = 60_000;
const MAX_REPLAY_MS = 300_000;

const BASES = ["example.com", "other.org", "eu.example.com"];
const PUBLIC = ["/health", "/docs/"];
const PUBLIC_ROOT = ["/health", "/docs/", "/"];

function config({ strategies, controlPlaneTenant, trustForwardedHost, publicPaths = PUBLIC, authenticate = {} }) {
  return {
    resolve: { strategies, ...(controlPlaneTenant && { controlPlaneTenant }), ...(trustForwardedHost && { trustForwardedHost }) },
    authenticate: { secrets: [{ secret: SECRET, alg: "HS256", kid: "hs" }], issuer: ISSUER, tenantClaim: "org", ...authenticate },
    access: { publicPaths },
  };
}

const subdomain = { type: "subdomain", baseDomains: BASES, reserved: ["docs"] };
const nested = { type: "subdomain", baseDomains: ["example.com", "other.org"], nested: true, reserved: ["eu"], replaceReserved: true };
const customDomain = {
  type: "customDomain",
  domains: { "shop.acme.com": "acme", "acme.example.com": "acme", "store.beta.io": "beta", "main.example.com": "main", "beta.other.org": "gamma" },
};
const header = { type: "header", name: "x-tenant" };
const t = { type: "pathPrefix", prefix: "/t/" };
const org = { type: "pathPrefix", prefix: "/org/" };
const jwtClaim = { type: "jwtClaim" };
const query = { type: "query", name: "tenant" };

// Every strategy alone, then combined in different orders. `replaying` is the replaying
// tenancy's own authenticate settings (one keeps only 8 answers, so eviction is exercised too).
const CONFIGS = [
  { name: "subdomain", config: config({ strategies: [subdomain], controlPlaneTenant: "main" }) },
  { name: "subdomain nested, replaceReserved", config: config({ strategies: [nested], publicPaths: ["/health"] }) },
  { name: "customDomain", config: config({ strategies: [customDomain], controlPlaneTenant: "main" }) },
  { name: "header, / public", config: config({ strategies: [header], publicPaths: PUBLIC_ROOT }) },
  { name: "pathPrefix /t/", config: config({ strategies: [t], controlPlaneTenant: "main" }) },
  { name: "pathPrefix /org/ and /t/, jwtClaim", config: config({ strategies: [org, t, jwtClaim] }) },
  { name: "jwtClaim", config: config({ strategies: [jwtClaim], controlPlaneTenant: "main" }) },
  { name: "query, / public", config: config({ strategies: [query], controlPlaneTenant: "main", publicPaths: PUBLIC_ROOT }) },
  {
    name: "subdomain, header, pathPrefix, jwtClaim, trustForwardedHost",
    config: config({ strategies: [subdomain, header, t, jwtClaim], controlPlaneTenant: "main", trustForwardedHost: true }),
  },
  {
    name: "query, pathPrefix, customDomain, subdomain nested, jwtClaim, requireExp false",
    config: config({ strategies: [query, t, customDomain, nested, jwtClaim], controlPlaneTenant: "main", authenticate: { requireExp: false } }),
  },
  {
    name: "jwtClaim, header, subdomain, query, 8 answers kept",
    config: config({ strategies: [jwtClaim, header, subdomain, query], publicPaths: [] }),
    replaying: { cacheTokens: 8 },
  },
  {
    name: "header, customDomain, pathPrefix /org/, query, trustForwardedHost",
    config: config({ strategies: [header, customDomain, org, query], controlPlaneTenant: "main", trustForwardedHost: true, publicPaths: ["/docs/"] }),
  },
];

// A small LCG: the same seed gives the same requests, clock steps and tokens.
function lcg(seed) {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < 8; i++) next();
  const rng = {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    // One value of `pool`, a list of [weight, value]: the first ones are the common ones.
    pick(pool) {
      let r = next() * pool.reduce((sum, [w]) => sum + w, 0);
      for (const [w, value] of pool) if ((r -= w) < 0) return typeof value === "function" ? value(rng) : value;
      return pool[pool.length - 1][1];
    },
  };
  return rng;
}

// Hosts as written in the URL; `new Request` lower-cases them, drops :443 from https and turns
// Unicode into punycode, as workerd does.
const HOSTS = [
  [100, "acme.example.com"],
  [8, "beta.example.com"],
  [5, "api.example.com"],
  [4, "shop.acme.com"],
  [3, "main.example.com"],
  [3, "ACME.example.com"],
  [3, "acme.example.com."],
  [2, "acme.example.com:443"],
  [2, "acme.example.com:8443"],
  [2, "www.example.com"],
  [2, "docs.example.com"],
  [2, "example.com"],
  [3, "eu.acme.example.com"],
  [1, "x.y.acme.example.com"],
  [2, "acme.eu.example.com"],
  [3, "acme.other.org"],
  [2, "beta.other.org"],
  [1, "store.beta.io"],
  [1, "SHOP.ACME.COM."],
  [2, "acme.example.com.evil.com"],
  [1, "evilexample.com"],
  [1, "127.0.0.1"],
  [1, "127.0.0.1:8787"],
  [1, "[::1]"],
  [1, "[::1]:8443"],
  [1, "xn--bcher-kva.example.com"],
  [1, "bücher.example.com"],
  [1, `${"a".repeat(63)}.example.com`],
  [1, `${"a".repeat(64)}.example.com`],
  [1, "ab--c.example.com"],
  [1, "a_b.example.com"],
  [1, "-acme.example.com"],
  [1, "acme-.example.com"],
];
// Many distinct paths, but only a few tenant heads and publicness values among them.
const PATHS = [
  [25, (r) => `/orders/${r.int(50)}`],
  [6, "/"],
  [4, "/health"],
  [2, (r) => `/health/${r.int(5)}`],
  [2, "/healthz"],
  [2, "/docs"],
  [2, "/docs/"],
  [2, (r) => `/docs/a/${r.int(5)}`],
  [3, "/t/acme"],
  [3, "/t/acme/"],
  [12, (r) => `/t/acme/orders/${r.int(50)}`],
  [4, (r) => `/t/beta/x/${r.int(5)}`],
  [2, "/t/acme/health"],
  [2, "/t/main/x"],
  [1, "/t/ACME/x"],
  [1, "/t//x"],
  [1, "/t/"],
  [1, "/t"],
  [1, "/T/acme/x"],
  [1, "/%74/acme/x"],
  [1, "/t/%61cme/x"],
  [1, "/t/acme%2Fbeta/x"],
  [1, "/t/acme/../beta/x"],
  [1, "/t/./acme/x"],
  [1, "/health/../t/acme"],
  [1, "/t/%2e%2e/x"],
  [1, `/t/${"a".repeat(64)}/x`],
  [1, "/t/ab--c/x"],
  [5, (r) => `/org/acme/${r.int(20)}`],
  [2, "/org/beta"],
  [1, "/org//x"],
];
// Where a client's paths mostly go: under one tenant head, or under none.
const HOMES = [
  [4, ""],
  [3, "/t/acme"],
  [1, "/org/acme"],
  [1, "/t/beta"],
  [1, "/t/main"],
];
const TAILS = [
  [10, (r) => `/orders/${r.int(50)}`],
  [2, "/health"],
  [1, (r) => `/docs/${r.int(5)}`],
  [1, "/"],
  [1, ""],
];
const QUERIES = [
  [60, ""],
  [8, (r) => `?page=${r.int(3)}`],
  [15, "?tenant=acme"],
  [3, "?tenant=beta"],
  [3, (r) => `?tenant=acme&page=${r.int(3)}`],
  [1, "?tenant=acme&tenant=beta"],
  [1, "?tenant=acme&tenant=acme"],
  [1, "?tenant="],
  [1, "?tenant"],
  [1, "?Tenant=acme"],
  [1, "?tenant=ACME"],
  [1, "?tenant=%61cme"],
  [1, "?"],
  [1, "?x=1&tenant=main"],
];
const FRAGMENTS = [
  [30, ""],
  [3, "#top"],
  [2, "#?tenant=beta"],
  [1, "#/t/beta"],
  [1, "#"],
];
// Header values as sent; Headers trims the outer spaces, as workerd does.
const X_TENANT = [
  [70, null],
  [25, "acme"],
  [5, "beta"],
  [1, "ACME"],
  [1, " acme "],
  [1, "acme, beta"],
  [1, ["acme", "beta"]], // sent twice: joined by ", "
  [2, "main"],
  [1, "a b"],
  [1, ""],
];
const X_FORWARDED_HOST = [
  [80, null],
  [15, "acme.example.com"],
  [4, "beta.example.com"],
  [2, "shop.acme.com"],
  [1, "evil.com"],
  [1, "ACME.EXAMPLE.COM:8443"],
  [1, "acme.example.com, beta.example.com"],
  [1, ["acme.example.com", "beta.example.com"]],
  [1, "evil@acme.example.com"],
];
const SCHEMES = [
  [90, "Bearer "],
  [6, "bearer "],
  [2, "BEARER "],
  [2, "Bearer  "],
];
const OTHER_AUTHORIZATIONS = [
  [3, "Basic dXNlcjpwYXNz"],
  [2, "Bearer"],
  [1, "Token abc"],
];
// Token kinds of one epoch, by weight; each is signed afresh at every epoch, relative to its clock.
const KINDS = [
  [60, "acme"], // exp in 150 s: valid for 210 s with the leeway
  [12, "acme/mid"], // exp in 400 s
  [8, "acme/day"], // exp in a day: replayed for 300 s at most
  [8, "beta"],
  [6, "main/admin"],
  [3, "main/user"],
  [3, "gamma"],
  [2, "acme/noexp"],
  [2, "acme/frac-exp"],
  [2, "none"],
  [1, "acme/expired"],
  [2, "acme/in-leeway"],
  [2, "acme/nbf"], // valid only after 60 s of the epoch
  [1, "acme/nbf-in-leeway"],
  [1, "acme/issuer"],
  [1, "acme/forged"],
  [1, "main/tampered"],
  [1, "ACME"],
  [2, "acme/attach"],
  [1, "acme/far-exp"],
];
const GARBAGE = { "token:garbage": "garbage", "token:dots": "a.b.c", "token:alg-none": "eyJhbGciOiJub25lIn0.eyJvcmciOiJhY21lIn0." };

function claimsOf(kind, now) {
  const [tenant, variant] = kind.split("/");
  const claims = { iss: ISSUER, sub: `user-of-${kind}`, org: tenant, scope: "read", exp: now + 300 };
  switch (variant ?? kind) {
    case "acme":
      return { ...claims, exp: now + 150 };
    case "mid":
      return { ...claims, scope: "read write", exp: now + 400 };
    case "day":
      return { ...claims, exp: now + 86400 };
    case "admin":
      return { ...claims, scope: "tenants:admin read", exp: now + 250 };
    case "user":
      return { ...claims, exp: now + 250 };
    case "noexp":
      return { ...claims, exp: undefined };
    case "frac-exp":
      return { ...claims, exp: now + 100.5 };
    case "none":
      return { ...claims, org: undefined };
    case "expired":
      return { ...claims, exp: now - 61 };
    case "in-leeway":
      return { ...claims, exp: now - 30 };
    case "nbf":
      return { ...claims, nbf: now + 120 };
    case "nbf-in-leeway":
      return { ...claims, nbf: now + 30 };
    case "issuer":
      return { ...claims, iss: "https://evil.example.com/" };
    case "tampered":
      return { ...claims, scope: "tenants:admin" };
    case "attach":
      return { ...claims, attach: ["shared", "acme-archive"] };
    case "far-exp":
      return { ...claims, exp: 99999999999 };
    default:
      return claims;
  }
}

const signed = (claims, secret = key) => new jose.SignJWT(JSON.parse(JSON.stringify(claims))).setProtectedHeader({ alg: "HS256", kid: "hs" }).sign(secret);

// The tokens of one epoch, minted at `now` (ms), by label.
async function mint(epoch, now) {
  const secs = Math.floor(now / 1000);
  const tokens = {};
  for (const [, kind] of KINDS) {
    const claims = claimsOf(kind, secs);
    let token = await signed(claims, kind === "acme/forged" ? otherKey : key);
    if (kind === "main/tampered") {
      // A control-plane admin's claims under a signature made for an acme token.
      const real = (await signed({ ...claims, org: "acme", scope: "read" })).split(".");
      token = `${real[0]}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${real[2]}`;
    }
    tokens[`token:${kind}@e${epoch}`] = token;
  }
  return tokens;
}

let wasm;
let createTenancy;
let startCalls = 0;
let start;

before(async () => {
  wasm = await import(join(ROOT, "js/dist/edge_tenancy.js"));
  ({ createTenancy } = await import(join(ROOT, "js/portable.js")));
  // Every call into wasm is counted: a request the replaying tenancy answers without one was
  // replayed.
  start = wasm.Tenancy.prototype.start;
  wasm.Tenancy.prototype.start = function (...args) {
    startCalls++;
    return start.apply(this, args);
  };
});

after(() => {
  wasm.Tenancy.prototype.start = start;
});

const totals = { requests: 0, keepable: 0, replays: 0 };

// A client: what stays the same across its requests (host, headers, token, mostly its query,
// often the tenant head of its paths).
function client(r, epoch) {
  const raw = r.chance(0.08); // a request-like object whose URL nothing normalized
  const headers = [];
  const add = (name, value, shown = value) => headers.push([name, value, shown]);
  const tenant = r.pick(X_TENANT);
  if (tenant !== null) for (const value of [tenant].flat()) add("x-tenant", value);
  const forwarded = r.pick(X_FORWARDED_HOST);
  if (forwarded !== null) for (const value of [forwarded].flat()) add("x-forwarded-host", value);
  const auth = r.next();
  if (auth < 0.85) {
    // A token of this epoch mostly, of the one before sometimes (expired by now, mostly); the
    // token goes in by label, and only the label is ever printed.
    const of = r.chance(0.9) || epoch === 0 ? epoch : epoch - 1;
    const label = r.chance(0.02) ? r.pick(Object.keys(GARBAGE).map((l) => [1, l])) : `token:${r.pick(KINDS)}@e${of}`;
    const scheme = r.pick(SCHEMES);
    for (let i = r.chance(0.01) ? 2 : 1; i > 0; i--) add("authorization", { scheme, label }, `${scheme}<${label}>`);
  } else if (auth < 0.93) {
    add("authorization", r.pick(OTHER_AUTHORIZATIONS));
  }
  return {
    scheme: r.chance(0.85) ? "https" : "http",
    raw,
    userinfo: raw ? r.pick([[6, ""], [1, "evil@"], [1, "acme.example.com@"], [1, "user:pw@"]]) : "",
    host: raw ? r.pick([[10, (r2) => r2.pick(HOSTS)], [1, "acme.example.com\\t\\beta"], [1, ""]]) : r.pick(HOSTS),
    home: r.pick(HOMES),
    query: r.pick(QUERIES),
    headers,
  };
}

// One random request: half the time from one of the last few clients (so inputs repeat and
// answers are replayed), on a new path and fragment, and now and then a new query.
function draw(r, tokens, epoch, clients) {
  let c = clients.length > 0 && r.chance(0.5) ? clients[r.int(clients.length)] : undefined;
  if (c === undefined || c.headers.some(([, v]) => v.label !== undefined && !tokens.has(v.label))) {
    c = client(r, epoch);
    clients.push(c);
    if (clients.length > 8) clients.shift();
  }
  const query = r.chance(0.7) ? c.query : r.pick(QUERIES);
  const path = r.chance(0.5) ? `${c.home}${r.pick(TAILS)}` || "/" : r.pick(PATHS);
  const url = `${c.scheme}://${c.userinfo}${c.host}${path}${query}${r.pick(FRAGMENTS)}`;
  const headers = c.headers.map(([name, v]) => [name, v.label === undefined ? v : `${v.scheme}${tokens.get(v.label)}`]);
  return { url, raw: c.raw, headers, shown: c.headers.map(([name, , shown]) => `${name}: ${shown}`) };
}

function requestOf({ url, raw, headers }) {
  const init = new Headers();
  for (const [name, value] of headers) init.append(name, value);
  // The package reads only `url` and `headers.get`; a plain object keeps the URL as written.
  return raw ? { url, headers: init } : new Request(url, { headers: init });
}

// What must be equal: a success whole, a failure by status and code.
const outcome = (result) => (result.ok ? { ...result } : { ok: false, status: result.error.status, code: result.error.code });

const describe = (index, drawn, now, request) =>
  `#${index} at clock ${now} (T0 + ${(now - T0) / 1000} s): ${drawn.raw ? "request-like object" : "Request"} ${JSON.stringify(request.url)}` +
  (drawn.url === request.url ? "" : ` (as written ${JSON.stringify(drawn.url)})`) +
  `\n    headers: ${drawn.shown.length ? drawn.shown.map((h) => JSON.stringify(h)).join(", ") : "none"}`;

for (const [configIndex, { name, config: base, replaying: own = {} }] of CONFIGS.entries()) {
  test(`replayed answers equal fresh ones: ${name}`, async (ctx) => {
    const count = Math.ceil(TOTAL / CONFIGS.length);
    const r = lcg((SEED + Math.imul(configIndex + 1, 0x9e3779b9)) >>> 0);
    let now = T0;
    const clock = () => now;
    const replaying = createTenancy({ ...base, authenticate: { ...base.authenticate, ...own } }, { clock });
    const fresh = createTenancy({ ...base, authenticate: { ...base.authenticate, cacheTokens: 0 } }, { clock });

    const tokens = new Map(); // label → token
    let epoch = -1;
    let mintedAt = -Infinity;
    let epochLength = 0;
    const expiries = []; // (exp + leeway) in ms of this epoch's tokens: clock steps land on them
    const clients = [];
    let lastCrossedSuccess = null; // when the replaying tenancy last kept an answer
    const origins = new WeakMap(); // principal of a kept answer → the request it was reached for
    const stats = { requests: 0, successes: 0, keepable: 0, replays: 0, mismatches: [] };
    for (const [label, token] of Object.entries(GARBAGE)) tokens.set(label, token);

    for (let index = 0; index < count; index++) {
      // The clock: mostly small steps, sometimes past a token's expiry or the 300 s replay cap,
      // sometimes onto either side of those very instants.
      const step = r.next();
      if (step < 0.9) now += r.int(500);
      else if (step < 0.97) now += 1000 + r.int(10_000);
      else if (step < 0.985) now += 20_000 + r.int(80_000);
      else if (step < 0.992) now += 300_000 + r.int(100_000);
      else if (step < 0.996 && expiries.length) now = Math.max(now, expiries[r.int(expiries.length)] + r.int(3) - 1);
      else if (step < 1 && lastCrossedSuccess !== null) now = Math.max(now, lastCrossedSuccess + MAX_REPLAY_MS + r.int(3) - 1);
      if (r.chance(0.01)) now += 0.5; // a clock with sub-millisecond precision
      if (now - mintedAt >= epochLength) {
        mintedAt = now;
        epochLength = 300_000 + r.int(600_000);
        epoch++;
        const minted = await mint(epoch, now);
        expiries.length = 0;
        for (const [label, token] of Object.entries(minted)) {
          tokens.set(label, token);
          const exp = JSON.parse(Buffer.from(token.split(".")[1], "base64url")).exp;
          if (typeof exp === "number" && exp < 1e10) expiries.push(Math.floor(exp) * 1000 + LEEWAY_MS);
        }
        for (const label of tokens.keys()) if (label.endsWith(`@e${epoch - 2}`)) tokens.delete(label);
      }

      const drawn = draw(r, tokens, epoch, clients);
      const request = requestOf(drawn);
      const before = startCalls;
      const replayed = await replaying.resolve(request);
      const crossed = startCalls - before;
      const answer = await fresh.resolve(request);
      stats.requests++;
      if (answer.ok) stats.successes++;
      if (answer.ok && answer.principal !== null) stats.keepable++;
      if (replayed.ok && crossed === 0) stats.replays++;
      if (replayed.ok && crossed > 0 && replayed.principal !== null) {
        lastCrossedSuccess = now;
        origins.set(replayed.principal, describe(index, drawn, now, request));
      }
      if (!isDeepStrictEqual(outcome(replayed), outcome(answer))) {
        const origin = crossed === 0 ? `replayed the answer kept for ${origins.get(replayed.principal) ?? "(unknown)"}` : "crossed into wasm";
        const show = (result) => inspect(outcome(result), { depth: 4, breakLength: Infinity });
        stats.mismatches.push(`${describe(index, drawn, now, request)}\n    ${origin}\n    replaying: ${show(replayed)}\n    fresh:     ${show(answer)}`);
      }
    }

    totals.requests += stats.requests;
    totals.keepable += stats.keepable;
    totals.replays += stats.replays;
    ctx.diagnostic(`seed ${SEED}: ${stats.requests} requests, ${stats.successes} successes, ${stats.keepable} with a principal, ${stats.replays} replayed`);
    const where = `seed ${SEED}, config "${name}" (${RERUN})\n  config: ${JSON.stringify(base)}`;
    assert.equal(
      stats.mismatches.length,
      0,
      `replaying and fresh answers differ for ${stats.mismatches.length} of ${stats.requests} requests; ${where}\n  ${stats.mismatches.slice(0, 3).join("\n  ")}`,
    );
    assert.equal(stats.requests, count, where);
    // Replays must really happen: a healthy share of the answers that can be kept (those with a
    // principal: a member's or an administrator's) were replayed.
    assert.ok(stats.keepable >= count * 0.02, `only ${stats.keepable} answers with a principal of ${count}; ${where}`);
    assert.ok(stats.replays >= stats.keepable * 0.2, `only ${stats.replays} replays of ${stats.keepable} answers with a principal; ${where}`);
  });
}

test("the run covered enough requests, with replays", () => {
  const expected = Math.ceil(TOTAL / CONFIGS.length) * CONFIGS.length;
  assert.equal(totals.requests, expected, `seed ${SEED}`);
  if (process.env.REPLAY_DIFF_REQUESTS === undefined) assert.ok(totals.requests >= 10_000, `seed ${SEED}: ${totals.requests} requests`);
  assert.ok(totals.replays >= totals.keepable * 0.3, `seed ${SEED}: ${totals.replays} replays of ${totals.keepable} answers with a principal`);
});
