//! [`Reuse`]: when a caller may replay the pipeline's answer instead of running it again.
//!
//! With no lookups configured, a success is a function of the URL (its query only when a query
//! strategy reads it), the headers named by [`Pipeline::headers_read`], the key set and the time.
//! The time counts through the token's `exp` and through the keys' next due time, and the key set
//! through its generation. So a success may be replayed for the same inputs until
//! [`Pipeline::replay_until`], and only while the generation is the one it was reached with. The
//! npm package keeps such answers in JS, which spares a repeated request the crossing into wasm.
//!
//! Tokenless answers are never replayed: keeping one per public URL would let anonymous traffic
//! fill the memory.

use super::{Pipeline, TenantContext};
use crate::authenticate::DEFAULT_CACHE_TOKENS;
use crate::UnixTime;
use std::time::Duration;

/// The longest any answer is replayed, whatever the token says: a token without `exp` (allowed
/// with `requireExp: false`) is checked again at least this often.
pub const MAX_REPLAY: Duration = Duration::from_secs(300);

/// The most bytes of request inputs a caller keeps answers for.
const REPLAY_MAX_BYTES: usize = 1024 * 1024;

/// How a caller may keep answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reuse {
    /// How many answers to keep: as many as the verifier keeps tokens (0: none).
    pub capacity: usize,
    /// How many bytes of inputs (URL and headers) the kept answers may hold together.
    pub max_bytes: usize,
    /// Whether the query string is part of the inputs (a query strategy is configured).
    pub reads_query: bool,
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
        })
    }

    /// Until when `context`, reached at `now`, may be replayed for the same inputs: the first
    /// time it may no longer hold (the token's `exp` plus leeway, the keys' next due time), and
    /// never past `now` + [`MAX_REPLAY`]. `None`: not at all (no token, or lookups).
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
