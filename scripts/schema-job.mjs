#!/usr/bin/env node
// Watches a migration job with a progress bar, driving it as it goes (POST /schema/jobs/{id}/drive)
// so it moves on without waiting for the Cron Trigger; or, with no id, submits one first.
//
//   node scripts/schema-job.mjs [--url http://127.0.0.1:8787] [--token $ADMIN] [--id N]
//                               [--dry-run] [--hold-secs 65] [--canary acme,globex] [--watch]
//
// --watch only reads the job (the Cron Trigger drives it). The token defaults to the local demo's
// administrator (scripts/admin-token.mjs). Exits 0 when the job commits (or its dry run passes),
// 1 otherwise, printing each failing tenant with its error.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    token: { type: "string" },
    id: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    "hold-secs": { type: "string" },
    canary: { type: "string" },
    watch: { type: "boolean", default: false },
  },
});
const token =
  values.token ?? execFileSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "admin-token.mjs")], { encoding: "utf8" }).trim();

async function call(method, path, body) {
  const res = await fetch(new URL(path, values.url), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body && JSON.stringify(body),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${answer.error?.code}: ${answer.error?.message}`);
  return answer;
}

const phaseName = (phase) => (typeof phase === "string" ? phase : Object.keys(phase)[0]);
const seconds = (ms) => (ms === null || ms === undefined ? "?" : `${Math.round(ms / 1000)} s`);

function show(job) {
  const width = 30;
  const filled = Math.round(job.done * width);
  const counts = Object.entries(job.counts).map(([state, n]) => `${state} ${n}`).join(", ");
  const line = `job ${job.id} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(job.done * 100)}% ${phaseName(job.phase)}${job.paused ? " (paused)" : ""} | ${counts} | ${seconds(job.elapsed_ms)} elapsed, ~${seconds(job.estimate_ms)} left`;
  process.stdout.write(process.stdout.isTTY ? `\r${line.padEnd(process.stdout.columns - 1)}` : `${line}\n`);
}

let job;
if (values.id) {
  job = await call("GET", `/schema/jobs/${values.id}`);
} else {
  const body = { dry_run_only: values["dry-run"] };
  if (values["hold-secs"]) body.hold_secs = Number(values["hold-secs"]);
  if (values.canary) body.canary = values.canary.split(",");
  job = await call("POST", "/schema/jobs", body);
  for (const warning of job.warnings ?? []) console.log(`warning: ${warning}`);
}
show(job);
while (!job.outcome) {
  job = values.watch ? (await new Promise((r) => setTimeout(r, 2000)), await call("GET", `/schema/jobs/${job.id}`)) : await call("POST", `/schema/jobs/${job.id}/drive?secs=10`);
  show(job);
}
process.stdout.write("\n");
console.log(`job ${job.id}: ${job.outcome}`);
if (job.schema_error) console.log(`  the group's schema database: ${job.schema_error}`);
for (const { tenant, error } of job.failing) console.log(`  ${tenant}: ${error}`);
process.exit(["committed", "dry_run_passed"].includes(job.outcome) && job.failing.length === 0 && !job.schema_error ? 0 : 1);
