// Who gets in on public paths (`access.publicPaths`), through the Hono middleware of
// edge-tenancy/hono in workerd, under every resolve strategy: one table of cells per strategy
// (path × token → status, access, principal, injected adapters), generated from the rules below.
//
// On a public path of a tenant: no token is anonymous ("public", no principal); the tenant's own
// token is a member and a control-plane administrator's an admin, principal kept; any other valid
// token (another tenant's, one bound to no tenant, a control-plane token without the admin scope)
// is served as anonymous, its principal dropped; a token that is sent is always checked (expired,
// forged, malformed: 401). An anonymous caller gets no adapters at c.env.data unless
// databaseIsolation.allowAnonymous is set; the control-plane tenant never gets any. Under jwtClaim
// alone the token names the tenant, so another tenant's token is a member of its own tenant. Off
// public paths: member, admin, else 403, and 401 without a token. A path is public when it is a
// public path or continues one with `/`, judged on the path routed on (the context's path: under
// a path prefix `/t/acme/health` is acme's `/health`). Every request is sent twice: a replayed
// answer is the first one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, bundleWithWrangler, startWorker, json } from "./helpers.mjs";

const SECRET = "public-paths-spec-secret-0123456789abcdef";
const WRONG_SECRET = "not-the-public-paths-secret-0123456789abcdef";
const AUTHENTICATE = { secrets: [{ secret: SECRET, alg: "HS256" }], tenantClaim: "org" };
const PUBLIC_PATHS = ["/health", "/docs/"];

// Each table: its strategy, the settings the worker is given, and the URL (and headers) of a path
// of tenant acme. `source` is the context's source when the strategy names acme.
const TABLES = {
  subdomain: {
    strategy: { type: "subdomain", baseDomains: ["example.com"] },
    request: (path) => ({ url: `https://acme.example.com${path}` }),
  },
  customDomain: {
    strategy: { type: "customDomain", domains: { "shop.acme.test": "acme", "shop.beta.test": "beta" } },
    request: (path) => ({ url: `https://shop.acme.test${path}` }),
  },
  header: {
    strategy: { type: "header", name: "x-tenant" },
    request: (path) => ({ url: `https://api.example.net${path}`, headers: { "x-tenant": "acme" } }),
  },
  query: {
    strategy: { type: "query", name: "tenant" },
    request: (path) => ({ url: `https://api.example.net${path}?tenant=acme` }),
  },
  // The path names the tenant: `path` is the whole request path. `/health` names none (the
  // control-plane tenant); `/t/acme/health` is acme's `/health`.
  pathPrefix: {
    strategy: { type: "pathPrefix", prefix: "/t/" },
    request: (path) => ({ url: `https://api.example.net${path}` }),
  },
  // The token names the tenant; without one (or with one bound to none) it is the control plane.
  jwtClaim: {
    strategy: { type: "jwtClaim" },
    request: (path) => ({ url: `https://api.example.net${path}` }),
  },
  // The opt-in: anonymous callers on public paths get the tenant's adapters too.
  allowAnonymous: {
    strategy: { type: "subdomain", baseDomains: ["example.com"] },
    allowAnonymous: true,
    request: (path) => ({ url: `https://acme.example.com${path}` }),
  },
};
for (const table of Object.values(TABLES)) table.publicPaths ??= PUBLIC_PATHS;

const settings = (table) => ({
  resolve: { strategies: [table.strategy] },
  authenticate: AUTHENTICATE,
  access: { publicPaths: table.publicPaths },
  ...(table.allowAnonymous === undefined ? {} : { allowAnonymous: table.allowAnonymous }),
});

// The tokens a caller may send. `tenant`: the claim (null: none); `admin`: the admin scope;
// `bad`: refused whatever the path (401).
const key = new TextEncoder().encode(SECRET);
const wrongKey = new TextEncoder().encode(WRONG_SECRET);
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims, { with: k = key, exp = "10m" } = {}) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime(exp).sign(k);
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");

const KINDS = {
  none: { authorization: async () => undefined },
  own: { tenant: "acme", sub: "acme-user", authorization: async () => `Bearer ${await sign({ org: "acme", sub: "acme-user" })}` },
  admin: {
    tenant: "main",
    sub: "ops",
    admin: true,
    authorization: async () => `Bearer ${await sign({ org: "main", sub: "ops", scope: "tenants:admin" })}`,
  },
  other: { tenant: "beta", sub: "beta-user", authorization: async () => `Bearer ${await sign({ org: "beta", sub: "beta-user" })}` },
  noTenant: { tenant: null, sub: "loner", authorization: async () => `Bearer ${await sign({ sub: "loner", scope: "read" })}` },
  cpMember: { tenant: "main", sub: "main-user", authorization: async () => `Bearer ${await sign({ org: "main", sub: "main-user", scope: "read write" })}` },
  expired: { bad: true, authorization: async () => `Bearer ${await sign({ org: "acme", sub: "acme-user" }, { exp: now() - 3600 })}` },
  forged: { bad: true, authorization: async () => `Bearer ${await sign({ org: "acme", sub: "acme-user" }, { with: wrongKey })}` },
  forgedAdmin: {
    bad: true,
    authorization: async () => `Bearer ${await sign({ org: "main", sub: "ops", scope: "tenants:admin" }, { with: wrongKey })}`,
  },
  unsigned: {
    bad: true,
    authorization: async () => `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ org: "main", sub: "ops", scope: "tenants:admin", exp: now() + 600 })}.`,
  },
  basic: { bad: true, authorization: async () => "Basic x" },
  garbage: { bad: true, authorization: async () => "Bearer garbage" },
  bearerOnly: { bad: true, authorization: async () => "Bearer" },
};
const ALL_KINDS = Object.keys(KINDS);
const VALID_KINDS = ["none", "own", "admin", "other", "noTenant", "cpMember"];
// Paths that must not be taken for public ones: the hidden cases an attacker tries first.
const NOT_PUBLIC = ["/healthz", "/HEALTH", "//health", "/%68ealth", "/health%2F..%2Fadmin", "/doc", "/docsx", "/health/../admin", "/x/health"];
const HIDDEN_KINDS = ["none", "own", "other", "noTenant"];

/** Whether `path` (the path routed on) is public under `publicPaths`, by the rule. */
function isPublic(publicPaths, path) {
  return publicPaths.some((p) => {
    const base = p.replace(/\/+$/, "") || "/";
    return base === "/" || path === base || path.startsWith(`${base}/`);
  });
}

/** What the rules say a request of `kind` to `path` under `table` gets. */
function expected(name, table, path, kind) {
  const token = KINDS[kind];
  if (token.bad) return { status: 401, code: "unauthenticated", tokenSent: true };
  const { url } = table.request(path);
  const own = new URL(url).pathname; // as the URL parser leaves it: /health/../admin is /admin
  let tenant = "acme";
  let source = table.strategy.type;
  let contextPath = own;
  if (name === "jwtClaim") {
    if (typeof token.tenant === "string") tenant = token.tenant;
    else [tenant, source] = ["main", "controlPlane"];
  } else if (name === "pathPrefix") {
    const named = /^\/t\/([^/]+)(\/.*)?$/.exec(own);
    if (named) [tenant, contextPath] = [named[1], named[2] ?? "/"];
    else [tenant, source] = ["main", "controlPlane"];
  }
  // Judged on the path routed on: under a path prefix `/t/acme/health` is acme's `/health`.
  const open = isPublic(table.publicPaths, contextPath);
  let access;
  if (token.tenant !== undefined && token.tenant === tenant) access = "member";
  else if (token.admin) access = "admin";
  else if (open) access = "public";
  else if (kind === "none") return { status: 401, code: "unauthenticated", tokenSent: false };
  else return { status: 403, code: "forbidden" };
  const anonymous = access === "public";
  return {
    status: 200,
    body: {
      tenant,
      source,
      path: contextPath,
      access,
      principal: anonymous ? null : token.sub,
      administrator: !anonymous && token.admin === true,
      tenantId: tenant,
      principalVar: anonymous ? null : token.sub,
      injected: tenant !== "main" && (!anonymous || table.allowAnonymous === true) ? tenant : null,
    },
  };
}

/** The cells of a table: [path, kinds] groups, expanded. */
function cellsOf(name) {
  const groups =
    name === "pathPrefix"
      ? [
          [["/t/acme/health", "/t/acme/health/", "/t/acme/health/x", "/t/acme/docs", "/t/acme/docs/a"], ALL_KINDS], // acme's public paths
          [["/health", "/health/x", "/docs", "/docs/a"], ALL_KINDS], // public, naming no tenant
          [["/t/acme/x", "/t/acme/orders/1"], ALL_KINDS],
          [["/t/acme/healthz", "/t/acme//health", "/t/acme/HEALTH", "/t/acme/%68ealth", "/x/t/acme/health", ...NOT_PUBLIC], HIDDEN_KINDS],
        ]
      : name === "allowAnonymous"
        ? [
            [["/health", "/docs/a"], VALID_KINDS],
            [["/x"], VALID_KINDS],
          ]
        : [
            [["/health", "/health/", "/health/x", "/docs", "/docs/a"], ALL_KINDS],
            [["/x", "/orders/1"], ALL_KINDS],
            [NOT_PUBLIC, HIDDEN_KINDS],
          ];
  return groups.flatMap(([paths, kinds]) => paths.flatMap((path) => kinds.map((kind) => ({ path, kind }))));
}

let worker;
before(async () => {
  const scriptPath = bundleWithWrangler(join(ROOT, "tests/workers/public-paths"));
  const configs = Object.fromEntries(Object.entries(TABLES).map(([name, table]) => [name, settings(table)]));
  worker = await startWorker({ scriptPath, bindings: { TENANCY_CONFIGS: JSON.stringify(configs) } });
});
after(() => worker?.dispose());

async function send(name, table, path, authorization) {
  const { url, headers = {} } = table.request(path);
  const init = { headers: { ...headers, "x-spec-table": name, ...(authorization === undefined ? {} : { authorization }) } };
  const response = await worker.mf.dispatchFetch(url, init);
  return { url, status: response.status, challenge: response.headers.get("www-authenticate"), body: await json(response) };
}

function check(cell, got, want) {
  const detail = `${cell}: got ${got.status} ${JSON.stringify(got.body)}`;
  assert.equal(got.status, want.status, detail);
  if (want.status === 200) {
    assert.deepEqual(got.body, want.body, detail);
    return;
  }
  assert.deepEqual(Object.keys(got.body), ["error"], detail);
  assert.deepEqual(Object.keys(got.body.error).sort(), ["code", "message"], detail);
  assert.equal(got.body.error.code, want.code, detail);
  assert.equal(typeof got.body.error.message, "string", detail);
  if (want.status === 401) {
    assert.match(got.challenge ?? "", /^Bearer realm="edge-tenancy"/, `${cell}: WWW-Authenticate ${got.challenge}`);
    assert.equal(/error="invalid_token"/.test(got.challenge ?? ""), want.tokenSent, `${cell}: WWW-Authenticate ${got.challenge}`);
  }
}

let total = 0;
for (const [name, table] of Object.entries(TABLES)) {
  test(`${name}: who gets in on public and other paths`, async (t) => {
    for (const { path, kind } of cellsOf(name)) {
      total++;
      const cell = `${name} ${path} ${kind}`;
      await t.test(cell, async () => {
        const authorization = await KINDS[kind].authorization();
        const first = await send(name, table, path, authorization);
        const again = await send(name, table, path, authorization);
        check(`${cell} (${first.url})`, first, expected(name, table, path, kind));
        // The package replays answers for known tokens without entering wasm: the same answer.
        assert.deepEqual([again.status, again.body, again.challenge], [first.status, first.body, first.challenge], `${cell}: replayed`);
      });
    }
  });
}

test("the tables are not empty", () => {
  assert.ok(total > 400, `${total} cells`);
});
