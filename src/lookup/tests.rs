//! The tenant cache under concurrent requests, on a fake clock, with registry reads the test
//! ends by hand: a read whose request is cancelled, one that never answers, one overtaken by
//! this isolate's own change of the tenant, and a model-based property test that mixes them
//! over several tenants.

use super::{Answer, CachePolicy, Location, Lookup, TenantCache, TenantStatus};
use crate::cloudflare::sim::yield_once;
use crate::{TenantId, UnixTime};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A registry read in flight: what it read when it began, and how it ends once the test says.
struct Read {
    /// The request whose load this is.
    owner: usize,
    version: u32,
    /// `Some(true)`: it answers; `Some(false)`: it fails.
    outcome: Cell<Option<bool>>,
}

/// The cache, a registry whose rows are version numbers, the reads in flight, and a clock.
struct World {
    cache: TenantCache,
    tenants: Vec<TenantId>,
    registry: RefCell<Vec<u32>>,
    reads: RefCell<Vec<Rc<Read>>>,
    clock: Cell<UnixTime>,
    pauses: Cell<u64>,
}

type Request<'w> = Pin<Box<dyn Future<Output = Result<Answer, String>> + 'w>>;

/// The registry's answer for a ready tenant at `version`, written in its database id.
fn row(version: u32) -> Lookup {
    Lookup {
        status: TenantStatus::Ready,
        location: Some(Location {
            database_id: version.to_string(),
            binding: None,
            script: None,
            schema_group: None,
            schema_version: 0,
            group_version: 0,
            schema_held: false,
        }),
    }
}

fn version(answer: &Answer) -> u32 {
    let location = answer.lookup.location.as_ref().expect("a ready tenant");
    location.database_id.parse().expect("a version")
}

fn poll(request: &mut Request<'_>) -> Poll<Result<Answer, String>> {
    request
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

impl World {
    fn new(tenants: usize, policy: CachePolicy) -> Self {
        Self {
            cache: TenantCache::new(policy),
            tenants: (0..tenants)
                .map(|t| format!("t{t}").parse().unwrap())
                .collect(),
            registry: RefCell::new(vec![0; tenants]),
            reads: RefCell::default(),
            clock: Cell::new(UnixTime::from_secs(1_000)),
            pauses: Cell::new(0),
        }
    }

    /// Request `owner` looking tenant `t` up now: a registry read if it loads, a pause (one
    /// poll, the clock as the test moves it) while it waits.
    fn ask(&self, t: usize, owner: usize) -> Request<'_> {
        Box::pin(self.cache.get_or_load(
            &self.tenants[t],
            self.clock.get(),
            async move || self.read(t, owner).await,
            async || {
                self.pauses.set(self.pauses.get() + 1);
                yield_once().await;
                self.clock.get()
            },
        ))
    }

    /// Reads tenant `t`'s row as it is now, and answers with it once the test says.
    async fn read(&self, t: usize, owner: usize) -> Result<Lookup, String> {
        let read = Rc::new(Read {
            owner,
            version: self.registry.borrow()[t],
            outcome: Cell::new(None),
        });
        self.reads.borrow_mut().push(read.clone());
        let answers = poll_fn(|_| read.outcome.get().map_or(Poll::Pending, Poll::Ready)).await;
        if answers {
            Ok(row(read.version))
        } else {
            Err("the registry failed".into())
        }
    }

    /// Ends the `i`th read still in flight (modulo how many; a cancelled request's read is
    /// gone), oldest first.
    fn end_read(&self, i: usize, answers: bool) {
        let mut reads = self.reads.borrow_mut();
        reads.retain(|read| Rc::strong_count(read) > 1);
        if !reads.is_empty() {
            let i = i % reads.len();
            let read = reads.remove(i);
            read.outcome.set(Some(answers));
        }
    }

    /// This isolate changes tenant `t` (a provision or deprovision): a new row, then the cache
    /// told, as the factories do.
    fn change(&self, t: usize) {
        self.registry.borrow_mut()[t] += 1;
        self.cache.invalidate(&self.tenants[t]);
    }

    fn tick(&self, ms: u64) {
        self.clock.set(self.clock.get() + Duration::from_millis(ms));
    }

    fn reads_in_flight(&self) -> usize {
        let mut reads = self.reads.borrow_mut();
        reads.retain(|read| Rc::strong_count(read) > 1);
        reads.len()
    }
}

#[test]
fn a_cancelled_load_leaves_no_mark_and_the_next_lookup_loads_at_once() {
    let w = World::new(2, CachePolicy::default());
    // Alone: dropped mid-read, then a new request reads at its first poll, with no pause.
    let mut first = w.ask(0, 0);
    assert!(poll(&mut first).is_pending());
    drop(first);
    assert_eq!(w.cache.marks(), 0);
    let mut next = w.ask(0, 1);
    assert!(poll(&mut next).is_pending());
    assert_eq!(
        (w.cache.loads(), w.pauses.get(), w.reads_in_flight()),
        (2, 0, 1)
    );
    w.end_read(0, true);
    let answer = poll(&mut next).map(Result::unwrap);
    assert!(matches!(
        answer,
        Poll::Ready(Answer {
            kept_until: Some(_),
            ..
        })
    ));

    // With a request waiting for it: the waiter's next check (no time passed) loads itself.
    let mut first = w.ask(1, 2);
    let mut waiting = w.ask(1, 3);
    assert!(poll(&mut first).is_pending() && poll(&mut waiting).is_pending());
    assert_eq!((w.cache.loads(), w.pauses.get()), (3, 1));
    drop(first);
    assert!(poll(&mut waiting).is_pending());
    assert_eq!(
        (w.cache.loads(), w.pauses.get(), w.reads_in_flight()),
        (4, 1, 1)
    );
    w.end_read(0, true);
    assert!(matches!(poll(&mut waiting), Poll::Ready(Ok(_))));
    assert_eq!(w.cache.marks(), 0);
}

#[test]
fn a_load_past_its_deadline_holds_no_one_up_and_keeps_nothing_when_it_answers() {
    let w = World::new(1, CachePolicy::default());
    let mut hung = w.ask(0, 0);
    assert!(poll(&mut hung).is_pending());
    // The row changes elsewhere (another isolate): the hung read holds the old one.
    w.registry.borrow_mut()[0] = 1;
    let started = w.clock.get();
    let mut waiting = w.ask(0, 1);
    // Each pause is a millisecond: the waiter loads itself at the deadline, not before.
    loop {
        assert!(poll(&mut waiting).is_pending());
        if w.cache.loads() == 2 {
            break;
        }
        assert!(w.pauses.get() < 10_000, "the waiter never loaded");
        w.tick(1);
    }
    assert_eq!(w.clock.get().since(started), Duration::from_secs(2));
    assert_eq!(w.pauses.get(), 2000);
    // A request arriving now waits for the new read, not the hung one.
    let mut later = w.ask(0, 2);
    assert!(poll(&mut later).is_pending());
    assert_eq!(w.cache.loads(), 2);
    w.end_read(1, true);
    let Poll::Ready(Ok(fresh)) = poll(&mut waiting) else {
        panic!("the read it made answered")
    };
    assert_eq!((version(&fresh), fresh.kept_until.is_some()), (1, true));
    assert!(matches!(poll(&mut later), Poll::Ready(Ok(ref a)) if a == &fresh));

    // The hung read answers at last: its own request gets what it read; nothing is kept of it.
    w.end_read(0, true);
    let Poll::Ready(Ok(old)) = poll(&mut hung) else {
        panic!("its read answered")
    };
    assert_eq!((version(&old), old.kept_until), (0, None));
    assert_eq!(w.cache.get(&w.tenants[0], w.clock.get()), Some(fresh));
    assert_eq!(w.cache.marks(), 0);
}

#[test]
fn a_load_begun_before_an_invalidation_answers_its_request_and_keeps_nothing() {
    let w = World::new(1, CachePolicy::default());
    let mut before = w.ask(0, 0);
    let mut waiting = w.ask(0, 1);
    assert!(poll(&mut before).is_pending() && poll(&mut waiting).is_pending());
    w.change(0);
    // The waiter's next check finds no load to wait for: it reads the changed row itself.
    assert!(poll(&mut waiting).is_pending());
    assert_eq!((w.cache.loads(), w.reads_in_flight()), (2, 2));
    // The read from before the change answers its own request; nothing is kept, and the mark
    // of the read after the change stays up.
    w.end_read(0, true);
    let Poll::Ready(Ok(old)) = poll(&mut before) else {
        panic!("its read answered")
    };
    assert_eq!((version(&old), old.kept_until), (0, None));
    assert_eq!(w.cache.get(&w.tenants[0], w.clock.get()), None);
    assert_eq!(w.cache.marks(), 1);
    // A request arriving now waits for that read, and gets the changed row.
    let mut after = w.ask(0, 2);
    assert!(poll(&mut after).is_pending());
    w.end_read(0, true);
    for request in [&mut waiting, &mut after] {
        let Poll::Ready(Ok(answer)) = poll(request) else {
            panic!("the read after the change answered")
        };
        assert_eq!((version(&answer), answer.kept_until.is_some()), (1, true));
    }
    assert_eq!(w.cache.loads(), 2);

    // Alone: the lookup after the invalidation reads again.
    w.change(0);
    let mut alone = w.ask(0, 3);
    assert!(poll(&mut alone).is_pending());
    w.change(0);
    w.end_read(0, true);
    let Poll::Ready(Ok(old)) = poll(&mut alone) else {
        panic!("its read answered")
    };
    assert_eq!((version(&old), old.kept_until), (2, None));
    let mut next = w.ask(0, 4);
    assert!(poll(&mut next).is_pending());
    assert_eq!(w.cache.loads(), 4);
    w.end_read(0, true);
    let Poll::Ready(Ok(answer)) = poll(&mut next) else {
        panic!("it read again")
    };
    assert_eq!((version(&answer), answer.kept_until.is_some()), (3, true));
}

mod model {
    //! Many requests for a few tenants, their reads answering, failing or hanging in any order,
    //! some cancelled, the tenants changed by this isolate at random, the clock moving past
    //! deadlines and TTLs. After every step, what the cache keeps is the registry's current row;
    //! every answer is at least as new as the row when its request asked; and at the end, with
    //! the reads then in flight lost for good, every request but theirs gets an answer within the
    //! load timeout, and no mark is left once those are dropped.

    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const TENANTS: usize = 4;

    #[derive(Debug, Clone)]
    enum Step {
        /// A new request looks tenant `.0` up.
        Ask(usize),
        /// One of the requests (modulo how many) goes on as far as it can.
        Poll(usize),
        /// One of the reads in flight answers (`true`) or fails.
        EndRead(usize, bool),
        /// One of the requests is cancelled: its future dropped wherever it is.
        Cancel(usize),
        /// This isolate provisions or deprovisions tenant `.0`.
        Change(usize),
        /// Time passes (ms): under a pause, past the load timeout, past the TTL.
        Tick(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..TENANTS).prop_map(Step::Ask),
            6 => (0..32usize).prop_map(Step::Poll),
            3 => (0..32usize, proptest::bool::weighted(0.8))
                .prop_map(|(i, answers)| Step::EndRead(i, answers)),
            1 => (0..32usize).prop_map(Step::Cancel),
            1 => (0..TENANTS).prop_map(Step::Change),
            1 => prop_oneof![Just(1u64), Just(700), Just(2_500), Just(61_000)].prop_map(Step::Tick),
        ]
    }

    /// A request, with the registry's row for its tenant when it asked.
    struct Asked<'w> {
        id: usize,
        tenant: usize,
        floor: u32,
        request: Request<'w>,
    }

    /// What a request got: nothing older than the row when it asked, and kept only if it is the
    /// row now (every change tells the cache).
    fn check(
        w: &World,
        asked: &Asked<'_>,
        answer: Result<Answer, String>,
    ) -> Result<(), TestCaseError> {
        if let Ok(answer) = answer {
            let now = w.registry.borrow()[asked.tenant];
            prop_assert!(
                version(&answer) >= asked.floor,
                "request {} got a row older than it asked for",
                asked.id
            );
            if answer.kept_until.is_some() {
                prop_assert_eq!(
                    version(&answer),
                    now,
                    "request {} was told to keep a stale row",
                    asked.id
                );
            }
        }
        Ok(())
    }

    /// Polls request `i`, checking and removing it once it has its answer.
    fn poll_one(w: &World, asked: &mut Vec<Asked<'_>>, i: usize) -> Result<(), TestCaseError> {
        if let Poll::Ready(answer) = poll(&mut asked[i].request) {
            let done = asked.remove(i);
            check(w, &done, answer)?;
        }
        Ok(())
    }

    fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let policy = CachePolicy {
            capacity: 3, // fewer than the tenants: answers are pushed out too
            ..CachePolicy::default()
        };
        let timeout = policy.load_timeout;
        let w = World::new(TENANTS, policy);
        let mut asked: Vec<Asked<'_>> = Vec::new();
        for (id, step) in steps.iter().enumerate() {
            match *step {
                Step::Ask(tenant) => asked.push(Asked {
                    id,
                    tenant,
                    floor: w.registry.borrow()[tenant],
                    request: w.ask(tenant, id),
                }),
                Step::Poll(i) if !asked.is_empty() => {
                    let i = i % asked.len();
                    poll_one(&w, &mut asked, i)?;
                }
                Step::EndRead(i, answers) => w.end_read(i, answers),
                Step::Cancel(i) if !asked.is_empty() => {
                    let i = i % asked.len();
                    drop(asked.remove(i));
                }
                Step::Change(tenant) => w.change(tenant),
                Step::Tick(ms) => w.tick(ms),
                Step::Poll(_) | Step::Cancel(_) => {}
            }
            for (t, tenant) in w.tenants.iter().enumerate() {
                if let Some(kept) = w.cache.get(tenant, w.clock.get()) {
                    prop_assert_eq!(
                        version(&kept),
                        w.registry.borrow()[t],
                        "a stale row is kept for t{}",
                        t
                    );
                }
            }
        }

        // The reads in flight now never answer. Every other request gets its answer within the
        // load timeout, the reads begun from now on answering at once.
        let lost: Vec<Rc<Read>> = std::mem::take(&mut *w.reads.borrow_mut());
        let rounds = timeout.as_millis() as u64 / 10 + 3;
        for _ in 0..rounds {
            for i in (0..asked.len()).rev() {
                poll_one(&w, &mut asked, i)?;
            }
            while w.reads_in_flight() > 0 {
                w.end_read(0, true);
            }
            w.tick(10);
        }
        let hanging: HashSet<usize> = lost
            .iter()
            .filter(|read| Rc::strong_count(read) > 1)
            .map(|read| read.owner)
            .collect();
        for left in &asked {
            prop_assert!(
                hanging.contains(&left.id),
                "request {} is still waiting",
                left.id
            );
        }
        asked.clear();
        prop_assert_eq!(w.cache.marks(), 0, "a mark outlived its load");

        // And a request now gets the registry's current row, kept or read again.
        for (t, tenant) in w.tenants.iter().enumerate() {
            let mut request = w.ask(t, usize::MAX);
            let answer = loop {
                if let Poll::Ready(answer) = poll(&mut request) {
                    break answer;
                }
                w.end_read(0, true);
            };
            prop_assert_eq!(
                answer.map(|a| version(&a)),
                Ok(w.registry.borrow()[t]),
                "t{} ({})",
                t,
                tenant
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn no_stale_row_is_served_after_an_invalidation_and_no_one_waits_forever(
            steps in proptest::collection::vec(step(), 1..80)
        ) {
            run(&steps)?;
        }
    }
}
