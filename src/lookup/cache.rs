//! [`TenantCache`]: registry answers kept per isolate, so a warm isolate serves a tenant's
//! requests, and opens its database, with no registry read.
//!
//! Bounded in count and in bytes (least recently used out first), each answer kept for a TTL (an
//! unknown tenant for a shorter one, so a tenant provisioned elsewhere is found soon), dropped at
//! once when this isolate provisions or deprovisions the tenant. A miss loads once however many
//! requests ask at the same time: the first loads, the others wait for its answer (single
//! flight). They wait by pausing in their own request (a timer), not by being woken from the
//! loading one: workerd refuses I/O that one request's handler performs on another's behalf.
//!
//! A load in flight is marked for its tenant, and the mark is what lets it keep its answer:
//! - [`TenantCache::invalidate`] takes the mark down, so a load that read the registry before
//!   this isolate changed the tenant answers its own request but keeps nothing;
//! - the mark goes when the loading request's future is dropped (a cancelled request), so the
//!   next lookup loads at once;
//! - a mark older than [`CachePolicy::load_timeout`] holds no one up: a request that finds it
//!   loads itself, and the old load, if it ever answers, keeps nothing. On Workers this is what
//!   frees the waiters of a request that went away: its future is never dropped, only left
//!   pending forever.

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
    /// Most bytes kept: each answer counts its tenant id, database id, binding and script
    /// names, plus a fixed overhead.
    pub max_bytes: usize,
    /// How long a registered tenant's answer is kept.
    pub ttl: Duration,
    /// How long "not registered" is kept.
    pub negative_ttl: Duration,
    /// How long the requests that miss wait for another's load before one of them loads again.
    pub load_timeout: Duration,
}

impl Default for CachePolicy {
    /// 10,000 tenants within 4 MiB (about 300 bytes each with a D1 id and binding), 60 s, 5 s
    /// for unknown tenants; a load is waited for 2 s (a registry read takes milliseconds, a cold
    /// one under a second: giving up too soon costs one more read, waiting too long holds every
    /// request for the tenant).
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_bytes: 4 << 20,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            load_timeout: Duration::from_secs(2),
        }
    }
}

/// What the cache answers for a tenant: the registry's answer, and how long it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What the registry says of the tenant.
    pub lookup: Lookup,
    /// Until when the cache keeps this answer: a caller that keeps it elsewhere (the npm
    /// package, in JS) keeps it no longer. `None` when the cache does not hold it (its load was
    /// overtaken by an invalidation or by a newer load, it is larger than the whole cache, or it
    /// left the cache before a request waiting for it looked): it is for the requests that
    /// asked alone.
    pub kept_until: Option<UnixTime>,
}

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
        l.database_id.len()
            + l.binding.as_deref().map_or(0, str::len)
            + l.script.as_deref().map_or(0, str::len)
            + l.schema_group.as_deref().map_or(0, str::len)
    });
    ENTRY_OVERHEAD + tenant.as_str().len() + location
}

/// One load in flight, shared by every request that waits for it.
#[derive(Debug)]
struct Flight {
    /// A number no other load of this cache has: the tenant's generation while this load holds
    /// its mark. Only the load whose generation is the mark's keeps its answer.
    generation: u64,
    /// When the requests waiting for it give up on it.
    deadline: UnixTime,
    /// What it read, once it has; whether it was kept is the cache's to say.
    answer: RefCell<Option<Result<Lookup, String>>>,
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
    /// Each tenant's mark: the load that may keep its answer.
    flights: HashMap<TenantId, Rc<Flight>>,
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

    /// Whether `flight` is still `tenant`'s mark.
    fn marked(&self, tenant: &TenantId, flight: &Flight) -> bool {
        self.flights
            .get(tenant)
            .is_some_and(|mark| mark.generation == flight.generation)
    }
}

/// The load one request makes, holding its tenant's mark. Dropped unfinished (the request's
/// future was dropped mid-load), it takes the mark down, so the tenant's next lookup loads at
/// once instead of waiting for an answer that will never come.
struct Loading<'c> {
    cache: &'c TenantCache,
    tenant: &'c TenantId,
    flight: Rc<Flight>,
}

impl Loading<'_> {
    /// Ends the load with `answer`: kept from `started` (the registry was read after it) if the
    /// load still holds the mark, and handed to the requests waiting for it either way.
    fn finish(self, answer: Result<Lookup, String>, started: UnixTime) -> Result<Answer, String> {
        *self.flight.answer.borrow_mut() = Some(answer.clone());
        answer.map(|lookup| {
            let marked = self.cache.inner.borrow().marked(self.tenant, &self.flight);
            let kept_until = if marked {
                self.cache.put(self.tenant, lookup.clone(), started)
            } else {
                None
            };
            Answer { lookup, kept_until }
        })
    }
}

impl Drop for Loading<'_> {
    /// Takes the mark down if it is still this load's (finished or not): a newer load's mark,
    /// put up after an invalidation or a deadline, stays.
    fn drop(&mut self) {
        let mut inner = self.cache.inner.borrow_mut();
        if inner.marked(self.tenant, &self.flight) {
            inner.flights.remove(self.tenant);
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

    /// The answer kept for `tenant` at `now`, if there is one.
    pub fn get(&self, tenant: &TenantId, now: UnixTime) -> Option<Answer> {
        let mut inner = self.inner.borrow_mut();
        inner.uses += 1;
        let uses = inner.uses;
        match inner.entries.get_mut(tenant) {
            Some(entry) if now < entry.until => {
                entry.used = uses;
                Some(Answer {
                    lookup: entry.lookup.clone(),
                    kept_until: Some(entry.until),
                })
            }
            Some(_) => {
                inner.remove(tenant);
                None
            }
            None => None,
        }
    }

    /// Keeps `lookup` for `tenant` from `now`, making room by dropping the least recently used
    /// answers, and says until when. An answer larger than the whole byte budget is not kept.
    /// Private: only a load holding the tenant's mark may keep what it read.
    fn put(&self, tenant: &TenantId, lookup: Lookup, now: UnixTime) -> Option<UnixTime> {
        let ttl = match lookup.status {
            TenantStatus::NotFound => self.policy.negative_ttl,
            _ => self.policy.ttl,
        };
        let bytes = entry_bytes(tenant, &lookup);
        if self.policy.capacity == 0 || bytes > self.policy.max_bytes {
            return None;
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
        let until = now + ttl;
        let entry = Entry {
            lookup,
            until,
            used,
            bytes,
        };
        inner.entries.insert(tenant.clone(), entry);
        Some(until)
    }

    /// Forgets `tenant` (this isolate just provisioned or deprovisioned it): its kept answer, and
    /// its mark, so a load already in flight answers its own request but keeps nothing, and the
    /// next lookup loads again.
    pub fn invalidate(&self, tenant: &TenantId) {
        let mut inner = self.inner.borrow_mut();
        inner.remove(tenant);
        inner.flights.remove(tenant);
    }

    /// The answer for `tenant`: kept, or loaded with `load` by exactly one of the requests that
    /// miss at the same time. The others wait for its answer, checking after each `pause` (a
    /// short timer on Workers, which then says what time it is); if the load fails they get its
    /// error, if it is dropped or still has no answer after [`CachePolicy::load_timeout`], the
    /// first to notice loads itself. A failed load is not kept. `now` is when the request asks.
    pub async fn get_or_load(
        &self,
        tenant: &TenantId,
        mut now: UnixTime,
        load: impl AsyncFnOnce() -> Result<Lookup, String>,
        pause: impl AsyncFn() -> UnixTime,
    ) -> Result<Answer, String> {
        let mut waited: Option<Rc<Flight>> = None;
        loop {
            if let Some(answer) = self.get(tenant, now) {
                return Ok(answer);
            }
            if let Some(answer) = waited.as_ref().and_then(|f| f.answer.borrow().clone()) {
                // Not kept, or no longer (invalidated since, or pushed out): this request may
                // still use it, as it asked before, but no one is to keep it.
                return answer.map(|lookup| Answer {
                    lookup,
                    kept_until: None,
                });
            }
            let mark = self.inner.borrow().flights.get(tenant).cloned();
            match mark {
                // The mark may be a newer load's than the one waited for so far: an
                // invalidation or a deadline replaced it. Its answer is the one to wait for.
                Some(flight) if now < flight.deadline => waited = Some(flight),
                // No load in flight (the last one failed, was dropped, or was invalidated), or
                // one past its deadline: this request loads.
                _ => break,
            }
            now = pause().await;
        }
        let loading = self.start(tenant, now);
        let answer = load().await;
        loading.finish(answer, now)
    }

    /// Puts up `tenant`'s mark for a load starting at `now`, replacing a mark past its deadline.
    fn start<'c>(&'c self, tenant: &'c TenantId, now: UnixTime) -> Loading<'c> {
        let mut inner = self.inner.borrow_mut();
        inner.loads += 1;
        let flight = Rc::new(Flight {
            generation: inner.loads,
            deadline: now + self.policy.load_timeout,
            answer: RefCell::default(),
        });
        inner.flights.insert(tenant.clone(), flight.clone());
        Loading {
            cache: self,
            tenant,
            flight,
        }
    }

    /// How many loads the cache started (registry reads, on Workers): what a benchmark watches.
    pub fn loads(&self) -> u64 {
        self.inner.borrow().loads
    }

    /// How many tenants have a load in flight: none once every load ended or was dropped.
    #[cfg(test)]
    pub(super) fn marks(&self) -> usize {
        self.inner.borrow().flights.len()
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
                script: None,
                schema_group: None,
                schema_version: 0,
                group_version: 0,
                schema_held: false,
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
            Some(Answer {
                lookup: ready(Some("TENANT_ACME")),
                kept_until: Some(at(60)),
            })
        );
        assert_eq!(
            cache.get(&id("ghost"), at(4)).map(|a| a.lookup),
            Some(Lookup::NOT_FOUND)
        );
        assert_eq!(cache.get(&id("nobody"), at(0)), None);
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
                script: None,
                schema_group: None,
                schema_version: 0,
                group_version: 0,
                schema_held: false,
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
                    async || {
                        yield_once().await;
                        at(0)
                    },
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
        let kept = Answer {
            lookup: ready(None),
            kept_until: Some(at(60)),
        };
        assert!(done.iter().all(|a| a.as_ref() == Some(&Ok(kept.clone()))));
        // Warm: no load at all.
        let warm = pollster::block_on(cache.get_or_load(
            &acme,
            at(1),
            async || unreachable_load(),
            async || unreachable!("a warm cache does not wait"),
        ));
        assert_eq!(warm, Ok(kept));
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
            async || unreachable!("no one else is loading"),
        ));
        assert_eq!(failed, Err("down".into()));
        assert_eq!(cache.get(&id("acme"), at(0)), None);
    }
}
