/work/main/target-base/wasm32-unknown-unknown/npm/deps/crypto_common-bd5eb2ad7ec355e3.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.6/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libcrypto_common-bd5eb2ad7ec355e3.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.6/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libcrypto_common-bd5eb2ad7ec355e3.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.6/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.6/src/lib.rs:
