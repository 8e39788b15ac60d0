// Fault rules the tests switch on: which call they hit, what they do, how many times.
import { OPERATIONS } from "./routes.js";

const KINDS = ["status", "successFalse", "drop", "slow", "taskError"];
// Operations that run a task polled to completion, where `taskError` makes a poll report failure.
const TASKS = ["d1.export", "d1.import"];

/** Checks and normalises one rule; throws a message for a bad one. */
export function checkRule(rule) {
  if (typeof rule !== "object" || rule === null) throw new Error("a rule is an object");
  const known = ["operation", "fault", "status", "retryAfter", "delayMs", "body", "times", "message"];
  const unknown = Object.keys(rule).find((key) => !known.includes(key));
  if (unknown) throw new Error(`unknown rule field ${unknown}`);
  const { operation = null, fault, status = 500, retryAfter = 1, delayMs = 0, body = "json", message = "Simulated task failure" } = rule;
  if (operation !== null && !OPERATIONS.includes(operation)) throw new Error(`unknown operation ${operation}`);
  if (!KINDS.includes(fault)) throw new Error(`fault is one of ${KINDS.join(", ")}`);
  if (fault === "taskError" && !TASKS.includes(operation)) throw new Error(`taskError applies to ${TASKS.join(" or ")}`);
  const times = rule.times === undefined ? 1 : rule.times;
  if (times !== null && !(Number.isInteger(times) && times > 0)) throw new Error("times is a positive integer or null");
  return { operation, fault, status, retryAfter, delayMs, body, times, message };
}

/**
 * The first rule for `operation` with uses left, used up by one; or null. A `taskError` rule waits
 * for a call that runs its task (`runsTask`: an export's, an import's ingest), so an import's init
 * or poll does not use it up.
 */
export function takeFault(rules, operation, runsTask = true) {
  const applies = (r) => (r.operation === null || r.operation === operation) && (r.fault !== "taskError" || runsTask);
  const rule = rules.find((r) => applies(r) && (r.times === null || r.times > 0));
  if (!rule) return null;
  if (rule.times !== null) rule.times--;
  return rule;
}
