// The js README's bundler commands work as written on the README's own Hono + D1 example: each
// `esbuild …` line of the README's sh blocks is read from the README's text (so the README
// cannot drift from what is tested), run as it stands in a copy of js/examples/hono-d1, and its
// bundle is run in workerd beside the local Cloudflare API, and checked by `wrangler deploy
// --no-bundle`, which the README says uploads it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, execSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { Miniflare } from "miniflare";
import * as jose from "jose";
import { ROOT, COMPATIBILITY_DATE, jsonCaller } from "./helpers.mjs";
import { localApiWorker, localD1Worker } from "../local-api/testing.mjs";

const README = readFileSync(join(ROOT, "js/README.md"), "utf8");
const EXAMPLE = join(ROOT, "js/examples/hono-d1");
const TOML = readFileSync(join(EXAMPLE, "wrangler.toml"), "utf8");
const VARS = Object.fromEntries([...TOML.matchAll(/^([A-Z0-9_]+) = "([^"]*)"$/gm)].map(([, k, v]) => [k, v]));
const SECRET = new TextEncoder().encode(VARS.HS256_SECRET);
const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(SECRET);
// The tools as a user has them after `npm install`: on PATH from node_modules/.bin.
const PATH = [join(ROOT, "node_modules/.bin"), process.env.PATH].join(delimiter);

/** The README's bundler command lines: every line of a ```sh block that runs esbuild. */
function bundlerCommands() {
  const blocks = [...README.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  return blocks.flatMap((block) => block.split("\n")).filter((line) => /^esbuild\s/.test(line));
}

/** A copy of the example, as a project of its own whose node_modules has the package and its peers. */
function project() {
  const dir = mkdtempSync(join(tmpdir(), "edge-tenancy-readme-"));
  for (const name of ["src", "package.json", "tsconfig.json", "wrangler.toml"]) cpSync(join(EXAMPLE, name), join(dir, name), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const disposers = [];
after(async () => {
  for (const dispose of disposers) await dispose();
});

test("the README has a bundler command for Workers", () => {
  const commands = bundlerCommands();
  assert.ok(commands.length >= 1, "no esbuild command in the js README's sh blocks");
  for (const command of commands) assert.match(command, /--conditions=workerd/, command);
});

for (const command of bundlerCommands()) {
  test(`as written, on the Hono + D1 example: ${command}`, async () => {
    const dir = project();
    // Run by the shell, as a user pastes it.
    execSync(command, { cwd: dir, env: { ...process.env, PATH }, stdio: ["ignore", "ignore", "pipe"] });
    const out = join(dir, "dist");
    assert.ok(existsSync(join(out, "index.js")), "dist/index.js");
    const wasm = readdirSync(out).filter((name) => name.endsWith(".wasm"));
    assert.equal(wasm.length, 2, `the pipeline's and the control plane's .wasm beside the bundle: ${readdirSync(out)}`);
    const bundle = readFileSync(join(out, "index.js"), "utf8");
    assert.match(bundle, /from "cloudflare:workers"/, "the runtime's module stays an import");

    // `wrangler deploy --no-bundle` uploads the bundle with its .wasm files, as the README says.
    const dryRun = join(dir, "upload");
    execFileSync("wrangler", ["deploy", "dist/index.js", "--no-bundle", "--dry-run", "--outdir", dryRun], {
      cwd: dir,
      env: { ...process.env, PATH },
      stdio: ["ignore", "ignore", "pipe"],
    });
    assert.deepEqual(readdirSync(dryRun).filter((name) => name.endsWith(".wasm")).toSorted(), wasm.toSorted());

    // The bundle in workerd, beside the local API: an administrator adds a tenant, whose member
    // writes and reads a note over the REST path.
    const API = localApiWorker();
    const mf = new Miniflare({
      workers: [
        {
          name: "readme-example",
          modules: true,
          scriptPath: join(out, "index.js"),
          modulesRoot: out,
          modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
          compatibilityDate: COMPATIBILITY_DATE,
          d1Databases: { CONTROL_PLANE: "readme-registry" },
          serviceBindings: { CLOUDFLARE_API: API.name },
          bindings: VARS,
        },
        API,
        localD1Worker(),
      ],
    });
    disposers.push(() => mf.dispose());
    const worker = await mf.getWorker("readme-example");
    const call = jsonCaller(worker);
    assert.deepEqual(await call("GET", "/health"), { status: 200, body: { status: "ok" } });
    const made = await call("POST", "/tenants", await sign({ tenant: "main", sub: "ops", scope: "tenants:admin" }), { id: "acme" });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const alice = await sign({ tenant: "acme", sub: "alice" });
    const note = await call("POST", "/t/acme/notes", alice, { body: "bundled by the README's command" });
    assert.deepEqual([note.status, note.body], [201, { id: 1, author: "alice", body: "bundled by the README's command" }]);
    assert.deepEqual((await call("GET", "/t/acme/notes", alice)).body.notes, [note.body]);
  });
}
