#!/usr/bin/env bash
# The resolution + verification benchmark (not a test): prints req/s and ratios to a bare worker.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
bash "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash "$ROOT/scripts/build.sh" js
exec node "$ROOT/bench/run.mjs"
