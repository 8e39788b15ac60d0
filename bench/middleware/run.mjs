// Benchmark of whole tenant requests (issue #13, not a test): auth, tenancy and the tenant's own
// database, in workerd (miniflare, each variant on its own direct socket, no entry worker between
// wrk and it), under an API's traffic: 100 users' HS256 tokens (signed here with jose) over 1,000
// paths, each user a member of one of 5 tenants and calling on its own tenant's path prefix.
//
// Variants: (a) bare Hono, no auth and no tenancy (the ceiling; its database route goes straight
// to the tenant's binding); (b) the same job written by hand the way @authhero/multi-tenancy's
// docs suggest (jose, a Map of verified tokens, a Map of adapters per tenant filled by a registry
// read); (c) edge-tenancy's Hono middleware with its D1 factory; (d) the Rust demo worker
// (demo/build); (e) workers-rs alone, no auth and no tenancy (bench/rust-bare, built here with
// worker-build as a crate of its own): the Rust demo's ceiling. Routes: one without the database
// (the tenant and the user as JSON) and one indexed SELECT on the tenant's own database.
//
// Tenants: provisioned through the real path — the demo's POST /tenants against the local
// Cloudflare API (local-api/), which makes each tenant's D1 database, records it in the
// control-plane registry (the CONTROL_PLANE D1) and its binding in the Worker's settings, and
// runs the schema hook; the notes are written through the local API's D1 query endpoint. Every
// variant then gets the same bindings a deploy would apply (miniflare wrappedBindings onto the
// very databases the local API made, as tests/tenant-databases.test.mjs does) and reads the
// same registry; no variant provisions.
//
// Rounds: every round runs every variant on each route, bare Hono before, between and after the
// others; a ratio to bare is over the bare runs just before and after, a ratio between variants
// is the same round's runs; medians over rounds. Before anything is timed, every variant must
// answer every user on both routes with that user's tenant, user and row (the row's body names
// its tenant), and (but bare) another tenant's path with 403, a changed signature with 401 and an
// unregistered tenant with 404.
//
//   bash bench/run.sh middleware   (BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP, BENCH_COLD,
//                                   BENCH_VARIANTS=<regex>)
//   BENCH_PROFILE="(c)" BENCH_ROUTE=plain|database bash bench/run.sh middleware
//     instead of the rounds, a CPU profile of that variant on that route (self time per request).
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { bundle, pin } from "../harness.mjs";
import { profileWhile, printSelfTime } from "./profile.mjs";
import { adminToken, demoWorker } from "../../tests/demo-admin.mjs";
import { bareRustFiles, buildWorker, writeCrate } from "../../tests/rust-worker.mjs";
import { localApiWorker, localD1Worker, localD1Binding, control } from "../../local-api/testing.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const COLD_SAMPLES = Number(process.env.BENCH_COLD ?? 5);
const USERS = 100;
const PATHS = 1000;
const TENANTS = Array.from({ length: 5 }, (_, i) => `bench-${i}`);
const NOTES = 1000; // rows per tenant; a path's note is its index + 1
const BASE_PORT = 9401;
const INSPECTOR_PORT = 9439; // miniflare's DevTools proxy; the profile is taken from workerd's own
const PROFILE = process.env.BENCH_PROFILE; // a variant's name prefix, such as "(c)"
const PROFILE_ROUTE = process.env.BENCH_ROUTE ?? "plain";
const COMPATIBILITY_DATE = "2026-07-01";

const tenantOf = (user) => TENANTS[user % TENANTS.length];
const noteBody = (tenant, id) => `${tenant} note ${id}`;

// The demo's own pipeline settings (wrangler.toml's TENANCY_CONFIG): every variant accepts the
// same tokens.
const DEMO = demoWorker({}, { D1_FACTORY: JSON.stringify({ databasePrefix: "tenant_", bindTo: "edge-tenancy-demo" }) });
const { authenticate } = JSON.parse(DEMO.bindings.TENANCY_CONFIG);
const SECRET = authenticate.secrets[0].secret;
const ISSUER = authenticate.issuer;
const { LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN } = localApiWorker().bindings;
const sign = (claims) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer(ISSUER).setIssuedAt().setExpirationTime("2h").sign(new TextEncoder().encode(SECRET));

// Where each variant serves the two routes (a Lua format string taking the tenant and the path's
// index). The demo has no route per item: its whoami is one path per tenant.
const JS_ROUTES = { plain: "/t/%s/items/%d", database: "/t/%s/notes/%d" };
const DEMO_ROUTES = { plain: "/t/%s/whoami", database: "/t/%s/notes/%d" };
// BENCH_VARIANTS=<regex> keeps the matching variants (bare Hono always stays).
const VARIANTS = [
  { name: "(a) bare Hono", entry: "bare.js", routes: JS_ROUTES, kind: "bare" },
  { name: "(b) JS baseline (jose + Maps)", entry: "baseline.js", routes: JS_ROUTES, kind: "js" },
  { name: "(c) edge-tenancy middleware", entry: "edge-tenancy.js", routes: JS_ROUTES, kind: "js" },
  { name: "(d) Rust demo worker", routes: DEMO_ROUTES, kind: "demo" },
  { name: "(e) bare workers-rs", routes: JS_ROUTES, kind: "bare", rust: "bare-workers-rs" },
].filter((v, i) => i === 0 || new RegExp(process.env.BENCH_VARIANTS ?? "").test(v.name));
const ROUTE_NAMES = { plain: "no database", database: "one indexed SELECT" };

const work = mkdtempSync(join(tmpdir(), "edge-tenancy-bench-middleware-"));
const persist = { d1Persist: join(work, "d1"), durableObjectsPersist: join(work, "do") };

// Each JS variant bundled the way `wrangler deploy` would, with a configuration of its own:
// otherwise wrangler takes the repository's wrangler.toml (found above the entry) and runs its
// [build], a Rust build of the demo.
function bundleOf(entry) {
  return join(bundle(join(ROOT, "bench/middleware/workers", entry), work), entry);
}

// A variant's miniflare worker: the bindings a deploy would give it (registry, every tenant's
// database, the local Cloudflare API) and, when `port` is set, a direct socket.
function workerOf(v, bindings, port) {
  const socket = port === undefined ? {} : { unsafeDirectSockets: [{ host: "127.0.0.1", port }] };
  const tenantDbs = { wrappedBindings: Object.fromEntries(Object.entries(bindings).map(([name, id]) => [name, localD1Binding(id)])) };
  if (v.kind === "demo") return { ...DEMO, ...tenantDbs, ...socket };
  return {
    name: v.rust ?? v.entry.replace(".js", ""),
    modules: true,
    scriptPath: v.script,
    modulesRoot: dirname(v.script),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: { CONTROL_PLANE: "control-plane" },
    bindings: { HS256_SECRET: SECRET, ISSUER, LOCAL_ACCOUNT_ID, LOCAL_API_TOKEN },
    serviceBindings: { CLOUDFLARE_API: "edge-tenancy-local-api" },
    ...tenantDbs,
    ...socket,
  };
}

// The tenants, provisioned by the demo through the local API; their notes, written through the
// local API's D1 query endpoint. Returns binding name → database id.
async function provision() {
  const mf = new Miniflare({ ...persist, workers: [DEMO, localApiWorker(), localD1Worker()] });
  try {
    const url = await mf.ready;
    const api = await mf.getWorker("edge-tenancy-local-api");
    await control((u, init) => api.fetch(new URL(u, "http://local-api"), init)).reset();
    const admin = await adminToken();
    const bindings = {};
    for (const id of TENANTS) {
      const res = await fetch(new URL("/tenants", url), {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ id }),
      });
      const record = await res.json();
      if (res.status !== 201) throw new Error(`provision ${id}: ${res.status} ${JSON.stringify(record)}`);
      bindings[record.binding] = record.database_id;
      const query = await api.fetch(`http://local-api/client/v4/accounts/${LOCAL_ACCOUNT_ID}/d1/database/${record.database_id}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${LOCAL_API_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER)) INSERT INTO notes (id, body) SELECT i, ? || ' note ' || i FROM n",
          params: [String(NOTES), id],
        }),
      });
      if (!query.ok) throw new Error(`notes of ${id}: ${query.status} ${await query.text()}`);
    }
    return bindings;
  } finally {
    await mf.dispose();
  }
}

// The variant's URL for `route`, tenant and path index (what the wrk script builds too).
const urlPath = (v, route, tenant, index) => v.routes[route].replace("%s", tenant).replace("%d", String(index + 1));

// A wrk script: every request picks a user and a path at random (seeded: every variant gets the
// same sequence) and sends the user's token on its own tenant's path.
function wrkScript(v, route, tokens) {
  const lua = (s) => JSON.stringify(s); // JSON strings of ASCII are valid Lua strings
  const path = join(work, `${v.entry ?? v.rust ?? "demo"}-${route}.lua`);
  writeFileSync(
    path,
    `local tokens = { ${tokens.map((t) => lua(`Bearer ${t}`)).join(", ")} }
local tenants = { ${tokens.map((_, u) => lua(tenantOf(u))).join(", ")} }
math.randomseed(20261130)
request = function()
  local u = math.random(#tokens)
  local path = string.format(${lua(v.routes[route])}, tenants[u], math.random(${PATHS}))
  return wrk.format("GET", path, { ["Authorization"] = tokens[u] })
end
`,
  );
  return path;
}

const get = async (port, path, token) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.text() };
};

// Every user on both routes: 200 with its tenant, user and (on the database route) the row of
// its own tenant; then the refusals the middleware exists for.
async function checkAnswers(v, port, tokens, strangerToken) {
  const fail = (what, res) => {
    throw new Error(`${v.name}: ${what}: got ${res.status} ${res.body.slice(0, 200)}`);
  };
  for (let user = 0; user < USERS; user++) {
    const tenant = tenantOf(user);
    const index = (user * 7) % PATHS;
    const plain = await get(port, urlPath(v, "plain", tenant, index), tokens[user]);
    const who = plain.status === 200 && JSON.parse(plain.body);
    const subject = v.kind === "demo" ? who?.principal?.subject : who?.user;
    if (!who || who.tenant !== tenant || subject !== (v.kind === "bare" ? null : `user-${user}`)) fail(`user ${user}, no database`, plain);
    const data = await get(port, urlPath(v, "database", tenant, index), tokens[user]);
    const rows = data.status === 200 && JSON.parse(data.body);
    const ok = rows?.note?.body === noteBody(tenant, index + 1) && (v.kind === "demo" || rows.tenant === tenant);
    if (!ok) fail(`user ${user}, database`, data);
  }
  if (v.kind === "bare") return;
  for (const route of ["plain", "database"]) {
    const other = await get(port, urlPath(v, route, tenantOf(1), 0), tokens[0]);
    if (other.status !== 403) fail(`${route}: a token on another tenant's path`, other);
    const token = tokens[0];
    const last = token.at(-2) === "A" ? "B" : "A"; // a changed signature byte that still decodes
    const forged = await get(port, urlPath(v, route, tenantOf(0), 0), `${token.slice(0, -2)}${last}${token.at(-1)}`);
    if (forged.status !== 401) fail(`${route}: a token with a changed signature`, forged);
    const unknown = await get(port, urlPath(v, route, "stranger", 0), strangerToken);
    if (unknown.status !== 404) fail(`${route}: a member of an unregistered tenant`, unknown);
  }
}

// wrk's latency figures are printed with a unit.
const ms = (text) => {
  const [, n, unit] = /([\d.]+)(us|ms|s)/.exec(text);
  return Number(n) * { us: 0.001, ms: 1, s: 1000 }[unit];
};

// One wrk run: req/s, p50 and p99 (ms), and the count of requests. Any answer that is not 2xx,
// or a socket error, fails it. `wrkAsync` leaves this process free meanwhile (the inspector's
// proxy runs in it).
const wrkArgs = (port, script, seconds) =>
  pin(0, ["wrk", "-t1", "-c16", `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, `http://127.0.0.1:${port}/`]);
const wrk = (v, port, script, seconds) => wrkFigures(v, execFileSync(...splitArgs(wrkArgs(port, script, seconds)), { encoding: "utf8" }));
const wrkAsync = async (v, port, script, seconds) =>
  wrkFigures(v, (await promisify(execFile)(...splitArgs(wrkArgs(port, script, seconds)), { encoding: "utf8" })).stdout);
const splitArgs = ([cmd, ...args]) => [cmd, args];
function wrkFigures(v, out) {
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+)/.exec(out)?.slice(1).some((n) => n !== "0") && /Socket errors:.*/.exec(out)[0];
  if (non2xx > 0 || errors) throw new Error(`${v.name}: ${non2xx} responses were not 2xx ${errors || ""}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]),
    p50: ms(/ 50%\s+(\S+)/.exec(out)[1]),
    p99: ms(/ 99%\s+(\S+)/.exec(out)[1]),
    requests: Number(/(\d+) requests in/.exec(out)[1]),
  };
}

// workerd: this process's child.
const workerdPid = () =>
  /(\d+)\s+workerd/.exec(execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" }))[1];

// workerd on core 1 (all its threads), wrk on core 0.
function pinWorkerd() {
  if (process.env.BENCH_PIN !== "0") execFileSync("taskset", ["-a", "-p", "-c", "1", workerdPid()], { stdio: "ignore" });
}

// Cold start: a fresh workerd (miniflare) with that variant and the local API, from the
// constructor to the first 200 on the route without the database, and from `ready` (every
// worker loaded) to it.
async function coldStart(v, bindings, token) {
  const samples = [];
  for (let n = 0; n < COLD_SAMPLES; n++) {
    const started = performance.now();
    const mf = new Miniflare({ ...persist, workers: [workerOf(v, bindings), localApiWorker(), localD1Worker()] });
    try {
      const url = await mf.ready;
      const ready = performance.now();
      const res = await fetch(new URL(urlPath(v, "plain", tenantOf(0), 0), url), { headers: { authorization: `Bearer ${token}` } });
      await res.text();
      if (res.status !== 200) throw new Error(`${v.name}, cold: ${res.status}`);
      const answered = performance.now();
      samples.push({ total: answered - started, first: answered - ready });
    } finally {
      await mf.dispose();
    }
  }
  return { total: median(samples.map((s) => s.total)), first: median(samples.map((s) => s.first)) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gzipKb = (files) => files.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0) / 1024;
const uploadFiles = (dir) => readdirSync(dir).filter((f) => /\.(m?js|wasm)$/.test(f)).map((f) => join(dir, f));

// Progress on stderr; the figures on stdout.
const step = (what) => process.stderr.write(`[bench] ${what}\n`);
step("bundling");
for (const v of VARIANTS) if (v.entry) v.script = bundleOf(v.entry);
for (const v of VARIANTS.filter((v) => v.rust)) {
  const dir = writeCrate(bareRustFiles());
  buildWorker(dir);
  v.script = join(dir, "build/index.js");
}
step("provisioning");
const bindings = await provision();
step("serving");
const tokens = await Promise.all(Array.from({ length: USERS }, (_, u) => sign({ sub: `user-${u}`, tenant: tenantOf(u), scope: "read write" })));
const strangerToken = await sign({ sub: "nobody", tenant: "stranger" });

const mf = new Miniflare({
  ...persist,
  ...(PROFILE === undefined ? {} : { inspectorPort: INSPECTOR_PORT }),
  workers: [...VARIANTS.map((v, i) => workerOf(v, bindings, BASE_PORT + i)), localApiWorker(), localD1Worker()],
});
const ports = VARIANTS.map((_, i) => BASE_PORT + i);
let results;
try {
  await mf.ready;
  pinWorkerd();
  const scripts = VARIANTS.map((v) => ({ plain: wrkScript(v, "plain", tokens), database: wrkScript(v, "database", tokens) }));
  for (const [i, v] of VARIANTS.entries()) {
    await checkAnswers(v, ports[i], tokens, strangerToken);
    for (const route of ["plain", "database"]) wrk(v, ports[i], scripts[i][route], WARMUP);
  }
  if (PROFILE !== undefined) {
    const i = VARIANTS.findIndex((v) => v.name.startsWith(PROFILE));
    const { profile, loaded } = await profileWhile(workerdPid(), workerOf(VARIANTS[i], {}).name, () =>
      wrkAsync(VARIANTS[i], ports[i], scripts[i][PROFILE_ROUTE], SECONDS),
    );
    const file = join(work, `${VARIANTS[i].entry ?? VARIANTS[i].rust ?? "demo"}-${PROFILE_ROUTE}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\n${VARIANTS[i].name}, ${ROUTE_NAMES[PROFILE_ROUTE]}: ${loaded.rps.toFixed(0)} req/s while profiled; profile: ${file}`);
    printSelfTime(profile, loaded.requests);
    await mf.dispose();
    process.exit(0); // no rounds, no cold starts
  }
  // One round of one route: bare first, between each of the others, and last.
  const schedule = [0, ...VARIANTS.slice(1).flatMap((_, i) => [i + 1, 0])];
  // results[route][variant] = one { rps, p50, p99, bare } per round, `bare` the mean req/s of the
  // bare runs around it.
  results = { plain: VARIANTS.map(() => []), database: VARIANTS.map(() => []) };
  for (let round = 0; round < ROUNDS; round++) {
    for (const route of ["plain", "database"]) {
      const runs = schedule.map((i) => wrk(VARIANTS[i], ports[i], scripts[i][route], SECONDS));
      for (const [i] of VARIANTS.entries()) {
        const at = i === 0 ? 0 : schedule.indexOf(i);
        const bare = i === 0 ? runs[0].rps : (runs[at - 1].rps + runs[at + 1].rps) / 2;
        results[route][i].push({ ...runs[at], bare });
      }
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
} finally {
  await mf.dispose();
}

const cold = [];
for (const v of VARIANTS) cold.push(await coldStart(v, bindings, tokens[0]));

const cell = (text, width) => String(text).padStart(width);
const toBare = (runs) => median(runs.map((r) => r.rps / r.bare));
const between = (a, b) => median(a.map((r, round) => r.rps / b[round].rps));
console.log(`\nworkerd (miniflare ${JSON.parse(readFileSync(join(ROOT, "node_modules/miniflare/package.json"), "utf8")).version}, direct sockets), wrk -t1 -c16, ${ROUNDS} rounds x ${SECONDS}s per variant and route`);
console.log(`traffic: ${USERS} users' HS256 tokens over ${PATHS} paths, ${TENANTS.length} tenants (provisioned through the local Cloudflare API), ${NOTES} notes per tenant`);
console.log(`medians over rounds; ratio to bare: each run over the bare runs just before and after it\n`);
console.log(`${"variant".padEnd(32)}${"route".padEnd(22)}${cell("req/s", 8)}${cell("p50 ms", 9)}${cell("p99 ms", 9)}${cell("/ bare", 9)}  path`);
for (const route of ["plain", "database"]) {
  for (const [i, v] of VARIANTS.entries()) {
    const runs = results[route][i];
    console.log(
      `${v.name.padEnd(32)}${ROUTE_NAMES[route].padEnd(22)}${cell(median(runs.map((r) => r.rps)).toFixed(0), 8)}` +
        `${cell(median(runs.map((r) => r.p50)).toFixed(2), 9)}${cell(median(runs.map((r) => r.p99)).toFixed(2), 9)}` +
        `${cell(`${toBare(runs).toFixed(2)}x`, 9)}  ${v.routes[route].replace("%s", "{tenant}").replace("%d", "{n}")}`,
    );
  }
}
const index = (prefix) => VARIANTS.findIndex((v) => v.name.startsWith(prefix));
const [baseline, ours, demo] = ["(b)", "(c)", "(d)"].map(index);
for (const [which, title] of [
  [ours, "edge-tenancy middleware / JS baseline (same round; > 1 is faster)"],
  [demo, "Rust demo worker / JS baseline (same round; its no-database route is one path per tenant)"],
]) {
  if (which < 0 || baseline < 0) continue;
  console.log(`\n${title}`);
  for (const route of ["plain", "database"]) console.log(`  ${ROUTE_NAMES[route].padEnd(22)}${between(results[route][which], results[route][baseline]).toFixed(2)}x`);
}
const rustBare = index("(e)");
if (demo >= 0 && rustBare >= 0) {
  console.log(`\nRust demo worker / bare workers-rs (same round; goal: 0.9x or more on both routes)`);
  for (const route of ["plain", "database"]) console.log(`  ${ROUTE_NAMES[route].padEnd(22)}${between(results[route][demo], results[route][rustBare]).toFixed(2)}x`);
}
if (ours >= 0 && baseline >= 0) {
  console.log(`\ngoal: middleware >= 0.95x bare without the database, ahead of the JS baseline on both routes`);
  const plainRatio = toBare(results.plain[ours]);
  const ahead = ["plain", "database"].map((route) => between(results[route][ours], results[route][baseline]));
  console.log(`  ${plainRatio.toFixed(2)}x bare: ${plainRatio >= 0.95 ? "met" : "NOT met"}; against the baseline ${ahead.map((r) => `${r.toFixed(2)}x`).join(", ")}: ${ahead.every((r) => r > 1) ? "met" : "NOT met"}`);
}

console.log(`\nper-round ratios to bare (how far single rounds swing on this machine)`);
for (const route of ["plain", "database"]) {
  for (const [i, v] of VARIANTS.entries()) {
    if (i > 0) console.log(`  ${ROUTE_NAMES[route].padEnd(22)}${v.name.padEnd(32)}${results[route][i].map((r) => (r.rps / r.bare).toFixed(2)).join(" ")}`);
  }
}

console.log(`\ncold start: a fresh workerd (miniflare) with the variant beside the local API, ${COLD_SAMPLES} samples, medians`);
console.log(`${"variant".padEnd(32)}${cell("start→200 ms", 14)}${cell("ready→200 ms", 14)}${cell("upload gzip KB", 16)}`);
for (const [i, v] of VARIANTS.entries()) {
  const files = v.script ? uploadFiles(dirname(v.script)) : uploadFiles(join(ROOT, "demo/build")).concat(uploadFiles(join(ROOT, "demo/build/worker")));
  console.log(`${v.name.padEnd(32)}${cell(cold[i].total.toFixed(0), 14)}${cell(cold[i].first.toFixed(1), 14)}${cell(gzipKb(files).toFixed(0), 16)}`);
}
// The package's wasm modules: the request pipeline, and the control plane (registry, factory).
const wasm = readdirSync(join(ROOT, "js/dist")).filter((f) => f.endsWith(".wasm")).map((f) => join(ROOT, "js/dist", f));
console.log(`\nnpm package's wasm (js/dist): ${wasm.map((f) => `${f.split("/").at(-1)} ${(statSync(f).size / 1024).toFixed(0)} KB, ${gzipKb([f]).toFixed(0)} KB gzip -9`).join("; ")}`);
