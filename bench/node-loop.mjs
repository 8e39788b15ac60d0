// edge-tenancy's own cost per request, without HTTP or Hono: the package (its portable build)
// resolves pre-built Requests of one traffic shape in a loop under Node, and prints µs per
// request. With `node --cpu-prof bench/node-loop.mjs`, V8's profile shows where that time goes
// with none of workerd's noise. BENCH_ALG, BENCH_SHAPES and BENCH_CACHE (0: caches off) choose.
import { createTenancy } from "edge-tenancy";
import { ALGS, SHAPES, HS256_SECRET, ISSUER, keyMaterial, requestList, userTokens } from "./traffic.mjs";

const alg = process.env.BENCH_ALG ?? "HS256";
if (!ALGS.includes(alg)) throw new Error(`BENCH_ALG: one of ${ALGS.join(", ")}`);
const shape = SHAPES.find((s) => new RegExp(process.env.BENCH_SHAPES ?? "100 users").test(s.name));
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const { jwks, sign } = await keyMaterial();
const tokens = await userTokens(sign, alg, shape.users);
const tenancy = createTenancy({
  resolve: { strategies: [{ type: "subdomain", baseDomains: ["example.com"] }, { type: "jwtClaim" }] },
  authenticate: {
    keys: jwks.keys,
    secrets: [{ secret: HS256_SECRET, alg: "HS256", kid: "hs" }],
    issuer: ISSUER,
    cacheTokens: Number(process.env.BENCH_CACHE ?? 256),
  },
});
// The shape's seeded walk over users and paths (the in-process benchmark's), built before timing.
const requests = requestList(shape, 50_000).map(([url, user]) => new Request(url, { headers: { authorization: `Bearer ${tokens[user]}` } }));

let done = 0;
const started = performance.now();
const until = started + seconds * 1000;
while (performance.now() < until) {
  for (let i = 0; i < 1000; i++) {
    const result = await tenancy.resolve(requests[done++ % requests.length]);
    if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  }
}
const elapsed = performance.now() - started;
console.log(`${alg}, ${shape.name}, cacheTokens ${process.env.BENCH_CACHE ?? 256}: ${((elapsed * 1000) / done).toFixed(2)} µs per request (${done} requests)`);
