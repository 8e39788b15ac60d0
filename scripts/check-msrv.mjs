// The crate's minimum Rust version holds for what it links: every crate edge-tenancy depends on
// (all features, on every platform, dev-dependencies left out) asks for no newer Rust
// than edge-tenancy's `rust-version`. Clippy's `incompatible_msrv` lint, on in every clippy run,
// checks the crate's own use of the standard library against the same version; scripts/test.sh
// also compiles the crate with that toolchain where it is installed.
import { execFileSync } from "node:child_process";

const metadata = JSON.parse(execFileSync("cargo", ["metadata", "--format-version", "1", "--all-features", "--locked"], { maxBuffer: 1 << 28 }));
const byId = new Map(metadata.packages.map((p) => [p.id, p]));
const root = metadata.packages.find((p) => p.name === "edge-tenancy");
const ours = root.rust_version;
const newer = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
};
const nodes = new Map(metadata.resolve.nodes.map((n) => [n.id, n]));
const seen = new Set();
const stack = [root.id];
while (stack.length) {
  const id = stack.pop();
  if (seen.has(id)) continue;
  seen.add(id);
  for (const dep of nodes.get(id).deps) {
    if (dep.dep_kinds.some((k) => k.kind !== "dev")) stack.push(dep.pkg);
  }
}
const refused = [...seen].map((id) => byId.get(id)).filter((p) => p.rust_version && newer(p.rust_version, ours));
if (refused.length) {
  console.error(`edge-tenancy's rust-version is ${ours}, but these dependencies need newer:`);
  for (const p of refused) console.error(`  ${p.name} ${p.version}: rust ${p.rust_version}`);
  process.exit(1);
}
console.log(`rust-version ${ours}: all ${seen.size - 1} dependencies build with it`);
