// Where a variant's time goes in workerd: V8's CPU profile, taken through workerd's inspector while
// wrk sends one traffic shape. Prints self time by function (µs per request, share of samples)
// and writes the .cpuprofile (Chrome DevTools opens it) next to the bench's work files.
//
//   BENCH_PROFILE="edge-tenancy EdDSA, caches on" BENCH_SHAPES="100 users" bash bench/run.sh profile
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { allVariants, serve, checkAnswers, wrk } from "./harness.mjs";
import { SHAPES } from "./traffic.mjs";
import { profileThrough, printSelfTime } from "./inspector.mjs";

const INSPECTOR = "127.0.0.1:9239";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const TOP = Number(process.env.BENCH_TOP ?? 30);
const name = process.env.BENCH_PROFILE ?? "edge-tenancy HS256, caches on";
const variant = allVariants().find((v) => v.name === name);
if (!variant) throw new Error(`no variant named ${JSON.stringify(name)}`);
const shape = SHAPES.find((s) => new RegExp(process.env.BENCH_SHAPES ?? "100 users").test(s.name));

const server = await serve([variant], [shape], { inspector: INSPECTOR });
try {
  const script = server.scripts[`${variant.alg} ${shape.name}`];
  await checkAnswers(variant, server.port(0), server.tokens[variant.alg], shape);
  wrk(variant, server.port(0), script, 3);

  const targets = await (await fetch(`http://${INSPECTOR}/json/list`)).json();
  const target = targets.find((t) => t.title === "v0" || t.id === "v0") ?? targets[0];
  const counted = {};
  // wrk blocks this process; the inspector's socket buffers in the meantime.
  const { profile, loaded: rps } = await profileThrough(target.webSocketDebuggerUrl, () => wrk(variant, server.port(0), script, SECONDS, counted));
  const file = join(server.work, `${name.replace(/[^A-Za-z0-9]+/g, "-")}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`\n${name}, ${shape.name}: ${rps.toFixed(0)} req/s while profiled; profile: ${file}`);
  printSelfTime(profile, counted.requests, TOP);
} finally {
  server.stop();
}
