// For the README spec and the size benchmark: the README's "Use it in your own Rust worker" as a
// crate of its own outside the workspace, built with worker-build as a user builds it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./helpers.mjs";

const HEADING = "#### Use it in your own Rust worker";
/** The README's dependency line, as far as the spec changes it. */
const DEPENDENCY = 'edge-tenancy = { version = "0.1", default-features = false, features = ["workers"] }';

/** The section's files: each fenced block whose info string names one (```toml Cargo.toml). */
export function readmeFiles() {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(HEADING);
  assert.ok(start >= 0, `the README has "${HEADING}"`);
  const rest = readme.slice(start + HEADING.length);
  const section = rest.slice(0, rest.search(/^#{2,4} /m));
  return Object.fromEntries([...section.matchAll(/^```\w+ (\S+)\n([\s\S]*?)^```/gm)].map(([, path, text]) => [path, text]));
}

/**
 * `files` written into a new directory, with this checkout standing in for the published crate
 * (its path beside the README's version) built with `features` (default: the README's), and the
 * workspace's lock file, which pins the versions this machine's wasm-bindgen matches.
 */
export function writeCrate(files, { features } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "edge-tenancy-rust-worker-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const manifest = files["Cargo.toml"];
  if (manifest.includes(DEPENDENCY)) {
    const wanted = features === undefined ? ["workers"] : ["workers", ...features];
    const line = `edge-tenancy = { version = "0.1", path = ${JSON.stringify(ROOT)}, default-features = false, features = ${JSON.stringify(wanted)} }`;
    writeFileSync(join(dir, "Cargo.toml"), manifest.replace(DEPENDENCY, line));
  }
  copyFileSync(join(ROOT, "Cargo.lock"), join(dir, "Cargo.lock"));
  return dir;
}

/** bench/rust-bare's files: workers-rs alone, the benchmarks' baseline for Rust workers. */
export function bareRustFiles() {
  const bare = join(ROOT, "bench/rust-bare");
  return {
    "Cargo.toml": readFileSync(join(bare, "Cargo.toml"), "utf8"),
    "src/lib.rs": readFileSync(join(bare, "src/lib.rs"), "utf8"),
  };
}

/** Builds the crate in `dir` with `worker-build --release`; its wasm's size, raw and gzip. */
export function buildWorker(dir) {
  assert.ok(process.env.WORKER_BUILD_BIN, "run through scripts/test.sh or bench/run.sh, which put worker-build on PATH");
  execFileSync(process.env.WORKER_BUILD_BIN, ["--release"], {
    cwd: dir,
    // Dependencies built once for the workspace are reused.
    env: { ...process.env, CARGO_TARGET_DIR: join(ROOT, "target") },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const wasm = readFileSync(join(dir, "build/index_bg.wasm"));
  return { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
}
