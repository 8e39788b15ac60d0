#!/usr/bin/env bash
# The benchmark (not a test): `bash bench/run.sh` prints req/s and paired ratios for every variant
# under every traffic shape; `bash bench/run.sh profile` takes one variant's CPU profile in workerd
# (see bench/profile.mjs); `bash bench/run.sh middleware` whole tenant requests, auth to database,
# against a hand-written JS baseline and the Rust demo (see bench/middleware/run.mjs); `bash
# bench/run.sh in-process` the same variants and traffic without HTTP, each app run in a loop
# inside workerd, for what each adds to bare Hono in µs (see bench/in-process.mjs); `bash
# bench/run.sh first-sight` the parts of a first sight of a public-key token, edge-tenancy's and
# jose's (see bench/first-sight.mjs); `bash bench/run.sh sizes` a Rust worker's wasm with each
# signature backend, beside a bare workers-rs worker (see bench/sizes.mjs); `bash bench/run.sh
# schema-jobs [tenants] [rest|binding]` a migration job over that many tenant databases (1,000)
# under the API's real rate limit, over the REST and the binding paths (see
# bench/schema/jobs.mjs); `bash bench/run.sh onboarding [tenants] [window secs]` tenants queued and
# drained under the API's rate limit, per minute and in API calls a tenant (see
# bench/onboarding/run.mjs); `bash bench/run.sh registry` the tenant registry's reads at 1,000,
# 10,000 and 100,000 tenants, natively on SQLite (see src/control/scale.rs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
bash "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
if [ "${1:-}" = registry ]; then
  exec cargo test --quiet --release -p edge-tenancy registry_at_scale -- --ignored --nocapture
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ "${BENCH_BUILD:-1}" = 0 ] || bash "$ROOT/scripts/build.sh" js
case "${1:-run}" in
  run) exec node "$ROOT/bench/run.mjs" ;;
  profile) exec node "$ROOT/bench/profile.mjs" ;;
  in-process) exec node "$ROOT/bench/in-process.mjs" ;;
  first-sight) exec node "$ROOT/bench/first-sight.mjs" ;;
  sizes) exec node "$ROOT/bench/sizes.mjs" ;;
  middleware) [ "${BENCH_BUILD:-1}" = 0 ] || bash "$ROOT/scripts/build.sh" demo; exec node "$ROOT/bench/middleware/run.mjs" ;;
  schema-jobs) [ "${BENCH_BUILD:-1}" = 0 ] || bash "$ROOT/scripts/build.sh" demo; exec node "$ROOT/bench/schema/jobs.mjs" "${@:2}" ;;
  onboarding) [ "${BENCH_BUILD:-1}" = 0 ] || bash "$ROOT/scripts/build.sh" demo; exec node "$ROOT/bench/onboarding/run.mjs" "${@:2}" ;;
  *) echo "usage: bench/run.sh [run|profile|in-process|first-sight|middleware|sizes|schema-jobs [tenants] [rest|binding]|onboarding [tenants] [window secs]|registry]" >&2; exit 2 ;;
esac
