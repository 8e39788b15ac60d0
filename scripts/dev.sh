#!/usr/bin/env bash
# Runs the demo worker with `wrangler dev` on 127.0.0.1:8787 with a local D1, and beside it the local
# Cloudflare API (local-api/) the demo provisions databases through: no account, no network.
# Extra arguments go to wrangler (for example --port 8788). `dev.sh hono-d1 [args]` runs the JS
# example worker the same way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh" # picks up a Node 22 that setup may just have installed
cd "$ROOT"
# `dev.sh hono-d1`: the JS example (js/examples/hono-d1) instead, on the npm package built here.
if [ "${1:-}" = hono-d1 ]; then
  shift
  bash "$ROOT/scripts/build.sh" js
  cd "$ROOT/js/examples/hono-d1"
  exec wrangler dev -c wrangler.toml -c ../../../local-api/wrangler.toml "$@"
fi
exec wrangler dev -c wrangler.toml -c local-api/wrangler.toml "$@"
