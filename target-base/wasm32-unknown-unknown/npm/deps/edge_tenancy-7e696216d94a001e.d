/work/main/target-base/wasm32-unknown-unknown/npm/deps/edge_tenancy-7e696216d94a001e.d: src/lib.rs src/authenticate/mod.rs src/authenticate/cache.rs src/authenticate/claims.rs src/authenticate/config.rs src/authenticate/error.rs src/authenticate/external.rs src/authenticate/jwks.rs src/authenticate/key_error.rs src/authenticate/keys.rs src/authenticate/token.rs src/authenticate/verifier.rs src/authorize/mod.rs src/cloudflare/mod.rs src/cloudflare/budget.rs src/cloudflare/client.rs src/cloudflare/d1.rs src/cloudflare/envelope.rs src/cloudflare/error.rs src/cloudflare/http.rs src/cloudflare/ids.rs src/cloudflare/retry.rs src/cloudflare/settings.rs src/config/mod.rs src/config/error.rs src/config/strict.rs src/control/mod.rs src/control/migrations.rs src/control/provision.rs src/control/registry.rs src/database/mod.rs src/database/d1.rs src/error.rs src/lookup/mod.rs src/lookup/cache.rs src/pipeline/mod.rs src/pipeline/config.rs src/pipeline/context.rs src/pipeline/drive.rs src/pipeline/io.rs src/pipeline/reuse.rs src/pipeline/run.rs src/principal.rs src/resolve/mod.rs src/resolve/config.rs src/resolve/custom_domain.rs src/resolve/host.rs src/resolve/request.rs src/resolve/resolver.rs src/sql.rs src/tenant_id.rs src/time.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libedge_tenancy-7e696216d94a001e.rlib: src/lib.rs src/authenticate/mod.rs src/authenticate/cache.rs src/authenticate/claims.rs src/authenticate/config.rs src/authenticate/error.rs src/authenticate/external.rs src/authenticate/jwks.rs src/authenticate/key_error.rs src/authenticate/keys.rs src/authenticate/token.rs src/authenticate/verifier.rs src/authorize/mod.rs src/cloudflare/mod.rs src/cloudflare/budget.rs src/cloudflare/client.rs src/cloudflare/d1.rs src/cloudflare/envelope.rs src/cloudflare/error.rs src/cloudflare/http.rs src/cloudflare/ids.rs src/cloudflare/retry.rs src/cloudflare/settings.rs src/config/mod.rs src/config/error.rs src/config/strict.rs src/control/mod.rs src/control/migrations.rs src/control/provision.rs src/control/registry.rs src/database/mod.rs src/database/d1.rs src/error.rs src/lookup/mod.rs src/lookup/cache.rs src/pipeline/mod.rs src/pipeline/config.rs src/pipeline/context.rs src/pipeline/drive.rs src/pipeline/io.rs src/pipeline/reuse.rs src/pipeline/run.rs src/principal.rs src/resolve/mod.rs src/resolve/config.rs src/resolve/custom_domain.rs src/resolve/host.rs src/resolve/request.rs src/resolve/resolver.rs src/sql.rs src/tenant_id.rs src/time.rs

/work/main/target-base/wasm32-unknown-unknown/npm/deps/libedge_tenancy-7e696216d94a001e.rmeta: src/lib.rs src/authenticate/mod.rs src/authenticate/cache.rs src/authenticate/claims.rs src/authenticate/config.rs src/authenticate/error.rs src/authenticate/external.rs src/authenticate/jwks.rs src/authenticate/key_error.rs src/authenticate/keys.rs src/authenticate/token.rs src/authenticate/verifier.rs src/authorize/mod.rs src/cloudflare/mod.rs src/cloudflare/budget.rs src/cloudflare/client.rs src/cloudflare/d1.rs src/cloudflare/envelope.rs src/cloudflare/error.rs src/cloudflare/http.rs src/cloudflare/ids.rs src/cloudflare/retry.rs src/cloudflare/settings.rs src/config/mod.rs src/config/error.rs src/config/strict.rs src/control/mod.rs src/control/migrations.rs src/control/provision.rs src/control/registry.rs src/database/mod.rs src/database/d1.rs src/error.rs src/lookup/mod.rs src/lookup/cache.rs src/pipeline/mod.rs src/pipeline/config.rs src/pipeline/context.rs src/pipeline/drive.rs src/pipeline/io.rs src/pipeline/reuse.rs src/pipeline/run.rs src/principal.rs src/resolve/mod.rs src/resolve/config.rs src/resolve/custom_domain.rs src/resolve/host.rs src/resolve/request.rs src/resolve/resolver.rs src/sql.rs src/tenant_id.rs src/time.rs

src/lib.rs:
src/authenticate/mod.rs:
src/authenticate/cache.rs:
src/authenticate/claims.rs:
src/authenticate/config.rs:
src/authenticate/error.rs:
src/authenticate/external.rs:
src/authenticate/jwks.rs:
src/authenticate/key_error.rs:
src/authenticate/keys.rs:
src/authenticate/token.rs:
src/authenticate/verifier.rs:
src/authorize/mod.rs:
src/cloudflare/mod.rs:
src/cloudflare/budget.rs:
src/cloudflare/client.rs:
src/cloudflare/d1.rs:
src/cloudflare/envelope.rs:
src/cloudflare/error.rs:
src/cloudflare/http.rs:
src/cloudflare/ids.rs:
src/cloudflare/retry.rs:
src/cloudflare/settings.rs:
src/config/mod.rs:
src/config/error.rs:
src/config/strict.rs:
src/control/mod.rs:
src/control/migrations.rs:
src/control/provision.rs:
src/control/registry.rs:
src/database/mod.rs:
src/database/d1.rs:
src/error.rs:
src/lookup/mod.rs:
src/lookup/cache.rs:
src/pipeline/mod.rs:
src/pipeline/config.rs:
src/pipeline/context.rs:
src/pipeline/drive.rs:
src/pipeline/io.rs:
src/pipeline/reuse.rs:
src/pipeline/run.rs:
src/principal.rs:
src/resolve/mod.rs:
src/resolve/config.rs:
src/resolve/custom_domain.rs:
src/resolve/host.rs:
src/resolve/request.rs:
src/resolve/resolver.rs:
src/sql.rs:
src/tenant_id.rs:
src/time.rs:

# env-dep:CARGO_PKG_VERSION=0.1.0
