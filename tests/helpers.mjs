// Shared by the specs: start a built worker in workerd through miniflare and talk to it over HTTP.
import { Miniflare } from "miniflare";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const COMPATIBILITY_DATE = "2026-07-01";

/** Starts `scriptPath` (an ES module whose `.wasm` imports are compiled modules) in workerd. */
export async function startWorker({ scriptPath, ...options }) {
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    // Module names are paths relative to this root; workerd refuses names that climb out with "..".
    modulesRoot: dirname(scriptPath),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    ...options,
  });
  let url;
  try {
    url = await mf.ready;
  } catch (error) {
    await mf.dispose().catch(() => {}); // a runtime that failed to start would keep the run alive
    throw error;
  }
  return {
    mf,
    url,
    /** A real HTTP request to the worker's socket. */
    fetch: (path, init) => fetch(new URL(path, url), init),
    dispose: () => mf.dispose(),
  };
}

/** Bundles a JS worker the way `wrangler deploy` would, and returns the entry module's path. */
export function bundleWithWrangler(projectDir) {
  const outdir = mkdtempSync(join(tmpdir(), "edge-tenancy-bundle-"));
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: projectDir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return join(outdir, "index.js");
}

export async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${response.status}): ${text.slice(0, 200)}`);
  }
}

/** `call(method, path, token?, body?)` on a Miniflare worker: its status and JSON body. */
export function jsonCaller(worker) {
  return async (method, path, token, body) => {
    const res = await worker.fetch(`http://example${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body && JSON.stringify(body),
    });
    return { status: res.status, body: await json(res) };
  };
}
