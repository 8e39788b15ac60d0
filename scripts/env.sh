# Sourced by the other scripts: where the pinned tools live and how to reach them.
# Every tool is keyed by its version, so a bump installs beside the old one instead of reusing it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")"
WORKER_BUILD_VERSION="0.8.7"
NODE_VERSION="22.23.3"

export WASM_BINDGEN_BIN="$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export WORKER_BUILD_BIN="$TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
NODE22_BIN="$TOOLS/node-$NODE_VERSION/node_modules/.bin"
# The machine's Node is used when it is new enough; otherwise the pinned one from npm goes first on PATH.
if [ -x "$NODE22_BIN/node" ]; then export PATH="$NODE22_BIN:$PATH"; fi
export PATH="$ROOT/node_modules/.bin:$PATH"
# worker-build and wasm-bindgen too, for a build run by hand (worker-build finds the rest through
# the *_BIN variables above).
export PATH="$(dirname "$WORKER_BUILD_BIN"):$(dirname "$WASM_BINDGEN_BIN"):$PATH"
# wrangler and miniflare phone home for metrics and updates; there is no network for that here.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export NO_UPDATE_NOTIFIER=1
# Otherwise wrangler dev fetches request.cf's data from workers.cloudflare.com at start (and prints
# an error stack where there is no network); nothing here reads request.cf, so its placeholder does.
export CLOUDFLARE_CF_FETCH_ENABLED="${CLOUDFLARE_CF_FETCH_ENABLED:-false}"
