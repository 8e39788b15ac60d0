/work/main/target-base/wasm32-unknown-unknown/npm/deps/smallvec-aa21b9018050b7ee.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libsmallvec-aa21b9018050b7ee.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libsmallvec-aa21b9018050b7ee.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs:
