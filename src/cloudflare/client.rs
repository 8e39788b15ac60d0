//! [`Client`]: sends calls to the Cloudflare API through a [`Transport`], within the
//! [`RetryPolicy`] and the [`RequestBudget`].
//!
//! The operations themselves live beside the resources they touch ([`d1`](super::d1),
//! [`settings`](super::settings)); this file is the loop they share.

use super::budget::{Admission, BudgetConfig, RequestBudget};
use super::envelope::{self, Outcome, ResultInfo};
use super::error::ApiError;
use super::http::{HttpRequest, Method, Runtime, Transport};
use super::ids::AccountId;
use super::retry::{Repeat, RetryPolicy};
use crate::UnixTime;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The Cloudflare API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// An API token. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

/// Tuning for a [`Client`]; every field has a default, so `{}` is a valid configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClientOptions {
    /// How long one HTTP exchange may take (default 30 s).
    pub timeout_ms: Option<u64>,
    /// Retries.
    pub retry: RetryPolicy,
    /// The client-side rate budget.
    pub budget: BudgetConfig,
    /// How often an export or import is polled (default 1 s).
    pub export_poll_ms: Option<u64>,
    /// How long an export or import may take, polls included (default 15 min).
    pub export_max_ms: Option<u64>,
}

impl ClientOptions {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(30_000))
    }
}

/// A Cloudflare API client for one account.
pub struct Client<T, R> {
    base_url: String,
    account: AccountId,
    token: ApiToken,
    options: ClientOptions,
    transport: T,
    runtime: R,
    budget: RefCell<RequestBudget>,
    sent: RefCell<BTreeMap<&'static str, u32>>,
}

/// One API call, described: what to send and whether it may be sent again.
pub(crate) struct Call {
    /// A name for logs and counters, such as `d1.create`.
    pub operation: &'static str,
    pub method: Method,
    /// The path under `/accounts/{account_id}`.
    pub path: String,
    pub body: Option<(String, Vec<u8>)>,
    pub repeat: Repeat,
}

impl Call {
    pub(crate) fn new(
        operation: &'static str,
        method: Method,
        path: String,
        repeat: Repeat,
    ) -> Self {
        Self {
            operation,
            method,
            path,
            body: None,
            repeat,
        }
    }

    pub(crate) fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(("application/json".to_owned(), body.to_string().into_bytes()));
        self
    }
}

/// A successful answer's `result` and `result_info`.
pub(crate) type Answer = (serde_json::Value, Option<ResultInfo>);

/// What an operation that must not run twice makes of one answer (see [`Client::send_settled`]).
pub(crate) enum Step<V> {
    /// The operation's outcome.
    Done(Result<V, ApiError>),
    /// The call did not happen (checked by the operation): send it again, or fail with this.
    SendAgain(ApiError),
}

impl<T: Transport, R: Runtime> Client<T, R> {
    /// A client for `account` with `token`, talking to [`DEFAULT_BASE_URL`] with default options.
    pub fn new(account: AccountId, token: ApiToken, transport: T, runtime: R) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account,
            token,
            options: ClientOptions::default(),
            transport,
            runtime,
            budget: RefCell::new(RequestBudget::new(BudgetConfig::default())),
            sent: RefCell::default(),
        }
    }

    /// The same client talking to `base_url` instead (a local API, a proxy); no trailing slash
    /// needed.
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// The same client with these options (the budget starts empty).
    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.budget = RefCell::new(RequestBudget::new(options.budget));
        self.options = options;
        self
    }

    /// The options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// How long until `calls` more requests fit the budget (zero: they fit now). A caller with
    /// work that can wait (a migration job) asks before it starts, rather than have its calls
    /// refused halfway.
    pub fn room_for(&self, calls: u32) -> Duration {
        let now = self.runtime.now();
        self.budget.borrow_mut().room_at(now, calls).since(now)
    }

    /// Requests sent in the current budget window, and how many are left.
    pub fn budget_status(&self) -> (u32, u32) {
        let now = self.runtime.now();
        let mut budget = self.budget.borrow_mut();
        (budget.used(now), budget.remaining(now))
    }

    /// Requests this client has sent, per operation (`d1.create`, `d1.list`, …), retries
    /// included.
    pub fn requests_sent(&self) -> BTreeMap<&'static str, u32> {
        self.sent.borrow().clone()
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The transport requests go through (to reach a signed URL the same way, streamed).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The time by which an operation started now must be done.
    pub(crate) fn deadline(&self) -> UnixTime {
        self.runtime.now() + Duration::from_millis(self.options.retry.max_elapsed_ms)
    }

    fn request(&self, call: &Call) -> HttpRequest {
        let mut headers = vec![(
            "authorization".to_owned(),
            format!("Bearer {}", self.token.0),
        )];
        if let Some((content_type, _)) = &call.body {
            headers.push(("content-type".to_owned(), content_type.clone()));
        }
        HttpRequest {
            method: call.method,
            url: format!("{}/accounts/{}{}", self.base_url, self.account, call.path),
            headers,
            body: call.body.as_ref().map(|(_, bytes)| bytes.clone()),
        }
    }

    /// Waits until `deadline` at most for the runtime's clock to reach `at`.
    pub(crate) async fn wait_until(
        &self,
        at: UnixTime,
        deadline: UnixTime,
    ) -> Result<(), ApiError> {
        let now = self.runtime.now();
        if at > deadline {
            return Err(ApiError::DeadlineExceeded);
        }
        if at > now {
            self.runtime.sleep(at.since(now)).await;
        }
        Ok(())
    }

    /// Waits for room in the budget, or refuses when it is too far off.
    async fn admit(&self, deadline: UnixTime) -> Result<(), ApiError> {
        let max_wait = Duration::from_millis(self.options.budget.max_wait_ms);
        loop {
            let now = self.runtime.now();
            let admission = self.budget.borrow_mut().admit(now);
            match admission {
                Admission::Now => return Ok(()),
                Admission::At(at) => {
                    let wait = at.since(now);
                    if wait > max_wait || at > deadline {
                        return Err(ApiError::BudgetExhausted {
                            retry_after_ms: wait.as_millis() as u64,
                        });
                    }
                    self.runtime.sleep(wait).await;
                }
            }
        }
    }

    /// Sends `call` until it succeeds, fails for good, or the policy gives up; a call that may not
    /// be repeated comes back after its first non-429 failure.
    pub(crate) async fn send(&self, call: &Call, deadline: UnixTime) -> Result<Answer, ApiError> {
        let request = self.request(call);
        let policy = self.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.admit(deadline).await?;
            let sent_at = self.runtime.now();
            self.budget.borrow_mut().record_sent(sent_at);
            *self.sent.borrow_mut().entry(call.operation).or_default() += 1;
            let answer = self.transport.send(&request, self.options.timeout()).await;
            let now = self.runtime.now();
            let (failure, wait) = match answer {
                Ok(response) => {
                    if let Some(header) = response.header("ratelimit") {
                        self.budget.borrow_mut().observe_header(now, header);
                    }
                    match envelope::read(&response) {
                        Outcome::Success { result, info } => return Ok((result, info)),
                        Outcome::Refused(error) => return Err(error),
                        Outcome::RateLimited { retry_after } => {
                            let wait =
                                policy.rate_limited(retry_after, attempt, self.runtime.random());
                            // Hold every call on this client, not just this one.
                            let secs = wait.as_millis().div_ceil(1_000) as u64;
                            self.budget.borrow_mut().record_rate_limited(now, secs);
                            (ApiError::RateLimited { retry_after }, wait)
                        }
                        Outcome::ServerFault(error) if call.repeat == Repeat::Always => {
                            (error, policy.backoff(attempt, self.runtime.random()))
                        }
                        Outcome::ServerFault(error) => return Err(error),
                    }
                }
                Err(lost) if call.repeat == Repeat::Always => (
                    ApiError::Transport(lost),
                    policy.backoff(attempt, self.runtime.random()),
                ),
                Err(lost) => return Err(ApiError::OutcomeUnknown(lost)),
            };
            self.pause(attempt, wait, deadline, failure).await?;
        }
    }

    /// Sleeps `wait` before attempt `attempt + 1`, or gives up with `failure` when the policy's
    /// attempts or time would run out.
    async fn pause(
        &self,
        attempt: u32,
        wait: Duration,
        deadline: UnixTime,
        failure: ApiError,
    ) -> Result<(), ApiError> {
        let wake = self.runtime.now() + wait;
        if attempt >= self.options.retry.max_attempts || wake > deadline {
            return Err(failure);
        }
        self.runtime.sleep(wait).await;
        Ok(())
    }

    /// Sends a call that must not simply be repeated. `settle` reads each answer, knowing whether
    /// an earlier attempt's outcome is unknown, and either ends the operation or (having checked
    /// that the call did not happen) asks for it to be sent again after a back-off.
    pub(crate) async fn send_settled<V>(
        &self,
        call: &Call,
        settle: impl AsyncFn(Result<Answer, ApiError>, bool) -> Step<V>,
    ) -> Result<V, ApiError> {
        let deadline = self.deadline();
        let mut ambiguous = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.send(call, deadline).await;
            match settle(answer, ambiguous).await {
                Step::Done(outcome) => return outcome,
                Step::SendAgain(failure) => {
                    ambiguous = true;
                    let wait = self.options.retry.backoff(attempt, self.runtime.random());
                    self.pause(attempt, wait, deadline, failure).await?;
                }
            }
        }
    }
}
