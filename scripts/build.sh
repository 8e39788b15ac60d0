#!/usr/bin/env bash
# Builds the wasm artifacts. `build.sh demo`: the demo worker (demo/build/, used by wrangler.toml).
# `build.sh js`: the npm package's wasm (js/dist/) and its version. No argument: both.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

build_demo() {
  # worker-build takes wasm-bindgen, wasm-opt and esbuild from the *_BIN variables set in env.sh,
  # so it downloads nothing.
  (cd "$ROOT/demo" && "$WORKER_BUILD_BIN" --release)
}

build_js() {
  cargo build --quiet --profile npm --target wasm32-unknown-unknown -p edge-tenancy-js --manifest-path "$ROOT/Cargo.toml"
  local out="$ROOT/js/dist"
  rm -rf "$out" && mkdir -p "$out"
  # --target web exports initSync({ module }), which takes the WebAssembly.Module that wrangler and
  # miniflare hand to a `.wasm` import on Workers.
  "$WASM_BINDGEN_BIN" --target web --no-typescript --out-dir "$out" --out-name edge_tenancy \
    "$ROOT/target/wasm32-unknown-unknown/npm/edge_tenancy_js.wasm"
  "$WASM_OPT_BIN" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/edge_tenancy_bg.wasm" -o "$out/edge_tenancy_bg.wasm"
  # The same bytes as a JS module, for runtimes and bundlers that do not take `.wasm` imports as
  # compiled modules (js/load/bytes.js); workerd takes the .wasm itself (js/load/module.js).
  { printf 'export default "'; base64 -w0 "$out/edge_tenancy_bg.wasm"; printf '";\n'; } \
    > "$out/edge_tenancy_bg.base64.js"
  # The package's version is the crate's.
  local version
  version="$(cargo pkgid --quiet -p edge-tenancy --manifest-path "$ROOT/Cargo.toml")"
  (cd "$ROOT/js" && npm pkg set version="${version##*@}")
}

case "${1:-all}" in
  demo) build_demo ;;
  js) build_js ;;
  all) build_demo; build_js ;;
  *) echo "usage: build.sh [demo|js]" >&2; exit 2 ;;
esac
