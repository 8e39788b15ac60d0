//! [`D1Factory`]: the D1 [`DatabaseFactory`] for Rust workers — the registry on the control-plane
//! binding, provisioning through the Cloudflare API, and each tenant's database reached through
//! its Worker binding when there is one, or the REST API otherwise.

use super::cloudflare::{ApiTransport, WorkerRuntime};
use super::tenant_db::TenantDb;
use super::D1;
use crate::cloudflare::Client;
use crate::control::{Provisioned, Provisioner, Registry, TenantPage, TenantRecord, TenantState};
use crate::database::d1::{database_id, D1Backend, D1Options};
use crate::database::{DatabaseFactory, Hooks};
use crate::lookup::TenantCache;
use crate::pipeline::TenantContext;
use crate::{Error, TenantId, UnixTime};
use std::rc::Rc;
use worker::{js_sys, Env};

/// The API client the factory provisions with.
pub type ApiClient = Client<ApiTransport, WorkerRuntime>;

/// The D1 factory over a Worker's env.
pub struct D1Factory<'e, H> {
    env: &'e Env,
    client: Rc<ApiClient>,
    registry: Registry<D1>,
    options: D1Options,
    cache: Rc<TenantCache>,
    hooks: H,
    session: Option<String>,
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
        }
    }

    /// The same factory opening binding-path databases in a read-replication session started
    /// from `session` (a bookmark the client sent back, `first-primary` or
    /// `first-unconstrained`); [`TenantDb::bookmark`] gives the one to send next.
    pub fn with_session(self, session: Option<String>) -> Self {
        Self { session, ..self }
    }

    fn backend(&self) -> Result<D1Backend<'_, ApiTransport, WorkerRuntime>, Error> {
        D1Backend::new(&self.client, self.options.clone())
            .map_err(|_| Error::NotConfigured("the D1 factory's options are invalid"))
    }

    /// A lease owner no other call shares.
    fn owner() -> String {
        format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
    }

    fn now() -> UnixTime {
        UnixTime::from_js_millis(js_sys::Date::now())
    }
}

impl<H: Hooks> DatabaseFactory for D1Factory<'_, H> {
    type Database = TenantDb;

    async fn open(&self, context: &TenantContext) -> Result<TenantDb, Error> {
        let record = self.registry.get(context.tenant()).await?;
        let (TenantState::Ready, Some(id)) = (record.state, &record.database_id) else {
            return Err(Error::TenantUnavailable {
                retry_after_secs: 5,
            });
        };
        if let Some(binding) = &record.binding {
            if let Ok(db) = self.env.d1(binding) {
                return TenantDb::binding(db, self.session.as_deref());
            }
        }
        worker::console_log!(
            "edge-tenancy: tenant {} has no D1 binding here; its queries go through the REST API (1,200 requests per 5 minutes per account)",
            context.tenant()
        );
        Ok(TenantDb::Rest {
            client: self.client.clone(),
            id: database_id(id)?,
        })
    }

    async fn provision(&self, tenant: &TenantId) -> Result<Provisioned, Error> {
        let backend = self.backend()?;
        let provisioner = Provisioner::new(&self.registry, &backend, &self.hooks, Self::owner());
        let outcome = provisioner.provision(tenant, Self::now()).await;
        self.cache.invalidate(tenant);
        outcome
    }

    async fn deprovision(&self, tenant: &TenantId) -> Result<(), Error> {
        let backend = self.backend()?;
        let provisioner = Provisioner::new(&self.registry, &backend, &self.hooks, Self::owner());
        let outcome = provisioner.deprovision(tenant, Self::now()).await;
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
