//! Keys from a JWKS URL (`jwksUrl`). The [`Verifier`](super::Verifier) decides, with no I/O and
//! by a [`RefreshPolicy`] that reads no clock, when its keys are due: verification then answers
//! with a [`JwksFetch`], which the pipeline hands its edge as an
//! [`Io::FetchJwks`](crate::pipeline::Io::FetchJwks) request, and the fetched body comes back
//! to [`Verifier::install_jwks`](super::Verifier::install_jwks).
//!
//! The keys are fetched on first use and again when older than `max_age_secs`; a token naming an
//! unknown `kid` (a key rotated in) triggers a refresh, but never more than once per
//! `min_interval_secs`. While a fetch is in flight, every request that needs keys waits for that
//! same fetch (it carries one [`FetchId`]) rather than starting another, so a flood of tokens with
//! made-up kids costs one fetch, however slow the endpoint. A failed fetch keeps the keys it had,
//! but only for [`RefreshPolicy::max_stale_secs`] past their due time: a key rotated out of the
//! set (perhaps because it leaked) must not keep verifying for as long as the identity provider
//! is unreachable. Past that, and with no keys at all, requests get 503 `keys_unavailable`, not
//! 401, until a fetch succeeds.

use crate::config::ConfigError;
use crate::UnixTime;
use std::cell::Cell;
use std::time::Duration;

/// The largest JWKS body taken: real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// A fetch still in flight after this long is taken as lost (edges give up after 5 s), so a
/// driver that never answers cannot stop keys from being fetched again.
const FETCH_LOST_AFTER: Duration = Duration::from_secs(30);

/// The default of [`RefreshPolicy::max_stale_secs`]: ten minutes of an identity provider's
/// outage (about ten fetch attempts at the default interval) are ridden out; longer ones are not.
pub const DEFAULT_MAX_STALE_SECS: i64 = 600;

/// The most [`RefreshPolicy::max_stale_secs`] may be: a day.
const MAX_STALE_LIMIT_SECS: i64 = 86_400;

/// When to fetch the key set again (`jwksRefresh` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshPolicy {
    /// Refetch keys older than this.
    pub max_age_secs: i64,
    /// At most one fetch attempt per this many seconds, whatever tokens arrive.
    pub min_interval_secs: i64,
    /// How long past `max_age_secs` keys are still used while every refresh fails (0 to 86400;
    /// default [`DEFAULT_MAX_STALE_SECS`]). Past it no token verifies (503) until a fetch
    /// succeeds.
    #[serde(default = "default_max_stale_secs")]
    pub max_stale_secs: i64,
}

fn default_max_stale_secs() -> i64 {
    DEFAULT_MAX_STALE_SECS
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            max_age_secs: 3600,
            min_interval_secs: 60,
            max_stale_secs: DEFAULT_MAX_STALE_SECS,
        }
    }
}

impl RefreshPolicy {
    /// Whether to fetch at `now`, given the last success and attempt and whether a token just
    /// named a key the set lacks.
    pub fn due(
        &self,
        fetched_at: Option<UnixTime>,
        attempted_at: Option<UnixTime>,
        now: UnixTime,
        unknown_kid: bool,
    ) -> bool {
        // At least a second apart, so an edge that just fetched is never told to fetch again.
        let interval = Duration::from_secs(self.min_interval_secs.max(1) as u64);
        if attempted_at.is_some_and(|t| now.since(t) < interval) {
            return false;
        }
        match fetched_at {
            None => true,
            Some(t) => unknown_kid || now.since(t) >= self.max_age(),
        }
    }

    fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs.max(0) as u64)
    }

    /// How long keys fetched at one time are used: their max age and the stale allowance.
    fn lifetime(&self) -> Duration {
        self.max_age() + Duration::from_secs(self.max_stale_secs.max(0) as u64)
    }
}

/// Names one fetch of the JWKS URL, so every request waiting for it is answered by it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FetchId(pub u32);

/// A fetch of the JWKS URL the verifier needs before it can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksFetch {
    /// Which fetch: requests that need keys while it is in flight get the same id.
    pub id: FetchId,
    /// The URL, as configured (`https:`, or `http:` on a loopback host).
    pub url: String,
}

/// Where a verifier's keys come from when a JWKS URL is configured, and the state of fetching
/// them.
#[derive(Debug)]
pub(super) struct KeysFromUrl {
    url: String,
    policy: RefreshPolicy,
    fetched_at: Cell<Option<UnixTime>>,
    attempted_at: Cell<Option<UnixTime>>,
    in_flight: Cell<Option<(FetchId, UnixTime)>>,
    next_id: Cell<u32>,
    /// The newest fetch whose keys were installed: an older fetch's answer never replaces them.
    newest_installed: Cell<Option<FetchId>>,
}

/// How a fetched body was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settled {
    /// Newer than the keys there are: install it (or record the failure).
    Current,
    /// The keys there are come from this fetch or a later one (another request's answer to the
    /// same fetch came first, say): nothing to do.
    Already,
}

impl KeysFromUrl {
    /// Checks the URL and the policy.
    pub fn new(url: &str, policy: Option<RefreshPolicy>) -> Result<Self, ConfigError> {
        check_url(url)?;
        let policy = policy.unwrap_or_default();
        if policy.min_interval_secs < 1 || policy.max_age_secs < policy.min_interval_secs {
            return Err(ConfigError(
                "authenticate.jwksRefresh: minIntervalSecs is at least 1 and maxAgeSecs at least that"
                    .into(),
            ));
        }
        if !(0..=MAX_STALE_LIMIT_SECS).contains(&policy.max_stale_secs) {
            return Err(ConfigError(format!(
                "authenticate.jwksRefresh: maxStaleSecs is from 0 to {MAX_STALE_LIMIT_SECS}"
            )));
        }
        Ok(Self {
            url: url.to_owned(),
            policy,
            fetched_at: Cell::new(None),
            attempted_at: Cell::new(None),
            in_flight: Cell::new(None),
            next_id: Cell::new(0),
            newest_installed: Cell::new(None),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the keys may verify tokens at `now`: fetched, and not past their max age plus the
    /// stale allowance.
    pub fn usable(&self, now: UnixTime) -> bool {
        self.fetched_at
            .get()
            .is_some_and(|t| now.since(t) < self.policy.lifetime())
    }

    /// Whether the keys are older than the policy's max age (or were never fetched).
    pub fn stale(&self, now: UnixTime) -> bool {
        self.fetched_at
            .get()
            .is_none_or(|t| now.since(t) >= self.policy.max_age())
    }

    /// When the current keys fall due, for callers that replay answers reached with them.
    pub fn due_at(&self) -> Option<UnixTime> {
        self.fetched_at.get().map(|t| t + self.policy.max_age())
    }

    /// The fetch to wait for at `now`: the one in flight, or a new one if the policy allows
    /// (`unknown_kid`: a token named a key the set lacks). `None`: no fetch now.
    pub fn fetch(&self, now: UnixTime, unknown_kid: bool) -> Option<JwksFetch> {
        if let Some((id, started)) = self.in_flight.get() {
            if now.since(started) < FETCH_LOST_AFTER {
                return Some(self.request(id));
            }
        }
        if !self.policy.due(
            self.fetched_at.get(),
            self.attempted_at.get(),
            now,
            unknown_kid,
        ) {
            return None;
        }
        let id = FetchId(self.next_id.get());
        // At least a second apart: u32 ids outlast any isolate.
        self.next_id.set(id.0.saturating_add(1));
        self.in_flight.set(Some((id, now)));
        self.attempted_at.set(Some(now));
        Some(self.request(id))
    }

    fn request(&self, id: FetchId) -> JwksFetch {
        JwksFetch {
            id,
            url: self.url.clone(),
        }
    }

    /// Takes the answer to fetch `id`: [`Settled::Current`] unless the keys there are come from
    /// this fetch or a newer one. It ends the wait for this fetch and any older one; a fetch that
    /// was taken for lost and still answers is used if nothing newer came first.
    pub fn settle(&self, id: FetchId) -> Settled {
        if self
            .in_flight
            .get()
            .is_some_and(|(current, _)| current <= id)
        {
            self.in_flight.set(None);
        }
        if self
            .newest_installed
            .get()
            .is_some_and(|newest| id <= newest)
        {
            return Settled::Already;
        }
        Settled::Current
    }

    /// Records that fetch `id`, answered at `now`, brought the keys there are.
    pub fn fetched(&self, id: FetchId, now: UnixTime) {
        self.fetched_at.set(Some(now));
        self.newest_installed.set(Some(id));
    }
}

/// `https:`, or plain `http:` only for a loopback host (a local JWKS in development).
fn check_url(url: &str) -> Result<(), ConfigError> {
    let loopback = |rest: &str| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match host.rsplit_once(':') {
            Some((h, port)) if !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    };
    let ok = match url.split_once("://") {
        Some(("https", rest)) => !rest.is_empty(),
        Some(("http", rest)) => loopback(rest),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError(
            "authenticate.jwksUrl: an https: URL (http: only for localhost)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for good in [
            "https://auth.example.com/jwks",
            "http://localhost:8787/jwks",
            "http://127.0.0.1/jwks",
            "http://[::1]:9/x",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://auth.example.com/jwks",
            "http://localhost.evil.com/jwks",
            "ftp://x",
            "https://",
            "auth.example.com",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_fetch_in_flight_is_shared_until_settled_or_lost() {
        let source = KeysFromUrl::new("https://a.example/jwks", None).unwrap();
        let t = UnixTime::from_secs(1000);
        let first = source.fetch(t, false).unwrap();
        // Others wait for the same fetch, even with unknown kids, even past the min interval.
        let later = t + Duration::from_secs(20);
        assert_eq!(source.fetch(later, true), Some(first.clone()));
        assert_eq!(source.settle(first.id), Settled::Current);
        assert_eq!(source.fetch(later, true), None, "no longer in flight");
        // Settled without keys and attempted 20 s ago: nothing before the minute is up.
        assert_eq!(source.fetch(later, true), None);
        let next = source.fetch(t + Duration::from_secs(61), true).unwrap();
        assert_ne!(next.id, first.id);
        // Lost: a new fetch may start once the in-flight one is 30 s old and the interval passed.
        let much_later = t + Duration::from_secs(61 + 61);
        let third = source.fetch(much_later, true).unwrap();
        assert_ne!(third.id, next.id);
        // The lost one answers after all: used, since nothing newer is in; then the newer one.
        assert_eq!(source.settle(next.id), Settled::Current);
        source.fetched(next.id, much_later);
        assert_eq!(source.settle(third.id), Settled::Current);
        source.fetched(third.id, much_later);
        // An answer older than the keys there are is never installed over them.
        assert_eq!(source.settle(next.id), Settled::Already);
    }
}
