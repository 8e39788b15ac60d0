//! The D1 backend: tenant databases made, found, bound and deleted through the Cloudflare API.
//!
//! Databases are named `<prefix><tenant id>-<registry id>` (`tenant_acme-1f2e3d4c`): the registry's
//! identity makes the name this registry's, so two registries sharing an account and a prefix
//! (staging and production) never make, adopt or delete each other's databases. D1's names hold
//! 64 characters ([`MAX_NAME_LEN`]); a tenant id that does not fit is refused before anything is
//! written. After provisioning, a database can be bound to a Worker script (`bindTo`), keeping the
//! script's other bindings, under a name derived from the tenant id ([`binding_name`]); that
//! binding is the fast path to it, with no API rate limit. Many tenants are bound in one write
//! of the script's list, and the list a write answers stands in for reading it before the next
//! write for `bindingListSecs` (a minute): a write made from a list that keeps a binding since
//! removed (a deploy) is refused by the API (10021), and the list is read and the write made
//! again; a binding added by hand within that minute is not seen, and the write drops it. A script holding `maxBindings` D1
//! bindings already (about 5,000 fit one Worker) binds no more: the tenant is provisioned
//! unbound, its record says why (`binding_limit`), and its queries use the REST API. Without
//! one, the database is reached through the REST query API, which shares the account's 1,200
//! requests per 5 minutes. A restore fills a new database from a dump with [`restore_dump`].

pub mod schema_group;

pub use schema_group::{Bindings, CaughtUp, D1Group, Level, Log, Migrating, Submitted};

use super::{binding_name, shard_binding, Backend, Bound, Created, Listed, Made};
use crate::cloudflare::d1::{
    CreateDatabase, Database, Jurisdiction, LocationHint, QueryResult, RawResult, Upload,
};
use crate::cloudflare::settings::{Binding, WorkerSettings};
use crate::cloudflare::{
    ApiError, Client, DatabaseId, DatabaseName, Runtime, ScriptName, Transport,
    CODE_BINDING_FAILED, CODE_DATABASE_NOT_FOUND,
};
use crate::config::ConfigError;
use crate::sql::{Row, SqlDatabase, SqlError, Statement};
use crate::{Error, TenantId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::rc::Rc;
use std::time::Duration;

/// D1 factory settings, as users give them (`createD1Factory({ databasePrefix, … })`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct D1Options {
    /// Put before the tenant id to name its database (default `tenant_`).
    #[serde(default = "default_prefix")]
    pub database_prefix: String,
    /// Where to place new databases' primaries.
    #[serde(default)]
    pub location_hint: Option<LocationHint>,
    /// Where new databases' data must stay.
    #[serde(default)]
    pub jurisdiction: Option<Jurisdiction>,
    /// The Worker script to bind each new database to (usually the one serving the tenants),
    /// or several (shards), filled in their order.
    #[serde(default)]
    pub bind_to: Option<BindTo>,
    /// The most D1 bindings each script may hold (default [`DEFAULT_MAX_BINDINGS`]): a tenant
    /// provisioned past it is bound to the next script, and past the last one it is not bound,
    /// and its queries use the REST API.
    #[serde(default = "default_max_bindings")]
    pub max_bindings: usize,
    /// How long the binding list a change answered stands in for reading it before the next
    /// change, in seconds (default [`DEFAULT_BINDING_LIST_SECS`]; 0 reads it before every
    /// change). A binding added to the script by hand within that time may be dropped by the
    /// next change; a deploy that removed one is noticed (the write is refused) and read.
    #[serde(default = "default_binding_list_secs")]
    pub binding_list_secs: u32,
}

/// A minute: provisionings in a burst share one read of the Worker's bindings.
pub const DEFAULT_BINDING_LIST_SECS: u32 = 60;

fn default_binding_list_secs() -> u32 {
    DEFAULT_BINDING_LIST_SECS
}

/// The Worker scripts a D1 factory binds tenants' databases to: one, or several (shards).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum BindTo {
    /// One script.
    One(String),
    /// Several, each holding up to `maxBindings`, filled in this order.
    Shards(Vec<String>),
}

impl BindTo {
    /// The scripts, in order.
    pub fn scripts(&self) -> &[String] {
        match self {
            Self::One(script) => std::slice::from_ref(script),
            Self::Shards(scripts) => scripts,
        }
    }
}

impl From<&str> for BindTo {
    fn from(script: &str) -> Self {
        Self::One(script.to_owned())
    }
}

/// About as many D1 bindings as fit one Worker (its metadata is at most 1 MB).
pub const DEFAULT_MAX_BINDINGS: usize = 5_000;

fn default_max_bindings() -> usize {
    DEFAULT_MAX_BINDINGS
}

/// The longest D1 database name.
pub const MAX_NAME_LEN: usize = 64;

fn default_prefix() -> String {
    "tenant_".to_owned()
}

impl Default for D1Options {
    fn default() -> Self {
        Self {
            database_prefix: default_prefix(),
            location_hint: None,
            jurisdiction: None,
            bind_to: None,
            max_bindings: DEFAULT_MAX_BINDINGS,
            binding_list_secs: DEFAULT_BINDING_LIST_SECS,
        }
    }
}

/// The D1 backend over a Cloudflare API client.
pub struct D1Backend<'c, T, R> {
    client: &'c Client<T, R>,
    prefix: String,
    location_hint: Option<LocationHint>,
    jurisdiction: Option<Jurisdiction>,
    /// The scripts to bind to, in order; none: databases are not bound.
    bind_to: Vec<ScriptName>,
    max_bindings: usize,
    binding_list_fresh: Duration,
}

impl<'c, T: Transport, R: Runtime> D1Backend<'c, T, R> {
    /// Checks `options`: the prefix must make valid database names (lower-case letters, digits,
    /// `_` and `-`, at most 32 characters), the script a valid script name.
    pub fn new(client: &'c Client<T, R>, options: D1Options) -> Result<Self, ConfigError> {
        let prefix_ok = options.database_prefix.len() <= 32
            && options
                .database_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && !options.database_prefix.starts_with(['_', '-']);
        if !prefix_ok {
            return Err(ConfigError(
                "d1.databasePrefix: lower-case letters, digits, _ and -, not first, 32 at most"
                    .into(),
            ));
        }
        let scripts = options.bind_to.as_ref().map_or(&[][..], BindTo::scripts);
        let bind_to = scripts
            .iter()
            .map(|script| ScriptName::parse(script))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError(format!("d1.bindTo: {}", e.0)))?;
        if matches!(options.bind_to, Some(BindTo::Shards(_))) && bind_to.is_empty() {
            return Err(ConfigError("d1.bindTo: an empty list of scripts".into()));
        }
        // Each shard is reached by its own service binding: two scripts may not share one.
        let mut services: Vec<String> = scripts.iter().map(|s| shard_binding(s)).collect();
        services.sort();
        if let Some(twice) = services.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError(format!(
                "d1.bindTo: two scripts would share the service binding {}",
                twice[0]
            )));
        }
        Ok(Self {
            client,
            prefix: options.database_prefix,
            location_hint: options.location_hint,
            jurisdiction: options.jurisdiction,
            bind_to,
            max_bindings: options.max_bindings,
            binding_list_fresh: Duration::from_secs(options.binding_list_secs.into()),
        })
    }
}

fn made(database: Database) -> Made {
    let created_at = database
        .created_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    Made {
        id: database.uuid.as_str().to_owned(),
        created_at,
    }
}

/// Whether a write of a Worker's bindings made from the kept `list` was refused because that
/// list is out of date (it keeps a binding since removed, as by a deploy): read it and start
/// again.
fn stale(list: Option<&str>, error: &ApiError) -> bool {
    matches!(error, ApiError::Rejected { errors, .. }
        if list.is_some() && errors.iter().any(|e| e.code == CODE_BINDING_FAILED))
}

/// Counts the tables a user made: not SQLite's (`sqlite_%`) nor D1's own (`_cf_%`).
const USER_TABLES: &str = "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' \
    AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'";

/// Fills database `id` from a SQL dump whose MD5 is `etag` through the import API, `upload`
/// sending the dump to the import's URL ([`Client::import_database`]): what a
/// [`Hooks::restore`](super::Hooks::restore) does on D1, wherever the dump is kept. A database
/// that has tables is left as it is: the import is one transaction, so they are an earlier call's
/// (a resumed restore whose answer was lost, or whose tenant's `after_provision` failed later).
/// Whether it imported.
pub async fn restore_dump<T: Transport, R: Runtime>(
    client: &Client<T, R>,
    id: &DatabaseId,
    etag: &str,
    upload: impl AsyncFnOnce(&Upload) -> Result<String, ApiError>,
) -> Result<bool, ApiError> {
    // The raw endpoint, as the REST path's queries use: its decoding is there already.
    let counted = client
        .raw(id, &[Statement::new(USER_TABLES, vec![])])
        .await?;
    let tables = counted
        .first()
        .and_then(|c| c.results.rows.first())
        .and_then(|row| row.first())
        .and_then(|n| n.as_i64())
        .ok_or_else(|| ApiError::Decode("a count of tables without a number".into()))?;
    if tables > 0 {
        return Ok(false);
    }
    client.import_database(id, etag, upload).await?;
    Ok(true)
}

pub(crate) fn database_id(id: &str) -> Result<DatabaseId, Error> {
    DatabaseId::parse(id).map_err(|_| {
        Error::Storage(crate::sql::SqlError(format!(
            "the registry holds a D1 id that is not one: {id}"
        )))
    })
}

impl<T: Transport, R: Runtime> D1Backend<'_, T, R> {
    /// The name of schema group `group`'s schema database, with the registry's identity: the
    /// `schema_` it carries is in no tenant's name (tenant ids hold no `_`). A group name too
    /// long for D1's 64 characters is cut, and a hash of the whole name keeps it apart.
    pub fn schema_database_name(&self, group: &str, registry: &str) -> Result<String, Error> {
        let name = format!("{}schema_{group}-{registry}", self.prefix);
        if name.len() <= MAX_NAME_LEN {
            return Ok(name);
        }
        let hash: String = Sha256::digest(group.as_bytes())
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let fixed = self.prefix.len() + "schema_".len() + 1 + hash.len() + 1 + registry.len();
        let kept = MAX_NAME_LEN.checked_sub(fixed).ok_or(Error::NotConfigured(
            "the database prefix and the registry's identity leave no room for a schema database's name",
        ))?;
        let group = &group[..kept.min(group.len())];
        Ok(format!("{}schema_{group}_{hash}-{registry}", self.prefix))
    }
}

impl<T: Transport, R: Runtime> D1Backend<'_, T, R> {
    /// `script`'s bindings: the kept `list` when there is one, else read (one call), and
    /// whether they were read.
    async fn bindings(
        &self,
        script: &ScriptName,
        list: Option<&str>,
    ) -> Result<(WorkerSettings, bool), Error> {
        match list.and_then(WorkerSettings::from_remembered) {
            Some(kept) => Ok((kept, false)),
            None => Ok((self.client.worker_settings(script).await?, true)),
        }
    }

    /// [`Backend::bind`] one tenant at a time (each change from the list the last answered).
    async fn bind_each(
        &self,
        target: &str,
        tenants: &[(TenantId, String)],
    ) -> Result<Listed<Vec<Result<Option<Bound>, Error>>>, Error> {
        let (mut outcome, mut list) = (Vec::with_capacity(tenants.len()), None);
        for tenant in tenants {
            let one = Box::pin(self.bind(target, std::slice::from_ref(tenant), list.as_deref()));
            match one.await {
                Ok(one) => {
                    outcome.extend(one.outcome);
                    list = one.list.or(list);
                }
                Err(error) => outcome.push(Err(error)),
            }
        }
        Ok(Listed { outcome, list })
    }

    /// The database `tenant`'s binding must be set to for it to reach database `id`, given the
    /// list `current` and `adding` bindings this change adds: `None` when it does already. Never
    /// over a binding of that name to a database that still exists, nor past the limit.
    async fn may_bind(
        &self,
        current: &WorkerSettings,
        tenant: &TenantId,
        id: &str,
        adding: usize,
    ) -> Result<Option<DatabaseId>, Error> {
        let name = binding_name(tenant);
        if let Some(other) = current.bindings.iter().find(|b| b.name == name) {
            match other.d1_database() {
                Some(there) if there == id => return Ok(None),
                // A binding of that name to a database that still exists is someone else's
                // (another registry's, or the Worker's own): never replaced.
                Some(there) => match self.client.database(&database_id(there)?).await {
                    Err(ApiError::NotFound {
                        code: CODE_DATABASE_NOT_FOUND,
                    }) => {}
                    Ok(_) => return Err(Error::ForeignDatabase),
                    Err(error) => return Err(error.into()),
                },
                None => return Err(Error::ForeignDatabase),
            }
        }
        let d1 = current.bindings.iter().filter(|b| b.kind == "d1").count();
        if d1 + adding >= self.max_bindings {
            return Err(Error::BindingLimit {
                limit: self.max_bindings,
            });
        }
        Ok(Some(database_id(id)?))
    }
}

impl<T: Transport, R: Runtime> Backend for D1Backend<'_, T, R> {
    fn name(&self) -> &'static str {
        "d1"
    }

    fn database_name(&self, tenant: &TenantId, registry: &str) -> Result<String, Error> {
        let name = format!("{}{}-{registry}", self.prefix, tenant.as_str());
        if name.len() > MAX_NAME_LEN {
            return Err(Error::TenantIdTooLong {
                max: MAX_NAME_LEN.saturating_sub(name.len() - tenant.as_str().len()),
                limit: MAX_NAME_LEN,
            });
        }
        Ok(name)
    }

    async fn create(&self, name: &str) -> Result<Created, Error> {
        let create = CreateDatabase {
            name: DatabaseName::parse(name)?,
            primary_location_hint: self.location_hint,
            jurisdiction: self.jurisdiction,
        };
        match self.client.create_database(&create).await {
            Ok(database) => Ok(Created::Made(made(database))),
            Err(ApiError::NameExists) => Ok(Created::NameTaken),
            Err(error) => Err(error.into()),
        }
    }

    async fn find(&self, name: &str) -> Result<Option<Made>, Error> {
        let name = DatabaseName::parse(name)?;
        Ok(self.client.find_database(&name).await?.map(made))
    }

    fn binding_targets(&self) -> Vec<String> {
        self.bind_to.iter().map(|s| s.as_str().to_owned()).collect()
    }

    fn binding_list_fresh(&self) -> Duration {
        self.binding_list_fresh
    }

    async fn bind(
        &self,
        target: &str,
        tenants: &[(TenantId, String)],
        list: Option<&str>,
    ) -> Result<Listed<Vec<Result<Option<Bound>, Error>>>, Error> {
        let Some(script) = self.bind_to.iter().find(|s| s.as_str() == target) else {
            return Ok(Listed::unbound(tenants.len()));
        };
        let bound = |tenant: &TenantId| Bound {
            binding: binding_name(tenant),
            script: script.as_str().to_owned(),
        };
        let (mut current, mut changed) = self.bindings(script, list).await?;
        let mut outcome = Vec::with_capacity(tenants.len());
        let mut added = Vec::new();
        for (tenant, id) in tenants {
            let checked = self.may_bind(&current, tenant, id, added.len()).await;
            if let Ok(Some(database)) = &checked {
                added.push((binding_name(tenant), database.clone()));
            }
            outcome.push(checked.map(|_| Some(bound(tenant))));
        }
        if !added.is_empty() {
            let written = match self
                .client
                .set_worker_bindings(script, &current.with_d1(&added))
                .await
            {
                Ok(written) => written,
                // Check the tenants again against the list as it is.
                Err(error) if stale(list, &error) => {
                    return Box::pin(self.bind(target, tenants, None)).await;
                }
                // A binding the API will not make (its database gone since) fails no other
                // tenant's: each is bound alone.
                Err(ApiError::Rejected { .. }) if tenants.len() > 1 => {
                    return self.bind_each(target, tenants).await;
                }
                Err(error) => return Err(error.into()),
            };
            // The answer is the list as it now stands: each new binding must be in it.
            for ((tenant, id), outcome) in tenants.iter().zip(&mut outcome) {
                let name = binding_name(tenant);
                let kept = written
                    .bindings
                    .iter()
                    .any(|b| b.name == name && b.d1_database() == Some(id));
                if outcome.is_ok() && !kept {
                    *outcome = Err(Error::Upstream(ApiError::Decode(
                        "the Worker's settings did not keep the new binding".into(),
                    )));
                }
            }
            (current, changed) = (written, true);
        }
        Ok(Listed {
            outcome,
            list: changed.then(|| current.remembered()),
        })
    }

    async fn unbind(
        &self,
        bound: &Bound,
        id: &str,
        list: Option<&str>,
    ) -> Result<Listed<()>, Error> {
        let script = ScriptName::parse(&bound.script)?;
        let (current, read) = self.bindings(&script, list).await?;
        // Only a binding that still reaches this database: one made since for another (the
        // tenant provisioned again) stays.
        let ours = |b: &Binding| b.name == bound.binding && b.d1_database() == Some(id);
        if !current.bindings.iter().any(ours) {
            return Ok(Listed {
                outcome: (),
                list: read.then(|| current.remembered()),
            });
        }
        let written = match self
            .client
            .set_worker_bindings(&script, &current.without(ours))
            .await
        {
            Ok(written) => written,
            Err(error) if stale(list, &error) => {
                return Box::pin(self.unbind(bound, id, None)).await;
            }
            Err(error) => return Err(error.into()),
        };
        if written.bindings.iter().any(ours) {
            return Err(Error::Upstream(ApiError::Decode(
                "the Worker's settings kept the removed binding".into(),
            )));
        }
        Ok(Listed {
            outcome: (),
            list: Some(written.remembered()),
        })
    }

    async fn delete(&self, id: &str) -> Result<(), Error> {
        match self.client.delete_database(&database_id(id)?).await {
            // Gone only in the API's own words (see `ApiError::NotFound`).
            Ok(())
            | Err(ApiError::NotFound {
                code: CODE_DATABASE_NOT_FOUND,
            }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// A tenant's D1 database reached through the REST query API: works as soon as the database
/// exists, but every call is one API request and counts against the account's 1,200 requests
/// per 5 minutes. A Worker binding is the path for traffic; this one is the fallback.
pub struct D1Rest<T, R> {
    client: Rc<Client<T, R>>,
    id: DatabaseId,
}

impl<T: Transport, R: Runtime> D1Rest<T, R> {
    /// Database `id` (as the registry holds it) through `client`.
    pub fn new(client: Rc<Client<T, R>>, id: &str) -> Result<Self, Error> {
        Ok(Self {
            client,
            id: database_id(id)?,
        })
    }

    /// Runs `statements` as one transaction (one query call): each one's rows and `meta`.
    pub async fn query(&self, statements: &[Statement]) -> Result<Vec<QueryResult>, Error> {
        self.client
            .query(&self.id, statements)
            .await
            .map_err(query_error)
    }

    /// The same, with rows as arrays and the column names once per statement.
    pub async fn raw(&self, statements: &[Statement]) -> Result<Vec<RawResult>, Error> {
        self.client
            .raw(&self.id, statements)
            .await
            .map_err(query_error)
    }
}

/// A failed query call on a tenant's database as the request's error, as the binding path would
/// answer it (the npm package's REST adapter uses it too): a statement D1 refused (the API's 400
/// with SQLite's message, or a value the REST API cannot carry) is the application's
/// [`Error::Query`], never the client's 400; any other refusal or server error is the database
/// being unavailable ([`Error::Storage`], its message logged, never sent). Rate limits, timeouts
/// and a refused token keep their own answers.
pub fn query_error(error: ApiError) -> Error {
    let message = |errors: &[crate::cloudflare::ApiMessage]| {
        let text: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        SqlError(text.join("; "))
    };
    match &error {
        ApiError::Rejected { errors, .. } => Error::from_database(message(errors)),
        ApiError::Server { status, errors } if errors.is_empty() => {
            Error::Storage(SqlError(format!("the D1 API answered {status}")))
        }
        ApiError::Server { errors, .. } => Error::Storage(message(errors)),
        ApiError::InvalidRequest(why) => Error::Query(SqlError((*why).to_owned())),
        _ => Error::Upstream(error),
    }
}

impl<T: Transport, R: Runtime> SqlDatabase for D1Rest<T, R> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        let results = self.query(&statements).await.map_err(|e| match e {
            Error::Query(e) | Error::Storage(e) => e,
            other => SqlError(other.to_string()),
        })?;
        Ok(results.into_iter().map(|r| r.results).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::ApiMessage;

    #[test]
    fn a_statement_d1_refused_is_the_applications_error_not_the_clients() {
        let refused = |status, message: &str| ApiError::Rejected {
            status,
            errors: vec![ApiMessage {
                code: 7500,
                message: message.into(),
            }],
        };
        let error = query_error(refused(400, "no such table: notes: SQLITE_ERROR"));
        assert_eq!(
            error,
            Error::Query(SqlError("no such table: notes: SQLITE_ERROR".into()))
        );
        let answer = error.to_response();
        assert_eq!((answer.status, answer.code), (500, "query_failed"));
        assert!(!answer.body().contains("notes"), "{}", answer.body());
        let blob = query_error(ApiError::InvalidRequest("a blob parameter"));
        assert_eq!(blob.to_response().status, 500);
        // Any other refusal or failure is the database's, its words logged only: 503.
        for other in [
            refused(400, "Invalid property: sql"),
            refused(400, "D1 DB storage operation exceeded timeout"),
            ApiError::Server {
                status: 500,
                errors: vec![],
            },
        ] {
            let answer = query_error(other).to_response();
            assert_eq!((answer.status, answer.code), (503, "storage_unavailable"));
            assert!(!answer.body().contains("sql"), "{}", answer.body());
        }
        let limited = ApiError::RateLimited {
            retry_after: Some(3),
        };
        assert_eq!(query_error(limited.clone()), Error::Upstream(limited));
    }
}
