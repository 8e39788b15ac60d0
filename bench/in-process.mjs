// The benchmark's variants without HTTP: each worker runs its app in a loop inside one request
// (bench/workers/in-process.js) over the same traffic shapes, so what is timed is Hono, the
// middleware and the handler alone, in workerd, without the socket and wrk's noise around it.
// Prints µs per request and what each variant adds to bare Hono, paired by round (the bare batch
// of the same round), medians over rounds.
//   BENCH_ROUNDS, BENCH_BATCH_MS (each batch's length), BENCH_VARIANTS, BENCH_SHAPES as for run.mjs
import { selected, serve, checkAnswers, median } from "./harness.mjs";
import { ALGS } from "./traffic.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const BATCH_MS = Number(process.env.BENCH_BATCH_MS ?? 300);

const { variants, shapes } = selected();
const server = await serve(variants, shapes, { inProcess: true });
try {
  // One batch: µs per request of `n` requests run back to back in the worker.
  const batch = async (i, shape, n) => {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${server.port(i)}/loop?shape=${encodeURIComponent(shape.name)}&n=${n}`);
    const { ok } = await response.json();
    const elapsed = performance.now() - started;
    if (ok !== n) throw new Error(`${variants[i].name}, ${shape.name}: ${n - ok} of ${n} requests were not answered 200`);
    return (elapsed * 1000) / n;
  };
  // Checked first, then warmed up (V8 tiers up in the background), and each batch sized to last
  // about BATCH_MS.
  const sizes = shapes.map(() => []);
  for (const [s, shape] of shapes.entries()) {
    for (const [i, v] of variants.entries()) {
      await checkAnswers(v, server.port(i), server.tokens[v.alg], shape);
      await batch(i, shape, 200);
      const us = await batch(i, shape, 2000);
      await batch(i, shape, Math.ceil((2000 * 1000) / us));
      sizes[s][i] = Math.max(100, Math.ceil((BATCH_MS * 1000) / us));
    }
  }
  const times = shapes.map(() => variants.map(() => [])); // [shape][variant][round] µs/request
  for (let round = 0; round < ROUNDS; round++) {
    for (const [s, shape] of shapes.entries()) {
      for (const [i] of variants.entries()) times[s][i].push(await batch(i, shape, sizes[s][i]));
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }

  const added = (s, i) => median(times[s][i].map((t, round) => t - times[s][0][round]));
  const cell = (text, width) => String(text).padStart(width);
  console.log(`\nin-process loop in workerd serve, ${ROUNDS} rounds of ~${BATCH_MS} ms batches; medians`);
  console.log(`µs per request (no HTTP), and what the variant adds to bare Hono (paired by round)`);
  console.log(`${"variant".padEnd(34)}${shapes.map((s) => cell(s.name, 28)).join("")}`);
  for (const [i, v] of variants.entries()) {
    const cells = shapes.map((_, s) => `${median(times[s][i]).toFixed(1)} +${added(s, i).toFixed(1)}`);
    console.log(`${v.name.padEnd(34)}${cells.map((c) => cell(c, 28)).join("")}`);
  }
  // Time per request of a variant over its counterpart's, paired by round (> 1: edge-tenancy is faster).
  const index = (name) => variants.findIndex((v) => v.name === name);
  console.log(`\nedge-tenancy against its JS counterparts: their µs per request over ours (paired by round; > 1 is faster)`);
  console.log(`${"comparison".padEnd(56)}${shapes.map((s) => cell(s.name, 28)).join("")}`);
  for (const alg of ALGS) {
    for (const [ours, theirs] of [
      [`edge-tenancy ${alg}, caches on`, `jose + Map ${alg}`],
      [`edge-tenancy ${alg}, caches off`, `jose ${alg}, uncached`],
    ]) {
      const [a, b] = [index(ours), index(theirs)];
      if (a < 0 || b < 0) continue;
      const cells = shapes.map((_, s) => `${median(times[s][b].map((t, round) => t / times[s][a][round])).toFixed(2)}x`);
      console.log(`${`${ours} / ${theirs.replace(` ${alg}`, "")}`.padEnd(56)}${cells.map((c) => cell(c, 28)).join("")}`);
    }
  }
} finally {
  server.stop();
}
