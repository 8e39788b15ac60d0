//! The pipeline for a `worker::Request`.

use super::request_parts;
use crate::pipeline::{Pipeline, TenantContext, TokenVerifier};
use crate::resolve::CustomDomains;
use crate::Error;
use worker::{Date, Request};

/// Runs `pipeline` over `request` at the current time: the tenant context, or the error to
/// answer with ([`super::error_response`]).
pub async fn resolve_request<V: TokenVerifier, D: CustomDomains>(
    pipeline: &Pipeline<V, D>,
    request: &Request,
) -> Result<TenantContext, Error> {
    let now = (Date::now().as_millis() / 1000) as i64;
    pipeline.run(&request_parts(request), now).await
}
