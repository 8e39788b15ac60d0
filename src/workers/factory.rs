//! [`D1Factory`]: the D1 [`DatabaseFactory`] for Rust workers — the registry on the control-plane
//! binding, provisioning through the Cloudflare API, and each tenant's database reached through
//! its Worker binding when there is one, or the REST API otherwise.

use super::cloudflare::{ApiTransport, WorkerRuntime};
use super::edges::route_lookup;
use super::tenant_db::TenantDb;
use super::D1;
use crate::cloudflare::Client;
use crate::control::queue::{queue_report, Drained};
use crate::control::{Deprovisioned, Provisioned, Provisioner, Registry, TenantPage, TenantRecord};
use crate::database::d1::{CaughtUp, D1Backend, D1Group, D1Options, D1Rest, Migrating};
use crate::database::{may_open, DatabaseFactory, Hooks};
use crate::lookup::{TenantCache, TenantStatus};
use crate::pipeline::TenantContext;
use crate::schema::{Lock, SchemaGroup, SchemaVersion, MIGRATING_RETRY_SECS};
use crate::{Error, TenantId, UnixTime};
use std::rc::Rc;
use std::time::Duration;
use worker::{js_sys, Env};

/// The API client the factory provisions with.
pub type ApiClient = Client<ApiTransport, WorkerRuntime>;

/// The D1 factory over a Worker's env.
pub struct D1Factory<'e, H> {
    pub(super) env: &'e Env,
    pub(super) client: Rc<ApiClient>,
    pub(super) registry: Registry<D1>,
    pub(super) options: D1Options,
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

    /// Runs `f` with a provisioner over this factory's registry, backend and hooks, a new
    /// database brought to the schema group's version first.
    async fn provisioner<T>(
        &self,
        f: impl AsyncFnOnce(
            &Provisioner<
                '_,
                D1,
                D1Backend<'_, ApiTransport, WorkerRuntime>,
                Migrating<'_, H, Group<'_, Self>>,
                WorkerRuntime,
            >,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let backend = self.backend()?;
        let owner = Self::owner();
        let hooks = Migrating {
            hooks: &self.hooks,
            group: self.group().ok(),
        };
        let provisioner = Provisioner::new(&self.registry, &backend, &hooks, &WorkerRuntime, owner);
        f(&provisioner).await
    }

    /// A lease owner no other call shares.
    fn owner() -> String {
        format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
    }
}

/// The schema group's databases as this factory reaches them.
type Group<'f, F> = D1Group<'f, D1, ApiTransport, WorkerRuntime, F>;

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

impl<H: Hooks> D1Factory<'_, H> {
    /// Queues `tenants` to be provisioned in the background ([`crate::control::queue`]): every
    /// id is checked first, none queued when one does not fit a database name. Answers those
    /// queued now; a tenant the registry holds is left as it is.
    pub async fn enqueue(&self, tenants: &[TenantId]) -> Result<Vec<TenantId>, Error> {
        self.provisioner(async |p| p.enqueue(tenants).await).await
    }

    /// Provisions the queue's due tenants, oldest first, for at most `time` and `tenants`
    /// tenants, within the API client's request budget (a tenant's provisioning makes up to
    /// [`crate::control::queue::CALLS_PER_TENANT`] calls: leave room within an invocation's
    /// 1,000 subrequests).
    pub async fn drain_queue(&self, time: Duration, tenants: usize) -> Result<Drained, Error> {
        let until = now() + time;
        let drained = self
            .provisioner(async |p| {
                p.drain(until, tenants, |calls| self.client.room_for(calls))
                    .await
            })
            .await?;
        for tenant in drained.changed() {
            self.cache.invalidate(tenant);
        }
        Ok(drained)
    }

    /// Moves ready `tenant`'s database binding to shard `script` (one of `bindTo`'s): bound
    /// there, recorded, unbound from where it was ([`Provisioner::move_to`]). Its requests
    /// follow once the Worker holding the new binding runs with it (at once on Cloudflare).
    pub async fn move_tenant(
        &self,
        tenant: &TenantId,
        script: &str,
    ) -> Result<TenantRecord, Error> {
        let outcome = self
            .provisioner(async |p| p.move_to(tenant, script).await)
            .await;
        self.cache.invalidate(tenant);
        outcome
    }

    /// Where the queue stands, and the API client's budget: `{"length", "retrying", "budget":
    /// {"used", "left"}, "drain_secs"}`, `drain_secs` what the queue takes at the budget's pace.
    pub async fn queue_status(&self) -> Result<serde_json::Value, Error> {
        let status = self.registry.queue_status(now()).await?;
        let (used, left) = self.client.budget_status();
        Ok(queue_report(status, used, left, self.client.options()))
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
        let lookup = route_lookup(&self.registry, &self.cache, tenant, now()).await?;
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
            Some(_) if location.schema_held && may_change_schema => Lock::Held {
                retry_after_secs: MIGRATING_RETRY_SECS,
            },
            Some(_) if location.schema_held => Lock::Migrating {
                retry_after_secs: MIGRATING_RETRY_SECS,
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
        if let (Ok(group), Some(schema)) = (self.group(), &mut schema) {
            // Not while a job holds it: the job is migrating it.
            if schema.group == group.group.name() && !location.schema_held {
                let caught_up = CAUGHT_UP.with(Rc::clone);
                schema.version = group.catch_up(tenant, &db, &location, &caught_up).await?;
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

/// A bound on the memory the per-isolate tenant set below takes: past it, it starts over.
const MAX_TENANTS_REMEMBERED: usize = 10_000;

thread_local! {
    /// The tenants whose database this isolate has checked against their group's version.
    static CAUGHT_UP: Rc<CaughtUp> = Rc::default();

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
