//! [`TenantCache`]: registry answers kept per isolate, so a warm isolate serves a tenant's
//! requests with no registry read.
//!
//! Bounded (least recently used out first), each answer kept for a TTL (an unknown tenant for a
//! shorter one, so a tenant provisioned elsewhere is found soon), dropped at once when this
//! isolate provisions or deprovisions the tenant. A miss loads once however many requests ask at
//! the same time: the first loads, the others wait for its answer (single flight). They wait by
//! pausing in their own request (a timer), not by being woken from the loading one: workerd
//! refuses I/O that one request's handler performs on another's behalf.

use super::TenantStatus;
use crate::{TenantId, UnixTime};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// How the cache keeps answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Most tenants kept.
    pub capacity: usize,
    /// How long a registered tenant's answer is kept.
    pub ttl: Duration,
    /// How long "not registered" is kept.
    pub negative_ttl: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        }
    }
}

/// One load in flight, shared by every request that waits for it: its answer once it has one.
type Flight = Rc<RefCell<Option<Result<TenantStatus, String>>>>;

/// The cache.
#[derive(Debug, Default)]
pub struct TenantCache {
    policy: CachePolicy,
    inner: RefCell<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Tenant → (answer, kept until, last use).
    entries: HashMap<TenantId, (TenantStatus, UnixTime, u64)>,
    flights: HashMap<TenantId, Flight>,
    uses: u64,
    loads: u64,
}

impl TenantCache {
    /// An empty cache.
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            policy,
            inner: RefCell::default(),
        }
    }

    /// The answer for `tenant` at `now`, if one is kept.
    pub fn get(&self, tenant: &TenantId, now: UnixTime) -> Option<TenantStatus> {
        let mut inner = self.inner.borrow_mut();
        inner.uses += 1;
        let uses = inner.uses;
        match inner.entries.get_mut(tenant) {
            Some((status, until, used)) if now < *until => {
                *used = uses;
                Some(*status)
            }
            Some(_) => {
                inner.entries.remove(tenant);
                None
            }
            None => None,
        }
    }

    /// Keeps `status` for `tenant` from `now`.
    pub fn put(&self, tenant: &TenantId, status: TenantStatus, now: UnixTime) {
        let ttl = match status {
            TenantStatus::NotFound => self.policy.negative_ttl,
            _ => self.policy.ttl,
        };
        let mut inner = self.inner.borrow_mut();
        if self.policy.capacity == 0 {
            return;
        }
        if inner.entries.len() >= self.policy.capacity && !inner.entries.contains_key(tenant) {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(t, _)| t.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.uses += 1;
        let uses = inner.uses;
        inner
            .entries
            .insert(tenant.clone(), (status, now + ttl, uses));
    }

    /// Forgets `tenant` (this isolate just provisioned or deprovisioned it).
    pub fn invalidate(&self, tenant: &TenantId) {
        self.inner.borrow_mut().entries.remove(tenant);
    }

    /// The answer for `tenant`: kept, or loaded with `load` by exactly one of the requests that
    /// miss at the same time, the others checking for its answer after each `pause` (a short
    /// timer on Workers). A failed load is not kept.
    pub async fn get_or_load(
        &self,
        tenant: &TenantId,
        now: UnixTime,
        load: impl AsyncFnOnce() -> Result<TenantStatus, String>,
        pause: impl AsyncFn(),
    ) -> Result<TenantStatus, String> {
        if let Some(status) = self.get(tenant, now) {
            return Ok(status);
        }
        let joined = self.inner.borrow().flights.get(tenant).cloned();
        if let Some(flight) = joined {
            loop {
                if let Some(answer) = flight.borrow().clone() {
                    return answer;
                }
                pause().await;
            }
        }
        let flight: Flight = Rc::default();
        {
            let mut inner = self.inner.borrow_mut();
            inner.loads += 1;
            inner.flights.insert(tenant.clone(), flight.clone());
        }
        let answer = load().await;
        if let Ok(status) = &answer {
            self.put(tenant, *status, now);
        }
        self.inner.borrow_mut().flights.remove(tenant);
        *flight.borrow_mut() = Some(answer.clone());
        answer
    }

    /// How many loads the cache made (registry reads, on Workers): what a benchmark watches.
    pub fn loads(&self) -> u64 {
        self.inner.borrow().loads
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.borrow().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::sim::yield_once;
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    fn id(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn at(secs: i64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    #[test]
    fn kept_for_the_ttl_unknown_tenants_for_less_and_bounded() {
        let cache = TenantCache::new(CachePolicy {
            capacity: 2,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        });
        cache.put(&id("acme"), TenantStatus::Ready, at(0));
        cache.put(&id("ghost"), TenantStatus::NotFound, at(0));
        assert_eq!(cache.get(&id("acme"), at(59)), Some(TenantStatus::Ready));
        assert_eq!(cache.get(&id("ghost"), at(4)), Some(TenantStatus::NotFound));
        assert_eq!(cache.get(&id("ghost"), at(5)), None);
        assert_eq!(cache.get(&id("acme"), at(60)), None);
        // Least recently used out first.
        cache.put(&id("a"), TenantStatus::Ready, at(100));
        cache.put(&id("b"), TenantStatus::Ready, at(100));
        cache.get(&id("a"), at(101));
        cache.put(&id("c"), TenantStatus::Ready, at(102));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&id("b"), at(103)).is_none());
        assert!(cache.get(&id("a"), at(103)).is_some());
        cache.invalidate(&id("a"));
        assert!(cache.get(&id("a"), at(103)).is_none());
    }

    #[test]
    fn a_hundred_concurrent_misses_load_once() {
        let cache = TenantCache::new(CachePolicy::default());
        let loads = Cell::new(0);
        let acme = id("acme");
        let mut futures: Vec<Pin<Box<dyn Future<Output = _>>>> = (0..100)
            .map(|_| {
                Box::pin(cache.get_or_load(
                    &acme,
                    at(0),
                    async || {
                        loads.set(loads.get() + 1);
                        yield_once().await; // the registry read takes a while
                        Ok(TenantStatus::Ready)
                    },
                    yield_once,
                )) as Pin<Box<dyn Future<Output = _>>>
            })
            .collect();
        let mut done = vec![None; 100];
        let mut cx = Context::from_waker(Waker::noop());
        while done.iter().any(Option::is_none) {
            for (future, slot) in futures.iter_mut().zip(done.iter_mut()) {
                if slot.is_none() {
                    if let Poll::Ready(answer) = future.as_mut().poll(&mut cx) {
                        *slot = Some(answer);
                    }
                }
            }
        }
        assert_eq!(loads.get(), 1);
        assert_eq!(cache.loads(), 1);
        assert!(done.iter().all(|a| a == &Some(Ok(TenantStatus::Ready))));
        // Warm: no load at all.
        let warm = pollster::block_on(cache.get_or_load(
            &acme,
            at(1),
            async || unreachable_load(),
            yield_once,
        ));
        assert_eq!(warm, Ok(TenantStatus::Ready));
    }

    fn unreachable_load() -> Result<TenantStatus, String> {
        Err("a warm cache loads nothing".into())
    }

    #[test]
    fn a_failed_load_is_not_kept() {
        let cache = TenantCache::new(CachePolicy::default());
        let failed = pollster::block_on(cache.get_or_load(
            &id("acme"),
            at(0),
            async || Err("down".into()),
            yield_once,
        ));
        assert_eq!(failed, Err("down".into()));
        assert_eq!(cache.get(&id("acme"), at(0)), None);
    }
}
