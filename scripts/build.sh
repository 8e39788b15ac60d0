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

# One npm wasm module: crate $1 built with the npm profile, bound as dist/$2.js.
build_wasm() {
  local crate="$1" name="$2" out="$ROOT/js/dist"
  cargo build --quiet --profile npm --target wasm32-unknown-unknown -p "$crate" --manifest-path "$ROOT/Cargo.toml"
  # --target web exports initSync({ module }), which takes the WebAssembly.Module that wrangler and
  # miniflare hand to a `.wasm` import on Workers.
  "$WASM_BINDGEN_BIN" --target web --no-typescript --out-dir "$out" --out-name "$name" \
    "$ROOT/target/wasm32-unknown-unknown/npm/${crate//-/_}.wasm"
  "$WASM_OPT_BIN" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  # The same bytes as a JS module, for runtimes and bundlers that do not take `.wasm` imports as
  # compiled modules (js/load/bytes.js); workerd takes the .wasm itself (js/load/module.js).
  { printf 'export default "'; base64 -w0 "$out/${name}_bg.wasm"; printf '";\n'; } \
    > "$out/${name}_bg.base64.js"
}

build_js() {
  rm -rf "$ROOT/js/dist" && mkdir -p "$ROOT/js/dist"
  # The request pipeline, and the control plane (registry, provisioning) in a module of its own:
  # a worker that only resolves tenants loads the first alone.
  build_wasm edge-tenancy-js edge_tenancy
  build_wasm edge-tenancy-control-js edge_tenancy_control
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
