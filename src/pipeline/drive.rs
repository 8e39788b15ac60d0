//! [`drive`]: the pipeline's loop for an async edge — perform each I/O request, resume, repeat.

use super::io::{Io, Reply, Step};
use super::{Pipeline, TenantContext};
use crate::authenticate::SignatureCheck;
use crate::lookup::TenantStatus;
use crate::resolve::{Host, RequestParts};
use crate::{Error, TenantId, UnixTime};

/// The I/O a pipeline may ask for, and the clock. Rust workers implement it with `fetch` and
/// D1 (`workers::WorkerEdges`); tests with simulated edges and a fake clock. A request an edge
/// does not support answers `Err`, which fails the request with a 503 (a JWKS fetch that fails
/// keeps the keys there were).
#[allow(async_fn_in_trait)]
pub trait Edges {
    /// The current time.
    fn now(&self) -> UnixTime;

    /// The body of the JWKS at `url` (at most
    /// [`MAX_JWKS_BYTES`](crate::authenticate::MAX_JWKS_BYTES)), or why there is none.
    async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        Err(format!("this edge fetches no JWKS ({url})"))
    }

    /// Whether `check.signature` holds over `check.signing_input` with its key.
    async fn check_signature(&self, check: &SignatureCheck) -> Result<bool, String> {
        Err(format!("this edge checks no {} signatures", check.alg))
    }

    /// The tenant that owns custom domain `host`, if any.
    async fn look_up_domain(&self, host: &Host) -> Result<Option<TenantId>, String> {
        Err(format!("this edge looks up no domains ({})", host.as_str()))
    }

    /// What the registry says of `tenant`.
    async fn look_up_tenant(&self, tenant: &TenantId) -> Result<TenantStatus, String> {
        Err(format!("this edge looks up no tenants ({tenant})"))
    }

    /// Something an operator should see, once (a JWKS that could not be installed, a fault).
    fn log(&self, _message: &str) {}
}

/// Runs `request` through `pipeline`, performing its I/O with `edges`.
pub async fn drive(
    pipeline: &Pipeline,
    request: RequestParts,
    edges: &impl Edges,
) -> Result<TenantContext, Error> {
    let (mut run, mut step) = pipeline.start(request, edges.now());
    let outcome = loop {
        let (ticket, io) = match step {
            Step::Done(context) => break Ok(context),
            Step::Failed(error) => break Err(error),
            Step::Io(ticket, io) => (ticket, io),
        };
        let reply = match io {
            Io::FetchJwks(fetch) => edges.fetch_jwks(&fetch.url).await.map(Reply::Jwks),
            Io::CheckSignature(check) => edges.check_signature(&check).await.map(Reply::Signature),
            Io::LookUpDomain(host) => edges.look_up_domain(&host).await.map(Reply::Domain),
            Io::LookUpTenant(tenant) => edges.look_up_tenant(&tenant).await.map(Reply::Tenant),
        };
        let reply = reply.unwrap_or_else(Reply::Unavailable);
        step = pipeline.resume(&mut run, ticket, reply, edges.now());
    };
    for note in run.take_notes() {
        edges.log(&note);
    }
    outcome
}
