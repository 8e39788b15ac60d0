//! The D1 endpoints (`/accounts/{account_id}/d1/database`): create, list, get, edit (read
//! replication), delete, query, raw, export, import and time travel (bookmark, restore). See
//! <https://developers.cloudflare.com/api/resources/d1/>.
//!
//! Parameters go over REST as D1's Workers binding sends them to D1: JSON strings, numbers and
//! null (`Value::Text`, `Integer`, `Real`, `Null`; a NaN or infinite real as null, which is what
//! the binding's JSON makes of it). The published schema types `params` as strings, but the real
//! API takes numbers and null and binds them as such, so the same JSON text reaches D1 on both
//! paths and a value is stored alike. Blobs have no form the REST API is known to take: a
//! statement binding one is refused before any call, with [`ApiError::InvalidRequest`]; write
//! `X'…'` into the SQL, or use a binding.
//!
//! What each operation does when an answer goes missing:
//! - reads (list, get), export and import polls are simply sent again;
//! - an import's ingest is not: a lost answer may hide an import under way, so it fails with
//!   [`ApiError::OutcomeUnknown`];
//! - create is not: a lost answer may hide a database that was made, so the client looks the name
//!   up and returns that database, and creates again only when there is none;
//! - delete is sent again, and a 404 after a lost answer means the first one worked;
//! - query and raw may have written: they are sent again only after a 429 (no work done), and
//!   otherwise fail with [`ApiError::OutcomeUnknown`] or [`ApiError::Server`].

use super::client::{Answer, Call, Client, Step};
use super::envelope::{decode, ResultInfo};
use super::error::{ApiError, CODE_DATABASE_NOT_FOUND};
use super::http::{Method, Runtime, Transport};
use super::ids::{DatabaseId, DatabaseName};
use super::retry::Repeat;
use crate::sql::{Row, Statement, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// Where Cloudflare should place a new database's primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationHint {
    /// Western North America.
    Wnam,
    /// Eastern North America.
    Enam,
    /// Western Europe.
    Weur,
    /// Eastern Europe.
    Eeur,
    /// Asia-Pacific.
    Apac,
    /// Oceania.
    Oc,
}

/// Where a database's data must stay; set at creation only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    /// The European Union.
    Eu,
    /// FedRAMP-compliant data centers.
    Fedramp,
    /// The United States.
    Us,
}

/// Whether D1 keeps read replicas of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    /// Replicas placed by D1 around the world.
    Auto,
    /// No replicas.
    Disabled,
}

/// A database's read-replication setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReplication {
    /// The mode.
    pub mode: ReplicationMode,
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDatabase {
    /// The database's name, unique in the account.
    pub name: DatabaseName,
    /// Where to place the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_location_hint: Option<LocationHint>,
    /// Where the data must stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
}

/// A database as the API describes it. List answers carry fewer fields than get and create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Its id.
    pub uuid: DatabaseId,
    /// Its name.
    pub name: String,
    /// When it was created (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The D1 storage version, such as `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Tables in it (get and create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_tables: Option<u64>,
    /// Its size in bytes (get and create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Its jurisdiction, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Its read-replication setting (get, create and edit only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replication: Option<ReadReplication>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the page sits.
    pub info: ResultInfo,
}

/// The largest page the list endpoint serves.
pub const MAX_PER_PAGE: u32 = 10_000;
/// The smallest page the list endpoint serves.
pub const MIN_PER_PAGE: u32 = 10;

/// Statistics D1 returns with each statement's result.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryMeta {
    /// Whether the statement changed the database.
    pub changed_db: bool,
    /// Rows changed.
    pub changes: u64,
    /// Milliseconds the statement took.
    pub duration: f64,
    /// The last inserted row id.
    pub last_row_id: i64,
    /// Rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// The database's size after the statement, in bytes.
    pub size_after: u64,
}

/// One statement's rows from the query endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Rows as column-name → value objects.
    #[serde(default)]
    pub results: Vec<Row>,
    /// Statistics.
    #[serde(default)]
    pub meta: QueryMeta,
}

/// Rows as arrays, with the column names once (the raw endpoint).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RawRows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// One statement's rows from the raw endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawResult {
    /// Columns and rows.
    #[serde(default)]
    pub results: RawRows,
    /// Statistics.
    #[serde(default)]
    pub meta: QueryMeta,
}

/// What an export leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExportOptions {
    /// Schema only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_data: bool,
    /// Data only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_schema: bool,
    /// Only these tables (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
}

/// A finished export: a SQL dump at a signed URL, valid for an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The dump's file name.
    pub filename: String,
    /// Where to download it.
    pub signed_url: String,
}

/// What a time-travel restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    /// The bookmark of the state after the restore.
    pub bookmark: String,
    /// The bookmark of the state before it: restore to this to undo.
    pub previous_bookmark: String,
    /// Cloudflare's account of it.
    #[serde(default)]
    pub message: String,
}

/// Where a restore goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget<'a> {
    /// The state a bookmark names.
    Bookmark(&'a str),
    /// The state at an ISO 8601 time.
    Timestamp(&'a str),
}

#[derive(Deserialize)]
struct Bookmark {
    bookmark: String,
}

/// A finished import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// How many statements the file held.
    pub num_queries: u64,
    /// The bookmark of the state after the import.
    pub final_bookmark: String,
}

/// Where an import's file goes: a presigned URL to `PUT` it to, answering its MD5 as `etag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The presigned URL.
    pub url: String,
    /// The name the API gave the file.
    pub filename: String,
}

/// An answer about a task (an export or an import): still running (`active`), `complete` with
/// its result, or `error`; an import's `init` may instead ask for the file (`upload_url`).
#[derive(Deserialize)]
struct TaskStatus {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    at_bookmark: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// Decoded once complete, by what the task makes: one polling loop for every task.
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    upload_url: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

/// An MD5 digest in lower-case hex, as the import API names a file.
fn is_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn database_path(id: &DatabaseId) -> String {
    format!("/d1/database/{id}")
}

/// A parameter as D1's binding sends it (see the module docs): a JSON string, number or null.
fn param(value: &Value) -> Result<serde_json::Value, ApiError> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => json!(i),
        // A whole number below 2^53 goes as JavaScript writes it (`1`, not `1.0`), as a binding
        // sends it; any other finite real as the shortest text of the same double.
        Value::Real(r) if r.fract() == 0.0 && r.abs() < 9_007_199_254_740_992.0 => json!(*r as i64),
        Value::Real(r) if r.is_finite() => json!(r),
        // JSON has no NaN or infinity: a binding's JSON says null, and so does this.
        Value::Real(_) => serde_json::Value::Null,
        Value::Text(t) => json!(t),
        Value::Blob(_) => {
            return Err(ApiError::InvalidRequest(
                "a blob parameter cannot be sent over the REST API (it takes strings, numbers and null): write X'…' into the SQL",
            ))
        }
    })
}

/// The body of a query or raw call: one statement as `{sql, params}`, several as `{batch}`.
fn query_body(statements: &[Statement]) -> Result<serde_json::Value, ApiError> {
    let one = |s: &Statement| -> Result<serde_json::Value, ApiError> {
        let params = s.params.iter().map(param).collect::<Result<Vec<_>, _>>()?;
        Ok(json!({ "sql": s.sql, "params": params }))
    };
    Ok(match statements {
        [single] => one(single)?,
        many => json!({ "batch": many.iter().map(one).collect::<Result<Vec<_>, _>>()? }),
    })
}

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl<T: Transport, R: Runtime> Client<T, R> {
    async fn send_now(&self, call: Call) -> Result<Answer, ApiError> {
        let deadline = self.deadline();
        self.send(&call, deadline).await
    }

    /// Creates a database. Costs one call; after a lost answer or a server fault it looks the name
    /// up (one list call) and returns the database if it was made, so a retry never makes a second
    /// one.
    pub async fn create_database(&self, create: &CreateDatabase) -> Result<Database, ApiError> {
        let call = Call::new(
            "d1.create",
            Method::Post,
            "/d1/database".to_owned(),
            Repeat::OnlyIfRefused,
        )
        .json(&json!(create));
        self.send_settled(&call, async |answer, ambiguous| match answer {
            Ok((result, _)) => Step::Done(decode(result)),
            // Our own earlier attempt may be what holds the name.
            Err(ApiError::NameExists) if ambiguous => Step::Done(
                self.find_database(&create.name)
                    .await
                    .and_then(|found| found.ok_or(ApiError::NameExists)),
            ),
            Err(e @ (ApiError::OutcomeUnknown(_) | ApiError::Server { .. })) => {
                match self.find_database(&create.name).await {
                    Ok(Some(made)) => Step::Done(Ok(made)),
                    Ok(None) => Step::SendAgain(e),
                    Err(lookup) => Step::Done(Err(lookup)),
                }
            }
            Err(e) => Step::Done(Err(e)),
        })
        .await
    }

    /// One page of databases, optionally filtered by a name search. `per_page` is clamped to
    /// 10..=10,000.
    pub async fn list_databases(
        &self,
        name: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Database>, ApiError> {
        let mut path = format!(
            "/d1/database?page={}&per_page={}",
            page.max(1),
            per_page.clamp(MIN_PER_PAGE, MAX_PER_PAGE)
        );
        if let Some(name) = name {
            path += &format!("&name={}", encode(name));
        }
        let (result, info) = self
            .send_now(Call::new("d1.list", Method::Get, path, Repeat::Always))
            .await?;
        let items: Vec<Database> = decode(result)?;
        let info = info.unwrap_or(ResultInfo {
            page,
            per_page,
            count: items.len() as u32,
            total_count: items.len() as u32,
        });
        Ok(Page { items, info })
    }

    /// Every database (matching `name`, when given), page by page: one call per `per_page`
    /// databases. Each comes back once, even when databases are created meanwhile.
    pub async fn list_all_databases(
        &self,
        name: Option<&str>,
        per_page: u32,
    ) -> Result<Vec<Database>, ApiError> {
        let mut all: Vec<Database> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1.. {
            let Page { items, info } = self.list_databases(name, page, per_page).await?;
            let fetched = items.len() as u64;
            all.extend(items.into_iter().filter(|db| seen.insert(db.uuid.clone())));
            let through = u64::from(page) * u64::from(info.per_page.max(1));
            if fetched == 0
                || fetched < u64::from(info.per_page)
                || through >= u64::from(info.total_count)
            {
                break;
            }
        }
        Ok(all)
    }

    /// The database with exactly this name, if there is one (the name filter is a search, so
    /// the answer is checked here).
    pub async fn find_database(&self, name: &DatabaseName) -> Result<Option<Database>, ApiError> {
        let found = self
            .list_all_databases(Some(name.as_str()), MAX_PER_PAGE)
            .await?;
        Ok(found.into_iter().find(|db| db.name == name.as_str()))
    }

    /// One database, with its table count and size.
    pub async fn database(&self, id: &DatabaseId) -> Result<Database, ApiError> {
        let call = Call::new("d1.get", Method::Get, database_path(id), Repeat::Always);
        decode(self.send_now(call).await?.0)
    }

    /// Sets a database's read replication (the `PATCH` edit endpoint). One call; setting the same
    /// mode twice leaves the same state, so it is sent again after a lost answer.
    pub async fn set_read_replication(
        &self,
        id: &DatabaseId,
        mode: ReplicationMode,
    ) -> Result<Database, ApiError> {
        let call = Call::new("d1.edit", Method::Patch, database_path(id), Repeat::Always)
            .json(&json!({ "read_replication": ReadReplication { mode } }));
        decode(self.send_now(call).await?.0)
    }

    /// The time-travel bookmark of a database's current state, or of its state at `at` (an ISO
    /// 8601 time within the retention period). One call.
    pub async fn bookmark(&self, id: &DatabaseId, at: Option<&str>) -> Result<String, ApiError> {
        let mut path = format!("{}/time_travel/bookmark", database_path(id));
        if let Some(at) = at {
            path += &format!("?timestamp={}", encode(at));
        }
        let call = Call::new("d1.time_travel.bookmark", Method::Get, path, Repeat::Always);
        let found: Bookmark = decode(self.send_now(call).await?.0)?;
        Ok(found.bookmark)
    }

    /// Puts a database back in an earlier state. One call. Not sent again after a lost answer
    /// ([`ApiError::OutcomeUnknown`]): a second restore would answer with the first one's result
    /// as the state to undo to, and that bookmark would be lost.
    pub async fn restore(
        &self,
        id: &DatabaseId,
        target: RestoreTarget<'_>,
    ) -> Result<Restored, ApiError> {
        let query = match target {
            RestoreTarget::Bookmark(b) => format!("bookmark={}", encode(b)),
            RestoreTarget::Timestamp(t) => format!("timestamp={}", encode(t)),
        };
        let path = format!("{}/time_travel/restore?{query}", database_path(id));
        let call = Call::new(
            "d1.time_travel.restore",
            Method::Post,
            path,
            Repeat::OnlyIfRefused,
        );
        decode(self.send_now(call).await?.0)
    }

    /// Deletes a database and its data. Sent again after a lost answer; the API's not-found
    /// (7404) then means the earlier attempt did it.
    pub async fn delete_database(&self, id: &DatabaseId) -> Result<(), ApiError> {
        let call = Call::new(
            "d1.delete",
            Method::Delete,
            database_path(id),
            Repeat::OnlyIfRefused,
        );
        self.send_settled(&call, async |answer, ambiguous| match answer {
            Ok(_) => Step::Done(Ok(())),
            Err(ApiError::NotFound {
                code: CODE_DATABASE_NOT_FOUND,
            }) if ambiguous => Step::Done(Ok(())),
            Err(e @ (ApiError::OutcomeUnknown(_) | ApiError::Server { .. })) => Step::SendAgain(e),
            Err(e) => Step::Done(Err(e)),
        })
        .await
    }

    fn sql_call(
        operation: &'static str,
        id: &DatabaseId,
        endpoint: &str,
        statements: &[Statement],
    ) -> Result<Call, ApiError> {
        if statements.is_empty() {
            return Err(ApiError::InvalidRequest("no statements to run"));
        }
        Ok(Call::new(
            operation,
            Method::Post,
            format!("{}/{endpoint}", database_path(id)),
            Repeat::OnlyIfRefused,
        )
        .json(&query_body(statements)?))
    }

    /// Runs statements (several run as one batch, in one transaction) and returns each one's rows
    /// as objects.
    pub async fn query(
        &self,
        id: &DatabaseId,
        statements: &[Statement],
    ) -> Result<Vec<QueryResult>, ApiError> {
        let call = Self::sql_call("d1.query", id, "query", statements)?;
        decode(self.send_now(call).await?.0)
    }

    /// As [`Client::query`], with rows as arrays and the column names once.
    pub async fn raw(
        &self,
        id: &DatabaseId,
        statements: &[Statement],
    ) -> Result<Vec<RawResult>, ApiError> {
        let call = Self::sql_call("d1.raw", id, "raw", statements)?;
        decode(self.send_now(call).await?.0)
    }

    /// Exports a database as SQL: starts the export, polls it until it is complete, and returns
    /// where to download the dump. One call, plus one per poll.
    pub async fn export_database(
        &self,
        id: &DatabaseId,
        options: &ExportOptions,
    ) -> Result<Export, ApiError> {
        let path = format!("{}/export", database_path(id));
        let deadline = self.task_deadline();
        let body = |bookmark: Option<&str>| {
            let mut body = json!({ "output_format": "polling", "dump_options": options });
            if let Some(bookmark) = bookmark {
                body["current_bookmark"] = json!(bookmark);
            }
            body
        };
        // Starting or polling twice is harmless, so every call may be repeated.
        let call =
            Call::new("d1.export", Method::Post, path.clone(), Repeat::Always).json(&body(None));
        let started = decode(self.send(&call, deadline).await?.0)?;
        let done = self.follow("d1.export", "export", &path, started, &body, deadline);
        decode(done.await?)
    }

    /// Runs a SQL file in database `id`, in one transaction, through the import API: `init`
    /// names the file by its MD5 (`etag`, lower-case hex); when the API asks for it, `upload`
    /// `PUT`s it to the presigned URL and answers the `etag` that URL sent back, which must be
    /// the same; then `ingest`, and polls until the import is complete. A file the API already
    /// holds is not asked for. A failed import changes nothing
    /// ([`ApiError::TaskFailed`] with the reason, such as the SQL error).
    pub async fn import_database(
        &self,
        id: &DatabaseId,
        etag: &str,
        upload: impl AsyncFnOnce(&Upload) -> Result<String, ApiError>,
    ) -> Result<Imported, ApiError> {
        if !is_md5(etag) {
            return Err(ApiError::InvalidRequest(
                "an import's etag is the file's MD5 in lower-case hex",
            ));
        }
        let path = format!("{}/import", database_path(id));
        let deadline = self.task_deadline();
        let call = |body: serde_json::Value, repeat| {
            Call::new("d1.import", Method::Post, path.clone(), repeat).json(&body)
        };
        let init = call(json!({ "action": "init", "etag": etag }), Repeat::Always);
        let mut init: TaskStatus = decode(self.send(&init, deadline).await?.0)?;
        let started = match (init.upload_url.take(), init.filename.take()) {
            (Some(url), Some(filename)) => {
                let target = Upload { url, filename };
                let sent = upload(&target).await?;
                if sent.trim_matches('"') != etag {
                    return Err(ApiError::Decode(format!(
                        "the upload answered etag {sent:?}, not the file's MD5 {etag}"
                    )));
                }
                let ingest =
                    json!({ "action": "ingest", "etag": etag, "filename": target.filename });
                let ingest = call(ingest, Repeat::OnlyIfRefused);
                decode(self.send(&ingest, deadline).await?.0)?
            }
            (None, _) => init,
            (Some(_), None) => {
                return Err(ApiError::Decode("an upload URL without a file name".into()))
            }
        };
        let poll =
            |bookmark: Option<&str>| json!({ "action": "poll", "current_bookmark": bookmark });
        let done = self.follow("d1.import", "import", &path, started, &poll, deadline);
        decode(done.await?)
    }

    /// When a task (export, import) started now must be done by.
    fn task_deadline(&self) -> crate::UnixTime {
        let max = Duration::from_millis(self.options().export_max_ms.unwrap_or(900_000));
        self.runtime().now() + max
    }

    /// Polls a task from its first answer until it is complete, each poll's body made by `poll`
    /// from the task's bookmark; every poll may be repeated.
    async fn follow(
        &self,
        operation: &'static str,
        task: &'static str,
        path: &str,
        mut status: TaskStatus,
        poll: &dyn Fn(Option<&str>) -> serde_json::Value,
        deadline: crate::UnixTime,
    ) -> Result<serde_json::Value, ApiError> {
        let interval = Duration::from_millis(self.options().export_poll_ms.unwrap_or(1_000));
        let mut bookmark: Option<String> = None;
        loop {
            match status.status.as_deref() {
                Some("complete") => {
                    return status.result.ok_or_else(|| {
                        ApiError::Decode(format!("a complete {task} without its result"))
                    })
                }
                Some("error") => {
                    return Err(ApiError::TaskFailed {
                        task,
                        reason: status.error.unwrap_or_else(|| "no reason given".into()),
                    })
                }
                _ => {
                    bookmark = status.at_bookmark.or(bookmark);
                    let wake = self.runtime().now() + interval;
                    self.wait_until(wake, deadline).await?;
                    let call = Call::new(operation, Method::Post, path.to_owned(), Repeat::Always)
                        .json(&poll(bookmark.as_deref()));
                    status = decode(self.send(&call, deadline).await?.0)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_encoding() {
        let one = [Statement::new("SELECT ?", vec![Value::Integer(1)])];
        assert_eq!(
            query_body(&one).unwrap(),
            json!({"sql": "SELECT ?", "params": [1]})
        );
        let two = [
            Statement::new(
                "INSERT INTO t VALUES (?, ?, ?)",
                vec![Value::Text("a".into()), Value::Real(1.5), Value::Null],
            ),
            Statement::new(
                "SELECT * FROM t WHERE n < ?",
                vec![Value::Integer(-9_007_199_254_740_993)],
            ),
        ];
        assert_eq!(
            query_body(&two).unwrap(),
            json!({"batch": [
                {"sql": "INSERT INTO t VALUES (?, ?, ?)", "params": ["a", 1.5, null]},
                {"sql": "SELECT * FROM t WHERE n < ?", "params": [-9_007_199_254_740_993_i64]}
            ]})
        );
        // The JSON text of each value, as a binding's JSON.stringify writes it.
        let text = |v: Value| param(&v).unwrap().to_string();
        assert_eq!(text(Value::Real(0.1)), "0.1");
        assert_eq!(text(Value::Real(1.0)), "1");
        assert_eq!(text(Value::Real(-0.0)), "0");
        assert_eq!(text(Value::Real(5e-324)), "5e-324");
        assert_eq!(text(Value::Real(1e300)).parse::<f64>().unwrap(), 1e300);
        assert_eq!(text(Value::Real(f64::NAN)), "null");
        assert_eq!(text(Value::Real(f64::NEG_INFINITY)), "null");
        assert_eq!(text(Value::Integer(i64::MAX)), "9223372036854775807");
        assert_eq!(text(Value::Text("a\0b 😀".into())), r#""a\u0000b 😀""#);
        let refused = query_body(&[Statement::new("SELECT ?", vec![Value::Blob(vec![1])])]);
        assert!(
            matches!(refused, Err(ApiError::InvalidRequest(_))),
            "{refused:?}"
        );
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        let create = CreateDatabase {
            name: DatabaseName::parse("t-acme").unwrap(),
            primary_location_hint: Some(LocationHint::Weur),
            jurisdiction: Some(Jurisdiction::Eu),
        };
        assert_eq!(
            json!(create),
            json!({"name": "t-acme", "primary_location_hint": "weur", "jurisdiction": "eu"})
        );
    }
}
