//! Tenants and their own databases, through the D1 factory.
//!
//! For control-plane administrators:
//! - `POST /tenants` with `{"id": "acme"}`: provisions the tenant (201 with its record, 200 when
//!   it was ready already): a D1
//!   database `tenant_acme` made through the Cloudflare API, bound to this Worker as
//!   `TENANT_ACME` (when `D1_FACTORY` names `bindTo`), its `notes` table made by the
//!   provisioning hook; calling again finishes an interrupted provisioning.
//! - `GET /tenants?after=&limit=`: a page of tenants; `GET /tenants/{id}`: one record.
//! - `POST /tenants/{id}/move` with `{"to": "<script>"}`: with shards (`bindTo` a list of
//!   Worker scripts), moves the tenant's database binding to that script; its requests follow
//!   once that Worker runs with the binding (at once on Cloudflare, where the settings change
//!   deploys it; under the local API, from its next start).
//! - `DELETE /tenants/{id}`: deprovisions it: backs its database up to the R2 bucket that the
//!   `BACKUP_BUCKET` var names (`BACKUPS` in wrangler.toml), unbinds, deletes the database, then
//!   the record. `BACKUP_BUCKET` set with no such bucket bound is a deployment error, never a
//!   silent skip: provisioning and deprovisioning answer 503 `not_configured` before any API
//!   call, so no tenant is made that could not be backed up, nor removed without its backup.
//!   Without `BACKUP_BUCKET`, no backups.
//!
//! For the tenant's members: `GET /t/{tenant}/notes` and `POST /t/{tenant}/notes` with
//! `{"body": "…"}` read and write the tenant's own database, and `GET /t/{tenant}/notes/{id}`
//! reads one note (one SELECT by primary key; 404 `not_found` when there is none), through its
//! binding or the REST API (`x-edge-tenancy-database-path` says which; `x-d1-bookmark` carries
//! the read-replication bookmark on the binding path). `POST /t/{tenant}/values` with
//! `{"column": "i|r|t|b", "value": …}` stores one value and reads it back (`{"blob": [bytes]}`
//! for a blob; text for `i` goes through `CAST(? AS INTEGER)`): how each SQLite type fares on
//! each path.

use crate::admin::{body, exact_body};
use edge_tenancy::control::TenantRecord;
use edge_tenancy::database::{DatabaseFactory, Hooks};
use edge_tenancy::schema::{Migrations, SchemaGroup};
use edge_tenancy::sql::Value;
use edge_tenancy::workers::backup::R2Backup;
use edge_tenancy::workers::{
    admin, tenant, AdminRequest, Reply, TenancyRouter, TenantDb, TenantRequest,
};
use edge_tenancy::{Error, TenantId};
use serde::Deserialize;
use serde_json::json;
use worker::Request;

/// Adds the routes.
pub fn routes(router: TenancyRouter<'_>) -> TenancyRouter<'_> {
    router
        .get_async("/tenants", admin(list))
        .post_async("/tenants", admin(provision))
        .get_async("/tenants/:id", admin(get))
        .delete_async("/tenants/:id", admin(deprovision))
        .post_async("/tenants/:id/move", admin(move_tenant))
        .get_async("/t/:tenant/notes", tenant(notes))
        .post_async("/t/:tenant/notes", tenant(write_note))
        .get_async("/t/:tenant/notes/:id", tenant(note))
        .post_async("/t/:tenant/values", tenant(round_trip))
        .post_async("/t/:tenant/query", tenant(query))
}

/// The tenant databases' schema group: the migrations in `demo/migrations/`, in wrangler's
/// layout, compiled in. A tenant is brought to them when it is provisioned (before it is ready),
/// and a tenant a migration missed catches up on its first request in an isolate.
pub fn schema() -> SchemaGroup {
    let files = [
        (
            "0001_notes.sql",
            include_str!("../migrations/0001_notes.sql"),
        ),
        (
            "0002_round_trip.sql",
            include_str!("../migrations/0002_round_trip.sql"),
        ),
    ];
    let migrations = Migrations::from_files(files).expect("the demo's migrations are valid");
    SchemaGroup::new("demo", migrations).expect("the demo's group name is valid")
}

/// The demo's hooks. Before deprovisioning, when `BACKUP_BUCKET` names an R2 bucket, the
/// database's dump is stored there; a restore reads it back.
struct DemoHooks {
    backups: Option<R2Backup>,
}

/// The var naming the R2 binding backups go to (unset: no backups).
const BACKUP_BUCKET_VAR: &str = "BACKUP_BUCKET";

impl DemoHooks {
    fn new(admin: &AdminRequest) -> Result<Self, Error> {
        let backups = match admin.env().var(BACKUP_BUCKET_VAR) {
            Err(_) => None,
            Ok(name) => {
                let name = name.to_string();
                let bucket = admin.env().bucket(&name).map_err(|_| {
                    worker::console_error!(
                        "edge-tenancy: {BACKUP_BUCKET_VAR} names {name:?}, and no R2 bucket is \
                         bound by that name"
                    );
                    Error::NotConfigured("BACKUP_BUCKET names no bound R2 bucket")
                })?;
                Some(R2Backup::new(admin.client()?, bucket, "backups/"))
            }
        };
        Ok(Self { backups })
    }
}

impl Hooks for DemoHooks {
    async fn before_deprovision(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        let Some(backups) = &self.backups else {
            return Ok(None);
        };
        let key = backups.back_up(record).await?;
        if let Some(key) = &key {
            // The dump went from the export's URL to R2 as a stream; the Worker's wasm memory
            // (logged, and read by tests/backup.test.mjs) shows it was never held here.
            #[cfg(target_arch = "wasm32")]
            let wasm_memory = core::arch::wasm32::memory_size(0) * 65_536;
            #[cfg(not(target_arch = "wasm32"))]
            let wasm_memory = 0;
            worker::console_log!(
                "edge-tenancy: {} backed up to {key} (wasm memory {wasm_memory} bytes)",
                record.id
            );
        }
        Ok(key)
    }

    async fn restore(&self, record: &TenantRecord, backup: &str) -> Result<(), String> {
        let backups = self
            .backups
            .as_ref()
            .ok_or("no BACKUP_BUCKET to restore from")?;
        backups.restore(record, backup).await?;
        #[cfg(target_arch = "wasm32")]
        let wasm_memory = core::arch::wasm32::memory_size(0) * 65_536;
        #[cfg(not(target_arch = "wasm32"))]
        let wasm_memory = 0;
        worker::console_log!(
            "edge-tenancy: {} restored from {backup} (wasm memory {wasm_memory} bytes)",
            record.id
        );
        Ok(())
    }
}

/// The tenant named by the route's `:id`.
fn tenant_param(admin: &AdminRequest) -> Result<TenantId, Error> {
    Ok(TenantId::parse(admin.param("id").unwrap_or_default())?)
}

/// The whole number `key` of the request's query, if given; anything else is 400.
pub(crate) fn query_number(req: &Request, key: &str) -> Result<Option<u64>, Error> {
    let url = req.url().map_err(|_| Error::InvalidBody("a bad URL"))?;
    let value = url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned());
    value
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| Error::InvalidBody("the query's numbers are whole numbers"))
}

/// A page's `?after=&limit=`: the tenant it starts after, and how many it takes (`default` when
/// not given, held to 1 to `max`).
pub(crate) fn page(
    req: &Request,
    default: u32,
    max: u32,
) -> Result<(Option<TenantId>, u32), Error> {
    let url = req.url().map_err(|_| Error::InvalidBody("a bad URL"))?;
    let (mut after, mut limit) = (None, default);
    for (name, value) in url.query_pairs() {
        match &*name {
            "after" => after = Some(TenantId::parse(&value)?),
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .map_err(|_| Error::InvalidBody("limit is a whole number"))?
                    .clamp(1, max)
            }
            _ => {}
        }
    }
    Ok((after, limit))
}

async fn move_tenant(admin: AdminRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        to: String,
    }
    let expected = r#"expected {"to": "<one of bindTo's scripts>"}"#;
    let body: Body = exact_body(&mut req, expected).await?;
    let tenant = tenant_param(&admin)?;
    let factory = admin.factory(()).await?;
    Ok(Reply::json(&factory.move_tenant(&tenant, &body.to).await?))
}

async fn list(admin: AdminRequest, req: Request) -> Result<Reply, Error> {
    let factory = admin.factory(()).await?;
    let (after, limit) = page(&req, 100, 1000)?;
    Ok(Reply::json(&factory.list(after.as_ref(), limit).await?))
}

async fn provision(admin: AdminRequest, mut req: Request) -> Result<Reply, Error> {
    // Only what it reads: a field it does not (a location hint, say) must not look as if it
    // applied.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        id: String,
        restore: Option<String>,
    }
    let expected = r#"expected {"id": "<tenant id>"} or {"id", "restore": "<backup key>"}"#;
    let body: Body = exact_body(&mut req, expected).await?;
    let tenant = TenantId::parse(&body.id)?;
    let pipeline = admin.tenancy().pipeline(admin.env())?;
    if pipeline.resolver().control_plane() == Some(&tenant) {
        return Err(Error::InvalidBody(
            "the control-plane tenant has no tenant database",
        ));
    }
    let hooks = DemoHooks::new(&admin)?;
    let provisioned = match &body.restore {
        None => admin.factory(hooks).await?.provision(&tenant).await?,
        Some(backup) => {
            // Checked before anything is made: a key with no backup would leave a failed row.
            let Some(backups) = &hooks.backups else {
                return Err(Error::NotConfigured("no BACKUP_BUCKET to restore from"));
            };
            if !backups.exists(backup).await.map_err(|why| {
                worker::console_error!("edge-tenancy: {why}");
                Error::NotConfigured("the backup bucket cannot be read")
            })? {
                return Err(Error::NotFound("no backup with that key"));
            }
            admin.factory(hooks).await?.restore(&tenant, backup).await?
        }
    };
    let status = if provisioned.already { 200 } else { 201 };
    Ok(Reply::json(&provisioned.record).with_status(status))
}

async fn get(admin: AdminRequest, _: Request) -> Result<Reply, Error> {
    let factory = admin.factory(()).await?;
    Ok(Reply::json(&factory.get(&tenant_param(&admin)?).await?))
}

async fn deprovision(admin: AdminRequest, _: Request) -> Result<Reply, Error> {
    let factory = admin.factory(DemoHooks::new(&admin)?).await?;
    let id = tenant_param(&admin)?;
    let removed = factory.deprovision(&id).await?;
    Ok(Reply::json(
        &json!({ "deleted": id, "backup": removed.backup }),
    ))
}

/// The header a client sends back so its next request's reads see its writes (D1 read
/// replication, binding path).
const BOOKMARK: &str = "x-d1-bookmark";

/// The request with its database to be opened in a read-replication session: from the bookmark
/// the client sent back, or wherever is nearest when it sent none.
fn in_session(tenant: TenantRequest, req: &Request) -> TenantRequest {
    let bookmark = req.headers().get(BOOKMARK).ok().flatten();
    tenant.with_session(bookmark.unwrap_or_else(|| "first-unconstrained".into()))
}

/// `value` as the answer, saying which path reached the database, the schema version it is at,
/// and the bookmark to send back.
fn from_db(db: &TenantDb, value: serde_json::Value) -> Reply {
    let mut reply = Reply::json(&value).with_header("x-edge-tenancy-database-path", db.path());
    if let Some(schema) = db.schema() {
        let version = format!("{}@{}", schema.group, schema.version);
        reply = reply.with_header("x-edge-tenancy-schema", &version);
    }
    match db.bookmark() {
        Some(bookmark) => reply.with_header(BOOKMARK, &bookmark),
        None => reply,
    }
}

/// Every note of the tenant.
async fn notes(tenant: TenantRequest, req: Request) -> Result<Reply, Error> {
    let tenant = in_session(tenant, &req);
    let db = tenant.db().await?;
    let rows = db
        .prepare("SELECT id, body FROM notes ORDER BY id")
        .all()
        .await?
        .results;
    Ok(from_db(db, json!({ "notes": rows })))
}

/// A new note: 201 with it.
async fn write_note(tenant: TenantRequest, mut req: Request) -> Result<Reply, Error> {
    let tenant = in_session(tenant, &req);
    #[derive(Deserialize)]
    struct Body {
        body: String,
    }
    let note: Body = body(&mut req, r#"expected {"body": "<text>"}"#).await?;
    let db = tenant.db().await?;
    let insert = db
        .prepare("INSERT INTO notes (body) VALUES (?) RETURNING id, body")
        .bind(vec![Value::Text(note.body)]);
    let rows = insert.all().await?.results;
    Ok(from_db(db, json!({ "notes": rows })).with_status(201))
}

/// One note by id: a single SELECT on the primary key, nothing else.
async fn note(tenant: TenantRequest, req: Request) -> Result<Reply, Error> {
    let id: i64 = tenant
        .param("id")
        .and_then(|id| id.parse().ok())
        .ok_or(Error::InvalidBody("a note id is an integer"))?;
    let tenant = in_session(tenant, &req);
    let db = tenant.db().await?;
    let note = db
        .prepare("SELECT id, body FROM notes WHERE id = ?")
        .bind(vec![Value::Integer(id)])
        .first()
        .await?
        .ok_or(Error::NotFound("no such note"))?;
    Ok(from_db(db, json!({ "note": note })))
}

/// Stores one value in a typed column of the tenant's database and reads it back as SQLite sees
/// it: its type, its exact SQL literal (`quote`), and the value as the path returns it.
async fn round_trip(tenant: TenantRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize)]
    struct Body {
        column: String,
        value: serde_json::Value,
    }
    let body: Body = body(&mut req, r#"expected {"column", "value"}"#).await?;
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
    let db = tenant.db().await?;
    let row = db
        .prepare(format!(
            "INSERT INTO round_trip ({column}) VALUES ({placeholder}) \
             RETURNING typeof({column}) AS type, quote({column}) AS literal, {column} AS value"
        ))
        .bind(vec![value])
        .first()
        .await?;
    Ok(Reply::json(&json!({ "path": db.path(), "row": row })))
}

/// A statement of the caller's own on the tenant's database, with its parameters: the rows and
/// `meta`. Reads and writes; a schema change is 403 `blocked` (the schema comes from the
/// group's migrations) unless the caller's token holds the `ddl` scope.
async fn query(tenant: TenantRequest, mut req: Request) -> Result<Reply, Error> {
    #[derive(Deserialize)]
    struct Body {
        sql: String,
        #[serde(default)]
        params: Vec<serde_json::Value>,
    }
    let body: Body = body(
        &mut req,
        r#"expected {"sql": "<statement>", "params": [values]}"#,
    )
    .await?;
    let params = body
        .params
        .into_iter()
        .map(|value| {
            Value::try_from(value)
                .map_err(|_| Error::InvalidBody("a parameter is null, a number or a string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let db = tenant.db().await?;
    let result = db.prepare(body.sql).bind(params).all().await?;
    Ok(from_db(
        db,
        json!({ "results": result.results, "meta": result.meta }),
    ))
}
