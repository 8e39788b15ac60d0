//! [`D1Factory`]: the D1 [`DatabaseFactory`] for Rust workers — the registry on the control-plane
//! binding, provisioning through the Cloudflare API, and each tenant's database reached through
//! its Worker binding when there is one, or the REST API otherwise.

use super::cloudflare::{ApiTransport, WorkerRuntime};
use super::edges::cached_lookup;
use super::tenant_db::TenantDb;
use super::D1;
use crate::cloudflare::Client;
use crate::control::{Deprovisioned, Provisioned, Provisioner, Registry, TenantPage, TenantRecord};
use crate::database::d1::{D1Backend, D1Options, D1Rest};
use crate::database::{may_open, DatabaseFactory, Hooks};
use crate::lookup::{Location, TenantCache, TenantStatus};
use crate::pipeline::TenantContext;
use crate::schema::{self, Lock, SchemaGroup, SchemaVersion};
use crate::{Error, TenantId, UnixTime};
use std::rc::Rc;
use worker::{js_sys, Env};

/// When a write held by a migrating schema group is told to come back: a job holds writes for
/// about a minute plus its run.
const SCHEMA_RETRY_SECS: u32 = 10;

/// The API client the factory provisions with.
pub type ApiClient = Client<ApiTransport, WorkerRuntime>;

/// The D1 factory over a Worker's env.
pub struct D1Factory<'e, H> {
    pub(super) env: &'e Env,
    pub(super) client: Rc<ApiClient>,
    pub(super) registry: Registry<D1>,
    options: D1Options,
    pub(super) cache: Rc<TenantCache>,
    hooks: H,
    session: Option<String>,
    anonymous: bool,
    pub(super) schema: Option<Rc<SchemaGroup>>,
}

impl<'e, H: Hooks> D1Factory<'e, H> {
    /// A factory keeping its registry in `registry`, provisioning with `client` as `options`
    /// say, running `hooks`, and dropping what `cache` holds of a tenant it changes.
    pub fn new(
        env: &'e Env,
        registry: Registry<D1>,
        client: Rc<ApiClient>,
        options: D1Options,
        cache: Rc<TenantCache>,
        hooks: H,
    ) -> Self {
        Self {
            env,
            client,
            registry,
            options,
            cache,
            hooks,
            session: None,
            anonymous: false,
            schema: None,
        }
    }

    /// The same factory bringing each tenant it provisions to `group`'s migrations, if any,
    /// and recording the group and version in the registry.
    pub fn with_schema(self, group: Option<Rc<SchemaGroup>>) -> Self {
        Self {
            schema: group,
            ..self
        }
    }

    /// The same factory opening binding-path databases in a read-replication session started
    /// from `session` (a bookmark the client sent back, `first-primary` or
    /// `first-unconstrained`); [`TenantDb::bookmark`] gives the one to send next.
    pub fn with_session(self, session: Option<String>) -> Self {
        Self { session, ..self }
    }

    /// The same factory opening the tenant's database for anonymous callers on public paths too
    /// ([`may_open`]): for a route that serves the tenant's data to anyone on purpose.
    pub fn allowing_anonymous(self) -> Self {
        Self {
            anonymous: true,
            ..self
        }
    }

    pub(super) fn backend(&self) -> Result<D1Backend<'_, ApiTransport, WorkerRuntime>, Error> {
        D1Backend::new(&self.client, self.options.clone())
            .map_err(|_| Error::NotConfigured("the D1 factory's options are invalid"))
    }

    /// Runs `f` with a provisioner over this factory's registry, backend and hooks.
    async fn provisioner<T>(
        &self,
        f: impl AsyncFnOnce(
            &Provisioner<
                '_,
                D1,
                D1Backend<'_, ApiTransport, WorkerRuntime>,
                Migrating<'_, H>,
                WorkerRuntime,
            >,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let backend = self.backend()?;
        let owner = Self::owner();
        let hooks = Migrating {
            hooks: &self.hooks,
            schema: self.schema.as_deref(),
            client: &self.client,
            registry: &self.registry,
        };
        let provisioner = Provisioner::new(&self.registry, &backend, &hooks, &WorkerRuntime, owner);
        f(&provisioner).await
    }

    /// A lease owner no other call shares.
    fn owner() -> String {
        format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
    }
}

/// The user's hooks, with the schema group's migrations applied to each new database, up to the
/// group's version (through the REST API: a binding made a moment ago reaches this isolate only
/// after the Worker's next deploy).
struct Migrating<'f, H> {
    hooks: &'f H,
    schema: Option<&'f SchemaGroup>,
    client: &'f Rc<ApiClient>,
    registry: &'f Registry<D1>,
}

impl<H: Hooks> Hooks for Migrating<'_, H> {
    async fn migrate(&self, record: &TenantRecord) -> Result<Option<SchemaVersion>, Error> {
        let Some(group) = self.schema else {
            return self.hooks.migrate(record).await;
        };
        let id = record
            .database_id
            .as_deref()
            .ok_or_else(|| Error::Migration("the tenant has no database yet".into()))?;
        let db = D1Rest::new(self.client.clone(), id)?;
        // The group's version, not the code's: a deploy that adds a migration changes no
        // tenant, new ones included, until a job moves the whole group.
        let latest = group.migrations().len() as i64;
        let version = self.registry.group_version(group.name(), latest).await?;
        let version = usize::try_from(version).unwrap_or(0);
        // A new database is empty (a restored one may not be: the guess is checked).
        group.bring_up_to(&db, 0, version, now()).await.map(Some)
    }

    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        self.hooks.after_provision(record).await
    }

    async fn before_deprovision(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        self.hooks.before_deprovision(record).await
    }

    async fn restore(&self, record: &TenantRecord, backup: &str) -> Result<(), String> {
        self.hooks.restore(record, backup).await
    }
}

impl<H> D1Factory<'_, H> {
    /// Whether binding `db` reaches database `id`. On the real API a binding named in the
    /// registry is the one the factory made. With the local API (development) a D1 binding
    /// declared in `wrangler.toml` is a separate local database the local API never made, so it
    /// is used only when it says it is that database (the local API's own bindings do); any
    /// other goes unused and the REST path reaches the database the local API made.
    pub(super) fn reaches(&self, db: &worker::D1Database, id: &str) -> bool {
        match self.client.transport() {
            ApiTransport::Fetch => true,
            ApiTransport::Service(_) => {
                js_sys::Reflect::get(db.as_ref(), &"localApiDatabase".into())
                    .ok()
                    .and_then(|named| named.as_string())
                    .is_some_and(|named| named == id)
            }
        }
    }
}

impl<H: Hooks> DatabaseFactory for D1Factory<'_, H> {
    type Database = TenantDb;

    /// Opens the tenant's database where the isolate's [`TenantCache`] says it is: the lookup
    /// stage has just put the answer there, so a warm request reads no registry row; on a miss
    /// (lookups off, or the answer expired) it is loaded through the cache.
    async fn open(&self, context: &TenantContext) -> Result<TenantDb, Error> {
        may_open(context, self.anonymous)?;
        let tenant = context.tenant();
        let lookup = cached_lookup(&self.registry, &self.cache, tenant, now())
            .await
            .map_err(|why| {
                worker::console_error!("edge-tenancy: looking up {tenant}: {why}");
                Error::LookupUnavailable
            })?;
        let location = match (lookup.status, lookup.location) {
            (TenantStatus::Ready, Some(location)) => location,
            (TenantStatus::NotFound, _) => return Err(Error::TenantNotFound),
            (TenantStatus::Unavailable { retry_after_secs }, _) => {
                return Err(Error::TenantUnavailable { retry_after_secs })
            }
            // Registered without a database (backend `none`): nothing to open, and waiting
            // will not make one.
            (TenantStatus::Ready, None) => {
                return Err(Error::NotConfigured("the tenant has no database"))
            }
        };
        // A schema group's database takes its schema from the group's migrations only, unless
        // the caller's token holds the `ddl` permission; while its group migrates, its writes
        // wait too, whoever the caller.
        let may_change_schema = context.principal().is_some_and(|p| p.has_scope("ddl"));
        let lock = match location.schema_group {
            Some(_) if location.schema_held => Lock::Migrating {
                retry_after_secs: SCHEMA_RETRY_SECS,
            },
            Some(_) if !may_change_schema => Lock::Schema,
            _ => Lock::Open,
        };
        let binding = location.binding.as_deref().and_then(|binding| {
            let db = self.env.d1(binding).ok()?;
            self.reaches(&db, &location.database_id)
                .then_some((binding, db))
        });
        note_path(tenant, binding.as_ref().map(|(name, _)| *name));
        let db = match binding {
            Some((_, db)) => TenantDb::binding(db, self.session.as_deref())?,
            None => TenantDb::rest(D1Rest::new(self.client.clone(), &location.database_id)?),
        };
        let mut schema = location.schema_group.clone().map(|group| SchemaVersion {
            group,
            version: location.schema_version,
        });
        if let (Some(group), Some(schema)) = (&self.schema, &mut schema) {
            // Not while a job holds it: the job is migrating it.
            if schema.group == group.name() && !location.schema_held {
                schema.version = catch_up(&self.registry, tenant, &db, group, &location).await?;
            }
        }
        Ok(db.locked(lock, schema))
    }

    async fn provision(&self, tenant: &TenantId) -> Result<Provisioned, Error> {
        let outcome = self.provisioner(async |p| p.provision(tenant).await).await;
        self.cache.invalidate(tenant);
        outcome
    }

    async fn restore(&self, tenant: &TenantId, backup: &str) -> Result<Provisioned, Error> {
        let outcome = self
            .provisioner(async |p| p.restore(tenant, backup).await)
            .await;
        self.cache.invalidate(tenant);
        outcome
    }

    async fn deprovision(&self, tenant: &TenantId) -> Result<Deprovisioned, Error> {
        let outcome = self
            .provisioner(async |p| p.deprovision(tenant).await)
            .await;
        self.cache.invalidate(tenant);
        outcome
    }

    async fn get(&self, tenant: &TenantId) -> Result<TenantRecord, Error> {
        self.registry.get(tenant).await
    }

    async fn list(&self, after: Option<&TenantId>, limit: u32) -> Result<TenantPage, Error> {
        self.registry.list(after, limit).await
    }
}

pub(super) fn now() -> UnixTime {
    UnixTime::from_js_millis(js_sys::Date::now())
}

/// Brings `tenant`'s database to where `location` says it belongs, the greater of the version
/// the registry records for it and its group's (as far as this deployment's migrations go),
/// before its first request in this isolate is served: a tenant restored from an older backup,
/// or provisioned while a job moved its group, catches up here, and the registry records it.
/// Only a migration job moves a group, so a deploy with a new migration changes no database by
/// itself, and a tenant a job left behind on purpose has no group version to catch up to. One
/// ledger read per isolate and target (and one batch when behind). Concurrent first requests
/// each read the ledger, which keeps anything from applying twice. A database whose ledger has
/// drifted, or whose catch-up failed, is served as it is, the reason logged. Answers the
/// version the database is at.
async fn catch_up(
    registry: &Registry<D1>,
    tenant: &TenantId,
    db: &TenantDb,
    group: &SchemaGroup,
    location: &Location,
) -> Result<i64, Error> {
    let latest = group.migrations().len() as i64;
    let target = location
        .schema_version
        .max(location.group_version)
        .min(latest);
    if let Some((handled, version)) = CAUGHT_UP.with_borrow(|done| done.get(tenant).copied()) {
        if handled >= target {
            return Ok(version);
        }
    }
    let status = schema::status(db, group.migrations()).await?;
    let mut version = status.version as i64;
    let name = group.name();
    if !status.drift.is_empty() {
        let drift: Vec<String> = status.drift.iter().map(ToString::to_string).collect();
        worker::console_error!(
            "edge-tenancy: tenant {tenant}'s database has drifted from schema group {name}: {}",
            drift.join("; ")
        );
    } else if version < target {
        let to = usize::try_from(target).unwrap_or(0);
        match group.bring_up_to(db, status.version, to, now()).await {
            Ok(reached) => {
                version = reached.version;
                worker::console_log!(
                    "edge-tenancy: tenant {tenant}'s database caught up with schema group {name} (version {version})"
                );
            }
            Err(error) => worker::console_error!(
                "edge-tenancy: tenant {tenant}'s database did not catch up with schema group {name}: {error}"
            ),
        }
    }
    if version > location.schema_version {
        let recorded = registry
            .record_caught_up(tenant, name, version, now())
            .await;
        if let Err(error) = recorded {
            worker::console_error!("edge-tenancy: recording tenant {tenant}'s version: {error}");
        }
    }
    CAUGHT_UP.with_borrow_mut(|done| {
        if done.len() >= MAX_TENANTS_REMEMBERED {
            done.clear();
        }
        done.insert(tenant.clone(), (target, version));
    });
    Ok(version)
}

/// A bound on the memory the per-isolate tenant sets below take: past it, they start over.
const MAX_TENANTS_REMEMBERED: usize = 10_000;

thread_local! {
    /// The tenants whose database this isolate has checked against the version it belongs at,
    /// that version, and the one the database is at: a job that moves the group has it checked
    /// again.
    static CAUGHT_UP: std::cell::RefCell<std::collections::HashMap<TenantId, (i64, i64)>> =
        Default::default();

    /// The tenants whose path this isolate has logged, and which path: a tenant whose binding
    /// arrives (a deploy) is logged again.
    static PATHS: std::cell::RefCell<std::collections::HashMap<TenantId, &'static str>> =
        Default::default();
}

/// Logs which path reaches `tenant`'s database, once per tenant and path per isolate rather
/// than on every request.
fn note_path(tenant: &TenantId, binding: Option<&str>) {
    let path = if binding.is_some() { "binding" } else { "rest" };
    // Looked up first: a warm request neither clones the id nor writes the map.
    if PATHS.with_borrow(|paths| paths.get(tenant) == Some(&path)) {
        return;
    }
    PATHS.with_borrow_mut(|paths| {
        if paths.len() >= MAX_TENANTS_REMEMBERED {
            paths.clear();
        }
        paths.insert(tenant.clone(), path);
    });
    match binding {
        Some(binding) => {
            worker::console_log!("edge-tenancy: tenant {tenant} is reached through binding {binding}")
        }
        None => worker::console_log!(
            "edge-tenancy: tenant {tenant} has no D1 binding here that reaches its database; its queries go through the REST API (1,200 requests per 5 minutes per account)"
        ),
    }
}
