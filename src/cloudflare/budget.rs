//! [`RequestBudget`]: the client's own count against Cloudflare's global rate limit.
//!
//! Cloudflare allows 1,200 API requests per 5 minutes per token, counted across all use of the
//! token; past it every call gets 429 for up to 5 minutes. The budget counts what this client sent
//! in a sliding window, reads the `Ratelimit` header Cloudflare sends back (which also counts other
//! users of the token), and after a 429 holds every call until `retry-after` has passed, so one
//! 429 costs one wait, not a storm of retries. The client then waits for room when it is near, and
//! refuses the call when it is not ([`ApiError::BudgetExhausted`](super::ApiError)).

use crate::UnixTime;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;

/// The limit the budget keeps under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Requests per window this client allows itself. The default, 1,000 of Cloudflare's 1,200,
    /// leaves room for other tools on the same token (wrangler, dashboards).
    pub limit: u32,
    /// The window, in seconds (Cloudflare's is 300).
    pub window_secs: u64,
    /// The longest a call waits for room before it is refused instead.
    pub max_wait_ms: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            limit: 1_000,
            window_secs: 300,
            max_wait_ms: 10_000,
        }
    }
}

/// Whether a call may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Now,
    /// Not before this time.
    At(UnixTime),
}

/// The requests sent in the current window, and what the server last said.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    config: BudgetConfig,
    sent: VecDeque<UnixTime>,
    locked_until: UnixTime,
    server: Option<ServerView>,
}

/// The server's own count, from a `Ratelimit` header: `remaining` at `seen`, until `reset_at`.
#[derive(Debug, Clone, Copy)]
struct ServerView {
    remaining: u32,
    seen: UnixTime,
    reset_at: UnixTime,
}

impl RequestBudget {
    /// An empty budget.
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            sent: VecDeque::new(),
            locked_until: UnixTime::EPOCH,
            server: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.config.window_secs)
    }

    fn forget_old(&mut self, now: UnixTime) {
        let window = self.window();
        while self.sent.front().is_some_and(|&t| t + window <= now) {
            self.sent.pop_front();
        }
        if self.server.is_some_and(|s| s.reset_at <= now) {
            self.server = None;
        }
    }

    /// Requests this client sent in the window ending at `now`.
    pub fn used(&mut self, now: UnixTime) -> u32 {
        self.forget_old(now);
        self.sent.len() as u32
    }

    /// Requests left in the window at `now`: the smaller of the client's own count and the
    /// server's last word, less what was sent since.
    pub fn remaining(&mut self, now: UnixTime) -> u32 {
        let own = self.config.limit.saturating_sub(self.used(now));
        match self.server {
            Some(s) => {
                let since = self.sent.iter().filter(|&&t| t >= s.seen).count() as u32;
                own.min(s.remaining.saturating_sub(since))
            }
            None => own,
        }
    }

    /// May a call go at `now`? If not, when it may.
    pub fn admit(&mut self, now: UnixTime) -> Admission {
        if now < self.locked_until {
            return Admission::At(self.locked_until);
        }
        if self.remaining(now) > 0 {
            return Admission::Now;
        }
        // Full: room comes back when the oldest request leaves the window (or the server's
        // window resets, if that is what is limiting).
        let own_free = self
            .sent
            .front()
            .map_or(now, |&t| t + self.window())
            .max(now);
        let at = match self.server {
            Some(s) if self.config.limit > self.sent.len() as u32 => s.reset_at,
            _ => own_free,
        };
        Admission::At(at.max(now + Duration::from_millis(1)))
    }

    /// When `calls` requests may go together (never sooner than `now`): when enough of this
    /// window's requests have left it, or the server's window resets, or a lock ends. More
    /// calls than the whole budget are asked for as the whole budget.
    pub fn room_at(&mut self, now: UnixTime, calls: u32) -> UnixTime {
        let calls = calls.min(self.config.limit).max(1);
        if now < self.locked_until {
            return self.locked_until;
        }
        if self.remaining(now) >= calls {
            return now;
        }
        let own = self.config.limit.saturating_sub(self.sent.len() as u32);
        let own_at = match (calls - own.min(calls)) as usize {
            0 => now,
            leaving => self
                .sent
                .get(leaving - 1)
                .map_or(now, |&t| t + self.window()),
        };
        let at = match self.server {
            Some(s) => {
                let since = self.sent.iter().filter(|&&t| t >= s.seen).count() as u32;
                if s.remaining.saturating_sub(since) < calls {
                    own_at.max(s.reset_at)
                } else {
                    own_at
                }
            }
            None => own_at,
        };
        at.max(now + Duration::from_millis(1))
    }

    /// Counts a request sent at `now`.
    pub fn record_sent(&mut self, now: UnixTime) {
        self.forget_old(now);
        self.sent.push_back(now);
    }

    /// A 429 at `now`: hold every call until `retry_after_secs` has passed.
    pub fn record_rate_limited(&mut self, now: UnixTime, retry_after_secs: u64) {
        self.locked_until = self
            .locked_until
            .max(now + Duration::from_secs(retry_after_secs));
    }

    /// Reads Cloudflare's `Ratelimit` header (`"default";r=<remaining>;t=<seconds to reset>`).
    /// Anything it cannot read is ignored.
    pub fn observe_header(&mut self, now: UnixTime, header: &str) {
        let field = |key: &str| {
            header
                .split(';')
                .filter_map(|part| part.trim().split_once('='))
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        };
        if let (Some(remaining), Some(reset)) = (field("r"), field("t")) {
            self.server = Some(ServerView {
                remaining: remaining.min(u32::MAX as u64) as u32,
                // The request that carried it is already counted.
                seen: now + Duration::from_millis(1),
                reset_at: now + Duration::from_secs(reset),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> UnixTime {
        UnixTime::from_millis(millis)
    }

    fn budget(limit: u32) -> RequestBudget {
        RequestBudget::new(BudgetConfig {
            limit,
            window_secs: 300,
            max_wait_ms: 0,
        })
    }

    #[test]
    fn counts_a_sliding_window() {
        let mut b = budget(3);
        for t in [0, 1_000, 2_000] {
            assert_eq!(b.admit(at(t)), Admission::Now);
            b.record_sent(at(t));
        }
        assert_eq!(b.remaining(at(2_500)), 0);
        // The first request leaves the window 300 s after it was sent.
        assert_eq!(b.admit(at(2_500)), Admission::At(at(300_000)));
        assert_eq!(b.admit(at(300_000)), Admission::Now);
        assert_eq!(b.used(at(300_000)), 2);
    }

    #[test]
    fn a_429_holds_every_call_until_retry_after() {
        let mut b = budget(1_000);
        b.record_sent(at(0));
        b.record_rate_limited(at(10), 30);
        assert_eq!(b.admit(at(11)), Admission::At(at(30_010)));
        assert_eq!(b.admit(at(29_999)), Admission::At(at(30_010)));
        assert_eq!(b.admit(at(30_010)), Admission::Now);
        // A shorter retry-after never shortens a lock already in place.
        b.record_rate_limited(at(30_010), 60);
        b.record_rate_limited(at(30_020), 1);
        assert_eq!(b.admit(at(40_000)), Admission::At(at(90_010)));
    }

    #[test]
    fn the_server_header_lowers_what_is_left() {
        let mut b = budget(1_000);
        b.record_sent(at(0));
        // Other users of the token spent most of the window.
        b.observe_header(at(5), r#""default";r=2;t=120"#);
        assert_eq!(b.remaining(at(10)), 2);
        b.record_sent(at(10));
        b.record_sent(at(11));
        assert_eq!(b.remaining(at(12)), 0);
        assert_eq!(b.admit(at(12)), Admission::At(at(120_005)));
        // After the server's reset its view no longer applies.
        assert_eq!(b.admit(at(120_005)), Admission::Now);
        // Garbage is ignored.
        b.observe_header(at(200_000), "r=;t=x");
        assert_eq!(b.remaining(at(200_000)), 997);
    }
}
