// Fault rules the tests switch on: which call they hit, what they do, how many times.

export const OPERATIONS = [
  "d1.create",
  "d1.list",
  "d1.get",
  "d1.delete",
  "d1.query",
  "d1.raw",
  "d1.export",
  "workers.settings.get",
  "workers.settings.patch",
];

const KINDS = ["status", "successFalse", "drop", "slow"];

/** Checks and normalises one rule; throws a message for a bad one. */
export function checkRule(rule) {
  if (typeof rule !== "object" || rule === null) throw new Error("a rule is an object");
  const { operation = null, fault, status = 500, retryAfter = 1, delayMs = 0, body = "json" } = rule;
  if (operation !== null && !OPERATIONS.includes(operation)) throw new Error(`unknown operation ${operation}`);
  if (!KINDS.includes(fault)) throw new Error(`fault is one of ${KINDS.join(", ")}`);
  const times = rule.times === undefined ? 1 : rule.times;
  if (times !== null && !(Number.isInteger(times) && times > 0)) throw new Error("times is a positive integer or null");
  return { operation, fault, status, retryAfter, delayMs, body, times };
}

/** The first rule for `operation` with uses left, used up by one; or null. */
export function takeFault(rules, operation) {
  const rule = rules.find((r) => (r.operation === null || r.operation === operation) && (r.times === null || r.times > 0));
  if (!rule) return null;
  if (rule.times !== null) rule.times--;
  return rule;
}
