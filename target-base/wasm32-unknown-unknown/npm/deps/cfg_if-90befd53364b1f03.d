/work/main/target-base/wasm32-unknown-unknown/npm/deps/cfg_if-90befd53364b1f03.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libcfg_if-90befd53364b1f03.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libcfg_if-90befd53364b1f03.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs:
