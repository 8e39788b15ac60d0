//! Errors as `worker::Response`s, through the one mapping in [`Error::to_response`].

use crate::Error;
use worker::{Headers, Response};

/// The JSON error answer for `error`: its status, `{"error":{"code","message"}}`, and the
/// `WWW-Authenticate` challenge on a 401, the `Retry-After` every 503 carries.
pub fn error_response(error: &Error) -> worker::Result<Response> {
    let mapped = error.to_response();
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    if let Some(challenge) = &mapped.www_authenticate {
        headers.set("www-authenticate", challenge)?;
    }
    if let Some(seconds) = mapped.retry_after {
        headers.set("retry-after", &seconds.to_string())?;
    }
    Ok(Response::ok(mapped.body())?
        .with_status(mapped.status)
        .with_headers(headers))
}
