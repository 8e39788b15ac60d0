// Benchmark: req/s of a bare Hono worker and of tenant resolution + JWT verification, with
// edge-tenancy (wasm) and with jose (plain JS), under `workerd serve` directly (miniflare's proxy
// hides the cost), variants alternated for ROUNDS rounds. Prints medians, and ratios to bare and
// to jose paired by round.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as jose from "jose";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
// Long enough for V8 to finish optimizing the wasm (it tiers up in the background).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const BASE_PORT = 9301;

const HS256_SECRET = "bench secret: thirty-two bytes or more!";
const PUBLIC_ALGS = ["EdDSA", "ES256", "RS256"];
const pairs = {};
for (const alg of PUBLIC_ALGS) {
  pairs[alg] = await jose.generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined, extractable: true });
}
const jwks = {
  keys: await Promise.all(PUBLIC_ALGS.map(async (alg) => ({ ...(await jose.exportJWK(pairs[alg].publicKey)), kid: alg, alg }))),
};
const claims = { tenant: "acme", sub: "bench-user" };
const sign = (alg, kid, key) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuer("bench").setExpirationTime("2h").sign(key);
const tokens = { HS256: await sign("HS256", "hs", new TextEncoder().encode(HS256_SECRET)) };
for (const alg of PUBLIC_ALGS) tokens[alg] = await sign(alg, alg, pairs[alg].privateKey);

// For each algorithm: edge-tenancy with the token cache (the same token every request, as a
// client sends it), without it (every request is a first sight), and jose doing the same job.
let variants = [
  { name: "bare Hono", entry: "bare.js", env: {}, alg: "HS256" },
  // The floor for any middleware: Hono with one that only calls next().
  { name: "Hono, empty middleware", entry: "empty-middleware.js", env: {}, alg: "HS256" },
];
for (const alg of ["HS256", ...PUBLIC_ALGS]) {
  variants.push(
    { name: `edge-tenancy ${alg}, repeated token`, entry: "edge-tenancy.js", env: { CACHE_TOKENS: "256" }, alg },
    { name: `edge-tenancy ${alg}, first sight`, entry: "edge-tenancy.js", env: { CACHE_TOKENS: "0" }, alg },
    { name: `jose ${alg}`, entry: "jose.js", env: { ALG: alg }, alg },
  );
}

// BENCH_VARIANTS=<regex> times only the matching variants (and bare Hono, the baseline).
if (process.env.BENCH_VARIANTS) {
  const only = new RegExp(process.env.BENCH_VARIANTS);
  variants = variants.filter((v, i) => i === 0 || only.test(v.name));
}

// Bundle each entry once, the way `wrangler deploy` would.
const work = mkdtempSync(join(tmpdir(), "edge-tenancy-bench-"));
const bundles = {};
for (const entry of new Set(variants.map((v) => v.entry))) {
  const outdir = join(work, entry.replace(".js", ""));
  execFileSync(
    "wrangler",
    ["deploy", "--dry-run", "--outdir", outdir, "--name", "bench", "--compatibility-date", "2026-07-01", join(ROOT, "bench/workers", entry)],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  bundles[entry] = outdir;
}

const capnp = [`using Workerd = import "/workerd/workerd.capnp";`, `const config :Workerd.Config = (`];
capnp.push(`  services = [${variants.map((_, i) => `(name = "v${i}", worker = .v${i})`).join(", ")}],`);
capnp.push(`  sockets = [${variants.map((_, i) => `(name = "s${i}", address = "127.0.0.1:${BASE_PORT + i}", http = (), service = "v${i}")`).join(", ")}],`);
capnp.push(`);`);
variants.forEach((v, i) => {
  // `embed` paths are relative to the config file; the main module comes first.
  const dir = v.entry.replace(".js", "");
  const modules = readdirSync(bundles[v.entry])
    .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
    .sort((a, b) => Number(b.endsWith(".js")) - Number(a.endsWith(".js")))
    .map((f) => `(name = "${f}", ${f.endsWith(".wasm") ? "wasm" : "esModule"} = embed "${dir}/${f}")`);
  const env = { JWKS: JSON.stringify(jwks), HS256_SECRET, ...v.env };
  const bindings = Object.entries(env).map(([name, value]) => `(name = "${name}", text = ${JSON.stringify(value)})`);
  capnp.push(`const v${i} :Workerd.Worker = (modules = [${modules.join(", ")}], compatibilityDate = "2026-07-01", bindings = [${bindings.join(", ")}]);`);
});
const configPath = join(work, "bench.capnp");
writeFileSync(configPath, capnp.join("\n") + "\n");

// workerd on one core and wrk on the other, so they do not take turns on the same one.
const pin = (core, argv) => (process.env.BENCH_PIN === "0" ? argv : ["taskset", "-c", String(core), ...argv]);
const [cmd, ...args] = pin(1, [join(ROOT, "node_modules/.bin/workerd"), "serve", configPath]);
const workerd = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
const stop = () => workerd.kill("SIGTERM");
process.on("exit", stop);
try {
  // Every variant must answer correctly before it is timed: a benchmark of errors measures nothing.
  for (const [i, v] of variants.entries()) {
    let res;
    for (let attempt = 0; attempt < 100 && !res; attempt++) {
      res = await fetch(`http://127.0.0.1:${BASE_PORT + i}/`).catch(() => new Promise((r) => setTimeout(r, 100)));
    }
    // Up is all this checks: Node's fetch cannot set Host, so wrk's warm-up below checks that
    // every answer with the tenant's host is 2xx.
    if (!res) throw new Error(`${v.name} did not start`);
  }
  const wrk = (i, v, seconds) => {
    const [wrk, ...wrkArgs] = pin(0, ["wrk", "-t1", "-c16", `-d${seconds}s`, "-H", "Host: acme.example.com", "-H", `Authorization: Bearer ${tokens[v.alg]}`, `http://127.0.0.1:${BASE_PORT + i}/orders`]);
    const out = execFileSync(wrk, wrkArgs, { encoding: "utf8" });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    if (non2xx > 0) throw new Error(`${v.name}: ${non2xx} responses were not 2xx`);
    return rps;
  };
  // Warm up each variant (JIT, wasm instantiation), checking that every answer is 2xx.
  variants.forEach((v, i) => wrk(i, v, WARMUP));
  const results = variants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach((v, i) => results[i].push(wrk(i, v, SECONDS)));
  }
  // Ratios are paired: each round's figure over the same round's bare figure, then the median of
  // those. Machine-wide drift between rounds (it is large on shared machines) cancels out.
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nworkerd serve, wrk -t1 -c16, ${ROUNDS} rounds x ${SECONDS}s, same token every request; medians\n`);
  const paired = (i, base) => median(results[i].map((r, round) => r / results[base][round]));
  console.log("variant                                 req/s   vs bare   vs jose   per-round ratios to bare");
  for (const [i, v] of variants.entries()) {
    const jose = variants.findIndex((w) => w.name === `jose ${v.alg}`);
    const vsJose = v.entry === "edge-tenancy.js" && jose >= 0 ? `${paired(i, jose).toFixed(2)}x` : "";
    const ratios = results[i].map((r, round) => (r / results[0][round]).toFixed(2));
    console.log(
      `${v.name.padEnd(38)} ${median(results[i]).toFixed(0).padStart(7)}   ${paired(i, 0).toFixed(2).padStart(6)}x   ${vsJose.padStart(7)}   ${ratios.join(" ")}`,
    );
  }
} finally {
  stop();
}
