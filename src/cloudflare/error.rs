//! [`ApiError`]: every way a Cloudflare API call can fail, with Cloudflare's own codes kept.

use super::http::TransportError;
use std::fmt;

/// One entry of the envelope's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ApiMessage {
    /// Cloudflare's numeric error code, such as 7502.
    pub code: u32,
    /// Cloudflare's message.
    #[serde(default)]
    pub message: String,
}

/// Cloudflare's code for "a database with that name already exists".
pub const CODE_NAME_EXISTS: u32 = 7502;
/// Cloudflare's code for "the account's database-count limit is reached".
pub const CODE_DATABASE_LIMIT: u32 = 7406;
/// Cloudflare's code for "that database could not be found".
pub const CODE_DATABASE_NOT_FOUND: u32 = 7404;
/// Cloudflare's code for "that Worker does not exist".
pub const CODE_SCRIPT_NOT_FOUND: u32 = 10007;
/// Cloudflare's code for "a binding in the Worker's settings failed to generate" (one that
/// keeps a binding the Worker does not have, or names a database that does not exist).
pub const CODE_BINDING_FAILED: u32 = 10021;
/// Cloudflare's code on a 429 from the global rate limit.
pub const CODE_RATE_LIMITED: u32 = 971;

/// A failed Cloudflare API call.
///
/// Messages from Cloudflare are kept for logs; none of these ever carries the API token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// 7502: the name is taken.
    NameExists,
    /// 7406: the account has as many databases as its plan allows.
    DatabaseLimit,
    /// 7404 or 10007 in Cloudflare's envelope: the database or Worker does not exist. Only the
    /// API's own code says so: a bare 404 (a proxy's, a misrouted base URL's) is
    /// [`ApiError::Server`], never taken for "gone".
    NotFound {
        /// Cloudflare's code.
        code: u32,
    },
    /// 401/403 or a 9xxx/10000-range auth code: the token is missing, wrong or lacks a
    /// permission, or the account id is not the token's.
    Unauthorized {
        /// Cloudflare's code, when it sent one.
        code: Option<u32>,
    },
    /// A 4xx the caller can fix: bad name, bad SQL, bad option ([`ApiMessage`]s say which).
    Rejected {
        /// HTTP status.
        status: u16,
        /// Cloudflare's errors.
        errors: Vec<ApiMessage>,
    },
    /// Still rate limited (429) when the retry policy ran out of attempts or time.
    RateLimited {
        /// Seconds Cloudflare asked to wait, when it said.
        retry_after: Option<u64>,
    },
    /// The client-side request budget is spent and waiting for it would take too long: the call
    /// was not sent.
    BudgetExhausted {
        /// Milliseconds until the budget has room again.
        retry_after_ms: u64,
    },
    /// A 5xx (or `success: false` on a 2xx) that retries did not get past, or that could not be
    /// retried safely.
    Server {
        /// HTTP status.
        status: u16,
        /// Cloudflare's errors, if the answer was an envelope.
        errors: Vec<ApiMessage>,
    },
    /// No answer to a call that changes data and cannot be repeated safely: it may or may not
    /// have been carried out.
    OutcomeUnknown(TransportError),
    /// No answer to a call that could be repeated, after the retry policy gave up.
    Transport(TransportError),
    /// An answer that is not the envelope, or a result of an unexpected shape.
    Decode(String),
    /// An export or import that Cloudflare reports as failed (`status: "error"`), with its
    /// reason.
    TaskFailed {
        /// `export` or `import`.
        task: &'static str,
        /// Cloudflare's reason.
        reason: String,
    },
    /// A request the API cannot carry, refused before any call (for example a blob query
    /// parameter: the REST API takes strings, numbers and null).
    InvalidRequest(&'static str),
    /// The retry policy's total time ran out while waiting.
    DeadlineExceeded,
}

impl ApiError {
    /// The first Cloudflare error code, if any.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::NameExists => Some(CODE_NAME_EXISTS),
            Self::DatabaseLimit => Some(CODE_DATABASE_LIMIT),
            Self::NotFound { code } => Some(*code),
            Self::Unauthorized { code } => *code,
            Self::Rejected { errors, .. } | Self::Server { errors, .. } => {
                errors.first().map(|e| e.code)
            }
            Self::RateLimited { .. } => Some(CODE_RATE_LIMITED),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = |errors: &[ApiMessage]| {
            errors
                .first()
                .map(|e| format!(": {} [code {}]", e.message, e.code))
                .unwrap_or_default()
        };
        match self {
            Self::NameExists => f.write_str("a database with that name already exists"),
            Self::DatabaseLimit => f.write_str("the account's database limit is reached"),
            Self::NotFound { .. } => f.write_str("no such database or Worker"),
            Self::Unauthorized { .. } => {
                f.write_str("the Cloudflare API refused the token or account")
            }
            Self::Rejected { status, errors } => {
                write!(
                    f,
                    "the Cloudflare API refused the request ({status}){}",
                    first(errors)
                )
            }
            Self::RateLimited { .. } => f.write_str("the Cloudflare API is rate limiting"),
            Self::BudgetExhausted { retry_after_ms } => write!(
                f,
                "the client's request budget is spent; room again in {retry_after_ms} ms"
            ),
            Self::Server { status, errors } => {
                write!(f, "the Cloudflare API failed ({status}){}", first(errors))
            }
            Self::OutcomeUnknown(e) => write!(f, "outcome unknown: {e}"),
            Self::Transport(e) => write!(f, "{e}"),
            Self::Decode(why) => write!(f, "unexpected answer from the Cloudflare API: {why}"),
            Self::TaskFailed { task, reason } => write!(f, "the {task} failed: {reason}"),
            Self::InvalidRequest(why) => write!(f, "not sent to the Cloudflare API: {why}"),
            Self::DeadlineExceeded => f.write_str("the retry policy's time ran out"),
        }
    }
}

impl std::error::Error for ApiError {}
