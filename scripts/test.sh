#!/usr/bin/env bash
# Every test: formatting and lints, the Rust unit tests, the wasm builds, the .d.ts type tests and
# the JS specs that run the built workers in workerd. Installs what it needs first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh" --without-tools
source "$ROOT/scripts/env.sh" # picks up a Node 22 that setup may just have installed
cd "$ROOT"
# The two cargo tools (wasm-bindgen-cli, worker-build: minutes on a cold machine) build while the
# lints and unit tests run, which mostly check one crate at a time and leave a core free; the
# wasm builds wait for them.
# In a process group of its own (setsid), so that a run stopped early stops the whole build.
mkdir -p target
setsid -w bash "$ROOT/scripts/setup.sh" --tools-only > target/setup-tools.log 2>&1 &
tools=$!
trap 'kill -- -"$tools" 2>/dev/null || true' EXIT
# Each step says when it starts (seconds since the command began), to see where a run's time goes.
step() { printf '\n== %s (at %ds)\n' "$*" "$SECONDS"; }

step "rustfmt, clippy and rustdoc"
cargo fmt --all --check
cargo clippy --quiet -p edge-tenancy --all-targets -- -D warnings
cargo clippy --quiet --workspace --target wasm32-unknown-unknown -- -D warnings
# Each signature backend on its own, and a Rust worker with none (HMAC keys only).
for features in eddsa es256 rs256 workers; do
  cargo clippy --quiet -p edge-tenancy --no-default-features --features "$features" --target wasm32-unknown-unknown -- -D warnings
done
# The npm binding alone: built with the workspace, it would get rust-crypto through the demo.
cargo clippy --quiet -p edge-tenancy-js --target wasm32-unknown-unknown -- -D warnings
cargo clippy --quiet -p edge-tenancy-control-js --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p edge-tenancy
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p edge-tenancy --features workers --target wasm32-unknown-unknown
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p edge-tenancy-demo -p edge-tenancy-js -p edge-tenancy-control-js

step "Rust unit tests"
# The model tests' random histories: 400 here (a longer run: EDGE_TENANCY_HISTORIES=20000 cargo
# test --release -p edge-tenancy model).
EDGE_TENANCY_HISTORIES="${EDGE_TENANCY_HISTORIES:-400}" cargo test -p edge-tenancy

step "the published crate: packaged and verified, its minimum Rust version"
cargo package --quiet -p edge-tenancy --allow-dirty
node scripts/check-msrv.mjs
msrv="$(awk -F'"' '/^rust-version/ { print $2; exit }' Cargo.toml)"
if rustup toolchain list 2>/dev/null | grep -q "^$msrv" &&
  rustup +"$msrv" target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  CARGO_TARGET_DIR="$ROOT/target/msrv" cargo "+$msrv" check --quiet -p edge-tenancy --features workers --target wasm32-unknown-unknown
else
  echo "(no Rust $msrv toolchain here: rustup toolchain install $msrv --target wasm32-unknown-unknown checks the crate with it)"
fi

step "wasm builds"
wait "$tools" || { cat target/setup-tools.log; echo "the cargo tools did not build" >&2; exit 1; }
trap - EXIT
cat target/setup-tools.log
bash scripts/build.sh

step "TypeScript declarations"
(cd js && tsc -p tsconfig.json)
(cd js/examples/hono-d1 && tsc -p tsconfig.json)

step "JS specs in workerd"
node --test --test-concurrency=1 "tests/*.test.mjs"
step "done"
