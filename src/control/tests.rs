//! Provisioning and deprovisioning against the simulated Cloudflare API and a real SQLite
//! registry: API calls per operation, concurrent provisions, faults at each step, crashes between
//! steps (a future dropped mid-way), and databases that are not ours.

use super::*;
use crate::cloudflare::sim::{client, Fault, Sim, SimRef};
use crate::database::d1::{D1Backend, D1Options};
use crate::database::Hooks;
use crate::testing::SqliteDatabase;
use crate::{Error, TenantId, UnixTime};
use pollster::block_on;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const SCRIPT: &str = "edge-tenancy-demo";

/// The factory's settings in every test: databases bound to the demo script.
fn options() -> D1Options {
    D1Options {
        bind_to: Some(SCRIPT.into()),
        ..D1Options::default()
    }
}

fn id(s: &str) -> TenantId {
    s.parse().unwrap()
}

/// A user's hooks that fail the first `failures` times.
#[derive(Default)]
struct FlakyHooks {
    failures: Cell<u32>,
    ran: Cell<u32>,
}

impl Hooks for FlakyHooks {
    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        assert!(record.database_id.is_some(), "hooks run on a made database");
        self.ran.set(self.ran.get() + 1);
        match self.failures.get() {
            0 => Ok(()),
            n => {
                self.failures.set(n - 1);
                Err("migration 3 failed: no such table".into())
            }
        }
    }

    async fn before_deprovision(&self, _record: &TenantRecord) -> Result<(), String> {
        match self.failures.get() {
            0 => Ok(()),
            n => {
                self.failures.set(n - 1);
                Err("backup failed".into())
            }
        }
    }
}

struct World {
    sim: Sim,
    db: SqliteDatabase,
}

impl World {
    fn new() -> Self {
        let sim = Sim::new();
        // A day into 2026, so database creation times are realistic.
        sim.now.set(UnixTime::from_secs(1_767_225_600));
        let world = Self {
            sim,
            db: SqliteDatabase::in_memory(),
        };
        block_on(Registry::new(&world.db).migrate(world.now())).unwrap();
        world
    }

    fn now(&self) -> UnixTime {
        self.sim.now.get()
    }

    fn advance(&self, by: Duration) {
        self.sim.now.set(self.now() + by);
    }

    /// Runs `f` with a provisioner named `owner` over this world.
    fn with<T>(
        &self,
        owner: &str,
        hooks: &FlakyHooks,
        f: impl AsyncFnOnce(
            &Provisioner<'_, &SqliteDatabase, D1Backend<'_, SimRef<'_>, SimRef<'_>>, FlakyHooks>,
        ) -> T,
    ) -> T {
        let client = client(&self.sim);
        let backend = D1Backend::new(&client, options()).unwrap();
        let registry = Registry::new(&self.db);
        let provisioner = Provisioner::new(&registry, &backend, hooks, owner.into());
        block_on(f(&provisioner))
    }

    fn databases_named(&self, name: &str) -> Vec<String> {
        self.sim
            .databases
            .borrow()
            .iter()
            .filter(|(_, n)| n == name)
            .map(|(uuid, _)| uuid.clone())
            .collect()
    }

    fn record(&self, tenant: &str) -> Result<TenantRecord, Error> {
        block_on(Registry::new(&self.db).get(&id(tenant)))
    }

    fn bound(&self) -> Vec<String> {
        self.sim
            .bindings
            .borrow()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `acme` is ready, with exactly one database (the one the registry names), bound.
    fn assert_acme_ready_with_one_database(&self, case: &str) {
        let record = self.record("acme").unwrap();
        assert_eq!(record.state, TenantState::Ready, "{case}");
        let made = self.databases_named("tenant_acme");
        assert_eq!(made.len(), 1, "{case}: no orphaned database");
        assert_eq!(record.database_id.as_ref(), made.first(), "{case}");
        assert_eq!(self.bound(), ["TENANT_ACME"], "{case}");
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.sim.log.borrow_mut())
            .into_iter()
            .map(|(_, op)| op)
            .collect()
    }
}

#[test]
fn provision_is_one_create_and_the_binding_and_a_second_call_costs_nothing() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    let provisioned = world
        .with("p1", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        })
        .unwrap();
    assert!(!provisioned.already);
    let record = provisioned.record;
    assert_eq!(record.state, TenantState::Ready);
    assert_eq!(record.database_name.as_deref(), Some("tenant_acme"));
    assert_eq!(record.binding.as_deref(), Some("TENANT_ACME"));
    assert_eq!(record.script.as_deref(), Some(SCRIPT));
    assert_eq!(
        world.databases_named("tenant_acme"),
        [record.database_id.clone().unwrap()]
    );
    assert_eq!(world.bound(), ["TENANT_ACME"]);
    assert_eq!(
        world.calls(),
        [
            "d1.create",
            "workers.settings.get",
            "workers.settings.patch"
        ],
        "no list calls"
    );
    assert_eq!(hooks.ran.get(), 1);

    let again = world
        .with("p2", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        })
        .unwrap();
    assert_eq!(again.record, record);
    assert!(again.already);
    assert!(world.calls().is_empty(), "a ready tenant costs no API call");
    assert_eq!(hooks.ran.get(), 1);
}

/// Polls every future in turn until all are done: each simulated API call yields once, so their
/// steps interleave as concurrent requests in one isolate would.
fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    while outputs.iter().any(Option::is_none) {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                    *output = Some(value);
                }
            }
        }
    }
    outputs.into_iter().map(Option::unwrap).collect()
}

#[test]
fn twenty_concurrent_provisions_make_one_database() {
    let world = World::new();
    world.sim.yielding.set(true);
    let hooks = FlakyHooks::default();
    let client = client(&world.sim);
    let backend = D1Backend::new(&client, options()).unwrap();
    let registry = Registry::new(&world.db);
    let provisioners: Vec<_> = (0..20)
        .map(|i| Provisioner::new(&registry, &backend, &hooks, format!("p{i}")))
        .collect();
    let now = world.now();
    let acme = id("acme");
    let outcomes = join_all(
        provisioners
            .iter()
            .map(|p| p.provision(&acme, now))
            .collect(),
    );
    let ready = outcomes.iter().filter(|o| o.is_ok()).count();
    let busy = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::TenantBusy { .. })))
        .count();
    assert_eq!((ready, busy), (1, 19), "{outcomes:?}");
    assert_eq!(world.databases_named("tenant_acme").len(), 1);
    assert_eq!(
        world.calls().iter().filter(|c| *c == "d1.create").count(),
        1
    );
    assert_eq!(world.record("acme").unwrap().state, TenantState::Ready);
}

#[test]
fn api_faults_during_provisioning_end_with_one_database_or_a_retryable_failure() {
    for fault in [
        ("d1.create", Fault::Status(429, 1)),
        ("d1.create", Fault::Status(500, 0)),
        ("d1.create", Fault::Drop),
        ("d1.create", Fault::Timeout),
        ("workers.settings.get", Fault::Status(500, 0)),
        ("workers.settings.patch", Fault::Drop),
        ("workers.settings.patch", Fault::SuccessFalse),
    ] {
        let world = World::new();
        let hooks = FlakyHooks::default();
        world.sim.fault(fault.0, fault.1.clone());
        let first = world.with("p1", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        });
        if let Err(error) = &first {
            // Not ready: visible as failed with its reason, and a second call completes.
            let record = world.record("acme").unwrap();
            assert_eq!(record.state, TenantState::Failed, "{fault:?}: {error:?}");
            assert!(record.error.is_some());
            let second = world.with("p2", &hooks, async |p| {
                p.provision(&id("acme"), world.now()).await
            });
            assert!(second.is_ok(), "{fault:?}: {second:?}");
        }
        world.assert_acme_ready_with_one_database(&format!("{fault:?}"));
    }
}

#[test]
fn a_failing_hook_leaves_the_tenant_failed_never_half_ready() {
    let world = World::new();
    let hooks = FlakyHooks {
        failures: Cell::new(1),
        ..FlakyHooks::default()
    };
    let error = world
        .with("p1", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        })
        .unwrap_err();
    assert!(matches!(error, Error::HookFailed(_)));
    let body = error.to_response().body();
    assert!(
        !body.contains("no such table"),
        "the hook's detail stays in the log: {body}"
    );
    let failed = world.record("acme").unwrap();
    assert_eq!(failed.state, TenantState::Failed);
    assert_eq!(
        failed.status(),
        crate::lookup::TenantStatus::Unavailable {
            retry_after_secs: 60
        }
    );
    assert!(failed.error.unwrap().contains("migration 3 failed"));
    world.calls();
    let ready = world
        .with("p2", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        })
        .unwrap();
    assert_eq!(ready.record.state, TenantState::Ready);
    assert!(
        world.calls().is_empty(),
        "the database and binding were kept: no API call"
    );
    assert_eq!(world.databases_named("tenant_acme").len(), 1);
}

#[test]
fn a_crash_after_any_step_is_finished_by_the_next_call_once_the_lease_ends() {
    // Stop the first provisioner after 0, 1, 2, … polls (each API call is one), as if its isolate
    // died there; then provision again.
    for polls in 0..6 {
        let world = World::new();
        world.sim.yielding.set(true);
        let hooks = FlakyHooks::default();
        let client = client(&world.sim);
        let backend = D1Backend::new(&client, options()).unwrap();
        let registry = Registry::new(&world.db);
        let crashing = Provisioner::new(&registry, &backend, &hooks, "crashes".into());
        let acme = id("acme");
        {
            let mut future = Box::pin(crashing.provision(&acme, world.now()));
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..polls {
                if future.as_mut().poll(&mut cx).is_ready() {
                    break;
                }
            }
        } // dropped: the crash
        let next = Provisioner::new(&registry, &backend, &hooks, "next".into());
        let during_lease = block_on(next.provision(&id("acme"), world.now()));
        if during_lease.is_err() {
            assert!(
                matches!(during_lease, Err(Error::TenantBusy { .. })),
                "{polls}: {during_lease:?}"
            );
            world.advance(DEFAULT_LEASE + Duration::from_secs(1));
            let taken_over = block_on(next.provision(&id("acme"), world.now()));
            assert!(taken_over.is_ok(), "{polls}: {taken_over:?}");
        }
        world.assert_acme_ready_with_one_database(&format!("after {polls} polls"));
    }
}

#[test]
fn a_database_with_the_name_that_is_not_ours_is_never_adopted() {
    let world = World::new();
    world.sim.create("tenant_acme"); // made by someone else, a day before
    world.advance(Duration::from_secs(86_400));
    let hooks = FlakyHooks::default();
    let error = world
        .with("p1", &hooks, async |p| {
            p.provision(&id("acme"), world.now()).await
        })
        .unwrap_err();
    assert_eq!(error, Error::ForeignDatabase);
    assert_eq!(world.record("acme").unwrap().state, TenantState::Failed);
    assert_eq!(world.databases_named("tenant_acme").len(), 1);
    assert!(world.bound().is_empty());
}

#[test]
fn deprovisioning_unbinds_deletes_and_only_then_removes_the_row_and_resumes_after_faults() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    world
        .sim
        .bindings
        .borrow_mut()
        .push(serde_json::json!({"type": "kv_namespace", "name": "OTHER", "namespace_id": "x"}));
    for tenant in ["acme", "beta"] {
        world
            .with("p", &hooks, async |p| {
                p.provision(&id(tenant), world.now()).await
            })
            .unwrap();
    }
    assert_eq!(world.bound(), ["OTHER", "TENANT_ACME", "TENANT_BETA"]);

    // The backup hook fails: nothing is removed, the error is returned and recorded.
    hooks.failures.set(1);
    let error = world
        .with("d1", &hooks, async |p| {
            p.deprovision(&id("acme"), world.now()).await
        })
        .unwrap_err();
    assert!(matches!(error, Error::HookFailed(_)));
    let record = world.record("acme").unwrap();
    assert_eq!(record.state, TenantState::Deprovisioning);
    assert!(record.error.is_some());
    assert_eq!(world.databases_named("tenant_acme").len(), 1);

    // The delete fails: unbound already, the row stays until a retry after the lease.
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.advance(DEFAULT_LEASE + Duration::from_secs(1));
    let error = world.with("d2", &hooks, async |p| {
        p.deprovision(&id("acme"), world.now()).await
    });
    assert!(error.is_err(), "{error:?}");
    assert_eq!(world.bound(), ["OTHER", "TENANT_BETA"]);
    assert!(
        world.record("acme").is_ok(),
        "the row outlives a failed delete"
    );
    assert_eq!(
        world.with("d3", &hooks, async |p| p
            .deprovision(&id("acme"), world.now())
            .await),
        Err(Error::TenantBusy {
            retry_after_secs: 120
        }),
        "not while d2's lease runs"
    );

    world.advance(DEFAULT_LEASE + Duration::from_secs(1));
    world
        .with("d4", &hooks, async |p| {
            p.deprovision(&id("acme"), world.now()).await
        })
        .unwrap();
    assert_eq!(world.record("acme"), Err(Error::TenantNotFound));
    assert!(world.databases_named("tenant_acme").is_empty());
    assert_eq!(
        world.bound(),
        ["OTHER", "TENANT_BETA"],
        "every other binding kept"
    );
    assert_eq!(world.record("beta").unwrap().state, TenantState::Ready);
    assert_eq!(
        world.with("d5", &hooks, async |p| p
            .deprovision(&id("acme"), world.now())
            .await),
        Err(Error::TenantNotFound)
    );
}
