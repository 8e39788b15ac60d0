// Where a variant's time goes in workerd: V8's CPU profile, taken through workerd's inspector while
// wrk sends one traffic shape. Prints self time by function (µs per request, share of samples)
// and writes the .cpuprofile (Chrome DevTools opens it) next to the bench's work files.
//
//   BENCH_PROFILE="edge-tenancy EdDSA, caches on" BENCH_SHAPES="100 users" bash bench/run.sh profile
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { allVariants, serve, checkAnswers, wrk } from "./harness.mjs";
import { SHAPES } from "./traffic.mjs";

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
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 0;
  const pending = new Map();
  socket.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    if (message.id !== undefined) pending.get(message.id)?.(message);
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  const counted = {};
  // wrk blocks this process; the inspector's socket buffers in the meantime.
  const rps = wrk(variant, server.port(0), script, SECONDS, counted);
  const { profile } = await send("Profiler.stop");
  socket.close();

  const file = join(server.work, `${name.replace(/[^A-Za-z0-9]+/g, "-")}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  summarize(profile, counted.requests, rps, file);
} finally {
  server.stop();
}

// Self time by function, from the samples and their time deltas.
function summarize(profile, requests, rps, file) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url ? ` ${url.split("/").at(-1)}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const idle = self.get("(idle)") ?? 0;
  const busy = total - idle;
  console.log(`\n${name}, ${shape.name}: ${rps.toFixed(0)} req/s while profiled, ${requests} requests, ${(total / 1e6).toFixed(1)} s sampled, busy ${((busy / total) * 100).toFixed(0)}%`);
  console.log(`busy time per request: ${(busy / requests).toFixed(1)} µs; profile: ${file}\n`);
  console.log(`${"µs/req".padStart(7)} ${"% busy".padStart(7)}  function`);
  const rows = [...self.entries()].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]);
  for (const [key, us] of rows.slice(0, TOP)) {
    console.log(`${(us / requests).toFixed(2).padStart(7)} ${((us / busy) * 100).toFixed(1).padStart(7)}  ${key}`);
  }
  const wasm = rows.filter(([k]) => k.includes("wasm")).reduce((sum, [, us]) => sum + us, 0);
  console.log(`\nwasm functions together: ${(wasm / requests).toFixed(2)} µs/req (${((wasm / busy) * 100).toFixed(1)}% of busy)`);
}
