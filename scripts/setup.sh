#!/usr/bin/env bash
# Installs everything the demo and the tests need, from the registries only, and skips what is there.
# `--without-tools` leaves out the two cargo tools (the slow part), `--tools-only` does only them:
# the test command builds them while its lints and unit tests run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p "$TOOLS"
step() { printf '[setup] %s\n' "$*"; }
part="${1:-all}"
case "$part" in all | --without-tools | --tools-only) ;; *) echo "usage: setup.sh [--without-tools|--tools-only]" >&2; exit 2 ;; esac

# The wasm target, Node 22 and the npm packages: seconds when they are there.
basics() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi

  node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
  if [ "$(node_major)" -lt 22 ]; then
    step "installing Node $NODE_VERSION from npm (the machine has $(node --version 2>/dev/null || echo none))"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/node-$NODE_VERSION" "node@$NODE_VERSION"
    export PATH="$NODE22_BIN:$PATH"
    [ "$(node_major)" -ge 22 ] || { echo "[setup] Node 22 did not install" >&2; exit 1; }
  fi

  # Install only when package-lock.json changed since the last install. `npm install` rather than
  # `npm ci`: the registry here lacks workerd's macOS and Windows builds, so the lock cannot list
  # them and `npm ci` would refuse it; `npm install` keeps to the locked versions all the same.
  lock_sum="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$ROOT/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
    step "installing npm packages"
    (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" > "$ROOT/node_modules/.lock-sha256"
  fi
}

tools() {
  # The two cargo tools build into one target folder, so the crates they share compile once, at
  # opt-level 1 without LTO: they run for seconds per build, so their own speed matters less than
  # how long a cold machine takes to build them.
  export CARGO_TARGET_DIR="$TOOLS/target" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=false
  # wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly. No --locked: its own lock file
  # names a crate version the registry here lacks.
  if [ ! -x "$WASM_BINDGEN_BIN" ]; then
    step "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION"
  fi
  if [ ! -x "$WORKER_BUILD_BIN" ]; then
    step "building worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
    cargo install --quiet worker-build --version "$WORKER_BUILD_VERSION" --root "$TOOLS/worker-build-$WORKER_BUILD_VERSION"
  fi
  rm -rf "$TOOLS/target"
}

case "$part" in
  all)
    basics
    tools
    ;;
  --without-tools) basics ;;
  --tools-only) tools ;;
esac
