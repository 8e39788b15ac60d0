//! A client for the Cloudflare REST API: the D1 endpoints and Worker settings, correct under the
//! API's real limits and failures.
//!
//! The client is sans-IO at heart: requests and answers are values ([`HttpRequest`],
//! [`HttpResponse`]), and the only I/O goes through two small edges, a [`Transport`] (on Workers:
//! `fetch` or a service binding, in `edge_tenancy::workers::cloudflare`) and a [`Runtime`] (clock,
//! timer, randomness). Tests drive it with a simulated API and a simulated clock, so a five-minute
//! rate-limit lockout replays in microseconds.
//!
//! - [`envelope`](ResultInfo): every answer is `{success, errors, messages, result, result_info}`;
//!   `success: false` on a 2xx is a failure.
//! - [`ApiError`]: failures typed by Cloudflare's codes (7502 name taken, 7406 database limit,
//!   7404/404 not found, 10000-range auth) and by what the retry logic knows.
//! - [`RetryPolicy`]: exponential back-off with jitter, `retry-after` honoured on 429, bounded in
//!   attempts and in total time; only calls that are safe to repeat are repeated.
//! - [`RequestBudget`]: the client's own count against the global limit of 1,200 requests per
//!   5 minutes, so it waits or refuses instead of tripping the account-wide lockout.
//! - [`Client`]: the operations, in [`d1`] and [`settings`].
//!
//! ```no_run
//! # async fn demo(transport: impl edge_tenancy::cloudflare::Transport, runtime: impl edge_tenancy::cloudflare::Runtime) -> Result<(), edge_tenancy::cloudflare::ApiError> {
//! use edge_tenancy::cloudflare::{d1::CreateDatabase, AccountId, ApiToken, Client, DatabaseName};
//! let account = AccountId::parse("0123456789abcdef0123456789abcdef").unwrap();
//! let client = Client::new(account, ApiToken::new("…"), transport, runtime);
//! let db = client
//!     .create_database(&CreateDatabase {
//!         name: DatabaseName::parse("tenant-acme").unwrap(),
//!         primary_location_hint: None,
//!         jurisdiction: None,
//!     })
//!     .await?;
//! println!("{} is {}", db.name, db.uuid);
//! # Ok(()) }
//! ```

mod budget;
mod client;
pub mod d1;
mod envelope;
mod error;
mod http;
mod ids;
mod retry;
pub mod settings;
#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

pub use budget::{Admission, BudgetConfig, RequestBudget};
pub use client::{ApiToken, Client, ClientOptions, DEFAULT_BASE_URL};
pub use envelope::ResultInfo;
pub use error::{
    ApiError, ApiMessage, CODE_BINDING_FAILED, CODE_DATABASE_LIMIT, CODE_DATABASE_NOT_FOUND,
    CODE_NAME_EXISTS, CODE_RATE_LIMITED, CODE_SCRIPT_NOT_FOUND,
};
pub use http::{HttpRequest, HttpResponse, Method, Runtime, Transport, TransportError};
pub use ids::{AccountId, DatabaseId, DatabaseName, InvalidId, ScriptName};
pub use retry::RetryPolicy;
