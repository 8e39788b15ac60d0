//! Sixty tenants queued at once, drained by drivers in turn under a small API budget: every one
//! ends ready with exactly one database, oldest first, no drain past the budget; a failure that
//! may pass is tried again after a while, one that will not stays failed with its reason; a
//! tenant too long for a database name queues nothing; the synchronous path takes a queued
//! tenant at once.

use super::*;

use crate::cloudflare::sim::{client, Fault, Sim, SimTimers};
use crate::cloudflare::{BudgetConfig, ClientOptions, RetryPolicy};
use crate::control::{Provisioner, TenantState};
use crate::database::d1::{D1Backend, D1Options};
use crate::lookup::TenantStatus;
use crate::testing::SqliteDatabase;
use pollster::block_on;

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

/// A budget of `limit` calls per minute.
fn options(limit: u32) -> ClientOptions {
    ClientOptions {
        budget: BudgetConfig {
            limit,
            window_secs: 60,
            max_wait_ms: 0,
        },
        ..ClientOptions::default()
    }
}

#[test]
fn sixty_queued_tenants_all_end_ready_once_oldest_first_within_the_budget() {
    let sim = Sim::new();
    sim.now.set(UnixTime::from_secs(1_767_225_600));
    let db = SqliteDatabase::in_memory();
    let registry = Registry::new(&db);
    block_on(registry.migrate(sim.now.get())).unwrap();
    let api = client(&sim).with_options(options(40));
    let d1 = D1Options {
        bind_to: Some("demo".into()),
        ..D1Options::default()
    };
    let backend = D1Backend::new(&api, d1).unwrap();
    let timers = SimTimers(&sim);
    let provisioner = Provisioner::new(&registry, &backend, &(), &timers, "drainer".into());

    let tenants: Vec<TenantId> = (0..60).map(|i| id(&format!("t{i:02}"))).collect();
    // In two calls, the second repeating some: each is queued once.
    let first = block_on(provisioner.enqueue(&tenants[..40])).unwrap();
    sim.now.set(sim.now.get() + Duration::from_millis(1));
    let second = block_on(provisioner.enqueue(&tenants[30..])).unwrap();
    assert_eq!((first.len(), second.len()), (40, 20));
    let status = block_on(registry.queue_status(sim.now.get())).unwrap();
    assert_eq!((status.length, status.retrying), (60, 0));
    // Queued: its requests wait.
    let lookup = block_on(registry.lookup(&tenants[0])).unwrap();
    assert!(matches!(lookup.status, TenantStatus::Unavailable { .. }));

    // Drivers in turn, each stopping where the budget has no room, the clock moving on.
    let mut order = Vec::new();
    for round in 0.. {
        assert!(round < 100, "the queue did not drain");
        let calls_before = sim.log.borrow().len();
        let until = sim.now.get() + Duration::from_secs(30);
        let drained =
            block_on(provisioner.drain(until, 1_000, |calls| api.room_for(calls))).unwrap();
        assert!(drained.failed.is_empty(), "{:?}", drained.failed);
        let calls = sim.log.borrow().len() - calls_before;
        assert!(
            calls <= 40,
            "round {round}: {calls} API calls in one budget window"
        );
        order.extend(drained.ready);
        if drained.stopped == "empty" {
            break;
        }
        assert_eq!(drained.stopped, "budget");
        assert!(drained.wait_ms > 0);
        sim.now
            .set(sim.now.get() + Duration::from_millis(drained.wait_ms));
    }
    assert_eq!(order, tenants, "each once, oldest first");
    for tenant in &tenants {
        let record = block_on(registry.get(tenant)).unwrap();
        assert_eq!(record.state, TenantState::Ready, "{tenant}");
        assert_eq!(record.error_code, None);
        let made = sim
            .databases
            .borrow()
            .iter()
            .filter(|(_, name)| record.database_name.as_ref() == Some(name))
            .count();
        assert_eq!(made, 1, "{tenant}: one database");
    }
    assert_eq!(sim.databases.borrow().len(), 60);
    // Bound in batches: one change of the Worker's list for many tenants.
    assert_eq!(sim.bindings_of("demo").len(), 60);
    let calls = sim.log.borrow().len();
    assert!(calls * 10 <= 60 * 12, "{calls} API calls for 60 tenants");
    assert_eq!(
        block_on(registry.queue_status(sim.now.get()))
            .unwrap()
            .length,
        0
    );
}

#[test]
fn a_failure_that_may_pass_is_tried_again_later_and_one_that_will_not_stays_failed() {
    let sim = Sim::new();
    sim.now.set(UnixTime::from_secs(1_767_225_600));
    let db = SqliteDatabase::in_memory();
    let registry = Registry::new(&db);
    block_on(registry.migrate(sim.now.get())).unwrap();
    // One try per call, so that one fault fails one tenant.
    let api = client(&sim).with_options(ClientOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    });
    let backend = D1Backend::new(&api, D1Options::default()).unwrap();
    let timers = SimTimers(&sim);
    let provisioner = Provisioner::new(&registry, &backend, &(), &timers, "drainer".into());
    let (acme, globex) = (id("acme"), id("globex"));
    block_on(provisioner.enqueue(&[acme.clone(), globex.clone()])).unwrap();

    // The API is down for acme's creation.
    sim.fault("d1.create", Fault::Status(503, 0));
    let room = |calls| api.room_for(calls);
    let until = sim.now.get() + Duration::from_secs(600);
    let drained = block_on(provisioner.drain(until, 10, room)).unwrap();
    assert_eq!(drained.failed.len(), 1, "{drained:?}");
    assert_eq!(
        drained.failed[0],
        Failure {
            tenant: acme.clone(),
            code: "upstream_unavailable".into()
        }
    );
    assert_eq!(drained.ready, vec![globex.clone()]);
    assert_eq!(
        drained.stopped, "empty",
        "acme waits before it is tried again"
    );
    let status = block_on(registry.queue_status(sim.now.get())).unwrap();
    assert_eq!((status.length, status.retrying), (1, 1));

    sim.faults.borrow_mut().clear();
    sim.now.set(sim.now.get() + RETRY_AFTER);
    let drained =
        block_on(provisioner.drain(sim.now.get() + Duration::from_secs(60), 10, room)).unwrap();
    assert_eq!(drained.ready, vec![acme.clone()]);
    assert_eq!(
        block_on(registry.get(&acme)).unwrap().state,
        TenantState::Ready
    );

    // A lasting failure (the account's database limit) stays failed, with its reason.
    let initech = id("initech");
    block_on(provisioner.enqueue(std::slice::from_ref(&initech))).unwrap();
    sim.fault("d1.create", Fault::Status(400, 0));
    let drained =
        block_on(provisioner.drain(sim.now.get() + Duration::from_secs(60), 10, room)).unwrap();
    assert_eq!(drained.failed.len(), 1, "{drained:?}");
    sim.now.set(sim.now.get() + RETRY_AFTER * 10);
    let again =
        block_on(provisioner.drain(sim.now.get() + Duration::from_secs(60), 10, room)).unwrap();
    assert_eq!(
        (
            again.ready.len(),
            again.failed.len(),
            again.stopped.as_str()
        ),
        (0, 0, "empty")
    );
    let record = block_on(registry.get(&initech)).unwrap();
    assert_eq!(record.state, TenantState::Failed);
    assert!(record.error.is_some());
}

#[test]
fn an_id_too_long_queues_nothing_and_provision_takes_a_queued_tenant_at_once() {
    let sim = Sim::new();
    let db = SqliteDatabase::in_memory();
    let registry = Registry::new(&db);
    block_on(registry.migrate(sim.now.get())).unwrap();
    let api = client(&sim);
    let backend = D1Backend::new(&api, D1Options::default()).unwrap();
    let timers = SimTimers(&sim);
    let provisioner = Provisioner::new(&registry, &backend, &(), &timers, "p".into());
    let long = id(&"x".repeat(60));
    let refused = block_on(provisioner.enqueue(&[id("acme"), long])).unwrap_err();
    assert_eq!(refused.to_response().status, 400);
    assert_eq!(
        block_on(registry.queue_status(sim.now.get()))
            .unwrap()
            .length,
        0
    );

    block_on(provisioner.enqueue(&[id("acme")])).unwrap();
    let made = block_on(provisioner.provision(&id("acme"))).unwrap();
    assert_eq!(
        (made.record.state, made.already),
        (TenantState::Ready, false)
    );
    assert_eq!(
        block_on(registry.queue_status(sim.now.get()))
            .unwrap()
            .length,
        0
    );
}

#[test]
fn a_drain_that_dies_midway_is_finished_by_the_next_once_the_lease_lapses() {
    // The drain is stopped after 1, 2, … polls (each API call yields once), as if its isolate
    // died there; the next drains finish the queue, each tenant with one database.
    for polls in 1..6 {
        let sim = Sim::new();
        sim.now.set(UnixTime::from_secs(1_767_225_600));
        sim.yielding.set(true);
        let db = SqliteDatabase::in_memory();
        let registry = Registry::new(&db);
        block_on(registry.migrate(sim.now.get())).unwrap();
        let api = client(&sim);
        let d1 = D1Options {
            bind_to: Some("demo".into()),
            ..D1Options::default()
        };
        let backend = D1Backend::new(&api, d1).unwrap();
        let timers = SimTimers(&sim);
        let tenants = [id("acme"), id("globex"), id("initech")];
        let first = Provisioner::new(&registry, &backend, &(), &timers, "dies".into());
        block_on(first.enqueue(&tenants)).unwrap();
        let room = |calls| api.room_for(calls);
        {
            let until = sim.now.get() + Duration::from_secs(60);
            let mut drain = Box::pin(first.drain(until, 10, room));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            for _ in 0..polls {
                if std::future::Future::poll(drain.as_mut(), &mut cx).is_ready() {
                    break;
                }
            }
        } // dropped: the crash
        let next = Provisioner::new(&registry, &backend, &(), &timers, "next".into());
        // A lock the dead drain held (the Worker's bindings) is waited for: the clock moves on
        // while the next drain waits.
        let run = |until: UnixTime| {
            let mut drain = Box::pin(next.drain(until, 10, room));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            loop {
                match std::future::Future::poll(drain.as_mut(), &mut cx) {
                    std::task::Poll::Ready(drained) => break drained.unwrap(),
                    std::task::Poll::Pending => {
                        sim.now.set(sim.now.get() + Duration::from_millis(100));
                    }
                }
            }
        };
        run(sim.now.get() + Duration::from_secs(600));
        // The tenant it died on is held by its lease until it lapses, then finished.
        sim.now
            .set(sim.now.get() + crate::control::DEFAULT_LEASE + Duration::from_secs(1));
        run(sim.now.get() + Duration::from_secs(600));
        for tenant in &tenants {
            let record = block_on(registry.get(tenant)).unwrap();
            assert_eq!(
                record.state,
                TenantState::Ready,
                "after {polls} polls: {tenant}"
            );
            let name = record.database_name.unwrap();
            let made = sim
                .databases
                .borrow()
                .iter()
                .filter(|(_, n)| *n == name)
                .count();
            assert_eq!(made, 1, "after {polls} polls: {tenant} has one database");
        }
        assert_eq!(
            block_on(registry.queue_status(sim.now.get()))
                .unwrap()
                .length,
            0
        );
    }
}

#[test]
fn the_passing_codes_are_those_of_the_errors_that_may_pass() {
    use crate::cloudflare::{ApiError, TransportError};
    let passing = [
        Error::Upstream(ApiError::Transport(TransportError::Connection(
            "reset".into(),
        ))),
        Error::Upstream(ApiError::RateLimited { retry_after: None }),
        Error::Upstream(ApiError::Transport(TransportError::Timeout)),
        Error::Upstream(ApiError::OutcomeUnknown(TransportError::Timeout)),
        Error::Upstream(ApiError::BudgetExhausted { retry_after_ms: 1 }),
        Error::Storage(crate::sql::SqlError("busy".into())),
        Error::LookupUnavailable,
        Error::TenantBusy {
            retry_after_secs: 1,
        },
        Error::LeaseLost,
    ];
    let mut codes: Vec<&str> = passing.iter().map(|e| e.to_response().code).collect();
    let mut listed = PASSING.to_vec();
    codes.sort_unstable();
    listed.sort_unstable();
    assert_eq!(codes, listed);
}
