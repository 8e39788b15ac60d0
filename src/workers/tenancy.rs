//! [`Tenancy`]: everything a Rust worker keeps per isolate to serve tenants — the pipeline, the
//! tenant cache, the D1 factory's settings and the Cloudflare API client — read from the
//! Worker's env on first use.
//!
//! Route handlers get it through [`handler`](super::handler); its methods are there for what a
//! handler does beyond the usual (its own lookups, the cache's counters).
//!
//! What it reads from the env, by convention:
//! - `TENANCY_CONFIG` (var or secret): the pipeline's settings ([`TenancyConfig`]), JSON;
//! - `CONTROL_PLANE` (D1 binding): the tenant registry, its schema migrated once per isolate;
//! - `D1_FACTORY` (var, optional): the D1 factory's [`D1Options`], JSON;
//! - the Cloudflare API's settings, as [`client_from_env`] reads them.
//!
//! A setting that is missing or does not parse fails the requests that need it with 503
//! `not_configured`, its cause logged: a deployment error never lets a request through, and the
//! routes that do not need the setting keep working.

use super::cloudflare::client_from_env;
use super::factory::ApiClient;
use super::{resolve_request, D1Factory, WorkerEdges, WorkerFetch, D1};
use crate::control::Registry;
use crate::database::d1::{BindTo, D1Options};
use crate::database::{shard_binding, Hooks};
use crate::lookup::{CachePolicy, TenantCache};
use crate::pipeline::{Pipeline, TenantContext};
use crate::schema::SchemaGroup;
use crate::{Error, TenancyConfig, UnixTime};
use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use worker::{js_sys, Env, Fetcher, Request};

/// The var holding the pipeline's settings.
pub const CONFIG_VAR: &str = "TENANCY_CONFIG";
/// The D1 binding holding the tenant registry.
pub const REGISTRY_BINDING: &str = "CONTROL_PLANE";
/// The var holding the D1 factory's settings (optional: the defaults without it).
pub const FACTORY_VAR: &str = "D1_FACTORY";

/// The per-isolate state. Make one per isolate (a `thread_local!`) and hand it to the
/// [`Router`](worker::Router) as its data; every request shares it.
#[derive(Default)]
pub struct Tenancy {
    pipeline: OnceCell<Pipeline>,
    options: OnceCell<D1Options>,
    client: OnceCell<Rc<ApiClient>>,
    cache: Rc<TenantCache>,
    registry_migrated: Cell<bool>,
    registry_batches: Rc<Cell<u64>>,
    fetch: WorkerFetch,
    schema: Option<Rc<SchemaGroup>>,
}

/// A setting that is there but does not work: logged with its cause (which may name the bad
/// setting, never a secret), answered as 503 `not_configured` with `what`.
fn misconfigured(what: &'static str, cause: impl std::fmt::Display) -> Error {
    worker::console_error!("edge-tenancy: {cause}");
    Error::NotConfigured(what)
}

impl Tenancy {
    /// State whose tenant cache keeps answers as `policy` says.
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            cache: Rc::new(TenantCache::new(policy)),
            ..Self::default()
        }
    }

    /// The same state provisioning every tenant into `group`: its database is brought to the
    /// group's migrations before it is ready, and refuses schema changes of its own after.
    pub fn with_schema(self, group: SchemaGroup) -> Self {
        Self {
            schema: Some(Rc::new(group)),
            ..self
        }
    }

    /// The schema group tenants are provisioned into, if any.
    pub fn schema(&self) -> Option<&SchemaGroup> {
        self.schema.as_deref()
    }

    /// The pipeline, built from `TENANCY_CONFIG` on first use.
    pub fn pipeline(&self, env: &Env) -> Result<&Pipeline, Error> {
        if let Some(pipeline) = self.pipeline.get() {
            return Ok(pipeline);
        }
        const BAD: &str = "TENANCY_CONFIG is not a valid configuration";
        let text = env
            .var(CONFIG_VAR)
            .map_err(|_| misconfigured(BAD, "TENANCY_CONFIG is not set"))?
            .to_string();
        let pipeline = TenancyConfig::pipeline_from_json(&text)
            .map_err(|e| misconfigured(BAD, format!("TENANCY_CONFIG: {e}")))?;
        Ok(self.pipeline.get_or_init(|| pipeline))
    }

    /// The isolate's Cloudflare API client ([`client_from_env`]), made on first use; one per
    /// isolate, so its request budget counts every call the isolate makes.
    pub fn client(&self, env: &Env) -> Result<Rc<ApiClient>, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let client = client_from_env(env).map_err(|e| {
            misconfigured("the Cloudflare API is not configured for this Worker", e)
        })?;
        Ok(self.client.get_or_init(|| Rc::new(client)).clone())
    }

    /// The tenant cache the pipeline's lookups and the factory share.
    pub fn cache(&self) -> &Rc<TenantCache> {
        &self.cache
    }

    /// How many batches of statements this isolate sent to the registry (reads, writes and the
    /// one migration check): with [`TenantCache::loads`], what shows a warm request reads no row.
    pub fn registry_batches(&self) -> u64 {
        self.registry_batches.get()
    }

    /// The tenant registry on the `CONTROL_PLANE` binding, its schema brought up to date once
    /// per isolate.
    pub async fn registry(&self, env: &Env) -> Result<Registry<D1>, Error> {
        let binding = D1::binding(env, REGISTRY_BINDING)?.counted(self.registry_batches.clone());
        let registry = Registry::new(binding);
        if !self.registry_migrated.get() {
            registry.migrate(now()).await?;
            self.registry_migrated.set(true);
        }
        Ok(registry)
    }

    /// Runs the pipeline over `req`: the tenant context, or the error to answer with.
    pub async fn resolve(&self, req: &Request, env: &Env) -> Result<TenantContext, Error> {
        let pipeline = self.pipeline(env)?;
        let edges = match self.registry(env).await {
            Ok(registry) => {
                WorkerEdges::new(self.fetch).with_registry(registry, self.cache.clone())
            }
            // Without the registry, a request that needs a tenant lookup fails with a 503; one
            // for the control-plane tenant, which is never looked up, still passes.
            Err(error) => {
                worker::console_error!("edge-tenancy: the registry is unavailable: {error}");
                WorkerEdges::new(self.fetch)
            }
        };
        resolve_request(pipeline, req, &edges).await
    }

    /// [`Tenancy::resolve`], passing only a control-plane administrator
    /// ([`Pipeline::require_administrator`]).
    pub async fn resolve_administrator(
        &self,
        req: &Request,
        env: &Env,
    ) -> Result<TenantContext, Error> {
        match self.resolve(req, env).await {
            Ok(context) => {
                self.pipeline(env)?.require_administrator(&context)?;
                Ok(context)
            }
            // An administrator's token is bound to the control-plane tenant, which is never
            // looked up: a token for a tenant the registry lacks is simply not an administrator's.
            Err(Error::TenantNotFound | Error::TenantUnavailable { .. }) => {
                Err(Error::Forbidden("this needs a control-plane administrator"))
            }
            Err(error) => Err(error),
        }
    }

    /// The D1 factory over `env`, running `hooks` around provisioning (`()` for none).
    pub async fn factory<'e, H: Hooks>(
        &self,
        env: &'e Env,
        hooks: H,
    ) -> Result<D1Factory<'e, H>, Error> {
        Ok(D1Factory::new(
            env,
            self.registry(env).await?,
            self.client(env)?,
            self.options(env)?.clone(),
            self.cache.clone(),
            hooks,
        )
        .with_schema(self.schema.clone()))
    }

    /// The shard that serves `context`'s tenant: the Worker holding its database's binding, when
    /// the factory binds to several (`bindTo` a list) and this Worker reaches that one by a
    /// service binding ([`shard_binding`]). `None`: this Worker serves it.
    pub async fn shard(
        &self,
        env: &Env,
        context: &TenantContext,
    ) -> Result<Option<(String, Fetcher)>, Error> {
        if !matches!(self.options(env)?.bind_to, Some(BindTo::Shards(_))) {
            return Ok(None);
        }
        // The control-plane tenant is never looked up, nor served elsewhere.
        if self.pipeline(env)?.resolver().control_plane() == Some(context.tenant()) {
            return Ok(None);
        }
        let registry = self.registry(env).await?;
        let lookup =
            super::edges::route_lookup(&registry, &self.cache, context.tenant(), now()).await?;
        let script = lookup.location.and_then(|location| location.script);
        Ok(script.and_then(|script| {
            let shard = env.service(&shard_binding(&script)).ok()?;
            Some((script, shard))
        }))
    }

    /// The factory's settings, from `D1_FACTORY` on first use.
    fn options(&self, env: &Env) -> Result<&D1Options, Error> {
        if let Some(options) = self.options.get() {
            return Ok(options);
        }
        let options = match env.var(FACTORY_VAR) {
            Ok(text) => crate::config::from_json(&text.to_string()).map_err(|e| {
                misconfigured(
                    "D1_FACTORY is not a valid configuration",
                    format!("D1_FACTORY: {e}"),
                )
            })?,
            Err(_) => D1Options::default(),
        };
        Ok(self.options.get_or_init(|| options))
    }
}

fn now() -> UnixTime {
    UnixTime::from_js_millis(js_sys::Date::now())
}
