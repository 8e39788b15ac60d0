//! Provisioning and deprovisioning against the simulated Cloudflare API and a real SQLite
//! registry: API calls per operation, concurrent provisions, faults at each step, crashes between
//! steps (a future dropped mid-way), and databases that are not ours.

use super::*;
use crate::cloudflare::sim::{client, Fault, Sim, SimRef, SimTimers};
use crate::database::d1::{D1Backend, D1Options};
use crate::database::Hooks;
use crate::testing::SqliteDatabase;
use crate::{Error, TenantId, UnixTime};
use pollster::block_on;
use std::cell::{Cell, RefCell};
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
    /// Each restore: (database id, backup), and whether `after_provision` had run before it.
    restored: RefCell<Vec<(String, String, u32)>>,
}

impl FlakyHooks {
    fn fail(&self) -> bool {
        let n = self.failures.get();
        self.failures.set(n.saturating_sub(1));
        n > 0
    }
}

impl Hooks for FlakyHooks {
    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        assert!(record.database_id.is_some(), "hooks run on a made database");
        self.ran.set(self.ran.get() + 1);
        match self.fail() {
            false => Ok(()),
            true => Err("migration 3 failed: no such table".into()),
        }
    }

    async fn before_deprovision(&self, _record: &TenantRecord) -> Result<Option<String>, String> {
        match self.fail() {
            false => Ok(None),
            true => Err("backup failed".into()),
        }
    }

    async fn restore(&self, record: &TenantRecord, backup: &str) -> Result<(), String> {
        assert_eq!(record.binding, None, "restored before it is bound");
        let database = record
            .database_id
            .clone()
            .expect("restored into a made database");
        self.restored
            .borrow_mut()
            .push((database, backup.into(), self.ran.get()));
        match self.fail() {
            false => Ok(()),
            true => Err("import failed: disk full".into()),
        }
    }
}

type TestProvisioner<'a> = Provisioner<
    'a,
    &'a SqliteDatabase,
    D1Backend<'a, SimRef<'a>, SimRef<'a>>,
    FlakyHooks,
    SimTimers<'a>,
>;

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
        f: impl AsyncFnOnce(&TestProvisioner<'_>) -> T,
    ) -> T {
        let client = client(&self.sim);
        let backend = D1Backend::new(&client, options()).unwrap();
        let registry = Registry::new(&self.db);
        let timers = SimTimers(&self.sim);
        let provisioner = Provisioner::new(&registry, &backend, hooks, &timers, owner.into());
        block_on(f(&provisioner))
    }

    /// The name of `tenant`'s database: the prefix, the tenant and this registry's identity.
    fn name(&self, tenant: &str) -> String {
        let identity = block_on(Registry::new(&self.db).identity()).unwrap();
        format!("tenant_{tenant}-{identity}")
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
        let made = self.databases_named(&self.name("acme"));
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
        .with("p1", &hooks, async |p| p.provision(&id("acme")).await)
        .unwrap();
    assert!(!provisioned.already);
    let record = provisioned.record;
    assert_eq!(record.state, TenantState::Ready);
    assert_eq!(
        record.database_name.as_deref(),
        Some(world.name("acme").as_str())
    );
    assert_eq!(record.binding.as_deref(), Some("TENANT_ACME"));
    assert_eq!(record.script.as_deref(), Some(SCRIPT));
    assert_eq!(
        world.databases_named(&world.name("acme")),
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
        .with("p2", &hooks, async |p| p.provision(&id("acme")).await)
        .unwrap();
    assert_eq!(again.record, record);
    assert!(again.already);
    assert!(world.calls().is_empty(), "a ready tenant costs no API call");
    assert_eq!(hooks.ran.get(), 1);
}

#[test]
fn a_burst_of_provisions_reads_the_workers_bindings_once_and_notices_a_deploy() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    let provision = |tenant: &str| {
        world
            .with(tenant, &hooks, async |p| p.provision(&id(tenant)).await)
            .unwrap();
        world.calls()
    };
    let read_and_write = [
        "d1.create",
        "workers.settings.get",
        "workers.settings.patch",
    ];
    assert_eq!(provision("acme"), read_and_write);
    world.advance(Duration::from_secs(10));
    assert_eq!(
        provision("globex"),
        ["d1.create", "workers.settings.patch"],
        "the list the last change answered stands in for a read"
    );
    assert_eq!(world.bound(), ["TENANT_ACME", "TENANT_GLOBEX"]);
    // A deploy: the Worker has its own bindings again, one of them new.
    *world.sim.bindings.borrow_mut() =
        vec![serde_json::json!({"type": "kv_namespace", "name": "KV", "namespace_id": "k"})];
    assert_eq!(
        provision("initech"),
        [
            "d1.create",
            "workers.settings.patch",
            "workers.settings.get",
            "workers.settings.patch"
        ],
        "a write from a list that keeps a binding now gone is refused; the list is read"
    );
    assert_eq!(
        world.bound(),
        ["KV", "TENANT_INITECH"],
        "the new binding kept"
    );
    // Past its freshness the list is read again.
    world.advance(Duration::from_secs(61));
    assert_eq!(provision("umbrella"), read_and_write);
    // Deprovisioning uses it too.
    world
        .with("d", &hooks, async |p| p.deprovision(&id("umbrella")).await)
        .unwrap();
    assert_eq!(world.calls(), ["workers.settings.patch", "d1.delete"]);
    assert_eq!(world.bound(), ["KV", "TENANT_INITECH"]);
}

#[test]
fn a_binding_the_api_refuses_in_a_batch_fails_no_other_tenant() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    world
        .sim
        .fault("workers.settings.patch", Fault::Status(400, 0));
    let tenants = [id("acme"), id("globex"), id("initech")];
    let outcomes = world.with("b", &hooks, async |p| p.provision_many(&tenants).await);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        world.bound(),
        ["TENANT_ACME", "TENANT_GLOBEX", "TENANT_INITECH"]
    );
    let patches = world
        .calls()
        .iter()
        .filter(|c| *c == "workers.settings.patch")
        .count();
    assert_eq!(patches, 4, "the batch's write refused, then one a tenant");
}

#[test]
fn a_restore_fills_a_new_database_before_it_is_bound_and_resumes_after_a_failure() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    const BACKUP: &str = "backups/acme/1767225600000.sql";
    let restored = world
        .with("r1", &hooks, async |p| p.restore(&id("acme"), BACKUP).await)
        .unwrap();
    assert!(!restored.already);
    assert_eq!(restored.record.restored_from.as_deref(), Some(BACKUP));
    world.assert_acme_ready_with_one_database("restored");
    let database = restored.record.database_id.clone().unwrap();
    assert_eq!(
        hooks.restored.take(),
        [(database, BACKUP.to_owned(), 0)],
        "once, before after_provision"
    );
    assert_eq!(hooks.ran.get(), 1, "then the migrations, as for any tenant");

    // The same restore again is done already; another backup, or a tenant that exists, is
    // refused before anything is made.
    let again = world.with("r2", &hooks, async |p| p.restore(&id("acme"), BACKUP).await);
    assert!(again.unwrap().already);
    world.calls();
    let other = world.with("r3", &hooks, async |p| {
        p.restore(&id("acme"), "backups/acme/1.sql").await
    });
    assert_eq!(other.unwrap_err(), Error::TenantExists);
    world
        .with("p1", &hooks, async |p| p.provision(&id("globex")).await)
        .unwrap();
    world.calls();
    let exists = world.with("r4", &hooks, async |p| {
        p.restore(&id("globex"), BACKUP).await
    });
    assert_eq!(exists.unwrap_err(), Error::TenantExists);
    assert!(world.calls().is_empty(), "no API call");
    assert!(hooks.restored.take().is_empty());

    // A failed import leaves the tenant failed, never ready without its data; provisioning it
    // again (plainly) resumes the restore into the same database.
    hooks.failures.set(1);
    let failed = world.with("r5", &hooks, async |p| {
        p.restore(&id("initech"), BACKUP).await
    });
    assert!(matches!(failed, Err(Error::HookFailed(_))), "{failed:?}");
    let record = world.record("initech").unwrap();
    assert_eq!(record.state, TenantState::Failed);
    assert_eq!(record.error_code.as_deref(), Some("hook_failed"));
    let resumed = world
        .with("p2", &hooks, async |p| p.provision(&id("initech")).await)
        .unwrap();
    assert_eq!(resumed.record.state, TenantState::Ready);
    assert_eq!(resumed.record.restored_from.as_deref(), Some(BACKUP));
    let database = resumed.record.database_id.unwrap();
    let calls = hooks.restored.take();
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|(db, backup, _)| *db == database && backup == BACKUP));
    assert_eq!(world.databases_named(&world.name("initech")), [database]);
}

/// Polls every future in turn until all are done: each simulated API call yields once, so their
/// steps interleave as concurrent requests in one isolate would. Each round moves the clock on
/// by 10 ms, for those waiting on a timer.
fn join_all<F: Future>(sim: &Sim, futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    while outputs.iter().any(Option::is_none) {
        sim.now.set(sim.now.get() + Duration::from_millis(10));
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
    let timers = SimTimers(&world.sim);
    let provisioners: Vec<_> = (0..20)
        .map(|i| Provisioner::new(&registry, &backend, &hooks, &timers, format!("p{i}")))
        .collect();
    let acme = id("acme");
    let outcomes = join_all(
        &world.sim,
        provisioners.iter().map(|p| p.provision(&acme)).collect(),
    );
    let ready = outcomes.iter().filter(|o| o.is_ok()).count();
    let busy = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::TenantBusy { .. })))
        .count();
    assert_eq!((ready, busy), (1, 19), "{outcomes:?}");
    assert_eq!(world.databases_named(&world.name("acme")).len(), 1);
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
        let first = world.with("p1", &hooks, async |p| p.provision(&id("acme")).await);
        if let Err(error) = &first {
            // Not ready: visible as failed with its reason, and a second call completes.
            let record = world.record("acme").unwrap();
            assert_eq!(record.state, TenantState::Failed, "{fault:?}: {error:?}");
            assert!(record.error.is_some());
            let second = world.with("p2", &hooks, async |p| p.provision(&id("acme")).await);
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
        .with("p1", &hooks, async |p| p.provision(&id("acme")).await)
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
    assert_eq!(
        failed.error.as_deref(),
        Some("migration 3 failed: no such table")
    );
    assert_eq!(failed.error_code.as_deref(), Some("hook_failed"));
    world.calls();
    let ready = world
        .with("p2", &hooks, async |p| p.provision(&id("acme")).await)
        .unwrap();
    assert_eq!(ready.record.state, TenantState::Ready);
    assert!(
        world.calls().is_empty(),
        "the database and binding were kept: no API call"
    );
    assert_eq!(world.databases_named(&world.name("acme")).len(), 1);
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
        let timers = SimTimers(&world.sim);
        let crashing = Provisioner::new(&registry, &backend, &hooks, &timers, "crashes".into());
        let acme = id("acme");
        {
            let mut future = Box::pin(crashing.provision(&acme));
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..polls {
                if future.as_mut().poll(&mut cx).is_ready() {
                    break;
                }
            }
        } // dropped: the crash
        let next = Provisioner::new(&registry, &backend, &hooks, &timers, "next".into());
        let during_lease = block_on(next.provision(&id("acme")));
        if during_lease.is_err() {
            assert!(
                matches!(during_lease, Err(Error::TenantBusy { .. })),
                "{polls}: {during_lease:?}"
            );
            world.advance(DEFAULT_LEASE + Duration::from_secs(1));
            let taken_over = block_on(next.provision(&id("acme")));
            assert!(taken_over.is_ok(), "{polls}: {taken_over:?}");
        }
        world.assert_acme_ready_with_one_database(&format!("after {polls} polls"));
    }
}

#[test]
fn another_registrys_databases_and_bindings_are_never_touched() {
    let world = World::new();
    // Staging's registry on the same account, with the same prefix, and its tenant acme bound on
    // the same Worker under the same binding name.
    let staging = World::new();
    let theirs = world.sim.create(&staging.name("acme"));
    let theirs = theirs["uuid"].as_str().unwrap().to_owned();
    world
        .sim
        .bindings
        .borrow_mut()
        .push(serde_json::json!({"type": "d1", "name": "TENANT_ACME", "database_id": theirs}));
    assert_ne!(
        world.name("acme"),
        staging.name("acme"),
        "identities differ"
    );
    let hooks = FlakyHooks::default();
    // Ours is made beside theirs; their binding is not replaced.
    let error = world
        .with("p1", &hooks, async |p| p.provision(&id("acme")).await)
        .unwrap_err();
    assert_eq!(error, Error::ForeignDatabase);
    assert_eq!(world.databases_named(&world.name("acme")).len(), 1);
    assert_eq!(
        world.databases_named(&staging.name("acme")),
        std::slice::from_ref(&theirs)
    );
    let binding = world.sim.bindings.borrow()[0].clone();
    assert_eq!(binding["database_id"], theirs.as_str());
    // Removing ours leaves theirs, database and binding.
    world
        .with("d1", &hooks, async |p| p.deprovision(&id("acme")).await)
        .unwrap();
    assert!(world.databases_named(&world.name("acme")).is_empty());
    assert_eq!(
        world.databases_named(&staging.name("acme")),
        std::slice::from_ref(&theirs)
    );
    assert_eq!(world.bound(), ["TENANT_ACME"]);
}

#[test]
fn a_tenant_id_too_long_for_a_database_name_is_refused_before_anything_is_written() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    // tenant_ (7) + id + "-" and 8 hex digits: 48 characters fit in 64.
    let fits = "a".repeat(48);
    let too_long = "a".repeat(49);
    let error = world
        .with("p", &hooks, async |p| p.provision(&id(&too_long)).await)
        .unwrap_err();
    assert_eq!(error, Error::TenantIdTooLong { max: 48, limit: 64 });
    assert_eq!(error.to_response().status, 400);
    assert!(error.to_response().message.contains("48"));
    assert_eq!(world.record(&too_long), Err(Error::TenantNotFound));
    assert!(world.calls().is_empty());
    world
        .with("p", &hooks, async |p| p.provision(&id(&fits)).await)
        .unwrap();
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
            .with("p", &hooks, async |p| p.provision(&id(tenant)).await)
            .unwrap();
    }
    assert_eq!(world.bound(), ["OTHER", "TENANT_ACME", "TENANT_BETA"]);

    // The backup hook fails: nothing is removed, the error is returned and recorded.
    hooks.failures.set(1);
    let error = world
        .with("d1", &hooks, async |p| p.deprovision(&id("acme")).await)
        .unwrap_err();
    assert!(matches!(error, Error::HookFailed(_)));
    let record = world.record("acme").unwrap();
    assert_eq!(record.state, TenantState::Deprovisioning);
    assert!(record.error.is_some());
    assert_eq!(world.databases_named(&world.name("acme")).len(), 1);

    // The delete fails: unbound already, the row stays; the failed attempt gives its lease up.
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    world.sim.fault("d1.delete", Fault::Status(500, 0));
    let error = world.with("d2", &hooks, async |p| p.deprovision(&id("acme")).await);
    assert!(error.is_err(), "{error:?}");
    assert_eq!(world.bound(), ["OTHER", "TENANT_BETA"]);
    let record = world.record("acme").unwrap();
    assert_eq!(
        record.state,
        TenantState::Deprovisioning,
        "the row outlives a failed delete"
    );
    assert_eq!(record.error_code.as_deref(), Some("upstream_unavailable"));
    world
        .with("d4", &hooks, async |p| p.deprovision(&id("acme")).await)
        .unwrap();
    assert_eq!(world.record("acme"), Err(Error::TenantNotFound));
    assert!(world.databases_named(&world.name("acme")).is_empty());
    assert_eq!(
        world.bound(),
        ["OTHER", "TENANT_BETA"],
        "every other binding kept"
    );
    assert_eq!(world.record("beta").unwrap().state, TenantState::Ready);
    assert_eq!(
        world.with("d5", &hooks, async |p| p.deprovision(&id("acme")).await),
        Err(Error::TenantNotFound)
    );
    assert_eq!(
        world.record("acme"),
        Err(Error::TenantNotFound),
        "no tombstone left"
    );
}

#[test]
fn past_the_binding_limit_a_tenant_is_ready_unbound_and_says_why() {
    let world = World::new();
    let hooks = FlakyHooks::default();
    let client = client(&world.sim);
    let limited = D1Options {
        max_bindings: 2,
        ..options()
    };
    let backend = D1Backend::new(&client, limited).unwrap();
    let registry = Registry::new(&world.db);
    let timers = SimTimers(&world.sim);
    let provisioner = Provisioner::new(&registry, &backend, &hooks, &timers, "p".into());
    for tenant in ["acme", "beta", "gamma"] {
        block_on(provisioner.provision(&id(tenant))).unwrap();
    }
    assert_eq!(world.bound(), ["TENANT_ACME", "TENANT_BETA"]);
    let gamma = world.record("gamma").unwrap();
    assert_eq!(gamma.state, TenantState::Ready);
    assert_eq!(gamma.binding, None, "served over the REST API");
    assert_eq!(gamma.error_code.as_deref(), Some("binding_limit"));
    assert!(gamma.error.as_deref().unwrap().contains("maxBindings"));
    assert!(
        gamma.lookup().location.is_some(),
        "its database is reachable"
    );
    assert_eq!(world.record("acme").unwrap().error_code, None);
}

#[test]
fn a_schema_database_is_named_apart_from_every_tenant_and_fits_d1s_limit() {
    let world = World::new();
    let client = client(&world.sim);
    let backend = D1Backend::new(&client, options()).unwrap();
    let registry = "0123456789abcdef";
    assert_eq!(
        backend.schema_database_name("app", registry).unwrap(),
        "tenant_schema_app-0123456789abcdef"
    );
    let long = |end: &str| format!("{}{end}", "g".repeat(60));
    let (a, b) = (long("a"), long("b"));
    let (a, b) = (
        backend.schema_database_name(&a, registry).unwrap(),
        backend.schema_database_name(&b, registry).unwrap(),
    );
    assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
    assert_ne!(a, b, "names that differ only past the cut stay apart");
    assert!(a.ends_with("-0123456789abcdef") && a.starts_with("tenant_schema_ggg"));
}
