//! [`TenantDb`]: one handle to a tenant's D1 database with D1's own shape — `prepare`, `bind`,
//! `first`, `all`, `run`, `raw`, an atomic `batch`, `exec`, results with `meta` — whichever path
//! reaches it:
//!
//! - its Worker binding, when the Worker has one: fast and outside the API's rate limit; with a
//!   read-replication session per request when a bookmark or constraint is given
//!   ([`TenantDb::bookmark`] hands back the one to send next, so a client reads its own writes);
//! - the REST query API otherwise: works as soon as the database exists, but every call is one
//!   API request out of the account's 1,200 per 5 minutes.
//!
//! Values: text (any Unicode, the empty string), reals and integers up to ±2^53 round-trip on both
//! paths. Past 2^53, an integer bound as a parameter is stored rounded on both (it becomes a double
//! on the way, or text that an INTEGER column reads as a double); bind its decimal text into
//! `CAST(? AS INTEGER)` to store it exactly, and read it back with `CAST(col AS TEXT)`, since D1
//! hands numbers to Workers as doubles. NULL binds alike on both. Blobs can be bound on the binding
//! path only: the REST API has no form for them, so there they are refused before any call (as
//! the application's [`Error::Query`]); write `X'…'` into the SQL, or encode them (hex, base64).
//!
//! Errors are told apart the same way on both paths: a statement the database refuses (its SQL,
//! a constraint, a value it cannot bind) is [`Error::Query`], the application's (500, the
//! detail logged, never sent); a database that cannot be reached is [`Error::Storage`] (503,
//! `Retry-After`). A handler can match on `Error::Query` and answer itself.

use super::cloudflare::{ApiTransport, WorkerRuntime};
use super::d1::to_js;
use crate::cloudflare::d1::{QueryMeta, QueryResult, RawRows};
use crate::database::d1::D1Rest;
use crate::schema::{Lock, SchemaVersion};
use crate::sql::{Row, SqlDatabase, SqlError, Statement, Value};
use crate::Error;
use worker::wasm_bindgen::JsValue;
use worker::{js_sys, serde_wasm_bindgen, wasm_bindgen_futures};
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result};

/// A tenant's database: the path it is reached by, and the [`Lock`] on what may run on it (a
/// schema group's database refuses schema changes, [`Error::Blocked`]; checked before any call).
pub struct TenantDb {
    path: Path,
    lock: Lock,
    schema: Option<SchemaVersion>,
}

/// Which path a [`TenantDb`] takes.
enum Path {
    /// The Worker's D1 binding, in a session when one was asked for.
    Binding {
        db: D1Database,
        session: Option<D1DatabaseSession>,
    },
    /// The REST query API.
    Rest(D1Rest<ApiTransport, WorkerRuntime>),
}

/// A statement prepared on a [`TenantDb`], with its parameters.
pub struct TenantStatement<'d> {
    db: &'d TenantDb,
    statement: Statement,
}

/// A failure on the binding path: the statement's ([`Error::Query`]) or the database's
/// ([`Error::Storage`]), told apart by D1's message as on the REST path.
fn storage(error: impl std::fmt::Display) -> Error {
    Error::from_database(SqlError(error.to_string()))
}

impl TenantDb {
    /// The binding `db`; with `session` (`first-primary`, `first-unconstrained` or a bookmark) a
    /// read-replication session.
    pub fn binding(db: D1Database, session: Option<&str>) -> Result<Self, Error> {
        let session = session
            .map(|constraint| db.with_session(Some(constraint)))
            .transpose()
            .map_err(storage)?;
        Ok(Self {
            path: Path::Binding { db, session },
            lock: Lock::Open,
            schema: None,
        })
    }

    /// The database through the REST query API.
    pub fn rest(rest: D1Rest<ApiTransport, WorkerRuntime>) -> Self {
        Self {
            path: Path::Rest(rest),
            lock: Lock::Open,
            schema: None,
        }
    }

    /// The same database under `lock`, at `schema`.
    pub fn locked(self, lock: Lock, schema: Option<SchemaVersion>) -> Self {
        Self {
            lock,
            schema,
            ..self
        }
    }

    /// The schema group this tenant's database follows and the version it is at, as of this
    /// request (after any catch-up); `None` outside a group.
    pub fn schema(&self) -> Option<&SchemaVersion> {
        self.schema.as_ref()
    }

    /// Which path this is (`binding` or `rest`), for a response header or a log line.
    pub fn path(&self) -> &'static str {
        match self.path {
            Path::Binding { .. } => "binding",
            Path::Rest(_) => "rest",
        }
    }

    /// A statement to bind and run.
    pub fn prepare(&self, sql: impl Into<String>) -> TenantStatement<'_> {
        TenantStatement {
            db: self,
            statement: Statement::new(sql.into(), Vec::new()),
        }
    }

    /// Runs `statements` in order in one transaction: all apply or none.
    pub async fn batch(
        &self,
        statements: &[TenantStatement<'_>],
    ) -> Result<Vec<QueryResult>, Error> {
        let statements: Vec<Statement> = statements.iter().map(|s| s.statement.clone()).collect();
        self.results(statements).await
    }

    /// Runs `sql`, which may hold several statements and no parameters; how many ran.
    pub async fn exec(&self, sql: &str) -> Result<usize, Error> {
        // A binding's exec runs each line as a query of its own: each is checked, and the whole.
        self.lock.check(sql)?;
        for line in sql.lines().filter(|line| !line.trim().is_empty()) {
            self.lock.check(line)?;
        }
        match &self.path {
            Path::Binding { db, .. } => {
                let result = db.exec(sql).await.map_err(storage)?;
                Ok(result.count().ok().flatten().unwrap_or_default() as usize)
            }
            // The query endpoint runs `;`-joined statements as one batch, one result each.
            Path::Rest(rest) => Ok(rest
                .query(&[Statement::new(sql.to_owned(), Vec::new())])
                .await?
                .len()),
        }
    }

    /// The bookmark to start the next request's session from: the client sends it back so it
    /// reads its own writes. `None` outside a session.
    pub fn bookmark(&self) -> Option<String> {
        match &self.path {
            Path::Binding {
                session: Some(session),
                ..
            } => session.get_bookmark().ok().flatten(),
            _ => None,
        }
    }

    async fn results(&self, statements: Vec<Statement>) -> Result<Vec<QueryResult>, Error> {
        for statement in &statements {
            self.lock.check(&statement.sql)?;
        }
        match &self.path {
            Path::Binding { db, session } => {
                let prepared = statements
                    .iter()
                    .map(|s| self.bound(db, session.as_ref(), s))
                    .collect::<Result<Vec<_>, _>>()?;
                let results = match session {
                    Some(session) => session.batch(prepared).await,
                    None => db.batch(prepared).await,
                }
                .map_err(storage)?;
                results.iter().map(query_result).collect()
            }
            Path::Rest(rest) => Ok(rest.query(&statements).await?),
        }
    }

    fn bound(
        &self,
        db: &D1Database,
        session: Option<&D1DatabaseSession>,
        statement: &Statement,
    ) -> Result<D1PreparedStatement, Error> {
        let prepared = match session {
            Some(session) => session.prepare(statement.sql.as_ref()),
            None => db.prepare(statement.sql.as_ref()),
        };
        let params: Vec<JsValue> = statement.params.iter().map(to_js).collect();
        prepared.bind(&params).map_err(storage)
    }
}

fn query_result(result: &D1Result) -> Result<QueryResult, Error> {
    if let Some(error) = result.error() {
        return Err(storage(error));
    }
    let meta = result
        .meta()
        .map_err(storage)?
        .map_or_else(QueryMeta::default, |m| QueryMeta {
            changed_db: m.changed_db.unwrap_or_default(),
            changes: m.changes.unwrap_or_default() as u64,
            duration: m.duration.unwrap_or_default(),
            last_row_id: m.last_row_id.unwrap_or_default(),
            rows_read: m.rows_read.unwrap_or_default() as u64,
            rows_written: m.rows_written.unwrap_or_default() as u64,
            size_after: m.size_after.unwrap_or_default() as u64,
        });
    Ok(QueryResult {
        results: result.results::<Row>().map_err(storage)?,
        meta,
    })
}

impl TenantStatement<'_> {
    /// The same statement with `params` for its `?` placeholders, in order.
    pub fn bind(self, params: Vec<Value>) -> Self {
        Self {
            statement: Statement::new(self.statement.sql, params),
            ..self
        }
    }

    /// Every row, with the statement's `meta`.
    pub async fn all(&self) -> Result<QueryResult, Error> {
        let mut results = self.db.results(vec![self.statement.clone()]).await?;
        results.pop().ok_or_else(|| storage("no result"))
    }

    /// The first row, if any.
    pub async fn first(&self) -> Result<Option<Row>, Error> {
        Ok(self.all().await?.results.into_iter().next())
    }

    /// Runs it for its effect: the `meta` (changes, last row id, …).
    pub async fn run(&self) -> Result<QueryMeta, Error> {
        Ok(self.all().await?.meta)
    }

    /// Rows as arrays, with the column names once.
    pub async fn raw(&self) -> Result<RawRows, Error> {
        self.db.lock.check(&self.statement.sql)?;
        match &self.db.path {
            Path::Rest(rest) => {
                let mut results = rest.raw(std::slice::from_ref(&self.statement)).await?;
                Ok(results.pop().map(|r| r.results).unwrap_or_default())
            }
            Path::Binding { db, session } => {
                // `raw({ columnNames: true })`: the column names come first, in their SQL order.
                let prepared = self.db.bound(db, session.as_ref(), &self.statement)?;
                let options = js_sys::Object::new();
                js_sys::Reflect::set(&options, &"columnNames".into(), &JsValue::TRUE)
                    .map_err(|_| storage("raw options"))?;
                let raw: js_sys::Function = js_sys::Reflect::get(prepared.inner(), &"raw".into())
                    .map_err(|_| storage("raw"))?
                    .into();
                let promise: js_sys::Promise = raw
                    .call1(prepared.inner(), &options)
                    .map_err(|e| storage(format!("{e:?}")))?
                    .into();
                let rows = wasm_bindgen_futures::JsFuture::from(promise)
                    .await
                    .map_err(|e| storage(format!("{e:?}")))?;
                let mut rows: Vec<Vec<serde_json::Value>> =
                    serde_wasm_bindgen::from_value(rows).map_err(storage)?;
                let columns = if rows.is_empty() {
                    Vec::new()
                } else {
                    rows.remove(0)
                        .into_iter()
                        .map(|name| name.as_str().unwrap_or_default().to_owned())
                        .collect()
                };
                Ok(RawRows { columns, rows })
            }
        }
    }
}

impl SqlDatabase for TenantDb {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let results = self
            .results(statements)
            .await
            .map_err(|e| SqlError(e.to_string()))?;
        Ok(results.into_iter().map(|r| r.results).collect())
    }
}
