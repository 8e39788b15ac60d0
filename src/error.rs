//! The pipeline's one error type, and the one place it becomes an HTTP answer.

use crate::authenticate::AuthError;
use crate::cloudflare::{ApiError, InvalidId};
use crate::resolve::HostError;
use crate::sql::SqlError;
use crate::tenant_id::TenantIdError;
use serde::Serialize;
use std::fmt;

/// Everything that can stop a request in edge-tenancy.
///
/// Each variant maps to one status and one stable `code` in [`Error::to_response`]; messages are
/// written for the API's users and never carry a token, a key, a secret or a database's own
/// error text.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A tenant id that is not valid (400).
    InvalidTenantId(TenantIdError),
    /// The request names no tenant, and no control-plane tenant is configured (400).
    NoTenant,
    /// The request's host is not a valid host name (400).
    InvalidHost(HostError),
    /// A header the pipeline reads came more than once, or with a value it cannot use (400).
    InvalidHeader(&'static str),
    /// The caller is not authenticated (401, with a `WWW-Authenticate` challenge).
    Unauthenticated(AuthError),
    /// The caller may not act for this tenant (403).
    Forbidden(&'static str),
    /// The keys to verify tokens with could not be fetched (503).
    KeysUnavailable,
    /// The tenant is registered but not ready: being provisioned or deprovisioned, or failed
    /// (503 with `Retry-After`).
    TenantUnavailable {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
    /// The registry could not be asked about the tenant or its domain (503).
    LookupUnavailable,
    /// The pipeline's edge answered something the pipeline did not ask for, or the request
    /// took too many steps (503). The request fails closed; the fault is logged once.
    Fault(Fault),
    /// A request body that is not what the endpoint takes (400).
    InvalidBody(&'static str),
    /// The tenant is not registered (404).
    TenantNotFound,
    /// A restore was asked for a tenant the registry holds (409): a restore makes a new
    /// database, so the tenant is deprovisioned first.
    TenantExists,
    /// What a route's handler looked for in the tenant's data is not there (404); says what.
    NotFound(&'static str),
    /// Another request is provisioning or removing the tenant right now (409, with
    /// `Retry-After`).
    TenantBusy {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
    /// The registry row's lease passed to another provisioner while this one worked (409): it
    /// stopped without writing.
    LeaseLost,
    /// A database with the tenant's name exists but the registry does not say it is this
    /// tenant's, so it is not adopted (409).
    ForeignDatabase,
    /// The Worker holds as many D1 bindings as allowed (`maxBindings`): a tenant provisioned
    /// now is not bound, and its queries use the REST API. Recorded on the tenant, never an
    /// answer to a request (409 if it were).
    BindingLimit {
        /// The configured limit.
        limit: usize,
    },
    /// With the backend's name prefix, the tenant id would make a database name longer than the
    /// backend allows (400): ids of up to `max` characters fit.
    TenantIdTooLong {
        /// The longest tenant id that fits.
        max: usize,
        /// The backend's limit on database names.
        limit: usize,
    },
    /// A user's provisioning or deprovisioning hook failed (500). The detail is for logs only.
    HookFailed(String),
    /// A tenant database could not be brought to its schema group's migrations: one failed, or
    /// its ledger does not match them (500). The detail (the migration, the database's words)
    /// is for logs and the registry's row, never a response.
    Migration(String),
    /// The control-plane or tenant database could not run a statement (503, with
    /// `Retry-After`). The inner error is for logs only.
    Storage(SqlError),
    /// A database refused a statement: its SQL, a constraint, a value it cannot bind
    /// ([`SqlError::is_statement_error`]). The application's error, not the client's and not
    /// one a retry fixes (500, generic; the inner error is for logs only). A handler can match
    /// on it and answer itself, a constraint as a 409 say.
    Query(SqlError),
    /// A migration job of the same schema group is not over yet (409): one at a time.
    JobActive,
    /// A statement that changes, or may change, the schema of a tenant database whose schema
    /// comes from its group's migrations (403, `blocked`, Turso's "Operation was blocked").
    Blocked,
    /// The tenant's schema group is migrating and holds writes to its databases until the job
    /// commits or rolls back (503, with `Retry-After`); reads go on.
    SchemaMigrating {
        /// When to try again, in seconds.
        retry_after_secs: u32,
    },
    /// A part of the deployment this route needs is not configured (503). The reason is for
    /// logs and for the operator, never a secret.
    NotConfigured(&'static str),
    /// A Cloudflare API call failed; the status depends on how (see [`Error::to_response`]).
    Upstream(ApiError),
}

/// How a pipeline's edge broke the protocol: every one fails the request closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A reply to another request than the outstanding one, or to none.
    StaleReply,
    /// A reply of another kind than the request asked for.
    UnexpectedReply {
        /// The kind of reply the request asked for.
        expected: &'static str,
        /// The kind that came.
        got: &'static str,
    },
    /// A reply to a run that had already finished.
    Finished,
    /// More I/O requests than a request ever needs
    /// ([`MAX_IO_PER_RUN`](crate::pipeline::MAX_IO_PER_RUN)).
    TooManySteps,
    /// The edge could not perform a request that has no safe fallback (the named one).
    EdgeFailed(&'static str),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StaleReply => f.write_str("a reply to no outstanding request"),
            Self::UnexpectedReply { expected, got } => {
                write!(f, "a {got} reply where a {expected} reply was due")
            }
            Self::Finished => f.write_str("a reply to a finished request"),
            Self::TooManySteps => f.write_str("too many I/O steps for one request"),
            Self::EdgeFailed(what) => write!(f, "the edge could not {what}"),
        }
    }
}

/// An error as an HTTP answer: status, a stable machine-readable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// Stable code, such as `invalid_tenant_id`, for clients to branch on.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The `WWW-Authenticate` header a 401 carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub www_authenticate: Option<String>,
    /// The `Retry-After` header (seconds) every 503 carries: the API's or the tenant's own wait,
    /// else a second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The realm in `WWW-Authenticate` challenges.
const REALM: &str = "edge-tenancy";

impl Error {
    /// The HTTP answer for this error.
    pub fn to_response(&self) -> ErrorResponse {
        let (status, code, message) = match self {
            Self::InvalidTenantId(e) => (400, "invalid_tenant_id", e.to_string()),
            Self::NoTenant => (400, "no_tenant", "the request names no tenant".to_owned()),
            Self::InvalidHost(e) => (400, "invalid_host", e.to_string()),
            Self::InvalidHeader(why) => (400, "invalid_header", (*why).to_owned()),
            Self::Unauthenticated(e) => (401, "unauthenticated", e.to_string()),
            Self::Forbidden(why) => (403, "forbidden", (*why).to_owned()),
            Self::KeysUnavailable => (
                503,
                "keys_unavailable",
                "the keys to verify the token could not be fetched; try again".to_owned(),
            ),
            Self::TenantUnavailable { .. } => (
                503,
                "tenant_unavailable",
                "the tenant is not available right now; try again".to_owned(),
            ),
            Self::LookupUnavailable => (
                503,
                "lookup_unavailable",
                "the tenant registry could not be reached; try again".to_owned(),
            ),
            Self::Fault(_) => (
                503,
                "pipeline_fault",
                "the request could not be checked; try again".to_owned(),
            ),
            Self::InvalidBody(why) => (400, "invalid_body", (*why).to_owned()),
            Self::TenantNotFound => (404, "tenant_not_found", "no such tenant".to_owned()),
            Self::TenantExists => (
                409,
                "tenant_exists",
                "the tenant exists: a restore makes a new database, so deprovision it first"
                    .to_owned(),
            ),
            Self::NotFound(what) => (404, "not_found", (*what).to_owned()),
            Self::TenantBusy { .. } => (
                409,
                "tenant_busy",
                "the tenant is being provisioned or removed; try again".to_owned(),
            ),
            Self::LeaseLost => (
                409,
                "lease_lost",
                "another request took over this tenant's provisioning".to_owned(),
            ),
            Self::BindingLimit { limit } => (
                409,
                "binding_limit",
                format!(
                    "the Worker holds {limit} D1 bindings (maxBindings): this tenant is not bound, and its queries use the REST API"
                ),
            ),
            Self::TenantIdTooLong { max, limit } => (
                400,
                "invalid_tenant_id",
                format!(
                    "with the database name prefix, a tenant id of at most {max} characters fits the backend's {limit}-character database names"
                ),
            ),
            Self::ForeignDatabase => (
                409,
                "database_exists",
                "a database with the tenant's name exists and is not the registry's".to_owned(),
            ),
            Self::HookFailed(_) => (
                500,
                "hook_failed",
                "a provisioning hook failed; the tenant is marked failed".to_owned(),
            ),
            Self::Migration(_) => (
                500,
                "migration_failed",
                "the tenant's database could not be migrated; the tenant is marked failed"
                    .to_owned(),
            ),
            Self::Storage(_) => (
                503,
                "storage_unavailable",
                "the database could not be reached; try again".to_owned(),
            ),
            Self::Query(_) => (
                500,
                "query_failed",
                "a database refused a query; the detail is in the Worker's logs".to_owned(),
            ),
            Self::Blocked => (403, "blocked", "Operation was blocked".to_owned()),
            Self::JobActive => (
                409,
                "schema_job_active",
                "a migration job of this schema group is not over yet".to_owned(),
            ),
            Self::SchemaMigrating { .. } => (
                503,
                "schema_migrating",
                "the tenant's schema is being migrated; writes wait until it is done, reads go on"
                    .to_owned(),
            ),
            Self::NotConfigured(what) => (503, "not_configured", (*what).to_owned()),
            Self::Upstream(e) => upstream(e),
        };
        let www_authenticate = match self {
            Self::Unauthenticated(e) => Some(match e.challenge_error() {
                None => format!("Bearer realm=\"{REALM}\""),
                Some(error) => format!("Bearer realm=\"{REALM}\", error=\"{error}\""),
            }),
            _ => None,
        };
        let retry_after = match self {
            Self::TenantUnavailable { retry_after_secs }
            | Self::TenantBusy { retry_after_secs }
            | Self::SchemaMigrating { retry_after_secs } => Some(u64::from(*retry_after_secs)),
            Self::Upstream(ApiError::RateLimited { retry_after }) => Some(retry_after.unwrap_or(1)),
            Self::Upstream(ApiError::BudgetExhausted { retry_after_ms }) => {
                Some(retry_after_ms.div_ceil(1_000))
            }
            // Every other 503 says when to come back too: a second, for a client to back off.
            _ if status == 503 => Some(1),
            _ => None,
        };
        ErrorResponse {
            status,
            code,
            message,
            www_authenticate,
            retry_after,
        }
    }
}

/// A failed Cloudflare API call as an answer: the caller's mistakes keep their 4xx; the API's
/// own trouble is a 502/503/504 from this gateway, with Cloudflare's message where it helps.
fn upstream(error: &ApiError) -> (u16, &'static str, String) {
    let message = error.to_string();
    match error {
        ApiError::NameExists => (409, "database_exists", message),
        ApiError::DatabaseLimit => (409, "database_limit_reached", message),
        ApiError::NotFound { .. } => (404, "not_found", message),
        ApiError::Rejected { .. } => (400, "upstream_rejected", message),
        ApiError::InvalidRequest(_) => (400, "invalid_request", message),
        ApiError::Unauthorized { .. } => (502, "upstream_unauthorized", message),
        ApiError::RateLimited { .. } => (503, "upstream_rate_limited", message),
        ApiError::BudgetExhausted { .. } => (503, "request_budget_exhausted", message),
        ApiError::Transport(crate::cloudflare::TransportError::Timeout)
        | ApiError::DeadlineExceeded => (504, "upstream_timeout", message),
        ApiError::OutcomeUnknown(_) => (
            502,
            "upstream_outcome_unknown",
            "no answer from the Cloudflare API: the change may or may not have been made"
                .to_owned(),
        ),
        _ => (502, "upstream_unavailable", message),
    }
}

impl ErrorResponse {
    /// The JSON body: `{"error":{"code":…,"message":…}}`.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        serde_json::to_string(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        .expect("two strings always serialize")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Storage(e) => write!(f, "{e}"),
            Self::Query(e) => write!(f, "a query was refused: {e}"),
            Self::Fault(fault) => write!(f, "pipeline fault: {fault}"),
            Self::HookFailed(detail) => write!(f, "a hook failed: {detail}"),
            other => f.write_str(&other.to_response().message),
        }
    }
}

impl std::error::Error for Error {}

impl From<TenantIdError> for Error {
    fn from(e: TenantIdError) -> Self {
        Self::InvalidTenantId(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Self::Unauthenticated(e)
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Self::Upstream(e)
    }
}

impl From<InvalidId> for Error {
    fn from(e: InvalidId) -> Self {
        Self::InvalidBody(e.0)
    }
}

/// The library's own statements (the registry's) failing: the database's trouble. A tenant
/// database running the application's statements goes through [`Error::from_database`].
impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        Self::Storage(e)
    }
}

impl Error {
    /// A tenant database's failure to run the application's statements: the statement's fault
    /// ([`Error::Query`]) when the database refused it, else the database's ([`Error::Storage`]).
    pub fn from_database(e: SqlError) -> Self {
        if e.is_statement_error() {
            Self::Query(e)
        } else {
            Self::Storage(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (
                Error::InvalidTenantId(TenantIdError::Empty),
                400,
                "invalid_tenant_id",
            ),
            (Error::InvalidBody("x"), 400, "invalid_body"),
            (Error::NoTenant, 400, "no_tenant"),
            (Error::InvalidHost(HostError::Empty), 400, "invalid_host"),
            (Error::InvalidHeader("x"), 400, "invalid_header"),
            (
                Error::Unauthenticated(AuthError::Expired),
                401,
                "unauthenticated",
            ),
            (Error::Forbidden("x"), 403, "forbidden"),
            (Error::KeysUnavailable, 503, "keys_unavailable"),
            (
                Error::TenantUnavailable {
                    retry_after_secs: 5,
                },
                503,
                "tenant_unavailable",
            ),
            (Error::LookupUnavailable, 503, "lookup_unavailable"),
            (Error::Fault(Fault::StaleReply), 503, "pipeline_fault"),
            (Error::TenantNotFound, 404, "tenant_not_found"),
            (Error::TenantExists, 409, "tenant_exists"),
            (Error::NotFound("no such note"), 404, "not_found"),
            (
                Error::TenantBusy {
                    retry_after_secs: 5,
                },
                409,
                "tenant_busy",
            ),
            (Error::LeaseLost, 409, "lease_lost"),
            (Error::Blocked, 403, "blocked"),
            (Error::JobActive, 409, "schema_job_active"),
            (Error::Migration("m".into()), 500, "migration_failed"),
            (
                Error::SchemaMigrating {
                    retry_after_secs: 5,
                },
                503,
                "schema_migrating",
            ),
            (Error::ForeignDatabase, 409, "database_exists"),
            (Error::BindingLimit { limit: 2 }, 409, "binding_limit"),
            (
                Error::TenantIdTooLong { max: 48, limit: 64 },
                400,
                "invalid_tenant_id",
            ),
            (
                Error::HookFailed("secret detail".into()),
                500,
                "hook_failed",
            ),
            (
                Error::Storage(SqlError("D1_ERROR: Network connection lost.".into())),
                503,
                "storage_unavailable",
            ),
            (
                Error::Query(SqlError("no such table: t: SQLITE_ERROR".into())),
                500,
                "query_failed",
            ),
            (
                Error::Upstream(ApiError::NameExists),
                409,
                "database_exists",
            ),
            (
                Error::Upstream(ApiError::DatabaseLimit),
                409,
                "database_limit_reached",
            ),
            (
                Error::Upstream(ApiError::NotFound { code: 7404 }),
                404,
                "not_found",
            ),
            (
                Error::Upstream(ApiError::Unauthorized { code: Some(10000) }),
                502,
                "upstream_unauthorized",
            ),
            (
                Error::Upstream(ApiError::OutcomeUnknown(
                    crate::cloudflare::TransportError::Timeout,
                )),
                502,
                "upstream_outcome_unknown",
            ),
            (
                Error::Upstream(ApiError::Transport(
                    crate::cloudflare::TransportError::Timeout,
                )),
                504,
                "upstream_timeout",
            ),
            (
                Error::Upstream(ApiError::RateLimited {
                    retry_after: Some(30),
                }),
                503,
                "upstream_rate_limited",
            ),
        ];
        for (error, status, code) in cases {
            let r = error.to_response();
            assert_eq!((r.status, r.code), (status, code), "{error:?}");
        }
    }

    #[test]
    fn rate_limits_say_when_to_come_back() {
        let limited = Error::Upstream(ApiError::RateLimited {
            retry_after: Some(30),
        });
        assert_eq!(limited.to_response().retry_after, Some(30));
        let budget = Error::Upstream(ApiError::BudgetExhausted {
            retry_after_ms: 1_001,
        });
        assert_eq!(budget.to_response().retry_after, Some(2));
        assert_eq!(Error::TenantNotFound.to_response().retry_after, None);
        // Every unavailability says when to come back; the application's own error does not.
        let down = Error::Storage(SqlError("D1_ERROR: Network connection lost.".into()));
        assert_eq!(down.to_response().retry_after, Some(1));
        assert_eq!(Error::KeysUnavailable.to_response().retry_after, Some(1));
        let refused = Error::Query(SqlError("no such table: t: SQLITE_ERROR".into()));
        assert_eq!(refused.to_response().retry_after, None);
    }

    #[test]
    fn only_401s_carry_a_challenge() {
        let missing = Error::Unauthenticated(AuthError::Missing).to_response();
        assert_eq!(
            missing.www_authenticate.as_deref(),
            Some(r#"Bearer realm="edge-tenancy""#)
        );
        let expired = Error::Unauthenticated(AuthError::Expired).to_response();
        assert_eq!(
            expired.www_authenticate.as_deref(),
            Some(r#"Bearer realm="edge-tenancy", error="invalid_token""#)
        );
        assert_eq!(Error::Forbidden("x").to_response().www_authenticate, None);
    }

    #[test]
    fn storage_details_stay_out_of_the_body() {
        let body = Error::Storage(SqlError("no such table: secret_table".into()))
            .to_response()
            .body();
        assert!(!body.contains("secret_table"), "{body}");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["error"]["code"], "storage_unavailable");
    }
}
