//! HTTP as values, and the two edges the client does its I/O through: [`Transport`] and
//! [`Runtime`].

use crate::UnixTime;
use std::fmt;
use std::time::Duration;

/// The HTTP methods the Cloudflare API client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// A request the client wants sent: the whole of it, ready for any HTTP stack.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: String,
    /// Header names (lowercase) and values, the `authorization` header among them.
    pub headers: Vec<(String, String)>,
    /// The body, if any; its `content-type` is in `headers`.
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

// The authorization header holds the API token: never print it.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// An answer as the transport received it, body read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a transport produced no answer. Either way the request may have been carried out: the
/// client treats both as an unknown outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No full answer within the timeout.
    Timeout,
    /// The connection failed, before or after the request was sent, or while the body was read.
    Connection(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("no answer within the timeout"),
            Self::Connection(why) => write!(f, "connection failed: {why}"),
        }
    }
}

/// Sends one HTTP request and reads the whole answer, giving up after `timeout`.
///
/// On Workers this is the runtime's `fetch` or a service binding
/// (`edge_tenancy::workers::cloudflare`); tests use an in-process one.
#[allow(async_fn_in_trait)] // single-threaded runtimes: no Send bound wanted
pub trait Transport {
    /// Sends `request`; the answer, or why there is none.
    async fn send(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError>;
}

/// Time and randomness: the clock the retry and budget logic read, the timer it waits on, and the
/// source of retry jitter.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    /// The current time.
    fn now(&self) -> UnixTime;
    /// Resolves after `duration`.
    async fn sleep(&self, duration: Duration);
    /// A random number in `[0, 1)`.
    fn random(&self) -> f64;
}
