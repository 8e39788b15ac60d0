//! The control plane's I/O, done by JS: the crate's edge traits ([`SqlDatabase`], [`Transport`],
//! [`Runtime`], [`Hooks`], [`Backend`]) over one JS object, [`ControlEdges`], that `js/control.js`
//! builds around the user's bindings and callbacks.
//!
//! Every call hands JS text and gets a Promise of text back: JSON both ways, so the shapes are
//! defined here once and JS only moves them between Rust and the runtime's APIs.

use edge_tenancy::cloudflare::d1::Upload;
use edge_tenancy::cloudflare::{
    ApiError, Client, DatabaseId, HttpRequest, HttpResponse, Runtime, Transport, TransportError,
};
use edge_tenancy::control::TenantRecord;
use edge_tenancy::database::d1::{restore_dump, Bindings, Level, Log};
use edge_tenancy::database::{Backend, Created, Hooks, Made};
use edge_tenancy::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use edge_tenancy::{Error, TenantId, UnixTime};
use js_sys::Promise;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// What JS does for the control plane (see `js/control.js`). Every method but `log` resolves
    /// to text and never rejects for an expected failure: a failure is in the text.
    #[derive(Clone)]
    pub type ControlEdges;

    /// Runs `[{sql, params}]` as one D1 batch on the registry, or on the D1 binding `binding`
    /// names: `{"rows": [[row…]…]}` or `{"error": why}`.
    #[wasm_bindgen(method)]
    fn batch(this: &ControlEdges, statements: String, binding: Option<String>) -> Promise;

    /// Whether the Worker has the D1 binding `binding` and it reaches database `id`.
    #[wasm_bindgen(method)]
    fn bound(this: &ControlEdges, binding: &str, id: &str) -> bool;

    /// Sends `{method, url, headers}` with `body`, giving up after `timeout_ms`:
    /// `{"status", "headers", "body"}`, `{"timeout": true}` or `{"error": why}`.
    #[wasm_bindgen(method)]
    fn send(
        this: &ControlEdges,
        request: String,
        body: Option<Vec<u8>>,
        timeout_ms: f64,
    ) -> Promise;

    /// Resolves after `ms` milliseconds.
    #[wasm_bindgen(method)]
    fn sleep(this: &ControlEdges, ms: f64) -> Promise;

    /// Runs the user's hook `name` (`afterProvision`, `beforeDeprovision`) for the record:
    /// `{}` or `{"error": why}`; `beforeDeprovision` may answer `{"backup": key}`.
    #[wasm_bindgen(method)]
    fn hook(this: &ControlEdges, name: &str, record: String) -> Promise;

    /// The backup at `key` in the factory's `backupBucket`: `{"md5": hex, "size": bytes}`,
    /// `{"missing": true}` or `{"error": why}`.
    #[wasm_bindgen(method)]
    fn backup(this: &ControlEdges, key: &str) -> Promise;

    /// PUTs the backup at `key` to `url` (an import's upload URL), streamed with its length:
    /// `{"etag": etag}` (what the URL answered) or `{"error": why}`.
    #[wasm_bindgen(method)]
    fn upload(this: &ControlEdges, key: &str, url: &str) -> Promise;

    /// A JS factory's `provision` (`make`) or `deprovision` (`unmake`) for `tenant`: `{}` or
    /// `{"error": why}`.
    #[wasm_bindgen(method)]
    fn factory(this: &ControlEdges, call: &str, tenant: &str) -> Promise;

    /// Logs a line for the operator (never sent to a client).
    #[wasm_bindgen(method)]
    pub fn log(this: &ControlEdges, message: &str);

    /// `console.log(message)`: what went as planned.
    #[wasm_bindgen(method)]
    pub fn info(this: &ControlEdges, message: &str);
}

/// What JS's text answers carry when something failed.
#[derive(Deserialize)]
struct Failure {
    error: Option<String>,
}

/// A `beforeDeprovision` answer: `{}`, `{"backup": key}` (where the factory's backup went), or
/// `{"error": why}`.
#[derive(Deserialize)]
struct Deprovisioned {
    error: Option<String>,
    backup: Option<String>,
}

/// Awaits `promise` as text. A rejection (a bug in the JS edge, or the user's code throwing where
/// the edge did not catch it) comes back as its message.
async fn text(promise: Promise) -> Result<String, String> {
    match JsFuture::from(promise).await {
        Ok(value) => value
            .as_string()
            .ok_or_else(|| "a JS edge answered no text".into()),
        Err(thrown) => Err(js_sys::Error::from(thrown)
            .message()
            .as_string()
            .unwrap_or_else(|| "a JS edge threw".into())),
    }
}

/// Awaits an answer that is `{}` on success or `{"error": why}`.
async fn outcome(promise: Promise) -> Result<(), String> {
    let answer = text(promise).await?;
    match serde_json::from_str::<Failure>(&answer) {
        Ok(Failure { error: None }) => Ok(()),
        Ok(Failure { error: Some(why) }) => Err(why),
        Err(_) => Err("a JS edge answered something else than its contract".into()),
    }
}

impl Log for ControlEdges {
    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Info => self.info(message),
            Level::Error => ControlEdges::log(self, message),
        }
    }
}

/// The registry's D1 binding.
pub struct JsSql(pub ControlEdges);

/// A tenant's database through the Worker's D1 binding, for the schema group's jobs and
/// catch-ups.
pub struct JsBound {
    edges: ControlEdges,
    binding: String,
}

/// The Worker's D1 bindings, as JS finds them in the factory's `env`.
pub struct JsBindings(pub ControlEdges);

impl Bindings for JsBindings {
    type Db = JsBound;

    fn bound(&self, binding: &str, id: &str) -> Option<JsBound> {
        self.0.bound(binding, id).then(|| JsBound {
            edges: self.0.clone(),
            binding: binding.to_owned(),
        })
    }
}

fn param(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        // D1 takes numbers as doubles: an integer past 2^53 goes as text, stored exactly by
        // `CAST(? AS INTEGER)` (as the workers edge does).
        Value::Integer(i) if i.unsigned_abs() > 1 << 53 => json!(i.to_string()),
        Value::Integer(i) => json!(i),
        Value::Real(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Blob(bytes) => json!({ "blob": bytes }),
    }
}

/// `statements` as one batch on the registry (`binding` none) or a tenant's binding.
async fn batch(
    edges: &ControlEdges,
    binding: Option<&str>,
    statements: Vec<Statement>,
) -> Result<Vec<Vec<Row>>, SqlError> {
    #[derive(Deserialize)]
    struct Answer {
        rows: Option<Vec<Vec<Row>>>,
        error: Option<String>,
    }
    let body: Vec<_> = statements
        .iter()
        .map(|s| json!({ "sql": s.sql, "params": s.params.iter().map(param).collect::<Vec<_>>() }))
        .collect();
    let sent = edges.batch(
        serde_json::Value::from(body).to_string(),
        binding.map(str::to_owned),
    );
    let answer = text(sent).await.map_err(SqlError)?;
    match serde_json::from_str::<Answer>(&answer) {
        Ok(Answer {
            rows: Some(rows), ..
        }) => Ok(rows),
        Ok(Answer {
            error: Some(why), ..
        }) => Err(SqlError(why)),
        _ => Err(SqlError("the D1 binding answered no rows".into())),
    }
}

impl SqlDatabase for JsSql {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        batch(&self.0, None, statements).await
    }
}

impl SqlDatabase for JsBound {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        batch(&self.edges, Some(&self.binding), statements).await
    }
}

/// `fetch`, or a service binding to the local API.
pub struct JsTransport(pub ControlEdges);

impl Transport for JsTransport {
    async fn send(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        #[derive(Deserialize)]
        struct Answer {
            status: Option<u16>,
            #[serde(default)]
            headers: Vec<(String, String)>,
            #[serde(default)]
            body: String,
            #[serde(default)]
            timeout: bool,
            error: Option<String>,
        }
        let head = json!({
            "method": request.method.as_str(),
            "url": request.url,
            "headers": request.headers,
        });
        let promise = self.0.send(
            head.to_string(),
            request.body.clone(),
            timeout.as_millis() as f64,
        );
        let answer = text(promise).await.map_err(TransportError::Connection)?;
        match serde_json::from_str::<Answer>(&answer) {
            Ok(Answer { timeout: true, .. }) => Err(TransportError::Timeout),
            Ok(Answer {
                status: Some(status),
                headers,
                body,
                ..
            }) => Ok(HttpResponse {
                status,
                headers,
                body,
            }),
            Ok(Answer { error, .. }) => Err(TransportError::Connection(
                error.unwrap_or_else(|| "no answer".into()),
            )),
            Err(e) => Err(TransportError::Connection(e.to_string())),
        }
    }
}

/// The runtime's clock, timer and `Math.random()`.
pub struct JsRuntime(pub ControlEdges);

impl Runtime for JsRuntime {
    fn now(&self) -> UnixTime {
        UnixTime::from_js_millis(js_sys::Date::now())
    }

    async fn sleep(&self, duration: Duration) {
        // A timer cannot fail; if the edge did, the wait is simply over.
        let _ = JsFuture::from(self.0.sleep(duration.as_millis() as f64)).await;
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

impl JsRuntime {
    /// A pause of `ms` for a request waiting on another's registry read.
    pub async fn pause(&self, ms: f64) {
        let _ = JsFuture::from(self.0.sleep(ms)).await;
    }
}

/// The user's hooks around provisioning, and for a D1 factory the restore from its backups.
pub struct JsHooks<'c> {
    edges: ControlEdges,
    client: Option<&'c Client<JsTransport, JsRuntime>>,
}

impl<'c> JsHooks<'c> {
    /// The hooks over `edges`; restores import through `client` (none: no restores).
    pub fn new(edges: ControlEdges, client: Option<&'c Client<JsTransport, JsRuntime>>) -> Self {
        Self { edges, client }
    }
}

fn record_json(record: &TenantRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// What the `backup` and `upload` edges answer.
#[derive(Deserialize)]
struct BackupAnswer {
    error: Option<String>,
    #[serde(default)]
    missing: bool,
    md5: Option<String>,
    etag: Option<String>,
}

async fn backup_answer(promise: Promise) -> Result<BackupAnswer, String> {
    let answer = text(promise).await?;
    match serde_json::from_str::<BackupAnswer>(&answer) {
        Ok(BackupAnswer {
            error: Some(why), ..
        }) => Err(why),
        Ok(answer) => Ok(answer),
        Err(_) => Err("a JS edge answered something else than its contract".into()),
    }
}

impl Hooks for JsHooks<'_> {
    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        outcome(self.edges.hook("afterProvision", record_json(record))).await
    }

    async fn before_deprovision(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        let answer = text(self.edges.hook("beforeDeprovision", record_json(record))).await?;
        match serde_json::from_str::<Deprovisioned>(&answer) {
            Ok(Deprovisioned {
                error: Some(why), ..
            }) => Err(why),
            Ok(Deprovisioned { backup, .. }) => Ok(backup),
            Err(_) => Err("a JS edge answered something else than its contract".into()),
        }
    }

    async fn restore(&self, record: &TenantRecord, backup: &str) -> Result<(), String> {
        let client = self.client.ok_or("only a D1 factory restores")?;
        let id = record.database_id.as_deref().ok_or("no database")?;
        let id = DatabaseId::parse(id).map_err(|e| e.0.to_owned())?;
        let found = backup_answer(self.edges.backup(backup)).await?;
        if found.missing {
            return Err(format!("no backup {backup}"));
        }
        let md5 = found
            .md5
            .ok_or_else(|| format!("backup {backup} has no MD5"))?;
        restore_dump(client, &id, &md5, async |to: &Upload| {
            let sent = backup_answer(self.edges.upload(backup, &to.url)).await;
            let sent = sent.map_err(|why| ApiError::Transport(TransportError::Connection(why)))?;
            sent.etag
                .ok_or_else(|| ApiError::Decode("the upload answered no etag".into()))
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("restore from {backup}: {e}"))
    }
}

/// A factory written in JS (`{ getAdapters, provision, deprovision }`) as a backend: its
/// `provision` makes the tenant's database and `deprovision` removes it, under the registry's
/// leases and states like any backend. Its databases are named by the tenant id; where they are
/// is the factory's own business (its `getAdapters`), so nothing is bound.
pub struct CustomBackend(pub ControlEdges);

impl CustomBackend {
    async fn call(&self, call: &str, tenant: &str) -> Result<(), Error> {
        outcome(self.0.factory(call, tenant))
            .await
            .map_err(Error::HookFailed)
    }
}

impl Backend for CustomBackend {
    fn name(&self) -> &'static str {
        "custom"
    }

    /// The tenant id: where its database is, and what it is called, is the user's factory's
    /// business.
    fn database_name(&self, tenant: &TenantId, _registry: &str) -> Result<String, Error> {
        Ok(tenant.as_str().to_owned())
    }

    async fn create(&self, name: &str) -> Result<Created, Error> {
        // Its `provision` is the user's: it is asked to be idempotent, as the anchor's are, so
        // a name it already made is never an error here.
        self.call("make", name).await?;
        Ok(Created::Made(Made {
            id: name.to_owned(),
            created_at: None,
        }))
    }

    async fn find(&self, _name: &str) -> Result<Option<Made>, Error> {
        Ok(None)
    }

    async fn delete(&self, id: &str) -> Result<(), Error> {
        self.call("unmake", id).await
    }
}
