// Memory one isolate's caches hold after N distinct users (10,000 by default) have each called
// once: the JS heap (the replayed answers) and the wasm linear memory (the verifier's token cache,
// which never shrinks once grown), measured in Node with the package's portable build, after GC,
// one process per algorithm and cache size. What the caches hold is the growth over the same run
// with caches off (cacheTokens: 0), which counts compiled code and the allocator's own growth.
//   node bench/memory.mjs
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import "../js/load/bytes.js";
import { initSync } from "../js/dist/edge_tenancy.js";
import { createTenancy } from "edge-tenancy";
import { HS256_SECRET, ISSUER, hostOf, keyMaterial, pathOf, userTokens } from "./traffic.mjs";

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
if (process.env.MEMORY_CASE === undefined) {
  const grown = (alg, cacheTokens) => {
    const env = { ...process.env, MEMORY_CASE: `${alg} ${cacheTokens}` };
    return JSON.parse(execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url)], { env, encoding: "utf8" }));
  };
  for (const alg of ["HS256", "RS256"]) {
    const off = grown(alg, 0);
    for (const cacheTokens of [256, USERS]) {
      const on = grown(alg, cacheTokens);
      console.log(
        `${alg} (tokens of ${on.tokenChars} chars), ${USERS} users, cacheTokens ${cacheTokens}: held by the caches: JS heap ${mb(on.heap - off.heap)}, wasm memory ${mb(on.wasm - off.wasm)}`,
      );
    }
  }
  process.exit(0);
}
const memory = initSync().memory; // the instance the package already made
const { jwks, sign } = await keyMaterial();

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const [alg, size] = process.env.MEMORY_CASE.split(" ");
const cacheTokens = Number(size);
const tokens = await userTokens(sign, alg, USERS);
const tenancy = createTenancy({
  resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }] },
  authenticate: { keys: jwks.keys, secrets: [{ secret: HS256_SECRET, alg: "HS256", kid: "hs" }], issuer: ISSUER, cacheTokens },
});
const [heapBefore, wasmBefore] = [heap(), memory.buffer.byteLength];
for (const [user, token] of tokens.entries()) {
  const request = new Request(`https://${hostOf(user)}${pathOf(user)}`, { headers: { authorization: `Bearer ${token}` } });
  if (!(await tenancy.resolve(request)).ok) throw new Error(`user ${user} was refused`);
}
const [heapAfter, wasmAfter] = [heap(), memory.buffer.byteLength];
console.log(JSON.stringify({ tokenChars: tokens[0].length, heap: heapAfter - heapBefore, wasm: wasmAfter - wasmBefore }));
