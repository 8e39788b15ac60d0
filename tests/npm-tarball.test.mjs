// The npm package as users get it: `npm pack` of js/, installed from the tarball into a Hono worker
// outside the repository (a copy of tests/consumer), then type-checked, built and run with each
// tool a Workers user might pick. Every run must give the answers in tests/consumer/test/cases.ts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, bundleWithWrangler, startWorker } from "./helpers.mjs";

const BIN = join(ROOT, "node_modules/.bin");
const crateVersion = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "(.+)"/m)[1];

let work; // the throwaway folder: the tarball and the app
let app; // the user's project, with the package installed from the tarball
let tarball;
let cases; // tests/consumer/test/cases.ts, as loaded from the app
let vars; // the worker's variables, from the app's wrangler.json

// A `node --test` started with this runner's NODE_TEST_CONTEXT would report to it instead of printing.
const ENV = { ...process.env };
delete ENV.NODE_TEST_CONTEXT;

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, env: ENV, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "edge-tenancy-tarball-"));
  const packed = JSON.parse(run("npm", ["pack", join(ROOT, "js"), "--json", "--pack-destination", work], ROOT));
  tarball = { path: join(work, packed[0].filename), ...packed[0] };
  app = join(work, "app");
  cpSync(join(ROOT, "tests/consumer"), app, { recursive: true });
  // The app's own dependencies at their locked versions, then the package as a user adds a tarball.
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], app);
  run("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", tarball.path], app);
  cases = await import(pathToFileURL(join(app, "test/cases.ts")));
  vars = JSON.parse(readFileSync(join(app, "wrangler.json"), "utf8")).vars;
});
after(() => work && rmSync(work, { recursive: true, force: true }));

/** Sends the cases `which` picks through `send` (a Request to a Response) and asserts the answers. */
async function assertCases(send, which = () => true) {
  const wrong = [];
  for (const c of (await cases.cases()).filter(which)) {
    const problem = await cases.mismatch(c, await send(cases.request(c)));
    if (problem) wrong.push(problem);
  }
  assert.deepEqual(wrong, []);
}

test("the tarball holds the package, its README and LICENSE, at the crate's version", () => {
  assert.equal(tarball.name, "edge-tenancy");
  assert.equal(tarball.version, crateVersion);
  const files = tarball.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    "LICENSE",
    "LICENSE-APACHE",
    "README.md",
    "d1/index.d.ts",
    "d1/locked.js",
    "d1/portable.js",
    "d1/rest.d.ts",
    "d1/rest.js",
    "d1/workerd.js",
    "dist/edge_tenancy.js",
    "dist/edge_tenancy_bg.base64.js",
    "dist/edge_tenancy_bg.wasm",
    "dist/edge_tenancy_control.js",
    "dist/edge_tenancy_control_bg.base64.js",
    "dist/edge_tenancy_control_bg.wasm",
    "errors.js",
    "factory.js",
    "hono.d.ts",
    "hono.js",
    "hono/portable.js",
    "hono/workerd.js",
    "index.d.ts",
    "index.js",
    "internal.js",
    "load/bytes.js",
    "load/control-bytes.js",
    "load/control-module.js",
    "load/decode.js",
    "load/module.js",
    "package.json",
    "portable.js",
    "workerd.js",
  ]);
  const installed = JSON.parse(readFileSync(join(app, "node_modules/edge-tenancy/package.json"), "utf8"));
  assert.equal(installed.version, crateVersion);
  assert.ok(installed.engines.node, "engines.node");
});

test("TypeScript, strict: the app and the README's quick start type-check against the packed types", () => {
  const readme = readFileSync(join(app, "node_modules/edge-tenancy/README.md"), "utf8");
  writeFileSync(join(app, "src/quick-start.ts"), readme.match(/```ts\n([\s\S]*?)```/)[1]);
  run(join(BIN, "tsc"), ["-p", "tsconfig.json"], app);
});

test("wrangler deploy --dry-run bundles the workerd build, which runs in workerd", async () => {
  const worker = await startWorker({ scriptPath: bundleWithWrangler(app), bindings: vars });
  try {
    await assertCases((request) => worker.mf.dispatchFetch(request.url, { headers: request.headers }));
    const health = await (await worker.mf.dispatchFetch("https://example.com/health")).json();
    assert.equal(health.version, crateVersion);
  } finally {
    await worker.dispose();
  }
});

test("plain esbuild with no option bundles the portable build, which runs in Node", async () => {
  const outfile = join(work, "esbuild-plain/index.js");
  run(join(BIN, "esbuild"), ["src/index.ts", "--bundle", "--format=esm", `--outfile=${outfile}`], app);
  assert.deepEqual(readdirSync(join(work, "esbuild-plain")), ["index.js"], "the wasm is inside the bundle");
  const { default: bundled } = await import(pathToFileURL(outfile));
  const send = (request) => bundled.fetch(request, vars);
  await assertCases(send, () => true);
});

test("esbuild for Workers: the workerd condition and a copied .wasm run in workerd", async () => {
  const outdir = join(work, "esbuild-workerd");
  const options = ["--bundle", "--format=esm", "--conditions=workerd", "--loader:.wasm=copy", `--outdir=${outdir}`];
  run(join(BIN, "esbuild"), ["src/index.ts", ...options], app);
  const worker = await startWorker({ scriptPath: join(outdir, "index.js"), bindings: vars });
  try {
    await assertCases((request) => worker.mf.dispatchFetch(request.url, { headers: request.headers }));
  } finally {
    await worker.dispose();
  }
});

test("Node 22: the app's own node:test suite imports the package and passes", (t) => {
  const out = run(process.execPath, ["--test", "--test-reporter=tap", "test/node.test.ts"], app);
  t.diagnostic(out.match(/^# (pass|fail|todo) \d+$/gm).map((line) => line.slice(2)).join(", "));
  assert.match(out, /^# fail 0$/m);
});

test("@cloudflare/vitest-plugin: the app's vitest suite passes in workerd", async () => {
  const report = join(work, "vitest.json");
  run(join(app, "node_modules/.bin/vitest"), ["run", "--reporter=json", `--outputFile=${report}`], app);
  const { numPassedTests, numTotalTests } = JSON.parse(readFileSync(report, "utf8"));
  assert.deepEqual([numPassedTests, numTotalTests], Array(2).fill((await cases.cases()).length));
});

test("Vite with @cloudflare/vite-plugin: vite dev serves the app", async () => {
  await withServer(["dev"], (send) => assertCases(send));
});

test("Vite with @cloudflare/vite-plugin: vite build, then vite preview serves the build", async () => {
  run(join(app, "node_modules/.bin/vite"), ["build"], app);
  assert.ok(readdirSync(join(app, "dist/edge_tenancy_consumer/assets")).some((f) => f.endsWith(".wasm")), "the wasm is a module of its own");
  await withServer(["preview"], (send) => assertCases(send));
});

/** Runs `vite <args>` on a free port until `use` is done; `use` gets a sender that keeps each case's Host. */
async function withServer(args, use) {
  const port = await freePort();
  const server = spawn(join(app, "node_modules/.bin/vite"), [...args, "--port", String(port), "--strictPort"], {
    cwd: app,
    detached: true, // its own process group, so workerd goes with it
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  server.stdout.on("data", (d) => (output += d));
  server.stderr.on("data", (d) => (output += d));
  const send = (request) => sendTo(port, request);
  try {
    await waitUntilUp(port, server, () => output);
    await use(send);
  } finally {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    process.kill(-server.pid);
    await exited;
  }
}

async function waitUntilUp(port, server, output) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`vite exited (${server.exitCode}):\n${output()}`);
    try {
      if ((await sendTo(port, new Request("https://example.com/health"))).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`vite did not answer within 90 s:\n${output()}`);
}

/** `request` over HTTP to 127.0.0.1:`port`, with its URL's host as the Host header (fetch would drop it). */
function sendTo(port, request) {
  const url = new URL(request.url);
  return new Promise((resolve, reject) => {
    const headers = { ...Object.fromEntries(request.headers), host: url.host };
    const req = httpRequest({ host: "127.0.0.1", port, path: url.pathname + url.search, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers })));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
