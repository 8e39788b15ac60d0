//! [`RetryPolicy`]: when a failed call is sent again, and how long to wait first.
//!
//! Which calls may be sent again at all is the operation's business (see [`Repeat`]); this file
//! only does the arithmetic, with the randomness handed in.

use serde::Deserialize;
use std::time::Duration;

/// Bounds on retrying one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// The first back-off; it doubles with each attempt.
    pub base_delay_ms: u64,
    /// The longest single back-off.
    pub max_delay_ms: u64,
    /// The most time one operation may take, waits included. A wait that would end past it is
    /// not started: the operation fails instead.
    pub max_elapsed_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay_ms: 250,
            max_delay_ms: 8_000,
            max_elapsed_ms: 60_000,
        }
    }
}

/// Whether an operation may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads and idempotent writes: again after a 429, a server fault or a lost answer.
    Always,
    /// Writes that must not run twice: again only after a 429, which Cloudflare sends before doing
    /// any work.
    OnlyIfRefused,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after a failure (`attempt` counts from 1): exponential,
    /// capped, with "equal jitter" (half fixed, half random) so that clients that failed together
    /// don't come back together. `random` is in `[0, 1)`.
    pub fn backoff(&self, attempt: u32, random: f64) -> Duration {
        let doubled = self
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(32));
        let ceiling = doubled.min(self.max_delay_ms);
        let half = ceiling / 2;
        Duration::from_millis(half + (half as f64 * random.clamp(0.0, 1.0)) as u64)
    }

    /// The wait after a 429: what `retry-after` says (or a back-off of at least a second when it
    /// says nothing), plus up to a quarter second of jitter.
    pub fn rate_limited(&self, retry_after: Option<u64>, attempt: u32, random: f64) -> Duration {
        let asked = match retry_after {
            Some(seconds) => Duration::from_secs(seconds),
            None => self.backoff(attempt, random).max(Duration::from_secs(1)),
        };
        asked + Duration::from_millis((250.0 * random.clamp(0.0, 1.0)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(125));
        assert_eq!(p.backoff(1, 0.999_999), Duration::from_millis(249));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(3, 0.0), Duration::from_millis(500));
        // Capped at max_delay_ms, also for absurd attempt counts.
        assert_eq!(p.backoff(20, 0.0), Duration::from_millis(4_000));
        assert!(p.backoff(200, 0.999) < Duration::from_millis(8_000));
    }

    #[test]
    fn a_429_waits_what_retry_after_says() {
        let p = RetryPolicy::default();
        assert_eq!(p.rate_limited(Some(3), 1, 0.0), Duration::from_secs(3));
        assert_eq!(
            p.rate_limited(Some(3), 1, 0.5),
            Duration::from_millis(3_125)
        );
        assert_eq!(p.rate_limited(None, 1, 0.0), Duration::from_secs(1));
    }
}
