// Benchmark: req/s of tenant resolution + JWT verification under traffic like a real API's (N
// users' tokens over M paths), with edge-tenancy (caches on and off), jose with a Map of verified
// tokens (the baseline to beat) and jose alone, next to a bare Hono worker, under `workerd serve`
// directly (miniflare's proxy hides the cost). Every round runs every variant under every traffic
// shape, with bare Hono run again between the algorithms' groups; ratios are paired in time (each
// figure over the mean of the bare runs just before and after it, in the same round and shape,
// then the median over rounds), so drift on a shared machine cancels out. A variant and its JS
// counterpart run back to back and are compared directly.
import { selected, serve, checkAnswers, median, wrk } from "./harness.mjs";
import { ALGS } from "./traffic.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
// Long enough for V8 to finish optimizing JS and wasm (it tiers up in the background).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
// BENCH_TIGHT=1: bare Hono before every variant, not only before each algorithm's group.
const TIGHT = process.env.BENCH_TIGHT === "1";

const { variants, shapes } = selected();
const server = await serve(variants, shapes);
try {
  const script = (v, shape) => server.scripts[`${v.alg} ${shape.name}`];
  for (const shape of shapes) {
    for (const [i, v] of variants.entries()) {
      await checkAnswers(v, server.port(i), server.tokens[v.alg], shape);
      wrk(v, server.port(i), script(v, shape), WARMUP);
    }
  }
  // One round of one shape: bare Hono first, last, and before each algorithm's group.
  const schedule = [];
  for (const [i, v] of variants.entries()) {
    if (i > 0 && (TIGHT || (v.kind !== "bare" && v.alg !== variants[i - 1].alg))) schedule.push(0);
    schedule.push(i);
  }
  schedule.push(0);
  // Two measures of each run, both "more is faster": req/s, and requests per second of workerd's
  // CPU time (what Workers bill; time the process waits for the CPU does not count, so the two
  // part when the machine is shared). [measure][shape][variant][round]; bareNear: the mean of the
  // bare runs around that variant's run.
  const MEASURES = ["req/s", "requests per CPU second"];
  const results = MEASURES.map(() => shapes.map(() => variants.map(() => [])));
  const bareNear = MEASURES.map(() => shapes.map(() => variants.map(() => [])));
  const measure = (i, shape) => {
    const counted = {};
    const cpuBefore = server.cpuSeconds();
    const rps = wrk(variants[i], server.port(i), script(variants[i], shape), SECONDS, counted);
    return [rps, counted.requests / (server.cpuSeconds() - cpuBefore)];
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [s, shape] of shapes.entries()) {
      const runs = schedule.map((i) => measure(i, shape));
      for (const [m] of MEASURES.entries()) {
        for (const [i] of variants.entries()) {
          const at = i === 0 ? 0 : schedule.indexOf(i);
          const before = schedule.lastIndexOf(0, at);
          const after = schedule.indexOf(0, at + 1);
          results[m][s][i].push(runs[at][m]);
          bareNear[m][s][i].push(i === 0 ? runs[0][m] : (runs[before][m] + runs[after][m]) / 2);
        }
      }
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }

  // Against bare: the bare runs around each run; against another variant: the same round's run.
  const paired = (m, s, i, base) =>
    median(results[m][s][i].map((r, round) => r / (base === 0 ? bareNear[m][s][i][round] : results[m][s][base][round])));
  const index = (name) => variants.findIndex((v) => v.name === name);
  const cell = (text, width) => String(text).padStart(width);

  console.log(`\nworkerd serve, wrk -t1 -c16, ${ROUNDS} rounds x ${SECONDS}s, every shape each round; medians of per-round ratios`);
  console.log(`(to bare: over the bare runs just before and after; between variants: the same round's runs)`);
  for (const [m, name] of MEASURES.entries()) {
    const shown = m === 0 ? "req/s" : "workerd CPU µs per request";
    console.log(`\n${shown} (median) and ratio to bare Hono in ${name}, by traffic shape`);
    console.log(`${"variant".padEnd(34)}${shapes.map((s) => cell(s.name, 28)).join("")}`);
    for (const [i, v] of variants.entries()) {
      const cells = shapes.map((_, s) => {
        const figure = m === 0 ? median(results[m][s][i]).toFixed(0) : (1e6 / median(results[m][s][i])).toFixed(1);
        return `${figure} ${paired(m, s, i, 0).toFixed(2)}x`;
      });
      console.log(`${v.name.padEnd(34)}${cells.map((c) => cell(c, 28)).join("")}`);
    }

    // The goal, read off the same run: caches on against jose + Map and 0.95x bare, caches off
    // against jose uncached.
    console.log(`\nedge-tenancy against the empty middleware and its JS counterparts, in ${name} (paired by round; > 1 is faster)`);
    console.log(`${"comparison".padEnd(56)}${shapes.map((s) => cell(s.name, 28)).join("")}`);
    for (const alg of ALGS) {
      for (const [ours, theirs] of [
        // What the package itself costs: the floor for any Hono middleware is the empty one.
        [`edge-tenancy ${alg}, caches on`, "Hono, empty middleware"],
        [`edge-tenancy ${alg}, caches on`, `jose + Map ${alg}`],
        [`edge-tenancy ${alg}, caches off`, `jose ${alg}, uncached`],
      ]) {
        const [a, b] = [index(ours), index(theirs)];
        if (a < 0 || b < 0) continue;
        const cells = shapes.map((_, s) => `${paired(m, s, a, b).toFixed(2)}x`);
        console.log(`${`${ours} / ${theirs.replace(` ${alg}`, "")}`.padEnd(56)}${cells.map((c) => cell(c, 28)).join("")}`);
      }
    }
  }
  console.log(`\nper-round ratios to bare (req/s | per CPU second)`);
  for (const [s, shape] of shapes.entries()) {
    for (const [i, v] of variants.entries()) {
      if (i === 0) continue;
      const ratios = MEASURES.map((_, m) => results[m][s][i].map((r, round) => (r / bareNear[m][s][i][round]).toFixed(2)).join(" "));
      console.log(`${shape.name.padEnd(24)}${v.name.padEnd(34)}${ratios.join(" | ")}`);
    }
  }
} finally {
  server.stop();
}
