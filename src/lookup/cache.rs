//! [`TenantCache`]: registry answers kept per isolate, so a warm isolate serves a tenant's
//! requests, and opens its database, with no registry read.
//!
//! Bounded in count and in bytes (least recently used out first), each answer kept for a TTL (an
//! unknown tenant for a shorter one, so a tenant provisioned elsewhere is found soon), dropped at
//! once when this isolate provisions or deprovisions the tenant. A miss loads once however many
//! requests ask at the same time: the first loads, the others wait for its answer (single
//! flight). They wait by pausing in their own request (a timer), not by being woken from the
//! loading one: workerd refuses I/O that one request's handler performs on another's behalf.

use super::{Lookup, TenantStatus};
use crate::{TenantId, UnixTime};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The bytes one entry is counted for besides its strings: the map's slot, the answer's fixed
/// part and the bookkeeping.
const ENTRY_OVERHEAD: usize = 128;

/// How the cache keeps answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Most tenants kept.
    pub capacity: usize,
    /// Most bytes kept: each answer counts its tenant id, database id and binding name, plus a
    /// fixed overhead.
    pub max_bytes: usize,
    /// How long a registered tenant's answer is kept.
    pub ttl: Duration,
    /// How long "not registered" is kept.
    pub negative_ttl: Duration,
}

impl Default for CachePolicy {
    /// 10,000 tenants within 4 MiB (about 300 bytes each with a D1 id and binding), 60 s, 5 s
    /// for unknown tenants.
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_bytes: 4 << 20,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        }
    }
}

/// One load in flight, shared by every request that waits for it: its answer once it has one.
type Flight = Rc<RefCell<Option<Result<Lookup, String>>>>;

/// A kept answer.
#[derive(Debug)]
struct Entry {
    lookup: Lookup,
    until: UnixTime,
    /// The use counter at its last use, for least-recently-used eviction.
    used: u64,
    /// What it counts against [`CachePolicy::max_bytes`].
    bytes: usize,
}

/// The bytes `lookup` for `tenant` counts for.
fn entry_bytes(tenant: &TenantId, lookup: &Lookup) -> usize {
    let location = lookup.location.as_ref().map_or(0, |l| {
        l.database_id.len() + l.binding.as_deref().map_or(0, str::len)
    });
    ENTRY_OVERHEAD + tenant.as_str().len() + location
}

/// The cache.
#[derive(Debug, Default)]
pub struct TenantCache {
    policy: CachePolicy,
    inner: RefCell<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<TenantId, Entry>,
    flights: HashMap<TenantId, Flight>,
    bytes: usize,
    uses: u64,
    loads: u64,
}

impl Inner {
    fn remove(&mut self, tenant: &TenantId) {
        if let Some(entry) = self.entries.remove(tenant) {
            self.bytes -= entry.bytes;
        }
    }
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
    pub fn get(&self, tenant: &TenantId, now: UnixTime) -> Option<Lookup> {
        let mut inner = self.inner.borrow_mut();
        inner.uses += 1;
        let uses = inner.uses;
        match inner.entries.get_mut(tenant) {
            Some(entry) if now < entry.until => {
                entry.used = uses;
                Some(entry.lookup.clone())
            }
            Some(_) => {
                inner.remove(tenant);
                None
            }
            None => None,
        }
    }

    /// Until when the answer kept for `tenant` holds (`None`: none is kept at `now`): a caller
    /// that keeps it elsewhere (the npm package, in JS) keeps it no longer.
    pub fn kept_until(&self, tenant: &TenantId, now: UnixTime) -> Option<UnixTime> {
        let inner = self.inner.borrow();
        inner
            .entries
            .get(tenant)
            .map(|entry| entry.until)
            .filter(|until| now < *until)
    }

    /// Keeps `lookup` for `tenant` from `now`, making room by dropping the least recently used
    /// answers. An answer larger than the whole byte budget is not kept.
    pub fn put(&self, tenant: &TenantId, lookup: Lookup, now: UnixTime) {
        let ttl = match lookup.status {
            TenantStatus::NotFound => self.policy.negative_ttl,
            _ => self.policy.ttl,
        };
        let bytes = entry_bytes(tenant, &lookup);
        if self.policy.capacity == 0 || bytes > self.policy.max_bytes {
            return;
        }
        let mut inner = self.inner.borrow_mut();
        inner.remove(tenant);
        while inner.entries.len() >= self.policy.capacity
            || inner.bytes + bytes > self.policy.max_bytes
        {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(t, _)| t.clone());
            match oldest {
                Some(oldest) => inner.remove(&oldest),
                None => break,
            }
        }
        inner.uses += 1;
        let used = inner.uses;
        inner.bytes += bytes;
        let entry = Entry {
            lookup,
            until: now + ttl,
            used,
            bytes,
        };
        inner.entries.insert(tenant.clone(), entry);
    }

    /// Forgets `tenant` (this isolate just provisioned or deprovisioned it).
    pub fn invalidate(&self, tenant: &TenantId) {
        self.inner.borrow_mut().remove(tenant);
    }

    /// The answer for `tenant`: kept, or loaded with `load` by exactly one of the requests that
    /// miss at the same time, the others checking for its answer after each `pause` (a short
    /// timer on Workers). A failed load is not kept.
    pub async fn get_or_load(
        &self,
        tenant: &TenantId,
        now: UnixTime,
        load: impl AsyncFnOnce() -> Result<Lookup, String>,
        pause: impl AsyncFn(),
    ) -> Result<Lookup, String> {
        if let Some(lookup) = self.get(tenant, now) {
            return Ok(lookup);
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
        if let Ok(lookup) = &answer {
            self.put(tenant, lookup.clone(), now);
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

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner.borrow().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::sim::yield_once;
    use crate::lookup::Location;
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

    /// A ready tenant's answer, its database bound as `binding`.
    fn ready(binding: Option<&str>) -> Lookup {
        Lookup {
            status: TenantStatus::Ready,
            location: Some(Location {
                database_id: "6f8d2a51-2b7e-4c1e-9d4b-0b3e5f6a7c8d".into(),
                binding: binding.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn kept_for_the_ttl_unknown_tenants_for_less_and_bounded() {
        let cache = TenantCache::new(CachePolicy {
            capacity: 2,
            ..CachePolicy::default()
        });
        cache.put(&id("acme"), ready(Some("TENANT_ACME")), at(0));
        cache.put(&id("ghost"), Lookup::NOT_FOUND, at(0));
        assert_eq!(
            cache.get(&id("acme"), at(59)),
            Some(ready(Some("TENANT_ACME")))
        );
        assert_eq!(cache.get(&id("ghost"), at(4)), Some(Lookup::NOT_FOUND));
        assert_eq!(cache.kept_until(&id("acme"), at(30)), Some(at(60)));
        assert_eq!(cache.kept_until(&id("acme"), at(60)), None);
        assert_eq!(cache.kept_until(&id("nobody"), at(0)), None);
        assert_eq!(cache.get(&id("ghost"), at(5)), None);
        assert_eq!(cache.get(&id("acme"), at(60)), None);
        // Least recently used out first.
        cache.put(&id("a"), ready(None), at(100));
        cache.put(&id("b"), ready(None), at(100));
        cache.get(&id("a"), at(101));
        cache.put(&id("c"), ready(None), at(102));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&id("b"), at(103)).is_none());
        assert!(cache.get(&id("a"), at(103)).is_some());
        cache.invalidate(&id("a"));
        assert!(cache.get(&id("a"), at(103)).is_none());
    }

    #[test]
    fn bounded_in_bytes_counting_the_strings() {
        let long = |n: usize| Lookup {
            status: TenantStatus::Ready,
            location: Some(Location {
                database_id: "d".repeat(n),
                binding: Some("B".repeat(n)),
            }),
        };
        let each = ENTRY_OVERHEAD + 1 + 2000;
        let cache = TenantCache::new(CachePolicy {
            max_bytes: 3 * each,
            ..CachePolicy::default()
        });
        for name in ["a", "b", "c", "d"] {
            cache.put(&id(name), long(1000), at(0));
        }
        assert_eq!(cache.len(), 3, "the fourth answer pushed the oldest out");
        assert!(cache.get(&id("a"), at(1)).is_none());
        assert_eq!(cache.bytes(), 3 * each);
        // Replacing an answer counts it once; forgetting one gives its bytes back.
        cache.put(&id("b"), long(1000), at(1));
        assert_eq!((cache.len(), cache.bytes()), (3, 3 * each));
        cache.invalidate(&id("b"));
        assert_eq!(cache.bytes(), 2 * each);
        // An answer larger than the whole budget is not kept and pushes nothing out.
        cache.put(&id("e"), long(10_000), at(1));
        assert_eq!((cache.len(), cache.bytes()), (2, 2 * each));
        assert!(cache.get(&id("e"), at(1)).is_none());
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
                        Ok(ready(None))
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
        assert!(done.iter().all(|a| a == &Some(Ok(ready(None)))));
        // Warm: no load at all.
        let warm = pollster::block_on(cache.get_or_load(
            &acme,
            at(1),
            async || unreachable_load(),
            yield_once,
        ));
        assert_eq!(warm, Ok(ready(None)));
    }

    fn unreachable_load() -> Result<Lookup, String> {
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
