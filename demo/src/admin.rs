//! Control-plane routes over the Cloudflare API client: D1 databases and Worker bindings.
//!
//! Every route needs a control-plane administrator's token. The client comes from
//! [`client_from_env`]: the real API when a `CLOUDFLARE_API_TOKEN` secret is set, the local API
//! (the `CLOUDFLARE_API` service binding) otherwise. It is built once per isolate, so its request
//! budget counts every call the isolate makes.

use crate::{administrator, answer, pipeline, Outcome, TenancyPipeline};
use edge_tenancy::cloudflare::d1::{CreateDatabase, ExportOptions, Jurisdiction, LocationHint};
use edge_tenancy::cloudflare::{Client, DatabaseId, DatabaseName, ScriptName};
use edge_tenancy::sql::{Statement, Value};
use edge_tenancy::workers::cloudflare::{client_from_env, ApiTransport, WorkerRuntime};
use edge_tenancy::Error;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::cell::OnceCell;
use std::rc::Rc;
use worker::{Env, Request, RouteContext, Router};

/// The client the routes share.
pub(crate) type ApiClient = Client<ApiTransport, WorkerRuntime>;

thread_local! {
    static CLIENT: OnceCell<Rc<ApiClient>> = const { OnceCell::new() };
}

/// Adds the `/admin/...` routes.
pub fn routes(router: Router<'_, ()>) -> Router<'_, ()> {
    router
        .get_async("/admin/databases", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(list(&pipeline, &req, &ctx.env).await, 200)
        })
        .post_async("/admin/databases", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(create(&pipeline, req, &ctx.env).await, 201)
        })
        .get_async("/admin/databases/:id", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(get(&pipeline, &req, &ctx).await, 200)
        })
        .delete_async("/admin/databases/:id", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(delete(&pipeline, &req, &ctx).await, 200)
        })
        .post_async("/admin/databases/:id/query", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(query(&pipeline, req, &ctx, false).await, 200)
        })
        .post_async("/admin/databases/:id/raw", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(query(&pipeline, req, &ctx, true).await, 200)
        })
        .post_async("/admin/databases/:id/export", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(export(&pipeline, req, &ctx).await, 200)
        })
        .get_async("/admin/workers/:script/settings", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(settings(&pipeline, &req, &ctx).await, 200)
        })
        .post_async(
            "/admin/workers/:script/d1-bindings",
            |req, ctx| async move {
                let pipeline = pipeline(&ctx.env)?;
                answer(bind(&pipeline, req, &ctx).await, 200)
            },
        )
        .get_async("/admin/api-usage", |req, ctx| async move {
            let pipeline = pipeline(&ctx.env)?;
            answer(usage(&pipeline, &req, &ctx.env).await, 200)
        })
}

/// The client, once the caller is shown to be a control-plane administrator.
async fn authorized(
    pipeline: &TenancyPipeline,
    req: &Request,
    env: &Env,
) -> std::result::Result<Rc<ApiClient>, Error> {
    administrator(pipeline, req, env).await?;
    client(env)
}

/// The isolate's API client: the real API with a `CLOUDFLARE_API_TOKEN` secret, the local one
/// through the `CLOUDFLARE_API` service binding otherwise.
pub(crate) fn client(env: &Env) -> std::result::Result<Rc<ApiClient>, Error> {
    if let Some(client) = CLIENT.with(|c| c.get().cloned()) {
        return Ok(client);
    }
    let client = Rc::new(client_from_env(env).map_err(|e| {
        worker::console_error!("edge-tenancy: {e}");
        Error::NotConfigured("the Cloudflare API is not configured for this Worker")
    })?);
    CLIENT.with(|c| c.set(client.clone()).ok());
    Ok(client)
}

fn param(ctx: &RouteContext<()>, name: &str) -> String {
    ctx.param(name).cloned().unwrap_or_default()
}

fn database_id(ctx: &RouteContext<()>) -> std::result::Result<DatabaseId, Error> {
    Ok(DatabaseId::parse(&param(ctx, "id"))?)
}

async fn body<T: for<'de> Deserialize<'de>>(
    req: &mut Request,
    expected: &'static str,
) -> std::result::Result<T, Error> {
    req.json().await.map_err(|_| Error::InvalidBody(expected))
}

async fn list(pipeline: &TenancyPipeline, req: &Request, env: &Env) -> Outcome {
    let client = authorized(pipeline, req, env).await?;
    let url = req.url().map_err(|_| Error::InvalidBody("bad URL"))?;
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let per_page = match query("per_page") {
        Some(n) => n
            .parse()
            .map_err(|_| Error::InvalidBody("per_page is a number"))?,
        None => edge_tenancy::cloudflare::d1::MAX_PER_PAGE,
    };
    let databases = client
        .list_all_databases(query("name").as_deref(), per_page)
        .await?;
    Ok(json!({ "databases": databases }))
}

async fn create(pipeline: &TenancyPipeline, mut req: Request, env: &Env) -> Outcome {
    #[derive(Deserialize)]
    struct Body {
        name: String,
        primary_location_hint: Option<LocationHint>,
        jurisdiction: Option<Jurisdiction>,
    }
    let client = authorized(pipeline, &req, env).await?;
    let b: Body = body(
        &mut req,
        r#"expected {"name", "primary_location_hint"?: wnam|enam|weur|eeur|apac|oc, "jurisdiction"?: eu|fedramp}"#,
    )
    .await?;
    let create = CreateDatabase {
        name: DatabaseName::parse(&b.name)?,
        primary_location_hint: b.primary_location_hint,
        jurisdiction: b.jurisdiction,
    };
    Ok(json!(client.create_database(&create).await?))
}

async fn get(pipeline: &TenancyPipeline, req: &Request, ctx: &RouteContext<()>) -> Outcome {
    let client = authorized(pipeline, req, &ctx.env).await?;
    Ok(json!(client.database(&database_id(ctx)?).await?))
}

async fn delete(pipeline: &TenancyPipeline, req: &Request, ctx: &RouteContext<()>) -> Outcome {
    let client = authorized(pipeline, req, &ctx.env).await?;
    let id = database_id(ctx)?;
    client.delete_database(&id).await?;
    Ok(json!({ "deleted": id }))
}

/// `{sql, params?}` or `{batch: [{sql, params?}]}`, as the D1 API takes them.
#[derive(Deserialize)]
#[serde(untagged)]
enum QueryBody {
    Batch { batch: Vec<StatementBody> },
    One(StatementBody),
}

#[derive(Deserialize)]
struct StatementBody {
    sql: String,
    #[serde(default)]
    params: Vec<Json>,
}

fn statement(body: StatementBody) -> std::result::Result<Statement, Error> {
    let params = body
        .params
        .into_iter()
        .map(|p| match p {
            Json::Null => Ok(Value::Null),
            Json::Bool(b) => Ok(Value::Integer(b.into())),
            Json::Number(n) => Ok(n
                .as_i64()
                .map_or_else(|| Value::Real(n.as_f64().unwrap_or(0.0)), Value::Integer)),
            Json::String(s) => Ok(Value::Text(s)),
            _ => Err(Error::InvalidBody(
                "a parameter is null, a boolean, a number or a string",
            )),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(Statement::new(body.sql, params))
}

async fn query(
    pipeline: &TenancyPipeline,
    mut req: Request,
    ctx: &RouteContext<()>,
    raw: bool,
) -> Outcome {
    let client = authorized(pipeline, &req, &ctx.env).await?;
    let id = database_id(ctx)?;
    let parsed: QueryBody = body(
        &mut req,
        r#"expected {"sql", "params"?} or {"batch": [...]}"#,
    )
    .await?;
    let statements = match parsed {
        QueryBody::Batch { batch } => batch,
        QueryBody::One(one) => vec![one],
    }
    .into_iter()
    .map(statement)
    .collect::<std::result::Result<Vec<_>, _>>()?;
    if statements.is_empty() {
        return Err(Error::InvalidBody("the batch is empty"));
    }
    Ok(if raw {
        json!({ "results": client.raw(&id, &statements).await? })
    } else {
        json!({ "results": client.query(&id, &statements).await? })
    })
}

async fn export(pipeline: &TenancyPipeline, mut req: Request, ctx: &RouteContext<()>) -> Outcome {
    let client = authorized(pipeline, &req, &ctx.env).await?;
    let id = database_id(ctx)?;
    let options: ExportOptions = body(
        &mut req,
        r#"expected {"no_data"?, "no_schema"?, "tables"?}"#,
    )
    .await?;
    Ok(json!(client.export_database(&id, &options).await?))
}

async fn settings(pipeline: &TenancyPipeline, req: &Request, ctx: &RouteContext<()>) -> Outcome {
    let client = authorized(pipeline, req, &ctx.env).await?;
    let script = ScriptName::parse(&param(ctx, "script"))?;
    Ok(json!(client.worker_settings(&script).await?))
}

async fn bind(pipeline: &TenancyPipeline, mut req: Request, ctx: &RouteContext<()>) -> Outcome {
    #[derive(Deserialize)]
    struct Body {
        name: String,
        id: String,
    }
    let client = authorized(pipeline, &req, &ctx.env).await?;
    let script = ScriptName::parse(&param(ctx, "script"))?;
    let b: Body = body(
        &mut req,
        r#"expected {"name": "<binding>", "id": "<database id>"}"#,
    )
    .await?;
    let valid_name = !b.name.is_empty()
        && b.name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !b.name.as_bytes()[0].is_ascii_digit();
    if !valid_name {
        return Err(Error::InvalidBody(
            "a binding name is letters, digits and '_', not starting with a digit",
        ));
    }
    Ok(json!(
        client
            .bind_d1(&script, &b.name, &DatabaseId::parse(&b.id)?)
            .await?
    ))
}

async fn usage(pipeline: &TenancyPipeline, req: &Request, env: &Env) -> Outcome {
    let client = authorized(pipeline, req, env).await?;
    let (used, remaining) = client.budget_status();
    let registry_reads = crate::TENANT_CACHE.with(|cache| cache.loads());
    Ok(json!({
        "sent": client.requests_sent(),
        "budget": { "used": used, "remaining": remaining },
        "registryReads": registry_reads,
    }))
}
