//! [`UnixTime`]: the one type for a point in time across the crate.
//!
//! The core reads no clock: every stage takes `now` as a [`UnixTime`] from its edge (the
//! runtime's `Date.now()` on Workers, a simulated clock in tests).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// Milliseconds since the Unix epoch. JWT times are whole seconds ([`UnixTime::from_secs`],
/// [`UnixTime::secs`]); the Cloudflare API and the registry keep milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The epoch itself.
    pub const EPOCH: Self = Self(0);

    /// `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// From a JS `Date.now()`-style number; not finite is the epoch, so a broken clock makes
    /// every token look expired rather than fresh.
    pub fn from_js_millis(millis: f64) -> Self {
        if millis.is_finite() {
            Self(millis as i64)
        } else {
            Self::EPOCH
        }
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

impl Add<Duration> for UnixTime {
    type Output = Self;

    fn add(self, rhs: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(rhs.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

impl Sub<Duration> for UnixTime {
    type Output = Self;

    fn sub(self, rhs: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(rhs.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms since the epoch", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_and_arithmetic_saturates() {
        assert_eq!(UnixTime::from_millis(1999).secs(), 1);
        assert_eq!(UnixTime::from_millis(-1).secs(), -1);
        assert_eq!(UnixTime::from_secs(i64::MAX).millis(), i64::MAX);
        assert_eq!(
            UnixTime::from_secs(10) + Duration::from_secs(5),
            UnixTime::from_secs(15)
        );
        assert_eq!(
            UnixTime::from_secs(10).since(UnixTime::from_secs(12)),
            Duration::ZERO
        );
        assert_eq!(UnixTime::from_js_millis(f64::NAN), UnixTime::EPOCH);
    }
}
