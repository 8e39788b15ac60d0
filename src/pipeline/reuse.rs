//! [`Reuse`]: when a caller may replay the pipeline's answer instead of running it again, and
//! which of the request's inputs that answer depends on.
//!
//! With no lookups configured, a success is a function of:
//! - the URL's authority (the host the subdomain and custom-domain strategies read);
//! - the headers named by [`Pipeline::headers_read`] (the token among them);
//! - the path only with path prefix strategies ([`Reuse::path_prefixes`]), and only through its
//!   tenant head: the path up to the end of the segment after the first of those prefixes it
//!   starts with (`/t/acme` of `/t/acme/x`; empty when it starts with none). The context's `path`
//!   is the request's own path, without that head when the answer's source is the path prefix
//!   (`/x`, or `/` when nothing is left). Whether the path is public is not an input: only
//!   answers with a principal are replayed, and a principal that may act for the tenant is let
//!   in the same way on every path, while one that may not is anonymous on a public path (no
//!   principal, never kept) and refused elsewhere (never kept);
//! - the query string only when a query strategy reads it ([`Reuse::reads_query`]);
//! - the key set and the time: the token's `exp` and the keys' next due time, and the key set's
//!   generation.
//!
//! So a success may be replayed for any request with the same authority and headers read (and
//! tenant head or query when they are read), with the new request's path in its context, until [`Pipeline::replay_until`], and only while the generation is the one it was
//! reached with. The npm package keeps such answers in JS: a known token on a new path does not
//! cross into wasm at all.
//!
//! Anonymous answers (no token, or a token dropped on a public path) are never replayed: keeping
//! them would let anonymous traffic fill the memory with one entry per host it makes up.

use super::{Pipeline, TenantContext};
use crate::authenticate::DEFAULT_CACHE_TOKENS;
use crate::UnixTime;
use std::time::Duration;

/// The longest any answer is replayed, whatever the token says: a token without `exp` (allowed
/// with `requireExp: false`) is checked again at least this often.
pub const MAX_REPLAY: Duration = Duration::from_secs(300);

/// The most bytes of request inputs a caller keeps answers for.
const REPLAY_MAX_BYTES: usize = 1024 * 1024;

/// How a caller may keep answers, and what it must key them by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reuse {
    /// How many answers to keep: as many as the verifier keeps tokens (0: none).
    pub capacity: usize,
    /// How many bytes of inputs (URL parts and headers) the kept answers may hold together.
    pub max_bytes: usize,
    /// Whether the query string is an input (a query strategy is configured).
    pub reads_query: bool,
    /// The path prefix strategies' prefixes, in order: the path's tenant head is an input (see
    /// the module docs); none: the path is not.
    pub path_prefixes: Vec<String>,
}

impl Pipeline {
    /// How this pipeline's answers may be replayed; `None` when it looks domains or tenants up
    /// at its edge, since its answers then change with what the edge says.
    pub fn reuse(&self) -> Option<Reuse> {
        if self.resolver.looks_up_domains() || self.resolver.looks_up_tenants() {
            return None;
        }
        Some(Reuse {
            capacity: self
                .verifier
                .as_ref()
                .map_or(DEFAULT_CACHE_TOKENS, |v| v.cache_capacity()),
            max_bytes: REPLAY_MAX_BYTES,
            reads_query: self.resolver.reads_query(),
            path_prefixes: self.resolver.path_prefixes(),
        })
    }

    /// Until when `context`, reached at `now`, may be replayed for the same inputs: the first
    /// time it may no longer hold (the token's `exp` plus leeway, the keys' next due time), and
    /// never past `now` + [`MAX_REPLAY`]. `None`: not at all (an anonymous caller, or lookups).
    pub fn replay_until(&self, context: &TenantContext, now: UnixTime) -> Option<UnixTime> {
        self.reuse()?;
        let principal = context.principal()?;
        let cap = now + MAX_REPLAY;
        let until = self
            .verifier
            .as_ref()
            .and_then(|v| v.valid_until(principal))
            .map_or(cap, |t| t.min(cap));
        (until > now).then_some(until)
    }
}
