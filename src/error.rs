//! The pipeline's one error type, and the one place it becomes an HTTP answer.

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
    /// A request body that is not what the endpoint takes (400).
    InvalidBody(&'static str),
    /// The tenant is not registered (404).
    TenantNotFound,
    /// The tenant is registered already (409).
    TenantExists,
    /// The control-plane or tenant database failed (503). The inner error is for logs only.
    Storage(SqlError),
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
}

impl Error {
    /// The HTTP answer for this error.
    pub fn to_response(&self) -> ErrorResponse {
        let (status, code, message) = match self {
            Self::InvalidTenantId(e) => (400, "invalid_tenant_id", e.to_string()),
            Self::InvalidBody(why) => (400, "invalid_body", (*why).to_owned()),
            Self::TenantNotFound => (404, "tenant_not_found", "no such tenant".to_owned()),
            Self::TenantExists => (409, "tenant_exists", "the tenant exists already".to_owned()),
            Self::Storage(_) => (
                503,
                "storage_unavailable",
                "the database could not be reached; try again".to_owned(),
            ),
        };
        ErrorResponse {
            status,
            code,
            message,
        }
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

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        Self::Storage(e)
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
            (Error::TenantNotFound, 404, "tenant_not_found"),
            (Error::TenantExists, 409, "tenant_exists"),
            (
                Error::Storage(SqlError("no such table: t".into())),
                503,
                "storage_unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let r = error.to_response();
            assert_eq!((r.status, r.code), (status, code), "{error:?}");
        }
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
