/work/main/target-base/wasm32-unknown-unknown/npm/deps/wasm_bindgen_futures-1a2b1c93f0b1b413.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasm-bindgen-futures-0.4.80/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libwasm_bindgen_futures-1a2b1c93f0b1b413.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasm-bindgen-futures-0.4.80/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libwasm_bindgen_futures-1a2b1c93f0b1b413.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasm-bindgen-futures-0.4.80/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasm-bindgen-futures-0.4.80/src/lib.rs:
