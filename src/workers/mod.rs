//! The edges for Rust workers on the [`worker`] crate.
//!
//! Start at [`handler`]: route handlers for a workers-rs `Router` that run behind the pipeline,
//! get the tenant context and the tenant's database, and have every error answered in one
//! place. The rest is what it is made of, usable on its own:
//!
//! - [`tenancy`]: [`Tenancy`], the per-isolate state (pipeline, tenant cache, API client) read
//!   from the Worker's env.
//! - [`edges`]: the whole pipeline for a `worker::Request`, its I/O done by [`WorkerEdges`].
//! - [`factory`]: the D1 database factory: registry, provisioning, each tenant's database.
//! - [`tenant_db`]: a tenant's database with D1's shape, through its binding or the REST API.
//! - [`jobs`]: migration jobs over the schema group's databases, driven from a Cron Trigger.
//! - [`response`]: an [`Error`](crate::Error) as a `worker::Response`.
//! - [`backup`]: a tenant database's dump stored in R2 before it is deleted.
//! - [`cloudflare`]: `fetch`, a service binding and the runtime's clock behind the
//!   [Cloudflare API client](crate::cloudflare).
//! - [`d1`]: a D1 binding as the library's [`SqlDatabase`](crate::sql::SqlDatabase).
//! - [`jwks`]: `fetch` for the pipeline's JWKS requests, with a timeout and a size cap.
//! - [`request`]: a `worker::Request` as the pipeline's
//!   [`RequestParts`](crate::resolve::RequestParts).

pub mod backup;
pub mod cloudflare;
pub mod d1;
mod deadline;
pub mod edges;
pub mod factory;
pub mod handler;
pub mod jobs;
pub mod jwks;
pub mod request;
pub mod response;
pub mod tenancy;
pub mod tenant_db;

pub use d1::D1;
pub use edges::{resolve_request, WorkerEdges};
pub use factory::D1Factory;
pub use handler::{admin, tenant, AdminRequest, Reply, TenancyRouter, TenantRequest};
pub use jwks::WorkerFetch;
pub use request::request_parts;
pub use response::error_response;
pub use tenancy::Tenancy;
pub use tenant_db::{TenantDb, TenantStatement};
