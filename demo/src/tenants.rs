//! Tenants and their own databases, through the D1 factory.
//!
//! For control-plane administrators:
//! - `POST /tenants` with `{"id": "acme"}`: provisions the tenant (201 with its record, 200 when
//!   it was ready already): a D1
//!   database `tenant_acme` made through the Cloudflare API, bound to this Worker as
//!   `TENANT_ACME` (when `D1_FACTORY` names `bindTo`), its `notes` table made by the
//!   provisioning hook; calling again finishes an interrupted provisioning.
//! - `GET /tenants?after=&limit=`: a page of tenants; `GET /tenants/{id}`: one record.
//! - `DELETE /tenants/{id}`: deprovisions it: backs its database up to the `BACKUPS` R2 bucket
//!   (when bound), unbinds, deletes the database, then the record.
//!
//! For the tenant's members: `GET /t/{tenant}/notes` and `POST /t/{tenant}/notes` with
//! `{"body": "…"}` read and write the tenant's own database, through its binding or the REST
//! API (`x-edge-tenancy-database-path` says which; `x-d1-bookmark` carries the read-replication
//! bookmark on the binding path). `POST /t/{tenant}/values` with `{"column": "i|r|t|b", "value":
//! …}` stores one value and reads it back (`{"blob": [bytes]}` for a blob; text for `i` goes
//! through `CAST(? AS INTEGER)`): how each SQLite type fares on each path.

use crate::admin::{client, ApiClient};
use crate::{
    administrator, answer, config_error, edges, pipeline, registry, Outcome, TENANT_CACHE,
};
use edge_tenancy::control::TenantRecord;
use edge_tenancy::database::d1::{D1Options, D1Rest};
use edge_tenancy::database::{DatabaseFactory, Hooks};
use edge_tenancy::sql::{SqlDatabase, Statement, Value};
use edge_tenancy::workers::backup::R2Backup;
use edge_tenancy::workers::{error_response, resolve_request, D1Factory};
use edge_tenancy::{Error, TenantId};
use serde::Deserialize;
use serde_json::json;
use std::rc::Rc;
use worker::{Env, Request, Response, Result, RouteContext, Router};

/// Adds the routes.
pub fn routes(router: Router<'_, ()>) -> Router<'_, ()> {
    router
        .get_async("/tenants", |req, ctx| async move {
            answer(list(&req, &ctx.env).await, 200)
        })
        .post_async("/tenants", |req, ctx| async move {
            match provision(req, &ctx.env).await {
                Ok((record, already)) => answer(Ok(record), if already { 200 } else { 201 }),
                Err(error) => answer(Err(error), 500),
            }
        })
        .get_async("/tenants/:id", |req, ctx| async move {
            answer(get(&req, &ctx).await, 200)
        })
        .delete_async("/tenants/:id", |req, ctx| async move {
            answer(deprovision(&req, &ctx).await, 200)
        })
        .get_async("/t/:tenant/notes", |req, ctx| async move {
            notes(req, &ctx.env, false).await
        })
        .post_async("/t/:tenant/notes", |req, ctx| async move {
            notes(req, &ctx.env, true).await
        })
        .post_async("/t/:tenant/values", |req, ctx| async move {
            answer(round_trip(req, &ctx.env).await, 200)
        })
}

/// The tenant database's schema, applied by the provisioning hook.
const NOTES: &str = "CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
)";

/// The demo's hooks. After provisioning, the new database gets its schema before the tenant is
/// ready (through the REST API: a binding made a moment ago reaches this isolate only after the
/// Worker's next deploy). Before deprovisioning, with a `BACKUPS` R2 bucket bound, the database's
/// dump is stored there.
struct DemoHooks {
    client: Rc<ApiClient>,
    backups: Option<R2Backup>,
}

impl Hooks for DemoHooks {
    async fn after_provision(&self, record: &TenantRecord) -> std::result::Result<(), String> {
        let id = record.database_id.as_deref().ok_or("no database")?;
        let db = D1Rest::new(self.client.clone(), id).map_err(|e| e.to_string())?;
        db.batch(vec![Statement::new(NOTES, vec![])])
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn before_deprovision(&self, record: &TenantRecord) -> std::result::Result<(), String> {
        if let Some(backups) = &self.backups {
            if let Some(key) = backups.back_up(record).await? {
                worker::console_log!("edge-tenancy: {} backed up to {key}", record.id);
            }
        }
        Ok(())
    }
}

async fn factory(env: &Env) -> std::result::Result<D1Factory<'_, DemoHooks>, Error> {
    let options: D1Options = match env.var("D1_FACTORY") {
        Ok(text) => edge_tenancy::config::from_json(&text.to_string()).map_err(|e| {
            worker::console_error!("edge-tenancy: D1_FACTORY: {e}");
            Error::NotConfigured("D1_FACTORY is not a valid configuration")
        })?,
        Err(_) => D1Options::default(),
    };
    let client = client(env)?;
    let registry = registry(env).await?;
    Ok(D1Factory::new(
        env,
        registry,
        client.clone(),
        options,
        TENANT_CACHE.with(Rc::clone),
        DemoHooks {
            backups: env
                .bucket("BACKUPS")
                .ok()
                .map(|bucket| R2Backup::new(client.clone(), bucket, "backups/")),
            client,
        },
    ))
}

/// The factory, once the caller is shown to be an administrator.
async fn admin_factory<'e>(
    req: &Request,
    env: &'e Env,
) -> std::result::Result<D1Factory<'e, DemoHooks>, Error> {
    administrator(&*pipeline(env).map_err(config_error)?, req, env).await?;
    factory(env).await
}

fn tenant_param(ctx: &RouteContext<()>) -> std::result::Result<TenantId, Error> {
    Ok(TenantId::parse(ctx.param("id").map_or("", String::as_str))?)
}

async fn list(req: &Request, env: &Env) -> Outcome {
    let factory = admin_factory(req, env).await?;
    let url = req.url().map_err(|_| Error::InvalidBody("a bad URL"))?;
    let mut after = None;
    let mut limit = 100;
    for (name, value) in url.query_pairs() {
        match &*name {
            "after" => after = Some(TenantId::parse(&value)?),
            "limit" => {
                limit = value
                    .parse()
                    .map_err(|_| Error::InvalidBody("limit is a number from 1 to 1000"))?
            }
            _ => {}
        }
    }
    Ok(json!(factory.list(after.as_ref(), limit).await?))
}

async fn provision(
    mut req: Request,
    env: &Env,
) -> std::result::Result<(serde_json::Value, bool), Error> {
    let factory = admin_factory(&req, env).await?;
    #[derive(Deserialize)]
    struct Body {
        id: String,
    }
    let body: Body = req
        .json()
        .await
        .map_err(|_| Error::InvalidBody(r#"expected {"id": "<tenant id>"}"#))?;
    let id = TenantId::parse(&body.id)?;
    let outcome = factory.provision(&id).await;
    if let Err(Error::HookFailed(detail)) = &outcome {
        worker::console_error!("edge-tenancy: provisioning {id}: {detail}");
    }
    let provisioned = outcome?;
    Ok((json!(provisioned.record), provisioned.already))
}

async fn get(req: &Request, ctx: &RouteContext<()>) -> Outcome {
    let factory = admin_factory(req, &ctx.env).await?;
    Ok(json!(factory.get(&tenant_param(ctx)?).await?))
}

async fn deprovision(req: &Request, ctx: &RouteContext<()>) -> Outcome {
    let factory = admin_factory(req, &ctx.env).await?;
    let id = tenant_param(ctx)?;
    factory.deprovision(&id).await?;
    Ok(json!({ "deleted": id }))
}

/// The header a client sends back so its next request's reads see its writes (D1 read
/// replication, binding path).
const BOOKMARK: &str = "x-d1-bookmark";

/// A tenant's notes, in its own database.
async fn notes(mut req: Request, env: &Env, write: bool) -> Result<Response> {
    let outcome = async {
        let pipeline = pipeline(env).map_err(config_error)?;
        let context = resolve_request(&pipeline, &req, &edges(env).await).await?;
        let session = req.headers().get(BOOKMARK).ok().flatten();
        let db = factory(env)
            .await?
            .with_session(Some(
                session.unwrap_or_else(|| "first-unconstrained".into()),
            ))
            .open(&context)
            .await?;
        let query = if write {
            #[derive(Deserialize)]
            struct Body {
                body: String,
            }
            let body: Body = req
                .json()
                .await
                .map_err(|_| Error::InvalidBody(r#"expected {"body": "<text>"}"#))?;
            db.prepare("INSERT INTO notes (body) VALUES (?) RETURNING id, body")
                .bind(vec![Value::Text(body.body)])
        } else {
            db.prepare("SELECT id, body FROM notes ORDER BY id")
        };
        // The provisioning hook made the table; a database reached through a binding that was
        // never provisioned here (a local D1 under miniflare) gets it on first use.
        let schema = db.prepare(NOTES);
        let result = db
            .batch(&[schema, query])
            .await?
            .pop()
            .ok_or(Error::Storage(edge_tenancy::sql::SqlError(
                "no result".into(),
            )))?;
        Ok::<_, Error>((db.path(), db.bookmark(), result.results))
    }
    .await;
    match outcome {
        Ok((path, bookmark, rows)) => {
            let response = Response::from_json(&json!({ "notes": rows }))?.with_status(if write {
                201
            } else {
                200
            });
            response
                .headers()
                .set("x-edge-tenancy-database-path", path)?;
            if let Some(bookmark) = bookmark {
                response.headers().set(BOOKMARK, &bookmark)?;
            }
            Ok(response)
        }
        Err(error) => {
            if let Error::Storage(cause) = &error {
                worker::console_error!("edge-tenancy storage error: {cause}");
            }
            error_response(&error)
        }
    }
}

/// Stores one value in a typed column of the tenant's database and reads it back as SQLite sees
/// it: its type, its exact SQL literal (`quote`), and the value as the path returns it.
async fn round_trip(mut req: Request, env: &Env) -> Outcome {
    let pipeline = pipeline(env).map_err(config_error)?;
    let context = resolve_request(&pipeline, &req, &edges(env).await).await?;
    #[derive(Deserialize)]
    struct Body {
        column: String,
        value: serde_json::Value,
    }
    let body: Body = req
        .json()
        .await
        .map_err(|_| Error::InvalidBody(r#"expected {"column", "value"}"#))?;
    let column = match body.column.as_str() {
        column @ ("i" | "r" | "t" | "b") => column,
        _ => return Err(Error::InvalidBody("column is i, r, t or b")),
    };
    let value = match body.value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::String(text) => Value::Text(text),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::Object(blob) => Value::Blob(
            serde_json::from_value(blob.get("blob").cloned().unwrap_or_default())
                .map_err(|_| Error::InvalidBody(r#"a blob is {"blob": [bytes]}"#))?,
        ),
        _ => {
            return Err(Error::InvalidBody(
                "a value is null, a number, a string or a blob",
            ))
        }
    };
    // Text for the integer column is read as an integer, exactly: how integers past 2^53 get in.
    let placeholder = match (column, &value) {
        ("i", Value::Text(_)) => "CAST(? AS INTEGER)",
        _ => "?",
    };
    let db = factory(env).await?.open(&context).await?;
    db.exec("CREATE TABLE IF NOT EXISTS round_trip (i INTEGER, r REAL, t TEXT, b BLOB)")
        .await?;
    let row = db
        .prepare(format!(
            "INSERT INTO round_trip ({column}) VALUES ({placeholder}) \
             RETURNING typeof({column}) AS type, quote({column}) AS literal, {column} AS value"
        ))
        .bind(vec![value])
        .first()
        .await?;
    Ok(json!({ "path": db.path(), "row": row }))
}
