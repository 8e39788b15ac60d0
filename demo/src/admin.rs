//! Control-plane routes over the Cloudflare API client: D1 databases and Worker bindings.
//!
//! Every route needs a control-plane administrator's token ([`admin`]). The client is the
//! isolate's ([`Tenancy::client`](edge_tenancy::workers::Tenancy::client)): the real API when a
//! `CLOUDFLARE_API_TOKEN` secret is set, the local API (the `CLOUDFLARE_API` service binding)
//! otherwise; one per isolate, so its request budget counts every call the isolate makes.

use edge_tenancy::cloudflare::d1::{CreateDatabase, ExportOptions, Jurisdiction, LocationHint};
use edge_tenancy::cloudflare::{DatabaseId, DatabaseName, ScriptName};
use edge_tenancy::sql::{Statement, Value};
use edge_tenancy::workers::{admin, AdminRequest, Reply, TenancyRouter};
use edge_tenancy::Error;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use worker::Request;

/// What a route hands back: a JSON value, or the error that becomes the answer.
type Outcome = Result<Json, Error>;

/// Adds the `/admin/...` routes.
pub fn routes(router: TenancyRouter<'_>) -> TenancyRouter<'_> {
    router
        .get_async("/admin/databases", admin(list))
        .post_async("/admin/databases", admin(create))
        .get_async("/admin/databases/:id", admin(get))
        .delete_async("/admin/databases/:id", admin(delete))
        .post_async("/admin/databases/:id/query", admin(query))
        .post_async("/admin/databases/:id/raw", admin(raw))
        .post_async("/admin/databases/:id/export", admin(export))
        .get_async("/admin/workers/:script/settings", admin(settings))
        .post_async("/admin/workers/:script/d1-bindings", admin(bind))
        .get_async("/admin/api-usage", admin(usage))
}

fn database_id(admin: &AdminRequest) -> Result<DatabaseId, Error> {
    Ok(DatabaseId::parse(admin.param("id").unwrap_or_default())?)
}

/// The JSON body, or 400 `invalid_body` saying what was `expected`.
pub(crate) async fn body<T: for<'de> Deserialize<'de>>(
    req: &mut Request,
    expected: &'static str,
) -> Result<T, Error> {
    req.json().await.map_err(|_| Error::InvalidBody(expected))
}

/// [`body`] for a type that refuses fields it does not name (`deny_unknown_fields`): read as
/// text, since the runtime's JSON object hides the keys a struct does not name.
pub(crate) async fn exact_body<T: for<'de> Deserialize<'de>>(
    req: &mut Request,
    expected: &'static str,
) -> Result<T, Error> {
    let text = req.text().await.map_err(|_| Error::InvalidBody(expected))?;
    serde_json::from_str(&text).map_err(|_| Error::InvalidBody(expected))
}

async fn list(admin: AdminRequest, req: Request) -> Outcome {
    let client = admin.client()?;
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

async fn create(admin: AdminRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize)]
    struct Body {
        name: String,
        primary_location_hint: Option<LocationHint>,
        jurisdiction: Option<Jurisdiction>,
    }
    let client = admin.client()?;
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
    Ok(Reply::json(&client.create_database(&create).await?).with_status(201))
}

async fn get(admin: AdminRequest, _: Request) -> Outcome {
    Ok(json!(
        admin.client()?.database(&database_id(&admin)?).await?
    ))
}

async fn delete(admin: AdminRequest, _: Request) -> Outcome {
    let client = admin.client()?;
    let id = database_id(&admin)?;
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

fn statement(body: StatementBody) -> Result<Statement, Error> {
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
        .collect::<Result<_, _>>()?;
    Ok(Statement::new(body.sql, params))
}

async fn query(admin: AdminRequest, req: Request) -> Outcome {
    run_sql(admin, req, false).await
}

async fn raw(admin: AdminRequest, req: Request) -> Outcome {
    run_sql(admin, req, true).await
}

/// The body's statements run in database `:id`, rows as objects or (`raw`) as arrays.
async fn run_sql(admin: AdminRequest, mut req: Request, raw: bool) -> Outcome {
    let client = admin.client()?;
    let id = database_id(&admin)?;
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
    .collect::<Result<Vec<_>, _>>()?;
    if statements.is_empty() {
        return Err(Error::InvalidBody("the batch is empty"));
    }
    Ok(if raw {
        json!({ "results": client.raw(&id, &statements).await? })
    } else {
        json!({ "results": client.query(&id, &statements).await? })
    })
}

async fn export(admin: AdminRequest, mut req: Request) -> Outcome {
    let client = admin.client()?;
    let id = database_id(&admin)?;
    let options: ExportOptions = body(
        &mut req,
        r#"expected {"no_data"?, "no_schema"?, "tables"?}"#,
    )
    .await?;
    Ok(json!(client.export_database(&id, &options).await?))
}

async fn settings(admin: AdminRequest, _: Request) -> Outcome {
    let client = admin.client()?;
    let script = ScriptName::parse(admin.param("script").unwrap_or_default())?;
    Ok(json!(client.worker_settings(&script).await?))
}

async fn bind(admin: AdminRequest, mut req: Request) -> Outcome {
    #[derive(Deserialize)]
    struct Body {
        name: String,
        id: String,
    }
    let client = admin.client()?;
    let script = ScriptName::parse(admin.param("script").unwrap_or_default())?;
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

async fn usage(admin: AdminRequest, _: Request) -> Outcome {
    let client = admin.client()?;
    let (used, remaining) = client.budget_status();
    let tenancy = admin.tenancy();
    Ok(json!({
        "sent": client.requests_sent(),
        "budget": { "used": used, "remaining": remaining },
        "registryReads": tenancy.cache().loads(),
        "registryBatches": tenancy.registry_batches(),
    }))
}
