// What a Rust worker's wasm weighs: the README's example built with each signature backend on
// its own, all three (the default features), and a bare workers-rs worker with the same note
// routes and no tenancy, each as a crate of its own built with worker-build and the README's
// release profile. Prints bytes and gzip, and each beside the bare worker and the HMAC-only build.
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../tests/helpers.mjs";
import { readmeFiles, writeCrate, buildWorker } from "../tests/rust-worker.mjs";

const BARE = join(ROOT, "bench/rust-bare");
const bareFiles = {
  "Cargo.toml": readFileSync(join(BARE, "Cargo.toml"), "utf8"),
  ...Object.fromEntries(readdirSync(join(BARE, "src")).map((name) => [`src/${name}`, readFileSync(join(BARE, "src", name), "utf8")])),
};
const readme = readmeFiles();
const variants = [
  ["bare workers-rs (no tenancy)", bareFiles, undefined],
  ["README example, HMAC keys only (its features)", readme, []],
  ["  + eddsa", readme, ["eddsa"]],
  ["  + es256", readme, ["es256"]],
  ["  + rs256", readme, ["rs256"]],
  ["  + rust-crypto (the default features)", readme, ["rust-crypto"]],
];

const rows = [];
for (const [name, files, features] of variants) {
  const dir = writeCrate(files, { features });
  try {
    rows.push({ name, ...buildWorker(dir) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const [bare, hmac] = rows;
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
console.log(`\n${"worker".padEnd(48)}${"wasm".padStart(12)}${"gzip".padStart(12)}${"gzip vs bare".padStart(14)}${"gzip vs HMAC".padStart(14)}`);
for (const row of rows) {
  const vs = (base) => (row === base ? "" : `+${kb(row.gzip - base.gzip)}`);
  console.log(`${row.name.padEnd(48)}${kb(row.raw).padStart(12)}${kb(row.gzip).padStart(12)}${vs(bare).padStart(14)}${(row === bare ? "" : vs(hmac)).padStart(14)}`);
}
console.log(`\nthe README example is ${(hmac.gzip / bare.gzip).toFixed(2)}x the bare worker's gzip size`);
