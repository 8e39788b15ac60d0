/work/main/target-base/wasm32-unknown-unknown/npm/deps/pin_project_lite-efd48362aecdff7b.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libpin_project_lite-efd48362aecdff7b.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libpin_project_lite-efd48362aecdff7b.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs:
