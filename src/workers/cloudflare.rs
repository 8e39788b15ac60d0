//! The Cloudflare API client's edges on Workers: [`ApiTransport`] (the runtime's `fetch`, or a
//! service binding to a local stand-in) and [`WorkerRuntime`] (clock, timer, randomness), and
//! [`client_from_env`], which picks between the real API and the local one.

use super::deadline::within;
use crate::cloudflare::{
    AccountId, ApiToken, Client, ClientOptions, HttpRequest, HttpResponse, Method, Runtime,
    Transport, TransportError,
};
use crate::UnixTime;
use std::time::Duration;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{
    js_sys, web_sys, Delay, Env, Fetch, Fetcher, Headers, Request, RequestInit, Response,
};

/// How requests reach the API.
#[derive(Debug, Clone)]
pub enum ApiTransport {
    /// The runtime's `fetch`, to the URL as given (the real API, or any base URL).
    Fetch,
    /// A service binding: the request goes to the bound Worker (the local API in development).
    Service(Fetcher),
}

fn connection(error: worker::Error) -> TransportError {
    TransportError::Connection(error.to_string())
}

fn worker_request(request: &HttpRequest) -> worker::Result<Request> {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(match request.method {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
        Method::Patch => worker::Method::Patch,
        Method::Delete => worker::Method::Delete,
    })
    .with_headers(headers);
    if let Some(body) = &request.body {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    Request::new_with_init(&request.url, &init)
}

impl Transport for ApiTransport {
    async fn send(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let exchange = async {
            let outgoing = worker_request(request).map_err(connection)?;
            let mut response = match self {
                Self::Fetch => Fetch::Request(outgoing).send().await,
                Self::Service(fetcher) => fetcher.fetch_request(outgoing).await,
            }
            .map_err(connection)?;
            let status = response.status_code();
            let headers = response.headers().entries().collect();
            // A body that fails half-way is a lost answer, like a reset connection.
            let body = response.text().await.map_err(connection)?;
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        within(exchange, timeout)
            .await
            .unwrap_or(Err(TransportError::Timeout))
    }
}

impl ApiTransport {
    /// GETs `url` (an export's signed URL) and answers the response with its body unread, so the
    /// caller can stream it on (into R2) without holding it. No API token is sent: a signed URL
    /// carries its own authorization. A status outside 2xx is an error.
    pub async fn open(&self, url: &str) -> Result<Response, TransportError> {
        let request = HttpRequest {
            method: Method::Get,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
        };
        let outgoing = worker_request(&request).map_err(connection)?;
        let response = match self {
            Self::Fetch => Fetch::Request(outgoing).send().await,
            Self::Service(fetcher) => fetcher.fetch_request(outgoing).await,
        }
        .map_err(connection)?;
        match response.status_code() {
            200..=299 => Ok(response),
            status => Err(TransportError::Connection(format!(
                "GET of the signed URL answered {status}"
            ))),
        }
    }

    /// PUTs `body`, `length` bytes, to `url` (an import's presigned upload URL) as a stream: it
    /// goes through a `FixedLengthStream`, so the request says its Content-Length (a presigned R2
    /// URL takes no upload of unknown length) and the Worker never holds it. Answers the `etag`
    /// the URL sent back. No API token is sent.
    pub async fn upload(
        &self,
        url: &str,
        body: &web_sys::ReadableStream,
        length: u64,
    ) -> Result<String, TransportError> {
        let js = |e: worker::wasm_bindgen::JsValue| TransportError::Connection(format!("{e:?}"));
        let fixed =
            worker::worker_sys::FixedLengthStream::new_big_int(js_sys::BigInt::from(length))
                .map_err(js)?;
        let piped = JsFuture::from(body.pipe_to(&fixed.writable()));
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Put)
            .with_body(Some(fixed.readable().into()));
        let outgoing = Request::new_with_init(url, &init).map_err(connection)?;
        let sending = async {
            match self {
                Self::Fetch => Fetch::Request(outgoing).send().await,
                Self::Service(fetcher) => fetcher.fetch_request(outgoing).await,
            }
        };
        let (sent, piped) = futures_util::future::join(sending, piped).await;
        let response = sent.map_err(connection)?;
        piped.map_err(js)?;
        match response.status_code() {
            200..=299 => response
                .headers()
                .get("etag")
                .ok()
                .flatten()
                .ok_or_else(|| TransportError::Connection("the upload answered no etag".into())),
            status => Err(TransportError::Connection(format!(
                "PUT of the upload URL answered {status}"
            ))),
        }
    }
}

/// The Workers runtime's clock (`Date.now()`), timer (`setTimeout`) and `Math.random()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerRuntime;

impl Runtime for WorkerRuntime {
    fn now(&self) -> UnixTime {
        UnixTime::from_js_millis(js_sys::Date::now())
    }

    async fn sleep(&self, duration: Duration) {
        Delay::from(duration).await
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

/// The account id the local API serves (its `LOCAL_ACCOUNT_ID` default).
pub const LOCAL_ACCOUNT_ID: &str = "0000000000000000000000000000000a";
/// The token the local API accepts (its `LOCAL_API_TOKEN` default).
pub const LOCAL_API_TOKEN: &str = "local-dev-token";

/// Why [`client_from_env`] could not make a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientConfigError {
    /// Neither a `CLOUDFLARE_API_TOKEN` nor a `CLOUDFLARE_API` service binding.
    NotConfigured,
    /// `CLOUDFLARE_ACCOUNT_ID` is missing or not an account id.
    BadAccountId,
    /// `CLOUDFLARE_API_CLIENT` is not valid [`ClientOptions`] JSON.
    BadOptions(String),
}

impl std::fmt::Display for ClientConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotConfigured => f.write_str(
                "no Cloudflare API configured: set the CLOUDFLARE_API_TOKEN secret and \
                 CLOUDFLARE_ACCOUNT_ID, or bind the local API as CLOUDFLARE_API",
            ),
            Self::BadAccountId => f.write_str("CLOUDFLARE_ACCOUNT_ID is not a 32-hex account id"),
            Self::BadOptions(why) => write!(f, "CLOUDFLARE_API_CLIENT: {why}"),
        }
    }
}

impl std::error::Error for ClientConfigError {}

/// A client configured from the Worker's environment:
/// - with a `CLOUDFLARE_API_TOKEN` secret: the real API (or `CLOUDFLARE_API_BASE`, if set) for
///   account `CLOUDFLARE_ACCOUNT_ID`, through `fetch`;
/// - otherwise, with a `CLOUDFLARE_API` service binding: the local API, with its local account and
///   token (README line 1 runs it this way, no account needed).
///
/// `CLOUDFLARE_API_CLIENT` may hold [`ClientOptions`] as JSON (timeouts, retries, budget).
pub fn client_from_env(
    env: &Env,
) -> Result<Client<ApiTransport, WorkerRuntime>, ClientConfigError> {
    let text = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let (transport, account, token, base) =
        match (text("CLOUDFLARE_API_TOKEN"), env.service("CLOUDFLARE_API")) {
            (Some(token), _) => (
                ApiTransport::Fetch,
                text("CLOUDFLARE_ACCOUNT_ID").unwrap_or_default(),
                token,
                text("CLOUDFLARE_API_BASE"),
            ),
            (None, Ok(local)) => (
                ApiTransport::Service(local),
                text("CLOUDFLARE_ACCOUNT_ID").unwrap_or_else(|| LOCAL_ACCOUNT_ID.to_owned()),
                LOCAL_API_TOKEN.to_owned(),
                None,
            ),
            (None, Err(_)) => return Err(ClientConfigError::NotConfigured),
        };
    let account = AccountId::parse(&account).map_err(|_| ClientConfigError::BadAccountId)?;
    let options: ClientOptions = match text("CLOUDFLARE_API_CLIENT") {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| ClientConfigError::BadOptions(e.to_string()))?
        }
        None => ClientOptions::default(),
    };
    let client =
        Client::new(account, ApiToken::new(token), transport, WorkerRuntime).with_options(options);
    Ok(match base {
        Some(base) => client.with_base_url(&base),
        None => client,
    })
}
