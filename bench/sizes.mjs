// What a Rust worker's wasm weighs: the README's example built with each signature backend on
// its own, all three (the default features), and a bare workers-rs worker (bench/rust-bare: a
// route without the database and one SELECT on a D1 binding, no tenancy), each as a crate of its
// own built with worker-build and the README's release profile. Prints bytes and gzip, and each beside the bare worker and the HMAC-only build.
import { rmSync } from "node:fs";
import { bareRustFiles, readmeFiles, writeCrate, buildWorker } from "../tests/rust-worker.mjs";

const readme = readmeFiles();
const variants = [
  ["bare workers-rs (no tenancy)", bareRustFiles(), undefined],
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
