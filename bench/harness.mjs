// What the benchmark and the profiler share: the variants, each bundled the way `wrangler deploy`
// would, served by one `workerd serve` (pinned to one core, wrk to the other), each checked by its
// response bodies before anything is timed.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ALGS, HS256_SECRET, SHAPES, hostOf, keyMaterial, pathOf, requestList, tenantOf, userTokens, wrkScript } from "./traffic.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BASE_PORT = 9301;
// Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times.
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

// For each algorithm: edge-tenancy with its caches on (the default size) and off, jose verifying
// every token, and jose with a Map of verified tokens.
export function allVariants() {
  const variants = [
    { name: "bare Hono", entry: "bare.js", env: {}, alg: "HS256", kind: "bare" },
    // The floor for any middleware: Hono with one that only calls next().
    { name: "Hono, empty middleware", entry: "empty-middleware.js", env: {}, alg: "HS256", kind: "bare" },
  ];
  for (const alg of ALGS) {
    variants.push(
      { name: `edge-tenancy ${alg}, caches on`, entry: "edge-tenancy.js", env: { CACHE_TOKENS: "256" }, alg, kind: "cached" },
      { name: `jose + Map ${alg}`, entry: "jose.js", env: { ALG: alg, CACHE_TOKENS: "256" }, alg, kind: "cached" },
      { name: `edge-tenancy ${alg}, caches off`, entry: "edge-tenancy.js", env: { CACHE_TOKENS: "0" }, alg, kind: "uncached" },
      { name: `jose ${alg}, uncached`, entry: "jose.js", env: { ALG: alg, CACHE_TOKENS: "0" }, alg, kind: "uncached" },
    );
  }
  return variants;
}

// BENCH_VARIANTS=<regex> keeps the matching variants (bare Hono, the baseline, always stays);
// BENCH_SHAPES=<regex> the matching traffic shapes.
export function selected() {
  let variants = allVariants();
  if (process.env.BENCH_VARIANTS) {
    const only = new RegExp(process.env.BENCH_VARIANTS);
    variants = variants.filter((v, i) => i === 0 || only.test(v.name));
  }
  const shapes = process.env.BENCH_SHAPES ? SHAPES.filter((s) => new RegExp(process.env.BENCH_SHAPES).test(s.name)) : SHAPES;
  return { variants, shapes };
}

/** Bundles worker `main` as `wrangler deploy` would, into a folder of `work`; returns the folder. */
export function bundle(main, work) {
  const name = basename(main, ".js");
  const outdir = join(work, name);
  // A configuration of its own: without one, wrangler finds the repository's wrangler.toml above
  // the entry and runs the demo's Rust build first.
  const config = join(work, `${name}.wrangler.json`);
  writeFileSync(config, JSON.stringify({ name: "bench", main, compatibility_date: "2026-07-01" }));
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir, "--config", config], { cwd: work, stdio: ["ignore", "ignore", "inherit"] });
  return outdir;
}

// Bundles each entry once, writes the workerd config and the wrk scripts, and starts workerd.
// `inspector`: an address for V8's inspector (the profiler connects there). `inProcess`: each
// variant wrapped by bench/workers/in-process.js, which runs it in a loop. BENCH_V8FLAGS (space
// separated) go to workerd's V8.
export async function serve(variants, shapes, { inspector, inProcess = false } = {}) {
  const { jwks, sign } = await keyMaterial();
  const most = Math.max(...shapes.map((s) => s.users));
  const tokens = {};
  for (const alg of ALGS) tokens[alg] = await userTokens(sign, alg, most);

  const work = mkdtempSync(join(tmpdir(), "edge-tenancy-bench-"));
  const bundles = {};
  for (const entry of new Set(variants.map((v) => v.entry))) {
    let main = join(ROOT, "bench/workers", entry);
    if (inProcess) {
      mkdirSync(join(work, "in-process"), { recursive: true });
      const wrapper = join(work, "in-process", entry);
      const from = (file) => JSON.stringify(join(ROOT, "bench/workers", file));
      writeFileSync(wrapper, `import app from ${from(entry)};\nimport { inProcess } from ${from("in-process.js")};\nexport default inProcess(app);\n`);
      main = wrapper;
    }
    bundles[entry] = bundle(main, work);
  }
  // What an in-process loop sends: each shape's requests (every worker gets its users' tokens).
  const traffic = inProcess ? JSON.stringify(Object.fromEntries(shapes.map((s) => [s.name, requestList(s)]))) : undefined;

  const capnp = [`using Workerd = import "/workerd/workerd.capnp";`, `const config :Workerd.Config = (`];
  capnp.push(`  services = [${variants.map((_, i) => `(name = "v${i}", worker = .v${i})`).join(", ")}],`);
  capnp.push(`  sockets = [${variants.map((_, i) => `(name = "s${i}", address = "127.0.0.1:${BASE_PORT + i}", http = (), service = "v${i}")`).join(", ")}],`);
  if (process.env.BENCH_V8FLAGS) capnp.push(`  v8Flags = ${JSON.stringify(process.env.BENCH_V8FLAGS.split(" "))},`);
  capnp.push(`);`);
  variants.forEach((v, i) => {
    // `embed` paths are relative to the config file; the main module comes first.
    const dir = v.entry.replace(".js", "");
    const modules = readdirSync(bundles[v.entry])
      .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
      .sort((a, b) => Number(b.endsWith(".js")) - Number(a.endsWith(".js")))
      .map((f) => `(name = "${f}", ${f.endsWith(".wasm") ? "wasm" : "esModule"} = embed "${dir}/${f}")`);
    const env = { JWKS: JSON.stringify(jwks), HS256_SECRET, TOKENS: JSON.stringify(tokens[v.alg]), ...v.env, ...(inProcess && { TRAFFIC: traffic }) };
    const bindings = Object.entries(env).map(([name, value]) => `(name = "${name}", text = ${JSON.stringify(value)})`);
    capnp.push(`const v${i} :Workerd.Worker = (modules = [${modules.join(", ")}], compatibilityDate = "2026-07-01", bindings = [${bindings.join(", ")}]);`);
  });
  const configPath = join(work, "bench.capnp");
  writeFileSync(configPath, capnp.join("\n") + "\n");

  const scripts = {};
  for (const alg of ALGS) {
    for (const shape of shapes) {
      const path = join(work, `${alg}-${shape.users}x${shape.paths}.lua`);
      writeFileSync(path, wrkScript(shape, tokens[alg]));
      scripts[`${alg} ${shape.name}`] = path;
    }
  }

  // A workerd of an earlier run that is still stopping would answer for this one.
  for (const [i] of variants.entries()) {
    for (let attempt = 0; await listening(BASE_PORT + i); attempt++) {
      if (attempt === 50) throw new Error(`port ${BASE_PORT + i} is in use`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const argv = [join(ROOT, "node_modules/.bin/workerd"), "serve", configPath, ...(inspector ? [`--inspector-addr=${inspector}`] : [])];
  const [cmd, ...args] = pin(1, argv);
  const workerd = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  const stop = () => workerd.kill("SIGTERM");
  process.on("exit", stop);
  for (const [i, v] of variants.entries()) {
    let up = false;
    for (let attempt = 0; attempt < 100 && !up; attempt++) {
      up = await get(BASE_PORT + i, hostOf(0), "/", undefined).then(
        () => true,
        () => new Promise((r) => setTimeout(() => r(false), 100)),
      );
    }
    if (!up) throw new Error(`${v.name} did not start`);
  }
  // The CPU time workerd has used so far, all its threads, in seconds (Linux's clock ticks).
  const cpuSeconds = () => {
    const fields = readFileSync(`/proc/${workerd.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  return { tokens, scripts, stop, port: (i) => BASE_PORT + i, work, cpuSeconds };
}

// Whether something accepts connections on `port`.
const listening = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });

// The median of `xs`: what every benchmark reports of its rounds.
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// workerd on one core and wrk on the other, so they do not take turns on the same one.
export const pin = (core, argv) => (process.env.BENCH_PIN === "0" ? argv : ["taskset", "-c", String(core), ...argv]);

// One GET with a chosen Host (Node's fetch cannot set it): status and body.
function get(port, host, path, token) {
  return new Promise((resolve, reject) => {
    const where = `${host}${path}`;
    const headers = { host };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (error) => reject(new Error(`GET ${where}: ${error.message}`)));
    req.end();
  });
}

// Every variant must answer right before it is timed: a benchmark of errors measures nothing.
// Each user's token on its tenant's host gets 200 with that tenant in the body; another tenant's
// host gets 403 and a token with a broken signature 401 (what bare Hono cannot do, it is spared).
export async function checkAnswers(v, port, tokens, shape) {
  const fail = (what, res) => {
    throw new Error(`${v.name}, ${shape.name}: ${what}: got ${res.status} ${res.body.slice(0, 200)}`);
  };
  for (let user = 0; user < shape.users; user++) {
    const path = pathOf(user % shape.paths);
    const res = await get(port, hostOf(user), path, tokens[user]);
    const expected = v.kind === "bare" ? null : tenantOf(user);
    if (res.status !== 200 || JSON.parse(res.body).tenant !== expected) fail(`user ${user} on ${hostOf(user)}${path}`, res);
  }
  if (v.kind === "bare") return;
  const other = await get(port, hostOf(1), pathOf(0), tokens[0]);
  if (other.status !== 403) fail("a token on another tenant's host", other);
  const token = tokens[0];
  const last = token.at(-2) === "A" ? "B" : "A"; // a changed signature byte that still decodes
  const forged = await get(port, hostOf(0), pathOf(0), `${token.slice(0, -2)}${last}${token.at(-1)}`);
  if (forged.status !== 401) fail("a token with a changed signature", forged);
}

// One wrk run: req/s (and the count of requests). Any answer that is not 2xx, or a socket error,
// fails the benchmark; a request slower than wrk's timeout (a stall of the shared machine) does not.
export function wrk(v, port, script, seconds, counted = {}) {
  const [cmd, ...args] = pin(0, ["wrk", "-t1", "-c16", `-d${seconds}s`, "--timeout", "10s", "-s", script, `http://127.0.0.1:${port}/`]);
  const out = execFileSync(cmd, args, { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+)/.exec(out)?.slice(1).some((n) => n !== "0") && /Socket errors:.*/.exec(out)[0];
  if (non2xx > 0 || errors) throw new Error(`${v.name}: ${non2xx} responses were not 2xx ${errors ?? ""}`);
  counted.requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return rps;
}
