//! Route handlers for a workers-rs [`Router`] that run behind the pipeline.
//!
//! Wrap a handler in [`tenant`] (the tenant's members and administrators) or [`admin`]
//! (control-plane administrators only) and register it like any other:
//!
//! ```ignore
//! use edge_tenancy::workers::handler::{admin, tenant, AdminRequest, Reply, TenancyRouter, TenantRequest};
//! use edge_tenancy::workers::Tenancy;
//!
//! thread_local! {
//!     // One per isolate: the pipeline, the tenant cache, the API client.
//!     static TENANCY: Rc<Tenancy> = Rc::new(Tenancy::default());
//! }
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
//!     TenancyRouter::with_data(TENANCY.with(Rc::clone))
//!         .get_async("/t/:tenant/whoami", tenant(async |t: TenantRequest, _req| {
//!             Ok(Reply::json(t.context()))
//!         }))
//!         .get_async("/t/:tenant/notes/:id", tenant(async |t: TenantRequest, _req| {
//!             let id: i64 = t.param("id").and_then(|id| id.parse().ok())
//!                 .ok_or(Error::InvalidBody("a note id is an integer"))?;
//!             let note = t.db().await?
//!                 .prepare("SELECT id, body FROM notes WHERE id = ?")
//!                 .bind(vec![id.into()])
//!                 .first()
//!                 .await?
//!                 .ok_or(Error::NotFound("no such note"))?;
//!             Ok(Reply::json(&note))
//!         }))
//!         .get_async("/tenants/:id", admin(async |a: AdminRequest, _req| {
//!             let tenant = TenantId::parse(a.param("id").unwrap_or_default())?;
//!             Ok(Reply::json(&a.factory(()).await?.get(&tenant).await?))
//!         }))
//!         .run(req, env)
//!         .await
//! }
//! ```
//!
//! **What the handler gets.** The request itself, and a [`TenantRequest`]: the
//! [`TenantContext`] the pipeline made (tenant id, where it came from, the verified principal,
//! member or administrator), the route's parameters and the env, and — for [`tenant`] routes —
//! the tenant's database through [`TenantRequest::db`], opened on the first call and kept for
//! the request (refused with 401 for an anonymous caller on a public path, whom only
//! [`TenantRequest::public_db`] serves). A route that never calls it does no database work: the registry answer the
//! pipeline's lookup stage read (or found in the isolate's cache) also says where the database
//! is, so even the first `db()` call of a warm isolate reads no registry row. An [`admin`]
//! route's [`AdminRequest`] instead gives the D1 factory (provision, deprovision, list) and the
//! Cloudflare API client.
//!
//! **How errors map.** The handler returns `Result<impl Into<Reply>, Error>`. Every
//! [`Error`] — the pipeline's (400, 401 with `WWW-Authenticate`, 403, 404, 503 with
//! `Retry-After`), the database's, the API client's, or one the handler makes — becomes its
//! answer in one place, [`error_response`] over [`Error::to_response`]:
//! `{"error":{"code","message"}}` with the variant's status. Server-side failures (5xx) are
//! logged there with their cause, which never reaches the client. A success is a [`Reply`]: a
//! JSON value (200 unless [`Reply::with_status`] says otherwise), or any `worker::Response`.

use super::factory::ApiClient;
use super::{error_response, D1Factory, Tenancy, TenantDb};
use crate::database::{DatabaseFactory, Hooks, HANDED_OVER};
use crate::pipeline::TenantContext;
use crate::{Error, Principal, TenantId};
use serde::Serialize;
use std::cell::OnceCell;
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use worker::{Env, Fetcher, Request, Response, RouteContext, Router};

/// A router whose routes share the isolate's [`Tenancy`]: `TenancyRouter::with_data(tenancy)`.
pub type TenancyRouter<'a> = Router<'a, Rc<Tenancy>>;

/// What a route's handler is registered as.
pub type RouteHandler = Box<
    dyn Fn(
        Request,
        RouteContext<Rc<Tenancy>>,
    ) -> std::pin::Pin<Box<dyn Future<Output = worker::Result<Response>>>>,
>;

/// Who may call a route, and the request type its handler gets; [`Member`] or [`Administrator`].
pub trait Access: sealed::Sealed + 'static {
    /// Whether a request for a tenant whose database another Worker binds is handed to that
    /// Worker ([`Tenancy::shard`]): a tenant's route is; the control plane's is served here.
    const FOLLOWS_SHARDS: bool;

    /// Runs the pipeline for this kind of route.
    #[allow(async_fn_in_trait)]
    async fn resolve(tenancy: &Tenancy, req: &Request, env: &Env) -> Result<TenantContext, Error>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Member {}
    impl Sealed for super::Administrator {}
}

/// A [`tenant`] route: whoever the pipeline lets act for the tenant.
pub enum Member {}

/// An [`admin`] route: control-plane administrators only.
pub enum Administrator {}

impl Access for Member {
    const FOLLOWS_SHARDS: bool = true;

    async fn resolve(tenancy: &Tenancy, req: &Request, env: &Env) -> Result<TenantContext, Error> {
        tenancy.resolve(req, env).await
    }
}

impl Access for Administrator {
    const FOLLOWS_SHARDS: bool = false;

    async fn resolve(tenancy: &Tenancy, req: &Request, env: &Env) -> Result<TenantContext, Error> {
        tenancy.resolve_administrator(req, env).await
    }
}

/// What a [`tenant`] or [`admin`] handler gets besides the request: the tenant context the
/// pipeline made, the route (parameters, env) and, by route kind, the tenant's database or the
/// control plane.
pub struct TenantRequest<A = Member> {
    context: TenantContext,
    route: RouteContext<Rc<Tenancy>>,
    session: Option<String>,
    db: OnceCell<TenantDb>,
    access: PhantomData<A>,
}

/// What an [`admin`] handler gets.
pub type AdminRequest = TenantRequest<Administrator>;

impl<A> TenantRequest<A> {
    /// The pipeline's answer: tenant, where it was found, principal, access.
    pub fn context(&self) -> &TenantContext {
        &self.context
    }

    /// The tenant the request is for.
    pub fn tenant(&self) -> &TenantId {
        self.context.tenant()
    }

    /// The verified caller, a member of the tenant or an administrator; `None` for an anonymous
    /// caller on a public path (no token, or a token that may not act for this tenant, which is
    /// dropped).
    pub fn principal(&self) -> Option<&Principal> {
        self.context.principal()
    }

    /// The route parameter `name` (`:id` in the pattern).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.route.param(name).map(String::as_str)
    }

    /// The Worker's env.
    pub fn env(&self) -> &Env {
        &self.route.env
    }

    /// The isolate's state.
    pub fn tenancy(&self) -> &Tenancy {
        &self.route.data
    }
}

impl TenantRequest<Member> {
    /// The same request, its database to be opened in a D1 read-replication session started
    /// from `constraint` (`first-primary`, `first-unconstrained`, or a bookmark the client sent
    /// back); [`TenantDb::bookmark`] gives the one to send next. A database opened before is
    /// dropped.
    pub fn with_session(self, constraint: impl Into<String>) -> Self {
        Self {
            session: Some(constraint.into()),
            db: OnceCell::new(),
            ..self
        }
    }

    /// The tenant's database, opened on the first call (through its Worker binding, or the REST
    /// API without one) and kept for the rest of the request. An anonymous caller on a public
    /// path is refused (401): see [`TenantRequest::public_db`].
    pub async fn db(&self) -> Result<&TenantDb, Error> {
        self.open(false).await
    }

    /// [`TenantRequest::db`] for a route that serves the tenant's data to anyone on purpose: an
    /// anonymous caller on a public path gets the database too.
    pub async fn public_db(&self) -> Result<&TenantDb, Error> {
        self.open(true).await
    }

    async fn open(&self, anonymous: bool) -> Result<&TenantDb, Error> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let factory = self
            .tenancy()
            .factory(self.env(), ())
            .await?
            .with_session(self.session.clone());
        let factory = if anonymous {
            factory.allowing_anonymous()
        } else {
            factory
        };
        let db = factory.open(&self.context).await?;
        Ok(self.db.get_or_init(|| db))
    }
}

impl TenantRequest<Administrator> {
    /// The D1 factory, running `hooks` around provisioning (`()` for none).
    pub async fn factory<H: Hooks>(&self, hooks: H) -> Result<D1Factory<'_, H>, Error> {
        self.tenancy().factory(self.env(), hooks).await
    }

    /// The isolate's Cloudflare API client.
    pub fn client(&self) -> Result<Rc<ApiClient>, Error> {
        self.tenancy().client(self.env())
    }
}

/// A handler's answer on success: JSON with a status and headers, or a whole `worker::Response`.
pub struct Reply(worker::Result<Response>);

impl Reply {
    /// `value` as JSON, status 200.
    pub fn json(value: &impl Serialize) -> Self {
        Self(Response::from_json(value))
    }

    /// The same answer with `status`.
    pub fn with_status(self, status: u16) -> Self {
        Self(self.0.map(|response| response.with_status(status)))
    }

    /// The same answer with header `name` set to `value`.
    pub fn with_header(self, name: &str, value: &str) -> Self {
        Self(self.0.and_then(|response| {
            response.headers().set(name, value)?;
            Ok(response)
        }))
    }
}

impl From<serde_json::Value> for Reply {
    fn from(value: serde_json::Value) -> Self {
        Self::json(&value)
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Self {
        Self(Ok(response))
    }
}

/// A route for the tenant's members (and administrators, as the access rules say): the pipeline
/// runs first, and `handler` gets the [`TenantRequest`] and the request; every [`Error`] becomes
/// its JSON answer.
pub fn tenant<F, R>(handler: F) -> RouteHandler
where
    F: AsyncFn(TenantRequest, Request) -> Result<R, Error> + 'static,
    R: Into<Reply>,
{
    route::<Member, F, R>(handler)
}

/// A control-plane route: the pipeline runs first and only an administrator of every tenant
/// passes (403 otherwise); `handler` gets the [`AdminRequest`] and the request; every [`Error`]
/// becomes its JSON answer.
pub fn admin<F, R>(handler: F) -> RouteHandler
where
    F: AsyncFn(AdminRequest, Request) -> Result<R, Error> + 'static,
    R: Into<Reply>,
{
    route::<Administrator, F, R>(handler)
}

fn route<A, F, R>(handler: F) -> RouteHandler
where
    A: Access,
    F: AsyncFn(TenantRequest<A>, Request) -> Result<R, Error> + 'static,
    R: Into<Reply>,
{
    let handler = Rc::new(handler);
    Box::new(move |req, route| {
        let handler = handler.clone();
        Box::pin(async move {
            let what = format!("{} {}", req.method(), req.path());
            let outcome = async {
                let context = A::resolve(&route.data, &req, &route.env).await?;
                if A::FOLLOWS_SHARDS {
                    if let Some((script, shard)) = route.data.shard(&route.env, &context).await? {
                        return hand_over(req, &script, &shard).await.map(Reply::from);
                    }
                }
                let request = TenantRequest {
                    context,
                    route,
                    session: None,
                    db: OnceCell::new(),
                    access: PhantomData,
                };
                handler(request, req).await.map(Into::into)
            }
            .await;
            match outcome {
                Ok(reply) => reply.0,
                Err(error) => answer_error(&what, &error),
            }
        })
    })
}

/// Hands `req` whole to `shard` (the Worker `script` binding the tenant's database), which runs
/// the pipeline again and answers. A request handed over already is not handed over again.
async fn hand_over(req: Request, script: &str, shard: &Fetcher) -> Result<Response, Error> {
    if req.headers().has(HANDED_OVER).unwrap_or(true) {
        return Err(Error::NotConfigured(
            "a request handed to a shard would be handed over again: a shard must have no \
             service binding to a shard",
        ));
    }
    let failed = |e: &dyn std::fmt::Debug| {
        Error::Storage(crate::sql::SqlError(format!(
            "shard {script} did not answer: {e:?}"
        )))
    };
    // A copy, whose headers may be set (the incoming request's may not).
    let copy = worker::web_sys::Request::new_with_request(req.inner()).map_err(|e| failed(&e))?;
    copy.headers()
        .set(HANDED_OVER, script)
        .map_err(|e| failed(&e))?;
    shard
        .fetch_request(Request::from(copy))
        .await
        .map_err(|e| failed(&e))
}

/// The one place a handler's error becomes its answer; a server-side one is logged with its
/// cause first, since the answer never carries it.
fn answer_error(what: &str, error: &Error) -> worker::Result<Response> {
    if error.to_response().status >= 500 {
        worker::console_error!("edge-tenancy: {what}: {error}");
    }
    error_response(error)
}
