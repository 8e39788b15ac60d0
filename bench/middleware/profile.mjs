// A V8 CPU profile of one worker in miniflare's workerd while `load()` runs, and its self time by
// function per request. Used by run.mjs with BENCH_PROFILE. Miniflare started with
// `inspectorPort` gives workerd an inspector on a port of the system's choosing; it is found
// among workerd's listening ports (miniflare's own proxy to it takes only DevTools).
import { execFileSync } from "node:child_process";
import { profileThrough } from "../inspector.mjs";

export { printSelfTime } from "../inspector.mjs";

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
  return profileThrough(`ws://127.0.0.1:${port}/${target.id}`, load);
}
