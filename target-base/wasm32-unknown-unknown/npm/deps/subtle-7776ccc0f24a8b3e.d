/work/main/target-base/wasm32-unknown-unknown/npm/deps/subtle-7776ccc0f24a8b3e.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libsubtle-7776ccc0f24a8b3e.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libsubtle-7776ccc0f24a8b3e.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs:
