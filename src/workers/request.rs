//! A `worker::Request` as the pipeline's [`RequestParts`].

use crate::resolve::RequestParts;
use worker::Request;

/// The URL and the headers of `request`, less `Host`: on Workers the URL's host is the
/// canonical one, built by the runtime from `Host`. Workers fold a repeated header into one value
/// joined by `, `, which no tenant id, host or bearer token can hold, so a repeat still fails.
pub fn request_parts(request: &Request) -> RequestParts {
    let url = request.url().map(String::from).unwrap_or_default();
    let headers = request
        .headers()
        .entries()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"));
    RequestParts::new(&url, headers)
}
