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

use crate::authenticate::AuthError;
use crate::authorize::Access;
use crate::control::{Deprovisioned, Provisioned, TenantPage, TenantRecord};
use crate::pipeline::TenantContext;
use crate::schema::SchemaVersion;
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

/// A database a backend made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The backend's id for it.
    pub id: String,
    /// When it was made, in milliseconds since the epoch, if the backend says.
    pub created_at: Option<i64>,
}

/// Where a tenant's database is reachable from a Worker: a binding name on a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The binding's name (`env.<name>`).
    pub binding: String,
    /// The Worker script holding it.
    pub script: String,
}

/// What a change of a binding list came to, and the list as it now stands when the change read
/// or wrote it (opaque to the control plane, which keeps it for the next change under the
/// list's lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    /// The change's outcome.
    pub outcome: T,
    /// The list after it; `None` when the change neither read nor wrote it (the list it was
    /// given stands).
    pub list: Option<String>,
}

impl Listed<Vec<Result<Option<Bound>, Error>>> {
    /// `tenants` tenants, none bound: a backend that binds nothing.
    pub fn unbound(tenants: usize) -> Self {
        Self {
            outcome: (0..tenants).map(|_| Ok(None)).collect(),
            list: None,
        }
    }
}

/// What the control plane asks of a database backend to provision and deprovision.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// The backend's name in the registry (`d1`).
    fn name(&self) -> &'static str;

    /// The database name for `tenant` in the registry whose identity is `registry`:
    /// deterministic, so a retry finds what an earlier attempt made, and naming the registry, so
    /// that two registries sharing an account never make, adopt or delete each other's
    /// databases. [`Error::TenantIdTooLong`] when the backend's names cannot hold it.
    fn database_name(&self, tenant: &TenantId, registry: &str) -> Result<String, Error>;

    /// Makes a database called `name`. A taken name is [`Error::Upstream`] with
    /// [`ApiError::NameExists`](crate::cloudflare::ApiError::NameExists).
    async fn create(&self, name: &str) -> Result<Made, Error>;

    /// The database called `name`, if there is one.
    async fn find(&self, name: &str) -> Result<Option<Made>, Error>;

    /// The names of what [`Backend::bind`] and [`Backend::unbind`] change (Workers' binding
    /// lists), each of which one writer at a time may change, in the order they are filled;
    /// none (the default) when the backend binds nothing.
    fn binding_targets(&self) -> Vec<String> {
        Vec::new()
    }

    /// How long the binding list a change answered ([`Listed::list`]) may stand in for reading
    /// it again before the next change: zero reads it before every change.
    fn binding_list_fresh(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Makes each of `tenants`' databases (tenant, database id) reachable from Worker
    /// `target`, all in one change of its list: each tenant's outcome, in order, `None` when
    /// the backend binds nothing (the default). Never replaces a binding of the same name that
    /// reaches a database that still exists (that tenant's [`Error::ForeignDatabase`]); a
    /// tenant past the list's limit is [`Error::BindingLimit`]. `list` is the list as the last
    /// change answered it, when it is fresh: it spares reading the list first.
    async fn bind(
        &self,
        _target: &str,
        tenants: &[(TenantId, String)],
        _list: Option<&str>,
    ) -> Result<Listed<Vec<Result<Option<Bound>, Error>>>, Error> {
        Ok(Listed::unbound(tenants.len()))
    }

    /// Removes `bound` if it still reaches database `id`, keeping every other binding: a
    /// binding of the same name made since for another database is left alone. `list` as for
    /// [`Backend::bind`].
    async fn unbind(
        &self,
        _bound: &Bound,
        _id: &str,
        _list: Option<&str>,
    ) -> Result<Listed<()>, Error> {
        Ok(Listed {
            outcome: (),
            list: None,
        })
    }

    /// Deletes database `id`; one the backend itself says is gone is not an error.
    async fn delete(&self, id: &str) -> Result<(), Error>;
}

/// What the user's code does around provisioning (migrations, seed data) and before
/// deprovisioning (a backup). A failure is returned as its message: the registry keeps its first
/// line (200 characters at most), the log the rest; no response carries it.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// Brings the new database to its schema group's migrations (after a restore, before
    /// `after_provision`) and answers the group and the version reached, which the registry
    /// records; `None` when the tenant follows no group (the default). Called again whenever a
    /// provisioning is resumed: the database's ledger keeps it from applying anything twice.
    async fn migrate(&self, _record: &TenantRecord) -> Result<Option<SchemaVersion>, Error> {
        Ok(None)
    }

    /// After the database is made and bound, before the tenant is ready.
    async fn after_provision(&self, _record: &TenantRecord) -> Result<(), String> {
        Ok(())
    }

    /// Before anything is removed: a backup, say. Returns where the backup is (an R2 key), which
    /// the registry records so that a retry of the removal does not take it again; `None` when
    /// there is nothing to record.
    async fn before_deprovision(&self, _record: &TenantRecord) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// Fills `record`'s new database from `backup` (a key `before_deprovision` answered), before
    /// `after_provision` and before the tenant is ready. Called again whenever a restore is
    /// resumed, even after it succeeded (the tenant's hook failed later), so it must be
    /// idempotent: an import is one transaction, so a database that has tables was filled by an
    /// earlier call (or by `after_provision` after one).
    async fn restore(&self, _record: &TenantRecord, _backup: &str) -> Result<(), String> {
        Err("no backups are configured to restore from".into())
    }
}

/// No hooks.
impl Hooks for () {}

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
