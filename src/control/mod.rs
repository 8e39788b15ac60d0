//! The control plane: the tenant [`registry`] (its own versioned schema, [`migrations`]) and the
//! [`Provisioner`] that makes and removes tenants' databases with a
//! [`Backend`](backend::Backend), recording every step in the registry.

pub mod backend;
pub mod fanout;
pub mod jobs;
pub mod migrations;
mod provision;
pub mod queue;
pub mod registry;

#[cfg(test)]
mod model;
#[cfg(test)]
mod scale;
#[cfg(test)]
mod shards;
#[cfg(test)]
mod tests;

pub use provision::{Deprovisioned, Provisioned, Provisioner, DEFAULT_LEASE};
pub use registry::{Registry, TenantPage, TenantRecord, TenantState};
