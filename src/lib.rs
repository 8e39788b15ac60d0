//! # edge-tenancy
//!
//! Database-per-tenant middleware for Cloudflare Workers. A request comes in; edge-tenancy finds
//! out which tenant it is for, checks that the caller may act for that tenant, finds the tenant's
//! own database and hands it to the handler.
//!
//! The crate is a core that does no I/O, plus thin edges:
//!
//! - [`pipeline`]: a request's way through the stages, as a state machine: the request's parts
//!   and the time in; a [`TenantContext`](pipeline::TenantContext), an [`Error`], or one I/O
//!   request for the edge out. The stages, in order: [`authenticate`] → [`resolve`] →
//!   [`authorize`] → [`lookup`].
//! - [`TenancyConfig`]: every setting, read strictly (an unknown one is an error naming its path).
//! - [`TenantId`]: the only way to name a tenant, valid by construction; [`Principal`]: the
//!   verified caller, made only by the verifier; [`UnixTime`]: the one type for time.
//! - [`Error`]: every way a request can fail, mapped to an HTTP status and JSON body in one place
//!   ([`Error::to_response`]).
//! - [`sql`]: the SQL edge ([`sql::SqlDatabase`]) the core runs its statements through.
//! - [`control`]: the control plane — the tenant registry (its own versioned schema), and
//!   provisioning and deprovisioning of tenant databases through a [`database`] factory.
//! - [`database`]: the [`DatabaseFactory`](database::DatabaseFactory) interface and its D1
//!   backend.
//! - [`schema`]: migrations for tenant databases — a ledger in each, drift, dry runs, lint, and
//!   the lock that keeps a schema group's children from changing their own schema.
//! - `workers` (feature `workers`): Rust workers on the `worker` crate — route handlers for a
//!   workers-rs `Router` that get the tenant context and the tenant's database, every error
//!   answered in one place (`workers::handler`), and the edges they are made of: D1 behind
//!   [`sql::SqlDatabase`], the D1 factory, errors as `worker::Response`.
//!
//! The npm package (`js/` in the repository) exposes the same core to JavaScript workers.

#![warn(missing_docs)]

pub mod authenticate;
pub mod authorize;
pub mod cloudflare;
pub mod config;
pub mod control;
pub mod database;
mod error;
pub mod lookup;
pub mod pipeline;
mod principal;
pub mod resolve;
pub mod schema;
pub mod sql;
mod tenant_id;
#[cfg(test)]
mod testing;
mod time;
#[cfg(feature = "workers")]
pub mod workers;

pub use config::ConfigError;
pub use error::{Error, ErrorResponse, Fault};
pub use pipeline::TenancyConfig;
pub use principal::Principal;
pub use tenant_id::{TenantId, TenantIdError, MAX_LEN as TENANT_ID_MAX_LEN};
pub use time::UnixTime;

/// The version of this crate, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
