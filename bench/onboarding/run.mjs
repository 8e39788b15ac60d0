// The onboarding benchmark (not a test): `bash bench/run.sh onboarding [tenants] [window secs]`
// queues that many tenants (2,000) in the demo worker and drains the queue through the local
// Cloudflare API under the real rate limit's shape, 1,200 calls a window, in a window of that
// many seconds (60: five times as fast as the real 300, so a run takes minutes), with the demo's
// own budget below it (1,100). Prints tenants onboarded a minute beside the budget's own limit
// (the calls the limit lets through in that time, a window's at each window's start, ÷ the calls
// a tenant took), API calls a tenant (to make
// and bind its database, and with the demo's hook), the 429s met, and what the same rates come to
// at the real window. Checks that every tenant ended ready once, oldest first, bound to its own
// database.
import { onboardingWorld, onboard, boundDatabases, API_LIMIT } from "../../tests/onboarding.mjs";

const TENANTS = Number(process.argv[2] ?? 2_000);
const WINDOW_SECS = Number(process.argv[3] ?? 60);
const ids = Array.from({ length: TENANTS }, (_, i) => `o${String(i).padStart(5, "0")}`);

const w = await onboardingWorld(WINDOW_SECS);
try {
  const run = await onboard(w, ids);
  const bound = await boundDatabases(w);
  const wrong = run.order.length !== TENANTS || run.order.some((id, i) => id !== ids[i]) || run.failed.length > 0;
  if (wrong) throw new Error(`not every tenant ready once, in order: ${run.order.length} ready, failed ${JSON.stringify(run.failed.slice(0, 5))}`);
  if (bound.size < TENANTS) throw new Error(`${bound.size} bindings for ${TENANTS} tenants`);
  const perMinute = (TENANTS / run.seconds) * 60;
  const perTenant = run.total / TENANTS;
  // The most the limit lets through in that time: a whole window's calls at once, then a
  // window's each time one starts.
  const limitCalls = API_LIMIT * Math.ceil(run.seconds / WINDOW_SECS);
  const limit = (limitCalls / perTenant / run.seconds) * 60;
  const f = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  console.log(`onboarding ${f(TENANTS)} tenants, the API's limit ${f(API_LIMIT)} calls per ${WINDOW_SECS} s:`);
  console.log(`  ${f(run.seconds, 1)} s: ${f(perMinute)} tenants a minute; the limit's ${f(limit)} at ${f(perTenant, 3)} calls a tenant (${f(perMinute / limit, 2)}x)`);
  console.log(`  API calls a tenant: ${f(run.ours / TENANTS, 3)} to make and bind its database (${f(run.calls["d1.create"])} made, ${f(run.calls["workers.settings.patch"])} binding changes, ${f(run.calls["workers.settings.get"] ?? 0)} reads), ${f(perTenant, 3)} with the demo's hook`);
  console.log(`  429s met: ${run.rateLimited}; budget stops: ${run.budgetStops}`);
  const real = (API_LIMIT / 300) * 60;
  console.log(`  at the real window (1,200 calls per 5 minutes, ${f(real)} a minute): ${f(real / perTenant)} tenants a minute with the hook, ${f(real / (run.ours / TENANTS))} without`);
} finally {
  await w.mf.dispose();
}
