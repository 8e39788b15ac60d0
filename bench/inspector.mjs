// A V8 CPU profile through an inspector's WebSocket while some load runs, and its self time by
// function per request: shared by bench/profile.mjs (workerd serve) and bench/middleware (miniflare).

/** Profiles through the inspector at `url` (a target's WebSocket) while `load()` runs; returns the profile and what `load` returned. */
export async function profileThrough(url, load) {
  const socket = new WebSocket(url);
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
