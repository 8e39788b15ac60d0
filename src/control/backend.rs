//! What the control plane asks of a database backend ([`Backend`]: make, find, bind, unbind and
//! delete databases) and of the user's code around it ([`Hooks`]). The control plane defines this
//! contract and the backends ([`crate::database::d1`], those to come) implement it, so the
//! dependency runs one way: `database` → `control`. The contract speaks its own words (a name
//! taken is [`Created::NameTaken`]), never a backend's API errors.

use super::registry::TenantRecord;
use crate::schema::SchemaVersion;
use crate::{Error, TenantId};

/// A database a backend made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The backend's id for it.
    pub id: String,
    /// When it was made, in milliseconds since the epoch, if the backend says.
    pub created_at: Option<i64>,
}

/// What asking a backend to make a database came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Made.
    Made(Made),
    /// A database of that name exists already (whose, the caller decides).
    NameTaken,
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

    /// Makes a database called `name`: [`Created::NameTaken`] when one of that name exists.
    async fn create(&self, name: &str) -> Result<Created, Error>;

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
