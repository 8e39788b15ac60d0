// Where a first sight of a public-key token goes, in workerd: each part run in a loop inside one
// request (bench/workers/first-sight.js), timed from here, medians over rounds. For each of EdDSA,
// ES256 and RS256: WebCrypto's check alone, jose's jwtVerify, edge-tenancy's resolve with caches
// off, and its one call into wasm with the verdict given; what jose and edge-tenancy each add to
// the check is the work of their own.
//   node bench/first-sight.mjs (BENCH_ROUNDS)
import { median, serve } from "./harness.mjs";
import { ALGS, SHAPES } from "./traffic.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const STEPS = ["webcrypto", "jose", "resolve", "wasm"];
const N = 2000;
// The default traffic shape's users, each with a token of each public-key algorithm.
const SHAPE = SHAPES[0];

const variants = ALGS.slice(1).map((alg) => ({ name: alg, entry: "first-sight.js", env: { ALG: alg }, alg }));
const server = await serve(variants, [SHAPE]);
try {
  const run = async (i, step, n) => {
    const started = performance.now();
    const { ok } = await (await fetch(`http://127.0.0.1:${server.port(i)}/step?step=${step}&n=${n}`)).json();
    if (ok !== n) throw new Error(`${variants[i].name} ${step}: ${n - ok} of ${n} failed`);
    return ((performance.now() - started) * 1000) / n;
  };
  const times = variants.map(() => Object.fromEntries(STEPS.map((s) => [s, []])));
  for (const [i] of variants.entries()) for (const step of STEPS) await run(i, step, N);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i] of variants.entries()) for (const step of STEPS) times[i][step].push(await run(i, step, N));
  }
  console.log(`\nfirst sight of a public-key token in workerd, µs each (${ROUNDS} rounds of ${N}, ${SHAPE.users} users' tokens; medians)`);
  console.log(`${"alg".padEnd(8)}${["WebCrypto check", "jose jwtVerify", "edge-tenancy resolve", "its call into wasm", "jose's own", "edge-tenancy's own"].map((h) => h.padStart(22)).join("")}`);
  for (const [i, v] of variants.entries()) {
    const m = Object.fromEntries(STEPS.map((s) => [s, median(times[i][s])]));
    const own = (step) => median(times[i][step].map((t, round) => t - times[i].webcrypto[round]));
    const cells = [m.webcrypto, m.jose, m.resolve, m.wasm, own("jose"), own("resolve")];
    console.log(`${v.name.padEnd(8)}${cells.map((c) => c.toFixed(1).padStart(22)).join("")}`);
  }
} finally {
  server.stop();
}
