//! The control plane for JS workers: the crate's tenant registry, [`Provisioner`] and tenant
//! cache, over the edges JS provides ([`ControlEdges`]). `createD1Factory` runs it with the D1
//! backend (databases made through the Cloudflare API); a factory written in JS runs it with
//! [`CustomBackend`], so both get the same leases, states and resumable steps.
//!
//! Every method answers a Promise of JSON text, or rejects with an error's JSON (as the sync
//! exports throw), which `js/index.js` turns into an `EdgeTenancyError`.

use crate::edges::{
    ControlEdges, CustomBackend, JsBindings, JsHooks, JsRuntime, JsSql, JsTransport,
};
use crate::error_json;
use edge_tenancy::cloudflare::d1::{Jurisdiction, LocationHint};
use edge_tenancy::cloudflare::{AccountId, ApiToken, Client, ClientOptions, DatabaseId};
use edge_tenancy::control::jobs::{JobControl, TaskPage};
use edge_tenancy::control::queue::{drain_limits, queue_report};
use edge_tenancy::control::{Provisioner, Registry};
use edge_tenancy::database::d1::schema_group::{drive_limits, job_request};
use edge_tenancy::database::d1::{
    query_error, BindTo, CaughtUp, D1Backend, D1Group, D1Options, Migrating,
};
use edge_tenancy::database::{shard_binding, Backend, Hooks};
use edge_tenancy::lookup::{CachePolicy, Lookup, TenantCache, TenantStatus};
use edge_tenancy::schema::{Migrations, SchemaGroup};
use edge_tenancy::sql::{Statement, Value};
use edge_tenancy::{config, Error, TenantId, UnixTime};
use js_sys::Promise;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// `createD1Factory`'s settings, every one of them, so that an unknown or misspelled one (a
/// function's name too) is refused naming the setting meant and listing all. Rust reads the
/// values of most; JS keeps the bindings and functions and sends each as `true`. Unknown keys are
/// refused by name, which is why [`D1Options`]' fields are listed again rather than flattened
/// in: serde's `flatten` cannot be combined with `deny_unknown_fields`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct D1Settings {
    /// Kept by JS: the tenant registry's D1 binding.
    #[serde(default, rename = "registry")]
    _registry: IgnoredAny,
    /// Kept by JS: the Worker's env, where tenants' bindings are found.
    #[serde(default, rename = "env")]
    _env: IgnoredAny,
    /// Kept by JS: a service binding that answers the Cloudflare API.
    #[serde(default, rename = "api")]
    _api: IgnoredAny,
    /// Kept by JS: `createAdapters(database, tenantId)`.
    #[serde(default, rename = "createAdapters")]
    _create_adapters: IgnoredAny,
    /// Kept by JS: the hook run before a tenant is ready.
    #[serde(default, rename = "afterProvision")]
    _after_provision: IgnoredAny,
    /// Kept by JS: the hook run before a tenant's database is deleted.
    #[serde(default, rename = "beforeDeprovision")]
    _before_deprovision: IgnoredAny,
    /// Kept by JS: the R2 bucket a tenant's database is backed up to before it is deleted.
    #[serde(default, rename = "backupBucket")]
    _backup_bucket: IgnoredAny,
    account_id: String,
    api_token: String,
    /// Another base URL than the real API's (a proxy, or the local API).
    #[serde(default)]
    api_base: Option<String>,
    #[serde(default)]
    client: ClientOptions,
    #[serde(default = "default_prefix")]
    database_prefix: String,
    #[serde(default)]
    location_hint: Option<LocationHint>,
    #[serde(default)]
    jurisdiction: Option<Jurisdiction>,
    #[serde(default)]
    bind_to: Option<BindTo>,
    #[serde(default = "default_max_bindings")]
    max_bindings: usize,
    #[serde(default = "default_binding_list_secs")]
    binding_list_secs: u32,
    #[serde(default)]
    schema: Option<SchemaSettings>,
}

/// `createD1Factory`'s `schema`: the group its tenants are provisioned into, and its migrations,
/// as a wrangler `migrations/` folder's files (`{"0001_init.sql": sql}`, applied by their
/// numbers) or a list (`[{name, sql}]`, applied in its order).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaSettings {
    group: String,
    migrations: MigrationSettings,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MigrationSettings {
    Files(std::collections::BTreeMap<String, String>),
    List(Vec<NamedMigration>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedMigration {
    name: String,
    sql: String,
}

impl SchemaSettings {
    fn group(self) -> Result<SchemaGroup, JsError> {
        let migrations = match self.migrations {
            MigrationSettings::Files(files) => Migrations::from_files(files),
            MigrationSettings::List(list) => {
                Migrations::new(list.into_iter().map(|m| (m.name, m.sql)))
            }
        };
        let migrations = migrations.map_err(|e| refused(&format!("schema.migrations: {e}")))?;
        SchemaGroup::new(self.group, migrations).map_err(|e| refused(&format!("schema.group: {e}")))
    }
}

/// A setting of `createD1Factory` refused, in the words of the package's other settings checks
/// (`edge-tenancy: createD1Factory: databasePrefx: unknown setting; did you mean …`).
fn refused(why: &str) -> JsError {
    JsError::new(&format!("edge-tenancy: createD1Factory: {why}"))
}

fn default_prefix() -> String {
    D1Options::default().database_prefix
}

fn default_max_bindings() -> usize {
    D1Options::default().max_bindings
}

fn default_binding_list_secs() -> u32 {
    D1Options::default().binding_list_secs
}

/// Who makes tenants' databases: the D1 backend through its API client (boxed: one per control
/// plane), or the JS factory's own calls.
enum Maker {
    D1 {
        client: Rc<Client<JsTransport, JsRuntime>>,
        options: D1Options,
        schema: Option<SchemaGroup>,
    },
    Custom,
}

struct Inner {
    edges: ControlEdges,
    registry: Registry<JsSql>,
    maker: Maker,
    cache: TenantCache,
    migrated: Cell<bool>,
    runtime: JsRuntime,
    bindings: JsBindings,
    caught_up: CaughtUp,
}

/// The D1 factory's schema group, its databases reached from here.
type Group<'a> = D1Group<'a, JsSql, JsTransport, JsRuntime, JsBindings>;

/// A tenant registry with the databases it provisions.
#[wasm_bindgen]
pub struct Control {
    inner: Rc<Inner>,
}

fn now() -> UnixTime {
    UnixTime::from_js_millis(js_sys::Date::now())
}

/// A lease owner no other call shares.
fn owner() -> String {
    format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
}

/// The Promise of `work`'s JSON, rejected with the error's JSON; errors whose detail is only for
/// the operator are logged first.
fn promise<F>(inner: Rc<Inner>, work: impl FnOnce(Rc<Inner>) -> F) -> Promise
where
    F: Future<Output = Result<String, Error>> + 'static,
{
    let work = work(inner.clone());
    future_to_promise(async move {
        match work.await {
            Ok(json) => Ok(JsValue::from_str(&json)),
            Err(error) => {
                if matches!(
                    error,
                    Error::HookFailed(_) | Error::Storage(_) | Error::Query(_) | Error::Upstream(_)
                ) {
                    inner.edges.log(&format!("edge-tenancy: {error}"));
                }
                Err(JsValue::from_str(&error_json(&error)))
            }
        }
    })
}

/// As [`promise`], for a query the developer wrote: blamed as the Rust path blames it
/// ([`query_error`]: a refused statement 500 `query_failed`, the database's trouble 503), and
/// with D1's own words as the message (`no such table: notes: SQLITE_ERROR`), word for word what
/// a D1 binding's error says, for the REST adapter's `D1_ERROR`. It names the developer's schema,
/// no secret.
fn query_promise<F>(work: F) -> Promise
where
    F: Future<Output = Result<String, Error>> + 'static,
{
    future_to_promise(async move {
        work.await
            .map(|json| JsValue::from_str(&json))
            .map_err(|error| {
                let error = match error {
                    Error::Upstream(cause) => query_error(cause),
                    other => other,
                };
                let mut response = error.to_response();
                response.message = match &error {
                    Error::Query(words) | Error::Storage(words) => words.0.clone(),
                    other => other.to_string(),
                };
                JsValue::from_str(&serde_json::to_string(&response).unwrap_or_default())
            })
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn tenant(id: &str) -> Result<TenantId, Error> {
    Ok(TenantId::parse(id)?)
}

fn job_id(id: &str) -> Result<i64, Error> {
    id.parse()
        .map_err(|_| Error::NotFound("no such schema job"))
}

impl Inner {
    async fn registry(&self) -> Result<&Registry<JsSql>, Error> {
        if !self.migrated.get() {
            self.registry.migrate(now()).await?;
            self.migrated.set(true);
        }
        Ok(&self.registry)
    }

    /// What the registry says of `tenant`, from the cache or (one read for every request
    /// waiting) the registry, and until when that answer is kept (`now` if it is not: a read
    /// overtaken by this isolate's own change of the tenant is for its request alone).
    async fn lookup(&self, tenant: &TenantId) -> Result<(Lookup, UnixTime), Error> {
        let registry = self.registry().await?;
        let load = async || registry.lookup(tenant).await.map_err(|e| e.to_string());
        let pause = async || {
            self.runtime.pause(1.0).await;
            now()
        };
        let now = now();
        let answer = self
            .cache
            .get_or_load(tenant, now, load, pause)
            .await
            .map_err(|why| Error::Storage(edge_tenancy::sql::SqlError(why)))?;
        Ok((answer.lookup, answer.kept_until.unwrap_or(now)))
    }

    /// The D1 factory's schema group as its databases are reached from here, or
    /// [`Error::NotConfigured`] without one.
    fn group(&self) -> Result<Group<'_>, Error> {
        let Maker::D1 {
            client,
            options,
            schema: Some(group),
        } = &self.maker
        else {
            return Err(Error::NotConfigured(
                "no schema group is configured (createD1Factory's schema)",
            ));
        };
        Ok(D1Group {
            group,
            registry: &self.registry,
            client,
            options,
            bindings: &self.bindings,
            cache: &self.cache,
            log: &self.edges,
        })
    }

    /// Provisions or deprovisions `tenant` with the configured backend; the cache forgets what
    /// it knew of it either way.
    async fn change(&self, tenant: &TenantId, change: Change) -> Result<String, Error> {
        let registry = self.registry().await?;
        let outcome = match &self.maker {
            Maker::D1 {
                client, options, ..
            } => {
                let backend = d1_backend(client, options)?;
                let hooks = Migrating {
                    hooks: &JsHooks::new(self.edges.clone(), Some(client)),
                    group: self.group().ok(),
                };
                self.run(registry, &backend, &hooks, tenant, change).await
            }
            Maker::Custom => {
                let backend = CustomBackend(self.edges.clone());
                let hooks = JsHooks::new(self.edges.clone(), None);
                self.run(registry, &backend, &hooks, tenant, change).await
            }
        };
        self.cache.invalidate(tenant);
        outcome
    }

    /// The D1 factory's queue: `work` with a provisioner over its registry, backend and hooks
    /// (a new database brought to the schema group's version), and the API client.
    async fn queue<T>(
        &self,
        work: impl AsyncFnOnce(
            &Provisioner<
                '_,
                JsSql,
                D1Backend<'_, JsTransport, JsRuntime>,
                Migrating<'_, JsHooks<'_>, Group<'_>>,
                JsRuntime,
            >,
            &Client<JsTransport, JsRuntime>,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let registry = self.registry().await?;
        let Maker::D1 {
            client, options, ..
        } = &self.maker
        else {
            return Err(Error::NotConfigured(
                "only a D1 factory has a provisioning queue",
            ));
        };
        let backend = d1_backend(client, options)?;
        let hooks = Migrating {
            hooks: &JsHooks::new(self.edges.clone(), Some(client)),
            group: self.group().ok(),
        };
        let provisioner = Provisioner::new(registry, &backend, &hooks, &self.runtime, owner());
        work(&provisioner, client).await
    }

    /// Where the queue stands, with the API client's budget ([`queue_report`]).
    async fn queue_status(&self) -> Result<serde_json::Value, Error> {
        let Maker::D1 { client, .. } = &self.maker else {
            return Err(Error::NotConfigured(
                "only a D1 factory has a provisioning queue",
            ));
        };
        let status = self.registry().await?.queue_status(now()).await?;
        let (used, left) = client.budget_status();
        Ok(queue_report(status, used, left, client.options()))
    }

    async fn run<B: Backend, H: Hooks>(
        &self,
        registry: &Registry<JsSql>,
        backend: &B,
        hooks: &H,
        tenant: &TenantId,
        change: Change,
    ) -> Result<String, Error> {
        let provisioner = Provisioner::new(registry, backend, hooks, &self.runtime, owner());
        let made = match change {
            Change::Provision => provisioner.provision(tenant).await,
            Change::Restore(backup) => provisioner.restore(tenant, &backup).await,
            Change::Move(script) => {
                return provisioner
                    .move_to(tenant, &script)
                    .await
                    .map(|record| to_json(&record));
            }
            Change::Deprovision => {
                return provisioner.deprovision(tenant).await.map(|done| {
                    format!(
                        r#"{{"deleted":"{tenant}","backup":{}}}"#,
                        to_json(&done.backup)
                    )
                })
            }
        };
        made.map(|done| {
            format!(
                r#"{{"record":{},"already":{}}}"#,
                to_json(&done.record),
                done.already
            )
        })
    }
}

/// What [`Inner::change`] does to a tenant.
enum Change {
    Provision,
    /// Provision from the backup at this key.
    Restore(String),
    Deprovision,
    /// Move its binding to this shard.
    Move(String),
}

fn d1_backend<'c>(
    client: &'c Client<JsTransport, JsRuntime>,
    options: &D1Options,
) -> Result<D1Backend<'c, JsTransport, JsRuntime>, Error> {
    D1Backend::new(client, options.clone())
        .map_err(|_| Error::NotConfigured("the D1 factory's options are invalid"))
}

/// The status as the pipeline's `lookUpTenant` answers it (`resumeTenant` reads it back).
fn status_json(status: TenantStatus) -> String {
    match status {
        TenantStatus::Ready => r#"{"state":"ready"}"#.into(),
        TenantStatus::NotFound => r#"{"state":"notFound"}"#.into(),
        TenantStatus::Unavailable { retry_after_secs } => {
            format!(r#"{{"state":"unavailable","retryAfterSecs":{retry_after_secs}}}"#)
        }
    }
}

/// A REST query body (`{sql, params}` or `{batch: [...]}`) as statements. Params are what the
/// API takes: strings, numbers, null.
fn statements(body: &str) -> Result<Vec<Statement>, Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct One {
        sql: String,
        #[serde(default)]
        params: Vec<serde_json::Value>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        Batch { batch: Vec<One> },
        One(One),
    }
    let bad = |_| Error::InvalidBody("a query is {sql, params} or {batch: [{sql, params}]}");
    let body: Body = serde_json::from_str(body).map_err(bad)?;
    let ones = match body {
        Body::Batch { batch } => batch,
        Body::One(one) => vec![one],
    };
    ones.into_iter()
        .map(|one| {
            let params = one
                .params
                .into_iter()
                .map(|p| {
                    Value::try_from(p).map_err(|_| {
                        Error::InvalidBody("a query parameter is a string, a number or null")
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Statement::new(one.sql, params))
        })
        .collect()
}

#[wasm_bindgen]
impl Control {
    /// A control plane keeping its registry through `edges`. `settings` is `createD1Factory`'s
    /// JSON for the D1 backend, or `undefined` for a factory written in JS. Bad settings throw,
    /// naming the setting.
    #[wasm_bindgen(constructor)]
    pub fn new(edges: ControlEdges, settings: Option<String>) -> Result<Control, JsError> {
        let maker = match settings {
            None => Maker::Custom,
            Some(json) => {
                let settings: D1Settings = config::from_json(&json).map_err(|e| refused(&e.0))?;
                let account = AccountId::parse(&settings.account_id)
                    .map_err(|_| refused("accountId is not a 32-hex account id"))?;
                let client = Client::new(
                    account,
                    ApiToken::new(settings.api_token),
                    JsTransport(edges.clone()),
                    JsRuntime(edges.clone()),
                )
                .with_options(settings.client);
                let client = match &settings.api_base {
                    Some(base) => client.with_base_url(base),
                    None => client,
                };
                let options = D1Options {
                    database_prefix: settings.database_prefix,
                    location_hint: settings.location_hint,
                    jurisdiction: settings.jurisdiction,
                    bind_to: settings.bind_to,
                    max_bindings: settings.max_bindings,
                    binding_list_secs: settings.binding_list_secs,
                };
                // The backend names its settings as the Rust workers' D1_FACTORY holds them (`d1.`).
                D1Backend::new(&client, options.clone())
                    .map_err(|e| refused(e.0.strip_prefix("d1.").unwrap_or(&e.0)))?;
                Maker::D1 {
                    client: Rc::new(client),
                    options,
                    schema: settings.schema.map(SchemaSettings::group).transpose()?,
                }
            }
        };
        Ok(Control {
            inner: Rc::new(Inner {
                registry: Registry::new(JsSql(edges.clone())),
                runtime: JsRuntime(edges.clone()),
                bindings: JsBindings(edges.clone()),
                edges,
                maker,
                cache: TenantCache::new(CachePolicy::default()),
                migrated: Cell::new(false),
                caught_up: CaughtUp::default(),
            }),
        })
    }

    /// The pipeline's tenant lookup: `{"state": …}` from the cache or the registry.
    #[wasm_bindgen(js_name = lookUp)]
    pub fn look_up(&self, tenant: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let (lookup, _) = inner.lookup(&self::tenant(&tenant)?).await?;
            Ok(status_json(lookup.status))
        })
    }

    /// Where a ready tenant's database is, and until when JS may keep that answer:
    /// `{"databaseId", "binding", "shard", "schemaGroup", "schemaVersion", "schemaHeld",
    /// "until"}` (`binding`, `shard` and `schemaGroup` null when it has none, `until` in
    /// milliseconds; `shard` the service binding of the shard Worker binding it); 404/503
    /// errors as the pipeline gives them. A database of the factory's schema group is first
    /// brought to where its group stands, once per isolate and version.
    pub fn locate(&self, tenant: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let tenant = self::tenant(&tenant)?;
            let (lookup, until) = inner.lookup(&tenant).await?;
            let location = match (lookup.status, lookup.location) {
                (TenantStatus::Ready, Some(location)) => location,
                (TenantStatus::NotFound, _) => return Err(Error::TenantNotFound),
                (TenantStatus::Unavailable { retry_after_secs }, _) => {
                    return Err(Error::TenantUnavailable { retry_after_secs })
                }
                // Ready without a database: a row the registry should not hold.
                (TenantStatus::Ready, None) => {
                    return Err(Error::Storage(edge_tenancy::sql::SqlError(format!(
                        "the registry holds tenant {tenant} ready without a database"
                    ))))
                }
            };
            let mut version = location.schema_version;
            if let Ok(group) = inner.group() {
                // Not while a job holds it: the job is migrating it.
                if location.schema_group.as_deref() == Some(group.group.name())
                    && !location.schema_held
                {
                    let db = group.database(&location.database_id, location.binding.as_deref())?;
                    version = group
                        .catch_up(&tenant, &db, &location, &inner.caught_up)
                        .await?;
                }
            }
            // With shards, the service binding of the Worker that binds it (the request is
            // handed there when this Worker has that binding).
            let shard = match &inner.maker {
                Maker::D1 { options, .. } if matches!(options.bind_to, Some(BindTo::Shards(_))) => {
                    location.script.as_deref().map(shard_binding)
                }
                _ => None,
            };
            Ok(serde_json::json!({
                "databaseId": location.database_id,
                "binding": location.binding,
                "shard": shard,
                "schemaGroup": location.schema_group,
                "schemaVersion": version,
                "schemaHeld": location.schema_held,
                "until": until.millis(),
            })
            .to_string())
        })
    }

    /// Provisions `tenant` (idempotent): `{"record", "already"}`.
    pub fn provision(&self, tenant: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner
                .change(&self::tenant(&tenant)?, Change::Provision)
                .await
        })
    }

    /// Provisions `tenant` with a new database filled from the backup at `backup` (an R2 key
    /// of the factory's `backupBucket`), or resumes that: `{"record", "already"}`.
    pub fn restore(&self, tenant: String, backup: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner
                .change(&self::tenant(&tenant)?, Change::Restore(backup))
                .await
        })
    }

    /// Deprovisions `tenant` (resumable): `{"deleted": id, "backup": key or null}`.
    pub fn deprovision(&self, tenant: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner
                .change(&self::tenant(&tenant)?, Change::Deprovision)
                .await
        })
    }

    /// Moves ready `tenant`'s database binding to shard `script` (one of `bindTo`'s): its
    /// record.
    #[wasm_bindgen(js_name = moveTenant)]
    pub fn move_tenant(&self, tenant: String, script: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner
                .change(&self::tenant(&tenant)?, Change::Move(script))
                .await
        })
    }

    /// Marks ready `tenant` failed: the user's own step after provisioning (an `onProvision`
    /// that called the factory's `provision`) threw `message`. Its record.
    pub fn fail(&self, tenant: String, message: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let tenant = self::tenant(&tenant)?;
            let failed = inner
                .registry()
                .await?
                .fail_ready(&tenant, &Error::HookFailed(message), now())
                .await;
            inner.cache.invalidate(&tenant);
            Ok(to_json(&failed?))
        })
    }

    /// `tenant`'s registry record.
    pub fn get(&self, tenant: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let record = inner.registry().await?.get(&self::tenant(&tenant)?).await?;
            Ok(to_json(&record))
        })
    }

    /// A page of at most `limit` tenants after `after`: `{"tenants", "next"}`.
    pub fn list(&self, after: Option<String>, limit: u32) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let after = after.as_deref().map(self::tenant).transpose()?;
            if !(1..=1000).contains(&limit) {
                return Err(Error::InvalidBody("limit is a number from 1 to 1000"));
            }
            let page = inner.registry().await?.list(after.as_ref(), limit).await?;
            Ok(to_json(&page))
        })
    }

    /// Submits a migration job over the schema group, `body` as `POST /schema/jobs` takes it
    /// ([`job_request`]): the job's report, with the lint's `warnings`.
    #[wasm_bindgen(js_name = submitJob)]
    pub fn submit_job(&self, body: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner.registry().await?;
            let (settings, canary) = job_request(&body)?;
            let submitted = inner.group()?.submit_job(settings, &canary).await?;
            let mut report = submitted.job.report(now(), None);
            report["warnings"] = serde_json::json!(submitted.warnings);
            Ok(report.to_string())
        })
    }

    /// Job `id`'s report, with a page of its tenants' tasks when `tasks` is `"1"` (from place
    /// `from`, at most `limit`: [`TaskPage::from_query`]).
    pub fn job(
        &self,
        id: String,
        tasks: Option<String>,
        from: Option<String>,
        limit: Option<String>,
    ) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let tasks = TaskPage::from_query(tasks.as_deref(), from.as_deref(), limit.as_deref())?;
            inner.registry().await?;
            let record = inner.group()?.job(job_id(&id)?).await?;
            Ok(record.report(now(), tasks).to_string())
        })
    }

    /// `action` on job `id`: `drive` (within `calls` database calls and subrequests and `secs`
    /// seconds, [`drive_limits`]), `pause`, `resume` or `cancel`. The job's report.
    #[wasm_bindgen(js_name = actOnJob)]
    pub fn act_on_job(
        &self,
        id: String,
        action: String,
        calls: Option<u32>,
        secs: Option<u32>,
    ) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner.registry().await?;
            let (group, id) = (inner.group()?, job_id(&id)?);
            let record = match action.as_str() {
                "drive" => {
                    let (calls, time) = drive_limits(calls.map(u64::from), secs.map(u64::from));
                    group.drive_job(id, calls, time).await?
                }
                "pause" => group.control_job(id, JobControl::Pause).await?,
                "resume" => group.control_job(id, JobControl::Resume).await?,
                "cancel" => group.control_job(id, JobControl::Cancel).await?,
                _ => {
                    return Err(Error::NotFound(
                        "no such action: drive, pause, resume or cancel",
                    ))
                }
            };
            Ok(record.report(now(), None).to_string())
        })
    }

    /// Drives every job not over, oldest first, within `calls` database calls and subrequests
    /// and `secs` seconds in all (a scheduled handler's): `{"jobs": [report…]}`.
    #[wasm_bindgen(js_name = driveJobs)]
    pub fn drive_jobs(&self, calls: u32, secs: u32) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            inner.registry().await?;
            // At most an invocation's 1,000 calls and a scheduled run's 15 minutes.
            let time = std::time::Duration::from_secs(u64::from(secs.min(900)));
            let driven = inner
                .group()?
                .drive_jobs(calls.min(1_000) as usize, time)
                .await?;
            let reports: Vec<_> = driven.iter().map(|r| r.report(now(), None)).collect();
            Ok(serde_json::json!({ "jobs": reports }).to_string())
        })
    }

    /// A page of the schema group's drift report: `{"tenants", "next"}` ([`D1Group::drift`]).
    pub fn drift(&self, after: Option<String>, limit: u32) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let after = after.as_deref().map(self::tenant).transpose()?;
            inner.registry().await?;
            let page = inner.group()?.drift(after.as_ref(), limit as usize).await?;
            Ok(page.to_string())
        })
    }

    /// Queues tenants (a JSON array of ids, 1 to 1,000) to be provisioned in the background:
    /// `{"queued": [ids queued now], "queue": status}`.
    pub fn enqueue(&self, ids: String) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let expected = "a queue takes 1 to 1,000 tenant ids";
            let ids: Vec<String> =
                serde_json::from_str(&ids).map_err(|_| Error::InvalidBody(expected))?;
            if !(1..=1_000).contains(&ids.len()) {
                return Err(Error::InvalidBody(expected));
            }
            let ids = ids
                .iter()
                .map(|id| tenant(id))
                .collect::<Result<Vec<_>, _>>()?;
            let queued = inner.queue(async |p, _| p.enqueue(&ids).await).await?;
            let status = inner.queue_status().await?;
            Ok(serde_json::json!({ "queued": queued, "queue": status }).to_string())
        })
    }

    /// Where the provisioning queue stands.
    #[wasm_bindgen(js_name = queueStatus)]
    pub fn queue_status(&self) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            Ok(inner.queue_status().await?.to_string())
        })
    }

    /// Provisions the queue's due tenants for at most `secs` seconds and `tenants` tenants
    /// ([`drain_limits`]), within the API client's budget: `{"drained", "queue"}`.
    #[wasm_bindgen(js_name = drainQueue)]
    pub fn drain_queue(&self, secs: Option<u32>, tenants: Option<u32>) -> Promise {
        promise(self.inner.clone(), move |inner| async move {
            let (time, tenants) = drain_limits(secs.map(u64::from), tenants.map(u64::from));
            let until = now() + time;
            let drained = inner
                .queue(async |p, client| {
                    p.drain(until, tenants, |calls| client.room_for(calls))
                        .await
                })
                .await?;
            for tenant in drained.changed() {
                inner.cache.invalidate(tenant);
            }
            let status = inner.queue_status().await?;
            Ok(serde_json::json!({ "drained": drained, "queue": status }).to_string())
        })
    }

    /// Exports D1 database `id` as SQL (started, then polled until complete): `{"signed_url"}`,
    /// where the dump can be downloaded for an hour (JS streams it on, never through here).
    pub fn export(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        query_promise(async move {
            let Maker::D1 { client, .. } = &inner.maker else {
                return Err(Error::NotConfigured("only a D1 factory exports"));
            };
            let id =
                DatabaseId::parse(&id).map_err(|_| Error::InvalidBody("not a D1 database id"))?;
            let export = client.export_database(&id, &Default::default()).await?;
            Ok(serde_json::json!({ "signed_url": export.signed_url }).to_string())
        })
    }

    /// Runs a REST query body on D1 database `id` through the API client's raw endpoint (rows
    /// as arrays, so a repeated column name survives): the API's `result`.
    pub fn raw(&self, id: String, body: String) -> Promise {
        let inner = self.inner.clone();
        query_promise(async move {
            let Maker::D1 { client, .. } = &inner.maker else {
                return Err(Error::NotConfigured("only a D1 factory queries over REST"));
            };
            let id =
                DatabaseId::parse(&id).map_err(|_| Error::InvalidBody("not a D1 database id"))?;
            let results = client.raw(&id, &statements(&body)?).await?;
            Ok(to_json(&results))
        })
    }
}
