// A V8 CPU profile of one worker in miniflare's workerd while `load()` runs, and its self time by
// function per request. Used by run.mjs with BENCH_PROFILE. Miniflare started with
// `inspectorPort` gives workerd an inspector on a port of the system's choosing; it is found
// among workerd's listening ports (miniflare's own proxy to it takes only DevTools).
import { execFileSync } from "node:child_process";

// workerd's inspector: the listening port of process `pid` that lists inspector targets.
async function inspectorOf(pid) {
  const listening = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`pid=${pid},`));
  for (const line of listening) {
    const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    if (!port) continue;
    const targets = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json())
      .catch(() => null);
    if (Array.isArray(targets)) return { port, targets };
  }
  throw new Error(`no inspector among workerd's (${pid}) listening ports`);
}

/** Profiles `worker` (in workerd process `pid`) while `load()` runs; returns the profile and what `load` returned. */
export async function profileWhile(pid, worker, load) {
  const { port, targets } = await inspectorOf(pid);
  const target = targets.find((t) => t.id === `core:user:${worker}`);
  if (!target) throw new Error(`no inspector target for ${worker}: ${JSON.stringify(targets.map((t) => t.id))}`);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/${target.id}`);
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
  try {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 50 });
    await send("Profiler.start");
    const loaded = await load();
    const { profile } = await send("Profiler.stop");
    return { profile, loaded };
  } finally {
    socket.close();
  }
}

/** Prints the `top` functions by self time, in µs per request and share of the busy time. */
export function printSelfTime(profile, requests, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || "(anonymous)"}${url ? ` ${url.split("/").at(-1)}:${lineNumber + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const busy = total - (self.get("(idle)") ?? 0);
  console.log(`${requests} requests, ${(total / 1e6).toFixed(1)} s sampled, busy ${((busy / total) * 100).toFixed(0)}%, ${(busy / requests).toFixed(1)} µs busy per request\n`);
  console.log(`${"µs/req".padStart(7)} ${"% busy".padStart(7)}  function`);
  const rows = [...self.entries()].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]);
  for (const [key, us] of rows.slice(0, top)) {
    console.log(`${(us / requests).toFixed(2).padStart(7)} ${((us / busy) * 100).toFixed(1).padStart(7)}  ${key}`);
  }
  const wasm = rows.filter(([k]) => k.includes("wasm")).reduce((sum, [, us]) => sum + us, 0);
  console.log(`\nwasm functions together: ${(wasm / requests).toFixed(2)} µs/req (${((wasm / busy) * 100).toFixed(1)}% of busy)`);
}
