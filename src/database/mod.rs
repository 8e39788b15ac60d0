//! Tenant databases: the [`DatabaseFactory`] interface every backend implements, and the
//! [`Backend`] operations the control plane provisions them with.
//!
//! A factory gives each tenant its own database: [`DatabaseFactory::open`] for a request that
//! passed the pipeline (the `&TenantContext` is the proof; an anonymous caller on a public path
//! is refused unless the factory is told the route serves anyone, see [`may_open`]),
//! `provision` and `deprovision` for the control plane, `get` and `list` to see them. The D1 backend ([`d1`]) makes databases through
//! the Cloudflare API; backends to come (Durable Object SQLite, Turso/libSQL, a factory written
//! in JS) implement the same two traits, each with its own database handle type.

pub mod d1;

pub use crate::control::backend::{Backend, Bound, Created, Hooks, Listed, Made};

use crate::authenticate::AuthError;
use crate::authorize::Access;
use crate::control::{Deprovisioned, Provisioned, TenantPage, TenantRecord};
use crate::pipeline::TenantContext;
use crate::{Error, TenantId};

/// The interface of `@authhero/multi-tenancy`'s database factories (`getAdapters`, `provision`,
/// `deprovision`), in Rust, plus reads of the registry.
#[allow(async_fn_in_trait)]
pub trait DatabaseFactory {
    /// The handle to one tenant's database.
    type Database;

    /// The database of the request's tenant. Only a request that passed the pipeline has a
    /// `TenantContext`, so no code path opens a tenant's database without authorization. An
    /// anonymous caller's context ([`Access::Public`]) is refused with 401 unless the factory
    /// was told the route serves the tenant's data to anyone ([`may_open`]).
    async fn open(&self, context: &TenantContext) -> Result<Self::Database, Error>;

    /// Makes `tenant`'s database and registers it, or finishes an earlier attempt. Idempotent:
    /// a ready tenant's record comes back unchanged (`already`).
    async fn provision(&self, tenant: &TenantId) -> Result<Provisioned, Error>;

    /// Makes `tenant` with a new database filled from `backup` (a key a deprovisioning
    /// answered), or finishes an earlier attempt; a tenant that exists otherwise is
    /// [`Error::TenantExists`].
    async fn restore(&self, tenant: &TenantId, backup: &str) -> Result<Provisioned, Error>;

    /// Removes `tenant`'s database and then its registry row; every failure is returned and
    /// calling again resumes. Answers where the backup taken before the delete is.
    async fn deprovision(&self, tenant: &TenantId) -> Result<Deprovisioned, Error>;

    /// `tenant`'s registry record.
    async fn get(&self, tenant: &TenantId) -> Result<TenantRecord, Error>;

    /// A page of tenants after `after`, in id order.
    async fn list(&self, after: Option<&TenantId>, limit: u32) -> Result<TenantPage, Error>;
}

/// Whether `context` may open its tenant's database: a member's or an administrator's always;
/// an anonymous caller's on a public path only where the route serves the tenant's data to
/// anyone on purpose (`anonymous`), else 401 `unauthenticated`: a public page that reads the
/// tenant's data by accident would hand it to the whole internet, so that is opted into per
/// route, never inherited from the path being public.
pub fn may_open(context: &TenantContext, anonymous: bool) -> Result<(), Error> {
    if context.access() == Access::Public && !anonymous {
        return Err(Error::Unauthenticated(AuthError::Missing));
    }
    Ok(())
}

/// A binding name for `tenant`'s database, injective in the tenant id: ids are `a-z`, `0-9` and
/// `-`, so `-` → `_` and upper case keep them apart and make a JS identifier (`TENANT_ACME_CORP`).
pub fn binding_name(tenant: &TenantId) -> String {
    format!(
        "TENANT_{}",
        tenant.as_str().replace('-', "_").to_ascii_uppercase()
    )
}

/// The name of the service binding through which a Worker reaches shard `script` (the Worker
/// that binds some tenants' databases): `SHARD_` and the script's name, upper case, `-` → `_`
/// (`tenants-1` → `SHARD_TENANTS_1`). A Worker with such a binding hands a request for one of
/// that shard's tenants to it whole; one without serves it itself.
pub fn shard_binding(script: &str) -> String {
    format!("SHARD_{}", script.replace('-', "_").to_ascii_uppercase())
}

/// The header a request handed to a shard carries (the shard's name): a Worker never hands over
/// a request that has it, so a request is handed over at most once, whatever the deployment's
/// service bindings.
pub const HANDED_OVER: &str = "x-edge-tenancy-handed-over";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_names_are_identifiers_and_never_collide() {
        let names: Vec<String> = ["acme", "acme-corp", "acme-c-orp", "0day"]
            .iter()
            .map(|t| binding_name(&t.parse().unwrap()))
            .collect();
        assert_eq!(names[0], "TENANT_ACME");
        assert_eq!(names[1], "TENANT_ACME_CORP");
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')));
    }
}
